"""Membership changes an operator could get wrong, refused or survived as etcd does: the
strict reconfiguration check ("unhealthy cluster") when a member is down, and a removed
member that comes back. Each test runs on real etcd too, then on cairnd.
"""
from __future__ import annotations

import time

import pytest

from cluster import ELECTION_MS
from test_membership_etcdctl import KINDS

ELECTION_S = ELECTION_MS / 1000


@pytest.mark.parametrize("kind", KINDS)
def test_with_one_of_three_down_removing_a_running_voter_is_refused_as_unhealthy(
        start_cluster, kind):
    c = start_cluster(kind, 3)
    ids = c.ids()
    leader = c.wait_leader()
    down, up = [n for n in c.members if n != leader]
    # A learner is accepted once every voter has been connected for etcd's 5 s: the cluster
    # is healthy before the member goes down. (Learners leave freely.)
    c.add("m4", learner=True, start=False)
    assert c.etcdctl("member", "remove", f"{c.ids()['m4']:x}", names=[leader]).rc == 0
    del c.members["m4"]

    c.members[down].kill()
    time.sleep(ELECTION_S)  # the survivors see its connections close
    # Without `up`, the leader would be the only voter left connected: no quorum of two.
    for via in (leader, up):
        r = c.etcdctl("member", "remove", f"{ids[up]:x}", names=[via])
        assert r.rc != 0 and r.error == "Error: etcdserver: unhealthy cluster", (via, r)
    # A voter added now would need the member that is down for its quorum.
    r = c.etcdctl("member", "add", "m5", "--peer-urls=http://127.0.0.1:1", names=[leader])
    assert r.rc != 0 and r.error == "Error: etcdserver: unhealthy cluster", r
    assert set(c.ids()) == {leader, down, up}

    # The member that is down is not part of the active quorum: it may go.
    assert c.etcdctl("member", "remove", f"{ids[down]:x}", names=[up]).rc == 0
    assert set(c.ids()) == {leader, up}


@pytest.mark.parametrize("kind", KINDS)
def test_a_member_removed_while_down_is_refused_when_it_returns_and_stops(start_cluster, kind):
    c = start_cluster(kind, 3)
    leader = c.wait_leader()
    gone = next(n for n in c.members if n != leader)
    stay = [n for n in c.members if n != gone]
    c.members[gone].stop()
    r = c.etcdctl("member", "remove", f"{c.ids()[gone]:x}", names=stay)
    assert r.rc == 0, r
    assert c.etcdctl("put", "before", "v", names=stay).rc == 0
    term = int(c.status(leader)["raftTerm"])

    # It comes back on its data dir, which still lists it as a member: the others refuse its
    # messages and tell it it was removed, and it stops.
    m = c.members[gone]
    m.start(c.initial_cluster(), "existing", c.extra_flags)
    deadline = time.monotonic() + 30 * ELECTION_S
    while m.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not m.alive, f"{gone} kept running after it was told it was removed"
    assert "permanently removed from the cluster" in m.log_path.read_text(errors="replace")

    # Meanwhile the cluster went on with the same leader in the same term: its campaigns,
    # if any, disrupted nothing.
    assert c.wait_leader(among=stay) == leader
    assert int(c.status(leader)["raftTerm"]) == term
    assert c.etcdctl("put", "after", "v", names=stay).rc == 0
    assert {x.get("name") for x in c.member_list()} == set(stay)
