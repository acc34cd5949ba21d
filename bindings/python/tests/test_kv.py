"""KV through the in-process client: what etcd's Range, Put, DeleteRange and Compact promise."""
import pytest

import cairn


def test_put_then_get_returns_the_value_with_its_revisions(cairn_client):
    r = cairn_client.put(b"k", b"v1")
    kv = cairn_client.get(b"k")
    assert kv.key == b"k" and kv.value == b"v1"
    assert kv.create_revision == kv.mod_revision == r.revision
    assert kv.version == 1
    r2 = cairn_client.put("k", "v2")  # str is UTF-8
    kv = cairn_client.get("k")
    assert kv.value == b"v2" and kv.version == 2 and kv.mod_revision == r2.revision > r.revision


def test_get_of_a_missing_key_is_none(cairn_client):
    assert cairn_client.get(b"nope") is None


def test_put_with_prev_kv_returns_the_previous_pair(cairn_client):
    assert cairn_client.put(b"p", b"1", prev_kv=True).prev_kv is None
    prev = cairn_client.put(b"p", b"2", prev_kv=True).prev_kv
    assert prev.value == b"1"


def test_range_by_prefix_limit_count_and_more(cairn_client):
    for i in range(5):
        cairn_client.put(f"dir/{i}", str(i))
    cairn_client.put(b"dis", b"outside")
    r = cairn_client.range(b"dir/", prefix=True)
    assert [kv.key for kv in r.kvs] == [f"dir/{i}".encode() for i in range(5)]
    assert r.count == 5 and not r.more
    r = cairn_client.range(b"dir/", prefix=True, limit=2)
    assert len(r.kvs) == 2 and r.count == 5 and r.more
    r = cairn_client.range(b"dir/1", b"dir/3")
    assert [kv.key for kv in r] == [b"dir/1", b"dir/2"]
    assert cairn_client.range(b"dir/", prefix=True, count_only=True).kvs == []
    assert cairn_client.range(b"dir/", prefix=True, count_only=True).count == 5
    assert all(kv.value == b"" for kv in cairn_client.range(b"dir/", prefix=True, keys_only=True))
    # range_end "\0": every key >= key
    assert [kv.key for kv in cairn_client.range(b"dir/3", b"\0")] == [b"dir/3", b"dir/4", b"dis"]


def test_range_sorts_descending_by_value(cairn_client):
    for k, v in [(b"s/a", b"2"), (b"s/b", b"3"), (b"s/c", b"1")]:
        cairn_client.put(k, v)
    r = cairn_client.range(b"s/", prefix=True, sort_order=cairn.SORT_DESCEND,
                           sort_target=cairn.SORT_VALUE)
    assert [kv.value for kv in r.kvs] == [b"3", b"2", b"1"]


def test_range_at_an_old_revision_sees_the_old_value(cairn_client):
    old = cairn_client.put(b"h", b"old").revision
    cairn_client.put(b"h", b"new")
    assert cairn_client.get(b"h", revision=old).value == b"old"
    assert cairn_client.range(b"h", revision=old).kvs[0].value == b"old"
    assert cairn_client.get(b"h", serializable=True).value == b"new"


def test_range_filters_by_mod_revision(cairn_client):
    cairn_client.put(b"f/a", b"1")
    mid = cairn_client.put(b"f/b", b"1").revision
    cairn_client.put(b"f/c", b"1")
    r = cairn_client.range(b"f/", prefix=True, min_mod_revision=mid)
    assert [kv.key for kv in r.kvs] == [b"f/b", b"f/c"]


def test_delete_one_key_and_a_prefix_with_prev_kv(cairn_client):
    cairn_client.put(b"d/1", b"a")
    cairn_client.put(b"d/2", b"b")
    cairn_client.put(b"d/3", b"c")
    r = cairn_client.delete(b"d/1")
    assert r.deleted == 1 and cairn_client.get(b"d/1") is None
    r = cairn_client.delete(b"d/", prefix=True, prev_kv=True)
    assert r.deleted == 2
    assert sorted(kv.value for kv in r.prev_kvs) == [b"b", b"c"]
    assert cairn_client.delete(b"d/1").deleted == 0


def test_a_delete_that_deletes_nothing_does_not_bump_the_revision(cairn_client):
    rev = cairn_client.put(b"x", b"1").revision
    assert cairn_client.delete(b"missing").revision == rev


def test_empty_key_is_etcds_error(cairn_client):
    with pytest.raises(cairn.EmptyKeyError) as e:
        cairn_client.put(b"", b"v")
    assert e.value.message == "etcdserver: key is not provided"
    assert isinstance(e.value, cairn.InvalidArgument)


def test_ignore_value_on_a_missing_key_is_key_not_found(cairn_client):
    with pytest.raises(cairn.KeyNotFoundError, match="etcdserver: key not found"):
        cairn_client.put(b"absent", b"", ignore_value=True)


def test_compaction_makes_old_revisions_unreadable(cairn_client):
    first = cairn_client.put(b"c", b"1").revision
    second = cairn_client.put(b"c", b"2").revision
    cairn_client.compact(second)
    with pytest.raises(cairn.CompactedError) as e:
        cairn_client.get(b"c", revision=first)
    assert e.value.message == "etcdserver: mvcc: required revision has been compacted"
    assert isinstance(e.value, cairn.OutOfRange) and isinstance(e.value, cairn.Error)
    with pytest.raises(cairn.CompactedError):
        cairn_client.compact(first)
    with pytest.raises(cairn.FutureRevisionError,
                       match="etcdserver: mvcc: required revision is a future revision"):
        cairn_client.compact(second + 100)


def test_range_at_a_future_revision_is_an_error(cairn_client):
    rev = cairn_client.put(b"z", b"1").revision
    with pytest.raises(cairn.FutureRevisionError):
        cairn_client.get(b"z", revision=rev + 10)


def test_keys_and_values_take_bytes_like_and_refuse_other_types(cairn_client):
    cairn_client.put(bytearray(b"ba"), memoryview(b"mv"))
    assert cairn_client.get(b"ba").value == b"mv"
    with pytest.raises(TypeError):
        cairn_client.put(1, b"v")  # type: ignore[arg-type]


def test_large_and_binary_values_round_trip(cairn_client):
    value = bytes(range(256)) * 1024
    cairn_client.put(b"\x00\xffbin", value)
    assert cairn_client.get(b"\x00\xffbin").value == value
