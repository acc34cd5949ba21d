"""proto/etcd is wire-identical to etcd's own .proto files.

etcd's files are fetched from the Go module proxy each run (never committed) and compared
with ours, message by message and service by service: every name, number, type, label,
oneof and enum value. Ours states etcd's API as of 3.7, which holds 3.5's unchanged."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import wire_contract as wc

HERE = pathlib.Path(__file__).resolve().parent
OURS = HERE.parent.parent / "proto"
PACKAGES = {"etcdserverpb", "mvccpb", "authpb", "v3lockpb", "v3electionpb"}
OUR_FILES = [
    "etcd/etcdserverpb/rpc.proto",
    "etcd/mvccpb/kv.proto",
    "etcd/authpb/auth.proto",
    "etcd/v3lockpb/v3lock.proto",
    "etcd/v3electionpb/v3election.proto",
]
ETCD_FILES = [
    "etcd/api/etcdserverpb/rpc.proto",
    "etcd/api/mvccpb/kv.proto",
    "etcd/api/authpb/auth.proto",
    "etcd/server/etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "etcd/server/etcdserver/api/v3election/v3electionpb/v3election.proto",
]
ETCD_3_5 = "v3.5.35"
ETCD_3_7 = "v3.7.3"


@pytest.fixture(scope="session")
def etcd_contract(tmp_path_factory):
    def fetch(version):
        root = tmp_path_factory.mktemp(f"etcd-{version}")
        subprocess.run([str(HERE / "fetch_etcd_protos.sh"), version, str(root)],
                       check=True, capture_output=True, text=True)
        return wc.contract(wc.descriptor_set(root, ETCD_FILES), PACKAGES)
    return {v: fetch(v) for v in (ETCD_3_5, ETCD_3_7)}


def our_contract(root=OURS):
    return wc.contract(wc.descriptor_set(root, OUR_FILES), PACKAGES)


def test_ours_is_identical_to_etcd_3_7(etcd_contract):
    assert wc.differences(our_contract(), etcd_contract[ETCD_3_7]) == []


def test_ours_holds_etcd_3_5_unchanged(etcd_contract):
    diffs = wc.differences(our_contract(), etcd_contract[ETCD_3_5])
    changed = [d for d in diffs if not d.endswith("ours only")]
    assert changed == []
    # What 3.5 lacks is exactly what 3.6 and 3.7 added.
    added = sorted(d.removesuffix(": ours only") for d in diffs if d.endswith("ours only"))
    assert added == sorted([
        ".etcdserverpb.HashKVResponse.hash_revision",
        ".etcdserverpb.SnapshotResponse.version",
        ".etcdserverpb.StatusResponse.storageVersion",
        ".etcdserverpb.StatusResponse.dbSizeQuota",
        ".etcdserverpb.StatusResponse.downgradeInfo",
        "message .etcdserverpb.RangeStreamResponse",
        "message .etcdserverpb.DowngradeInfo",
        "message .etcdserverpb.DowngradeVersionTestRequest",
        ".etcdserverpb.KV.RangeStream",
    ])


def test_every_grpc_path_clients_call_exists():
    services = our_contract()["services"]
    paths = {f"/{svc[1:]}/{m}" for svc, methods in services.items() for m in methods}
    for path in ["/etcdserverpb.KV/Range", "/etcdserverpb.KV/Txn", "/etcdserverpb.Watch/Watch",
                 "/etcdserverpb.Lease/LeaseKeepAlive", "/etcdserverpb.Maintenance/Status",
                 "/etcdserverpb.Cluster/MemberList", "/v3lockpb.Lock/Lock",
                 "/v3electionpb.Election/Observe", "/etcdserverpb.Auth/Authenticate"]:
        assert path in paths


@pytest.mark.parametrize("pattern,replacement", [
    (r"int64 mod_revision = 3;", "int64 mod_revision = 30;"),   # number
    (r"bool keys_only = 8;", "int32 keys_only = 8;"),           # type
    (r"repeated string errors = 8;", "string errors = 8;"),     # label
    (r"DESCEND = 2;", "DESCENDING = 2;"),                      # enum value name
])
def test_a_changed_contract_is_caught(etcd_contract, tmp_path, pattern, replacement):
    """The comparison is not vacuous: one change to our files makes it fail."""
    copy = tmp_path / "proto"
    shutil.copytree(OURS, copy)
    for rel in OUR_FILES:
        path = copy / rel
        text = path.read_text()
        if re.search(pattern, text):
            path.write_text(re.sub(pattern, replacement, text, count=1))
            break
    else:
        pytest.fail(f"{pattern} not found in our files")
    assert wc.differences(our_contract(copy), etcd_contract[ETCD_3_7]) != []
