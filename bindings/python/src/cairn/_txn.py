"""Compares and operations for transactions, built as Python expressions:

    client.txn().if_(Compare.mod(b"k") == 0).then(Op.put(b"k", b"v")).else_(Op.get(b"k")).commit()

They are plain values; the native module reads their fields when the txn is committed."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

BytesLike = Union[bytes, bytearray, memoryview, str]


def to_bytes(value: BytesLike) -> bytes:
    """Keys and values: bytes as they are, str as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected bytes or str, got {type(value).__name__}")


def prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with `prefix`, as etcd's clients compute
    it: the prefix with its last byte below 0xff incremented; b"\\0" (every key) when there is
    none."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def key_range(key: BytesLike, range_end: Optional[BytesLike], prefix: bool) -> Tuple[bytes, bytes]:
    """(key, range_end) as etcd takes them; an empty range_end means the one key."""
    k = to_bytes(key)
    if prefix:
        if range_end is not None:
            raise ValueError("give either prefix=True or range_end, not both")
        if not k:
            return b"\0", b"\0"  # every key, as etcd's clients send it
        return k, prefix_end(k)
    return k, (b"" if range_end is None else to_bytes(range_end))


# Compare targets and results, numbered as etcdserverpb.Compare numbers them.
VERSION, CREATE, MOD, VALUE, LEASE = 0, 1, 2, 3, 4
EQUAL, GREATER, LESS, NOT_EQUAL = 0, 1, 2, 3


class Compare:
    """One condition of a txn. Build it from a target: `Compare.value(b"k") == b"v"`,
    `Compare.version(b"k") > 2`, `Compare.mod(b"k") == 0` (a missing key's revisions and
    version are 0), `Compare.create(b"k")`, `Compare.lease(b"k") == lease_id`. A value
    compare on a missing key is false.

    Each also takes a range, as etcd's Compare.range_end: `Compare.version(b"a", b"c") > 0`
    or `Compare.mod(b"jobs/", prefix=True) < rev` hold when every key in the range satisfies
    them; an empty range compares as one missing key."""

    __slots__ = ("key", "target", "result", "operand", "range_end")

    def __init__(self, key: bytes, target: int, result: int, operand: Union[int, bytes],
                 range_end: bytes = b""):
        self.key = key
        self.target = target
        self.result = result
        self.operand = operand
        self.range_end = range_end

    def __repr__(self) -> str:
        names = ["version", "create", "mod", "value", "lease"]
        ops = ["==", ">", "<", "!="]
        end = f", {self.range_end!r}" if self.range_end else ""
        return (f"Compare.{names[self.target]}({self.key!r}{end}) {ops[self.result]} "
                f"{self.operand!r}")

    @staticmethod
    def version(key: BytesLike, range_end: Optional[BytesLike] = None, *,
            prefix: bool = False) -> "_Target":
        return _Target(key, VERSION, range_end, prefix)

    @staticmethod
    def create(key: BytesLike, range_end: Optional[BytesLike] = None, *,
            prefix: bool = False) -> "_Target":
        return _Target(key, CREATE, range_end, prefix)

    @staticmethod
    def mod(key: BytesLike, range_end: Optional[BytesLike] = None, *,
            prefix: bool = False) -> "_Target":
        return _Target(key, MOD, range_end, prefix)

    @staticmethod
    def value(key: BytesLike, range_end: Optional[BytesLike] = None, *,
            prefix: bool = False) -> "_Target":
        return _Target(key, VALUE, range_end, prefix)

    @staticmethod
    def lease(key: BytesLike, range_end: Optional[BytesLike] = None, *,
            prefix: bool = False) -> "_Target":
        return _Target(key, LEASE, range_end, prefix)


