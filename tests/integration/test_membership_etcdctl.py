"""etcdctl's membership commands (member add/remove/promote/update/list, endpoint status and
health --cluster, move-leader) on a 3-member cluster (issue 6, point 4).

The scenario runs on a real etcd cluster, whose answers are checked here so that a scenario
gone wrong is noticed; cairnd's transcript must then equal etcd's step by step.
"""
from __future__ import annotations

import signal
import time

import pytest

import membership_scenario



def steps(transcript):
    return dict(transcript)


def test_membership_scenario_on_etcd_gives_etcds_answers(start_cluster):
    t = steps(membership_scenario.run(start_cluster("etcd", 3)))
    assert t["move leadership to m1"].startswith("rc=0\nLeadership transferred from <masked> to <m1>")
    assert "<m4>, unstarted, , http://<m4-peer>, , true" in t["member list with an unstarted learner"]
    assert t["promote a learner that is not started"].endswith(
        "Error: etcdserver: can only promote a learner member which is in sync with leader")
    assert t["linearizable get on the learner"].endswith(
        "Error: etcdserver: rpc not supported for learner")
    assert t["serializable get on the learner"] == "rc=0"
    assert t["promote the learner once it caught up"] == "rc=0\nMember <m4> promoted in cluster <cluster>"
    assert "<m4>, started, m4, http://<m4-peer>, http://<m4-client>, false" in t["member list after promotion"]
    assert t["promote a voter"].endswith("Error: etcdserver: can only promote a learner member")
    assert t["promote an unknown member"].endswith("Error: etcdserver: member not found")
    assert "http://<m4-peer2>" in t["member list after update"]
    assert t["update an unknown member"].endswith("Error: etcdserver: member not found")
    assert t["move leadership to m4"] == "rc=0\nLeadership transferred from <m1> to <m4>"
    assert "<m4>, <masked>, true, false, <masked>" in t["endpoint status with m4 leading"]
    assert "no leader endpoint given" in t["move-leader through a follower only"]
    assert t["move leadership to an unknown member"].endswith("Error: etcdserver: bad leader transferee")
    assert t["member remove m4"] == "rc=0\nMember <m4> removed from cluster <cluster>"
    assert t["m4 stopped by itself after its removal"] == "True"
    assert t["remove m4 again"].endswith("Error: etcdserver: member not found")
    assert t["add a member on a taken peer URL"].endswith("Error: etcdserver: Peer URLs already exists")
    assert "<m4>" not in t["member list at the end"]


def test_membership_scenario_on_cairnd_matches_etcd(start_cluster):
    etcd = membership_scenario.run(start_cluster("etcd", 3))
    cairnd = membership_scenario.run(start_cluster("cairnd", 3))
    for (what, want), (_, got) in zip(etcd, cairnd):
        assert got == want, f"step {what!r}:\netcd:\n{want}\ncairnd:\n{got}"
    assert len(etcd) == len(cairnd)


KINDS = ["etcd", "cairnd"]
# Long enough that followers left alone would not elect anyone for this long after the
# leader's last heartbeat: a leader seen sooner was handed over, not elected.
SLOW_ELECTION_MS = 10000


@pytest.mark.parametrize("kind", KINDS)
def test_leader_hands_over_leadership_on_sigterm(start_cluster, kind):
    c = start_cluster(kind, 3, f"--election-timeout={SLOW_ELECTION_MS}")
    old = c.wait_leader(timeout=3 * SLOW_ELECTION_MS / 1000)
    others = [n for n in c.members if n != old]
    sent = time.monotonic()
    rc = c.members[old].stop(signal.SIGTERM)
    new = c.wait_leader(among=others, not_=old, timeout=SLOW_ELECTION_MS / 1000)
    took = time.monotonic() - sent
    assert new in others
    assert took < SLOW_ELECTION_MS / 1000, f"a leader after {took:.1f}s: elected, not handed over"
    assert rc in (0, -signal.SIGTERM), f"{old} exited with {rc} on SIGTERM"
    assert c.etcdctl("put", "after-handover", "v", names=others).rc == 0
