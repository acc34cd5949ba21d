"""etcdctl 3.4 against etcd and cairnd: leases (grant, keep-alive, timetolive, revoke, expiry), watches, lock."""
from __future__ import annotations

import pytest

import etcdctl_scenario
from etcdctl_scenario import EMPTY, Step, background, collect, peek, step, txn

LOCK_KEY = (r"L/[0-9a-f]+",)  # a lock's key: its name, then the holder's lease id
ELECTION_KEY = (r"E/[0-9a-f]+",)

# Writes at revisions 2..8 under w/ (and one outside), for watches that replay history.
HISTORY = [
    step("put", "w/a", "1"),
    step("put", "w/a", "2"),
    step("put", "x", "0"),
    step("del", "w/a"),
    step("put", "w/b", "3"),
    txn("", "put w/c 4", "put w/d 5", "", ""),
    step("put", "w/end", "1"),
]

SCENARIOS: dict[str, list[Step]] = {
    "lease": [
        step("lease", "grant", "100"),
        step("put", "k1", "v", "--lease={lease0}"),
        step("put", "k2", "v", "--lease={lease0}"),
        step("put", "k3", "v"),
        step("get", "k1", "-w", "json"),
        step("lease", "timetolive", "{lease0}"),
        step("lease", "timetolive", "{lease0}", "--keys"),
        step("lease", "timetolive", "{lease0}", "--keys", "-w", "json"),
        step("lease", "keep-alive", "--once", "{lease0}"),
        step("lease", "list"),
        step("put", "k3", "w", "--lease={lease0}"),
        step("put", "k3", "x", "--ignore-lease"),
        step("get", "k3", "-w", "json"),
        step("lease", "revoke", "{lease0}"),
        step("get", "", "--prefix", "-w", "json"),
        step("lease", "timetolive", "{lease0}"),
        step("lease", "revoke", "{lease0}", fails=True),
        step("lease", "keep-alive", "--once", "{lease0}", fails=True),
        step("lease", "list"),
    ],
    # A TTL below the minimum is raised to it; keys go when the lease expires.
    "lease expiry": [
        step("lease", "grant", "1"),
        step("put", "e1", "v", "--lease={lease0}"),
        step("put", "e2", "v", "--lease={lease0}"),
        step("put", "stays", "v"),
        step("get", "e", "--prefix", "--keys-only", until=EMPTY),
        step("get", "", "--prefix", "-w", "json"),
        step("lease", "timetolive", "{lease0}"),
        step("lease", "list"),
    ],
    "watch history and live": HISTORY + [
        background("prefix", "watch", "--prefix", "w/", "--rev", "2"),
        background("prev-kv", "watch", "--prefix", "w/", "--rev", "3", "--prev-kv"),
        background("one key", "watch", "w/a", "--rev", "1"),
        background("range", "watch", "w/b", "w/d", "--rev", "4"),
        step("put", "w/live", "6"),
        step("put", "w/b", "7"),
        step("put", "w/end2", "1"),
        collect("prefix", sentinel="w/end2\n1\n"),
        collect("prev-kv", sentinel="w/end2\n1\n"),
        collect("one key", sentinel="DELETE\nw/a\n\n"),
        collect("range", sentinel="w/b\n7\n"),
    ],
    "watch below the compacted revision": HISTORY + [
        step("compact", "5"),
        background("compacted", "watch", "--prefix", "w/", "--rev", "3"),
        collect("compacted", fails=True),
        background("at compaction", "watch", "--prefix", "w/", "--rev", "5"),
        collect("at compaction", sentinel="w/end\n1\n"),
    ],
    "lock": [
        step("lock", "mylock", "echo", "locked"),
        step("get", "mylock", "--prefix", "-w", "json"),
        background("holder", "lock", "L"),
        step("get", "L/", "--prefix", "--keys-only", until="L/", mask=LOCK_KEY),
        background("waiter", "lock", "L", "echo", "got it"),
        step("get", "L/", "--prefix", "--keys-only", until=r"(?s)L/.*L/", mask=LOCK_KEY),
        collect("holder", sentinel=r"L/[0-9a-f]+\n\n", mask=LOCK_KEY),
        collect("waiter", sentinel="got it\n"),
        step("get", "L/", "--prefix", "--keys-only", until=EMPTY),
    ],
    "elect": [
        background("leader", "elect", "E", "p1"),
        step("get", "E/", "--prefix", "--keys-only", until="E/", mask=ELECTION_KEY),
        background("listener", "elect", "-l", "E"),
        peek("listener", sentinel="p1\n", mask=ELECTION_KEY),
        background("candidate", "elect", "E", "p2"),
        step("get", "E/", "--prefix", "--keys-only", until=r"(?s)E/.*E/", mask=ELECTION_KEY),
        collect("leader", sentinel="p1\n", mask=ELECTION_KEY),
        collect("candidate", sentinel="p2\n", mask=ELECTION_KEY),
        collect("listener", sentinel="p2\n", mask=ELECTION_KEY),
        step("get", "E/", "--prefix", "--keys-only", mask=ELECTION_KEY),
    ],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_etcdctl_scenario_matches_etcd(start_pair, name):
    etcdctl_scenario.assert_cairnd_matches_etcd(*start_pair(), SCENARIOS[name])