class _Target:
    """The left side of a comparison; the comparison operators make a Compare."""

    __slots__ = ("_key", "_target", "_range_end")

    def __init__(self, key: BytesLike, target: int, range_end: Optional[BytesLike] = None,
                 prefix: bool = False):
        self._key, self._range_end = key_range(key, range_end, prefix)
        self._target = target

    def _make(self, result: int, operand: object) -> Compare:
        if self._target == VALUE:
            value: Union[int, bytes] = to_bytes(operand)  # type: ignore[arg-type]
        else:
            if isinstance(operand, bool) or not isinstance(operand, int):
                raise TypeError("version, create, mod and lease compare with an int")
            value = operand
        return Compare(self._key, self._target, result, value, self._range_end)

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._make(EQUAL, other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._make(NOT_EQUAL, other)

    def __lt__(self, other: object) -> Compare:
        return self._make(LESS, other)

    def __gt__(self, other: object) -> Compare:
        return self._make(GREATER, other)

    __hash__ = None  # type: ignore[assignment]


# Operation kinds.
OP_GET, OP_PUT, OP_DELETE, OP_TXN = 0, 1, 2, 3


class Op:
    """One operation of a txn branch: Op.get, Op.put, Op.delete, or a nested Op.txn."""

    __slots__ = ("kind", "key", "range_end", "value", "lease", "prev_kv", "limit", "revision",
                 "keys_only", "count_only", "compares", "success", "failure")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.key = b""
        self.range_end = b""
        self.value = b""
        self.lease = 0
        self.prev_kv = False
        self.limit = 0
        self.revision = 0
        self.keys_only = False
        self.count_only = False
        self.compares: Tuple[Compare, ...] = ()
        self.success: Tuple["Op", ...] = ()
        self.failure: Tuple["Op", ...] = ()

    def __repr__(self) -> str:
        kind = ["get", "put", "delete", "txn"][self.kind]
        if self.kind == OP_TXN:
            return f"Op.txn({list(self.compares)!r}, {list(self.success)!r}, {list(self.failure)!r})"
        return f"Op.{kind}({self.key!r})"

    @staticmethod
    def get(key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False,
            limit: int = 0, revision: int = 0, keys_only: bool = False,
            count_only: bool = False) -> "Op":
        op = Op(OP_GET)
        op.key, op.range_end = key_range(key, range_end, prefix)
        op.limit, op.revision, op.keys_only, op.count_only = limit, revision, keys_only, count_only
        return op

    @staticmethod
    def put(key: BytesLike, value: BytesLike, *, lease: "int | object" = 0,
            prev_kv: bool = False) -> "Op":
        op = Op(OP_PUT)
        op.key = to_bytes(key)
        op.value = to_bytes(value)
        op.lease = lease_id_of(lease)
        op.prev_kv = prev_kv
        return op

    @staticmethod
    def delete(key: BytesLike, *, range_end: Optional[BytesLike] = None, prefix: bool = False,
               prev_kv: bool = False) -> "Op":
        op = Op(OP_DELETE)
        op.key, op.range_end = key_range(key, range_end, prefix)
        op.prev_kv = prev_kv
        return op

    @staticmethod
    def txn(compares: Sequence[Compare] = (), success: Sequence["Op"] = (),
            failure: Sequence["Op"] = ()) -> "Op":
        op = Op(OP_TXN)
        op.compares, op.success, op.failure = tuple(compares), tuple(success), tuple(failure)
        return op


def lease_id_of(lease: object) -> int:
    """A lease given as its id or as a Lease object."""
    if lease is None:
        return 0
    lease_id = getattr(lease, "id", lease)
    if isinstance(lease_id, bool) or not isinstance(lease_id, int):
        raise TypeError("lease must be an int id or a Lease")
    return lease_id


class Txn:
    """A transaction under construction; `commit()` sends it. Each of if_, then and else_ may
    be called more than once: their arguments add up."""

    __slots__ = ("_client", "_compares", "_success", "_failure")

    def __init__(self, client: object) -> None:
        self._client = client
        self._compares: List[Compare] = []
        self._success: List[Op] = []
        self._failure: List[Op] = []

    def if_(self, *compares: Compare) -> "Txn":
        for c in compares:
            if not isinstance(c, Compare):
                raise TypeError(f"if_ takes Compare values, got {type(c).__name__}")
        self._compares.extend(compares)
        return self

    def then(self, *ops: Op) -> "Txn":
        self._success.extend(_check_ops(ops))
        return self

    def else_(self, *ops: Op) -> "Txn":
        self._failure.extend(_check_ops(ops))
        return self

    def commit(self):  # type: ignore[no-untyped-def]
        return self._client._commit_txn(self._compares, self._success, self._failure)  # type: ignore[attr-defined]


def _check_ops(ops: Sequence[Op]) -> Sequence[Op]:
    for op in ops:
        if not isinstance(op, Op):
            raise TypeError(f"then and else_ take Op values, got {type(op).__name__}")
    return ops
