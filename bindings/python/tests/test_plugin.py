"""The pytest plugin's fixtures, as a user's suite gets them by installing cairn."""
import cairn


def test_cairn_node_fixture_is_a_running_embedded_member(cairn_node, tmp_path_factory):
    assert isinstance(cairn_node, cairn.Node) and not cairn_node.closed
    assert str(tmp_path_factory.getbasetemp()) in cairn_node.data_dir
    with cairn_node.client() as c:
        c.put(b"fixture", b"works")
        assert c.get(b"fixture").value == b"works"


def test_each_test_gets_a_fresh_node(cairn_client):
    assert cairn_client.get(b"fixture") is None
