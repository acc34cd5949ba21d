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


def test_cairn_cluster_fixture_is_three_members_of_one_cluster(cairn_cluster):
    assert len(cairn_cluster.nodes) == 3
    with cairn_cluster.client() as c:
        members = c.member_list()
        assert sorted(m.name for m in members) == ["m0", "m1", "m2"]
        rev = c.put(b"replicated", b"everywhere").revision
    # A write through one member is read, linearizably, through every member's own client.
    for node in cairn_cluster.nodes:
        with node.client() as c:
            kv = c.get(b"replicated")
            assert kv.value == b"everywhere" and kv.mod_revision == rev
    assert len({n.status().leader for n in cairn_cluster.nodes}) == 1


def test_the_cluster_serves_with_one_member_stopped(cairn_cluster):
    leader_id = cairn_cluster.nodes[0].status().leader
    victim = next(n for n in cairn_cluster.nodes if n.status().header.member_id != leader_id)
    victim.close()
    with cairn_cluster.client() as c:  # the stopped member's endpoint is among them
        c.put(b"after", b"stop")
        assert c.get(b"after").value == b"stop"
