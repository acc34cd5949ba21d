"""Errors: one hierarchy under cairn.Error, a class per gRPC canonical code and, below those,
one per etcd error that callers handle on its own (as clients match etcd's errors by code and
text, these keep both)."""

from __future__ import annotations

from typing import Dict, Optional, Type


class Error(Exception):
    """Anything Cairn reports. `code` is the C ABI's negative CAIRN_E* value, `message` the
    text (etcd's own, to the letter, where etcd has one), `retryable` whether the same call may
    succeed if made again."""

    code: int
    grpc_code: int
    message: str
    retryable: bool

    def __init__(self, message: str = "", code: int = 0, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.grpc_code = 2  # the gRPC code etcd sends it with; Unknown until set

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code}, retryable={self.retryable})"


# One per gRPC canonical code.
class Cancelled(Error):
    """The call was cancelled (its token fired, or the client or node closed meanwhile)."""


class Unknown(Error):
    pass


class InvalidArgument(Error):
    pass


class DeadlineExceeded(Error, TimeoutError):
    pass


class NotFound(Error):
    pass


class AlreadyExists(Error):
    pass


class PermissionDenied(Error):
    pass


class ResourceExhausted(Error):
    pass


class FailedPrecondition(Error):
    pass


class Aborted(Error):
    pass


class OutOfRange(Error):
    pass


class Unimplemented(Error):
    pass


class Internal(Error):
    pass


class Unavailable(Error):
    """No member could serve the call now (no leader, stopped, unreachable); a retry may help."""


class DataLoss(Error):
    pass


class Unauthenticated(Error):
    pass


# etcd's own errors, each under the gRPC code etcd gives it.
class CompactedError(OutOfRange):
    """etcdserver: mvcc: required revision has been compacted. On a watch, `compact_revision`
    says where history starts again."""

    compact_revision: int = 0


class FutureRevisionError(OutOfRange):
    """etcdserver: mvcc: required revision is a future revision"""


class NoSpaceError(ResourceExhausted):
    """etcdserver: mvcc: database space exceeded"""


class LeaseNotFoundError(NotFound):
    """etcdserver: requested lease not found"""


class LeaseExistsError(FailedPrecondition):
    """etcdserver: lease already exists"""


class LeaseTTLTooLargeError(OutOfRange):
    """etcdserver: too large lease TTL"""


class KeyNotFoundError(InvalidArgument):
    """etcdserver: key not found (ignore_value or ignore_lease on a missing key)"""


class DuplicateKeyError(InvalidArgument):
    """etcdserver: duplicate key given in txn request"""


class TooManyOpsError(InvalidArgument):
    """etcdserver: too many operations in txn request"""


class RequestTooLargeError(InvalidArgument):
    """etcdserver: request is too large"""


class EmptyKeyError(InvalidArgument):
    """etcdserver: key is not provided"""


class NoLeaderError(Unavailable):
    """etcdserver: no leader"""


class NotLeaderError(FailedPrecondition):
    """etcdserver: not leader"""


class StoppedError(Unavailable):
    """etcdserver: server stopped (the node stopped while the call was in flight)"""


class ElectionNotLeaderError(Error):
    """election: not leader (proclaim or resign by a participant that no longer leads)"""


class ElectionNoLeaderError(Error):
    """election: no leader"""


class SessionExpiredError(Error):
    """mutex: session is expired (the lease under a lock or campaign is gone)"""


class VersionError(Error):
    """The library does not know an option struct's version (a binding newer than libcairn)."""


class ClosedError(Error):
    """The Node or Client was used after close()."""


# The C ABI's CAIRN_E* names (without the prefix), mapped to the class that reports them.
_BY_NAME: Dict[str, Type[Error]] = {
    "ECANCELLED": Cancelled,
    "EUNKNOWN": Unknown,
    "EINVAL": InvalidArgument,
    "ETIMEDOUT": DeadlineExceeded,
    "ENOTFOUND": NotFound,
    "EEXISTS": AlreadyExists,
    "EPERM": PermissionDenied,
    "ERESOURCE": ResourceExhausted,
    "EPRECONDITION": FailedPrecondition,
    "EABORTED": Aborted,
    "EOUTOFRANGE": OutOfRange,
    "EUNIMPLEMENTED": Unimplemented,
    "EINTERNAL": Internal,
    "EUNAVAILABLE": Unavailable,
    "EDATALOSS": DataLoss,
    "EUNAUTHENTICATED": Unauthenticated,
    "ECOMPACTED": CompactedError,
    "EFUTUREREV": FutureRevisionError,
    "ENOSPACE": NoSpaceError,
    "ELEASENOTFOUND": LeaseNotFoundError,
    "EKEYNOTFOUND": KeyNotFoundError,
    "EDUPLICATEKEY": DuplicateKeyError,
    "ETOOMANYOPS": TooManyOpsError,
    "ETOOLARGE": RequestTooLargeError,
    "EEMPTYKEY": EmptyKeyError,
    "ENOLEADER": NoLeaderError,
    "ENOTLEADER": NotLeaderError,
    "ESTOPPED": StoppedError,
    "ELEASEEXISTS": LeaseExistsError,
    "ETTLTOOLARGE": LeaseTTLTooLargeError,
    "EELECTIONNOTLEADER": ElectionNotLeaderError,
    "EELECTIONNOLEADER": ElectionNoLeaderError,
    "ESESSIONEXPIRED": SessionExpiredError,
    "EVERSION": VersionError,
}

# Filled from the native module's table of codes when the package is imported.
_BY_CODE: Dict[int, Type[Error]] = {}


def _register_codes(codes: Dict[str, int]) -> None:
    for name, value in codes.items():
        cls = _BY_NAME.get(name)
        if cls is not None:
            _BY_CODE[value] = cls


def _make_error(code: int, grpc_code: int, message: str, retryable: bool) -> Error:
    """Called by the native module for every failed C call."""
    cls: Optional[Type[Error]] = _BY_CODE.get(code)
    if cls is None:
        cls = Error
    err = cls(message, code, retryable)
    err.grpc_code = grpc_code
    return err
