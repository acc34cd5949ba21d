"""The embedded node: lifecycle, its client URLs served to other processes (etcdctl), the
network client, and what happens to clients and watches when things close."""
import os
import subprocess

import pytest

import cairn

ETCDCTL = "/usr/bin/etcdctl"
TIMEOUT = 30.0


def etcdctl(node, *args):
    # No skip when it is missing: the test command installs it (scripts/install-deps.sh), so
    # its absence is a broken setup that must fail, not a test that passes unseen.
    assert os.access(ETCDCTL, os.X_OK), \
        f"{ETCDCTL} is missing: scripts/install-deps.sh installs Debian's etcd-client"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCDCTL_", "LD_PRELOAD", "ASAN"))}
    env["ETCDCTL_API"] = "3"
    return subprocess.run([ETCDCTL, f"--endpoints={node.endpoint}", "--dial-timeout=5s", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_node_is_a_context_manager_that_serves_its_client_urls(tmp_path):
    with cairn.Node(tmp_path / "n", name="solo") as node:
        assert node.client_urls and all(u.startswith("http://127.0.0.1:") for u in node.client_urls)
        status = node.status()
        assert status.leader != 0 and status.version.startswith("3.")
        with node.client() as c:
            c.put(b"k", b"v")
            [member] = c.member_list()
            assert member.name == "solo" and member.client_urls
    assert node.closed
    with pytest.raises(cairn.ClosedError):
        node.status()


def test_data_survives_a_restart_in_the_same_directory(tmp_path):
    with cairn.Node(tmp_path / "n") as node, node.client() as c:
        c.put(b"durable", b"yes")
    with cairn.Node(tmp_path / "n") as node, node.client() as c:
        assert c.get(b"durable").value == b"yes"


def test_etcdctl_and_the_in_process_client_see_each_others_writes(cairn_node, cairn_client):
    cairn_client.put(b"from-python", b"hello")
    r = etcdctl(cairn_node, "get", "from-python", "--print-value-only")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hello"
    with cairn_client.watch(b"from-etcdctl") as w:
        r = etcdctl(cairn_node, "put", "from-etcdctl", "world")
        assert r.returncode == 0, r.stderr
        assert w.next_event(TIMEOUT).kv.value == b"world"
    assert cairn_client.get(b"from-etcdctl").value == b"world"
    r = etcdctl(cairn_node, "endpoint", "status", "-w", "json")
    assert r.returncode == 0, r.stderr


def test_network_client_reaches_the_node_over_grpc(cairn_node):
    with cairn.Client(cairn_node.client_urls) as c:
        c.put(b"net", b"1")
        assert c.get(b"net").value == b"1"
        assert c.status().leader == cairn_node.status().leader
        with c.watch(b"net") as w:
            c.put(b"net", b"2")
            assert w.next_event(TIMEOUT).kv.value == b"2"


def test_network_client_fails_over_from_a_dead_endpoint(cairn_node):
    dead = f"http://127.0.0.1:{cairn.free_port()}"
    with cairn.Client([dead] + cairn_node.client_urls, dial_timeout=10) as c:
        for i in range(5):
            c.put(b"fo", str(i))
        assert c.get(b"fo").value == b"4"


def test_a_closed_client_refuses_calls_and_ends_its_watches(cairn_node):
    c = cairn_node.client()
    w = c.watch(b"x")
    c.close()
    c.close()  # idempotent
    with pytest.raises(cairn.ClosedError):
        c.get(b"x")
    assert w.next_response(TIMEOUT) is None


def test_stopping_the_node_ends_in_process_watches(tmp_path):
    node = cairn.Node(tmp_path / "n")
    c = node.client()
    w = c.watch(b"x")
    node.close()
    try:
        ended = w.next_response(TIMEOUT) is None
    except cairn.Unavailable:  # "server stopped"
        ended = True
    assert ended and w.done
    with pytest.raises((cairn.StoppedError, cairn.ClosedError, cairn.Unavailable)):
        c.get(b"x")
    c.close()


def test_a_bad_flag_fails_with_cairnds_message(tmp_path):
    with pytest.raises(cairn.Error) as e:
        cairn.Node(tmp_path / "n", flags={"no-such-flag": "1"})
    assert "no-such-flag" in str(e.value)


def test_versions_match_the_header(cairn_node):
    assert cairn.__version__ == cairn._native.version()
    assert cairn._native.version_number() >= cairn._native.header_version_number()
