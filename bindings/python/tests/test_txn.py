"""Transactions read as Python: client.txn().if_(...).then(...).else_(...).commit()."""
import pytest

import cairn
from cairn import Compare, Op


def test_create_if_missing_runs_then_once_and_else_after(cairn_client):
    def create():
        return (cairn_client.txn()
                .if_(Compare.mod(b"obj") == 0)
                .then(Op.put(b"obj", b"v1"))
                .else_(Op.get(b"obj"))
                .commit())

    first = create()
    assert first.succeeded
    assert isinstance(first.responses[0], cairn.PutResult)
    second = create()
    assert not second.succeeded
    got = second.responses[0]
    assert isinstance(got, cairn.RangeResult) and got.kvs[0].value == b"v1"


def test_update_guarded_by_mod_revision_like_kube_apiserver(cairn_client):
    rev = cairn_client.put(b"pod", b"a").revision
    ok = (cairn_client.txn().if_(Compare.mod(b"pod") == rev)
          .then(Op.put(b"pod", b"b")).else_(Op.get(b"pod")).commit())
    assert ok.succeeded and cairn_client.get(b"pod").value == b"b"
    stale = (cairn_client.txn().if_(Compare.mod(b"pod") == rev)
             .then(Op.put(b"pod", b"c")).else_(Op.get(b"pod")).commit())
    assert not stale.succeeded and stale.responses[0].kvs[0].value == b"b"


def test_compares_are_anded_and_value_compare_on_a_missing_key_is_false(cairn_client):
    cairn_client.put(b"a", b"1")
    r = cairn_client.txn().if_(Compare.value(b"a") == b"1", Compare.version(b"a") > 0).commit()
    assert r.succeeded
    r = cairn_client.txn().if_(Compare.value(b"a") == b"1", Compare.version(b"a") > 5).commit()
    assert not r.succeeded
    assert not cairn_client.txn().if_(Compare.value(b"missing") != b"x").commit().succeeded
    assert cairn_client.txn().if_(Compare.create(b"missing") == 0).commit().succeeded
    assert cairn_client.txn().if_(Compare.lease(b"a") == 0).commit().succeeded
    assert cairn_client.txn().if_(Compare.value(b"a") < b"2").commit().succeeded


def test_every_operation_kind_and_a_nested_txn(cairn_client):
    cairn_client.put(b"n/1", b"x")
    cairn_client.put(b"guard", b"g")
    r = (cairn_client.txn().then(
        Op.put(b"n/2", b"y", prev_kv=True),
        Op.get(b"n/", prefix=True),
        Op.delete(b"n/1", prev_kv=True),
        Op.txn([Compare.value(b"guard") == b"g"], [Op.put(b"n/3", b"z")], [])).commit())
    assert r.succeeded
    put, rng, dele, nested = r.responses
    assert put.prev_kv is None
    assert [kv.key for kv in rng.kvs] == [b"n/1", b"n/2"]
    assert dele.deleted == 1 and dele.prev_kvs[0].value == b"x"
    assert isinstance(nested, cairn.TxnResult) and nested.succeeded
    assert cairn_client.get(b"n/3").value == b"z"


def test_nested_compares_are_evaluated_before_any_operation_runs(cairn_client):
    # As etcd does: the nested compare does not see the put made earlier in the same txn.
    r = (cairn_client.txn().then(
        Op.put(b"m/1", b"y"),
        Op.txn([Compare.value(b"m/1") == b"y"], [Op.put(b"m/2", b"then")],
               [Op.put(b"m/2", b"else")])).commit())
    assert r.succeeded and not r.responses[1].succeeded
    assert cairn_client.get(b"m/2").value == b"else"


def test_a_txn_writes_in_one_revision(cairn_client):
    r = cairn_client.txn().then(Op.put(b"t/1", b"1"), Op.put(b"t/2", b"2")).commit()
    assert cairn_client.get(b"t/1").mod_revision == cairn_client.get(b"t/2").mod_revision == r.revision


def test_duplicate_key_in_a_branch_is_etcds_error(cairn_client):
    with pytest.raises(cairn.DuplicateKeyError,
                       match="etcdserver: duplicate key given in txn request"):
        cairn_client.txn().then(Op.put(b"dup", b"1"), Op.put(b"dup", b"2")).commit()


def test_the_builder_refuses_what_is_not_a_compare_or_an_op(cairn_client):
    with pytest.raises(TypeError):
        cairn_client.txn().if_(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cairn_client.txn().then(b"put")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Compare.version(b"k") == b"1"  # numbers compare with numbers


def test_a_compare_over_a_range_holds_only_when_every_key_in_it_does(cairn_client):
    cairn_client.put(b"jobs/a", b"idle")
    cairn_client.put(b"jobs/b", b"idle")
    all_idle = Compare.value(b"jobs/", prefix=True) == b"idle"
    assert all_idle.range_end == b"jobs0"
    assert cairn_client.txn().if_(all_idle).commit().succeeded
    assert cairn_client.txn().if_(Compare.version(b"jobs/a", b"jobs/c") == 1).commit().succeeded
    cairn_client.put(b"jobs/b", b"busy")
    assert not cairn_client.txn().if_(all_idle).commit().succeeded
    assert not cairn_client.txn().if_(Compare.version(b"jobs/a", b"jobs/c") == 1).commit().succeeded
    # Only [jobs/a, jobs/b): jobs/b is outside it.
    assert cairn_client.txn().if_(Compare.value(b"jobs/a", b"jobs/b") == b"idle").commit().succeeded


def test_a_compare_over_an_empty_range_compares_a_missing_key(cairn_client):
    # kube-apiserver's "create if absent", over a whole prefix: nothing there yet.
    empty = Compare.mod(b"none/", prefix=True) == 0
    assert cairn_client.txn().if_(empty).then(Op.put(b"none/x", b"1")).commit().succeeded
    assert not cairn_client.txn().if_(empty).commit().succeeded
    # A value compare over an empty range is false, whatever the operator.
    assert not cairn_client.txn().if_(Compare.value(b"void/", prefix=True) != b"x").commit().succeeded


def test_range_and_prefix_exclude_each_other_in_a_compare():
    with pytest.raises(ValueError):
        Compare.mod(b"a", b"b", prefix=True)
