"""Cairn for Python: embed a node (cairn.Node) or talk to a cluster (cairn.Client), over
Cairn's C ABI. The engine speaks etcd's v3 API, so a node embedded here also serves etcdctl
and every etcd client on its client URLs."""

from __future__ import annotations

from . import _native
from ._client import (SORT_ASCEND, SORT_CREATE, SORT_DESCEND, SORT_KEY, SORT_MOD, SORT_NONE,
                      SORT_VALUE, SORT_VERSION, Client, DeleteResult, Election, Event, KeyValue,
                      Lease, LeaseInfo, Lock, Member, Observation, PutResult, RangeResult, Status, TxnResult,
                      Watch, WatchResponse)
from ._errors import (Aborted, AlreadyExists, Cancelled, ClosedError, CompactedError, DataLoss,
                      DeadlineExceeded, DuplicateKeyError, ElectionNoLeaderError,
                      ElectionNotLeaderError, EmptyKeyError, Error, FailedPrecondition,
                      FutureRevisionError, Internal, InvalidArgument, KeyNotFoundError,
                      LeaseExistsError, LeaseNotFoundError, LeaseTTLTooLargeError, NoLeaderError,
                      NoSpaceError, NotFound, NotLeaderError, OutOfRange, PermissionDenied,
                      RequestTooLargeError, ResourceExhausted, SessionExpiredError, StoppedError,
                      TooManyOpsError, Unauthenticated, Unavailable, Unimplemented, Unknown,
                      VersionError, _make_error, _register_codes)
from ._node import Node, free_port

Header = _native.Header
LeaderKey = _native.LeaderKey
from ._txn import Compare, Op, Txn, prefix_end

_register_codes(_native.error_codes())
_native.set_error_factory(_make_error)

__version__ = _native.version()

__all__ = [
    "Node", "Client", "Observation", "Txn", "Compare", "Op", "Watch", "Lease", "Lock", "Election",
    "KeyValue", "RangeResult", "PutResult", "DeleteResult", "TxnResult", "Event",
    "WatchResponse", "LeaseInfo", "Member", "Status", "prefix_end", "free_port",
    "SORT_NONE", "SORT_ASCEND", "SORT_DESCEND", "SORT_KEY", "SORT_VERSION", "SORT_CREATE",
    "SORT_MOD", "SORT_VALUE",
    "Error", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    "CompactedError", "FutureRevisionError", "NoSpaceError", "LeaseNotFoundError",
    "NoLeaderError", "NotLeaderError", "KeyNotFoundError", "ClosedError", "DuplicateKeyError",
    "TooManyOpsError", "RequestTooLargeError", "EmptyKeyError", "StoppedError",
    "LeaseExistsError", "LeaseTTLTooLargeError", "ElectionNotLeaderError",
    "ElectionNoLeaderError", "SessionExpiredError", "VersionError", "Header", "LeaderKey",
]
