"""etcdctl 3.4 runs the same scenarios against Debian's etcd and against cairnd; outputs must match."""
from __future__ import annotations

import json

import pytest

import etcdctl_scenario
from etcdctl_scenario import Step, step, txn

BIG = "x" * 3000  # larger than the --max-request-bytes the limits scenario gives both servers
MEDIUM = "y" * 1000  # within it

# Keys written by the scenarios that read: revisions 2..8 (a store starts at revision 1).
SEED = [
    step("put", "a", "1"),
    step("put", "a", "2"),
    step("put", "ab", "3"),
    step("put", "b", "4"),
    step("put", "c", "5", "-w", "json"),
    step("put", "c", "5"),  # the same value again: still a new revision and version
    step("put", "d/x", "0"),
]

SCENARIOS: dict[str, tuple[tuple[str, ...], list[Step]]] = {
    "get": ((), SEED + [
        step("get", "a"),
        step("get", "a", "-w", "json"),
        step("get", "missing", "-w", "json"),
        step("get", "a", "--prefix"),
        step("get", "a", "--prefix", "-w", "json"),
        step("get", "b", "--from-key"),
        step("get", "", "--prefix", "--limit", "2", "-w", "json"),
        step("get", "", "--prefix", "--limit", "7", "-w", "json"),
        step("get", "a", "c"),
        step("get", "a", "--rev", "2"),
        step("get", "a", "--rev", "3", "-w", "json"),
        step("get", "", "--prefix", "--rev", "4", "-w", "json"),
        step("get", "", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND"),
        step("get", "", "--prefix", "--sort-by", "VALUE", "--order", "ASCEND"),
        step("get", "", "--prefix", "--sort-by", "VERSION", "--order", "DESCEND", "-w", "json"),
        step("get", "", "--prefix", "--sort-by", "CREATE", "--order", "DESCEND"),
        step("get", "", "--prefix", "--sort-by", "KEY", "--order", "DESCEND", "--limit", "3"),
        step("get", "", "--prefix", "--order", "DESCEND"),
        step("get", "", "--prefix", "--sort-by", "MODIFY"),
        step("get", "", "--prefix", "--keys-only"),
        step("get", "", "--prefix", "--keys-only", "-w", "json"),
        step("get", "a", "--print-value-only"),
        step("get", "", "--prefix", "--print-value-only"),
        step("get", "", "--from-key", "--consistency", "s", "-w", "json"),
        step("get", "a", "--hex"),
    ]),
    "put": ((), SEED + [
        step("put", "a", "3", "--prev-kv"),
        step("put", "a", "4", "--prev-kv", "-w", "json"),
        step("put", "new", "1", "--prev-kv", "-w", "json"),
        step("put", "a", "--ignore-value", "-w", "json"),
        step("get", "a", "-w", "json"),
        step("put", "missing", "--ignore-value", fails=True),
        step("put", "missing", "v", "--ignore-lease", fails=True),
        step("put", "a", "5", "--ignore-lease"),
        step("put", "l", "1", "--lease=1234", fails=True),
        step("get", "", "--prefix", "-w", "json"),
    ]),
    "delete": ((), SEED + [
        step("del", "a"),
        step("del", "a"),
        step("del", "a", "--prefix", "--prev-kv"),
        step("del", "b", "--prev-kv", "-w", "json"),
        step("del", "missing", "-w", "json"),
        step("put", "p/1", "x"),
        step("put", "p/2", "y"),
        step("del", "p/", "--prefix", "-w", "json"),
        step("put", "q", "z"),
        step("del", "c", "e", "--prev-kv"),
        step("del", "", "--from-key", "--prev-kv", "-w", "json"),
        step("get", "", "--prefix", "-w", "json"),
    ]),
    "txn": ((), SEED + [
        txn('value("a") = "2"', "", "put t 1", "get a", "del b", "", "put f 1"),
        txn('value("a") = "9"', "", "put t 2", "", "put f 2", "get t"),
        txn('mod("a") > "2"', 'ver("a") = "2"', 'create("a") = "2"', 'value("c") != "6"', "",
            "get a", "", "get c", flags=("-w", "json")),
        txn('mod("a") < "3"', "", "put t 3", "", "del t --prev-kv", flags=("-w", "json")),
        # A missing key compares as 0 for version and revisions.
        txn('ver("nope") = "0"', 'create("nope") = "0"', 'mod("nope") = "0"', "",
            "put nope 1", "", ""),
        txn('value("never") = ""', "", "put v 1", "", "put v 2"),
        txn("", "get a --prefix", "get d/ --prefix --keys-only", "", "", flags=("-w", "json")),
        txn('mod("a") > "0"', "", "put a 3", "put x 4", "", "", flags=("-i",)),
        txn('ver("f") = "1"', "", "del f", "", "put g 1", flags=("-i",)),
        step("get", "", "--prefix", "-w", "json"),
    ]),
    "compaction": ((), SEED + [
        step("compact", "4"),
        step("get", "a", "--rev", "2", fails=True),
        step("get", "a", "--rev", "3", fails=True),
        step("get", "", "--prefix", "--rev", "4", "-w", "json"),
        step("get", "a", "--rev", "9", fails=True),
        step("compact", "4", fails=True),
        step("compact", "3", fails=True),
        step("compact", "100", fails=True),
        step("compact", "6", "--physical"),
        step("get", "", "--prefix", "-w", "json"),
        step("get", "", "--prefix", "--rev", "6", "-w", "json"),
        step("get", "", "--prefix", "--rev", "5", fails=True),
        step("endpoint", "hashkv", "-w", "json"),
        step("put", "a", "after"),
        step("get", "a", "--rev", "6", "-w", "json"),
    ]),
    "maintenance": ((), [
        step("endpoint", "status", "-w", "json"),
        step("endpoint", "health"),
        step("endpoint", "health", "-w", "json"),
        step("endpoint", "hashkv", "-w", "json"),
        step("endpoint", "hashkv", "-w", "json"),
        step("put", "k", "v"),
        step("endpoint", "hashkv", "-w", "json"),
        step("endpoint", "hashkv", "-w", "json"),
        step("put", "k", "v2"),
        step("put", "j", "v"),
        step("del", "k"),
        step("endpoint", "hashkv", "-w", "json"),
        step("endpoint", "hashkv", "--rev", "3", "-w", "json"),
        step("compact", "3"),
        step("endpoint", "hashkv", "-w", "json"),
        step("endpoint", "hashkv", "--rev", "4", "-w", "json"),
        step("endpoint", "hashkv", "--rev", "3", "-w", "json", fails=True),
        step("endpoint", "status", "-w", "json"),
        step("member", "list"),
        # etcd 3.4 leaves the revision out of Cluster headers and sends Alarm with no header;
        # etcd 3.5 and later fill both, as cairnd does.
        step("member", "list", "-w", "json", ignore=("header.revision",)),
        step("alarm", "list"),
        step("alarm", "list", "-w", "json", ignore=("header",)),
    ]),
    "errors": ((), SEED + [
        step("put", "", "x", fails=True),
        step("get", "", fails=True),
        step("del", "", fails=True),
        step("get", "a", "--rev", "100", fails=True),
        txn("", "put d 1", "put d 2", "", "", fails=True),
        txn("", "put d 1", "del d", "", "", fails=True),
        txn("", "del a --prefix", "put ab 1", "", "", fails=True),
        step("get", "", "--prefix", "-w", "json"),
    ]),
    # Any database outgrows a quota of 1 byte: the first put raises NOSPACE, which then
    # refuses puts and lease grants but not reads or deletes, until disarmed.
    "quota": (("--quota-backend-bytes=1",), [
        step("put", "k", "v", fails=True),
        step("alarm", "list", until="NOSPACE"),
        step("get", "k"),
        step("del", "k"),
        txn("", "del k", "", "", ""),
        txn("", "put k v", "", "", "", fails=True),
        step("lease", "grant", "10", fails=True),
        step("endpoint", "status", "-w", "json"),
        step("alarm", "disarm"),
        step("alarm", "list"),
        step("put", "k", "v", fails=True),
    ]),
    "limits": (("--max-txn-ops=4", "--max-request-bytes=2048"), [
        txn("", "put a 1", "put b 2", "put c 3", "put d 4", "", ""),
        txn("", "put a 1", "put b 2", "put c 3", "put d 4", "put e 5", "", "", fails=True),
        txn('ver("a") = "1"', 'ver("b") = "1"', 'ver("c") = "1"', 'ver("d") = "1"',
            'ver("e") = "0"', "", "", "", fails=True),
        txn("", "", "get a", "get b", "get c", "get d", "get e", fails=True),
        step("put", "m", MEDIUM),
        step("put", "big", BIG, fails=True),
        txn("", f"put big {BIG}", "", "", fails=True),
        step("get", "", "--prefix", "-w", "json"),
    ]),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_etcdctl_scenario_matches_etcd(start_pair, name):
    flags, steps = SCENARIOS[name]
    etcdctl_scenario.assert_cairnd_matches_etcd(*start_pair(*flags), steps)


def test_member_and_cluster_ids_derive_as_etcds(start_pair):
    """Same --name, advertised peer URL and cluster token: the same member and cluster id."""
    etcd, cairnd = start_pair()
    ids = []
    for server in (etcd, cairnd):
        result = server.etcdctl("member", "list", "-w", "json")
        assert result.rc == 0, result
        listing = json.loads(result.stdout)
        ids.append((listing["header"]["cluster_id"], listing["header"]["member_id"],
                    [m["ID"] for m in listing["members"]]))
    assert ids[0] == ids[1]
    cluster_id, member_id, members = ids[1]
    assert cluster_id != 0 and members == [member_id]
