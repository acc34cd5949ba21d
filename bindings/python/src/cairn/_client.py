"""cairn.Client: KV, txn, watch, leases, locks and elections over the native client, in
Python's shapes (context managers, iterators, exceptions)."""

from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, Sequence, Union, cast

from . import _native
from ._errors import ClosedError, Unavailable
from ._txn import BytesLike, Compare, Op, Txn, key_range, lease_id_of, to_bytes

KeyValue = _native.KeyValue
RangeResult = _native.RangeResult
PutResult = _native.PutResult
DeleteResult = _native.DeleteResult
TxnResult = _native.TxnResult
Event = _native.Event
WatchResponse = _native.WatchResponse
LeaseInfo = _native.LeaseInfo
Member = _native.Member
Status = _native.Status

# Sort orders and targets, numbered as etcdserverpb.RangeRequest numbers them.
SORT_NONE, SORT_ASCEND, SORT_DESCEND = 0, 1, 2
SORT_KEY, SORT_VERSION, SORT_CREATE, SORT_MOD, SORT_VALUE = 0, 1, 2, 3, 4


class Client:
    """A client of a Cairn (or etcd) cluster: `Client(["http://127.0.0.1:2379"])` connects over
    the network, `node.client()` gives one that calls its node in process.

    Thread safety: every method may be called from any thread at the same time; every blocking
    call releases the GIL. Use it as a context manager, or call close()."""

    def __init__(self, endpoints: Union[str, Sequence[str]] = ("http://127.0.0.1:2379",), *,
                 dial_timeout: float = 5.0, _native_client: Any = None) -> None:
        # Only a network client has other members to resume a broken watch on.
        self._network = _native_client is None
        if _native_client is None:
            if isinstance(endpoints, str):
                endpoints = [e for e in endpoints.split(",") if e]
            _native_client = _native.Client.connect(list(endpoints), float(dial_timeout))
        self._c: _native.Client = _native_client
        self._lock = threading.Lock()
        self._closed = False

    # Lifecycle.
    def close(self) -> None:
        """Closes the client; outstanding watches, keep-alives and blocking calls end
        (Cancelled). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._c.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # KV.
    def get(self, key: BytesLike, *, revision: int = 0, serializable: bool = False) -> Optional[KeyValue]:
        """The key's KeyValue, or None when it does not exist (at `revision`, 0: the latest)."""
        if revision == 0 and not serializable:
            return self._c.get(to_bytes(key))
        r = self._c.range(to_bytes(key), b"", revision, 1, False, False, serializable,
                          SORT_NONE, SORT_KEY, 0, 0, 0, 0)
        return r.kvs[0] if r.kvs else None

    def range(self, key: BytesLike, range_end: Optional[BytesLike] = None, *, prefix: bool = False,
              revision: int = 0, limit: int = 0, keys_only: bool = False,
              count_only: bool = False, serializable: bool = False, sort_order: int = SORT_NONE,
              sort_target: int = SORT_KEY, min_mod_revision: int = 0, max_mod_revision: int = 0,
              min_create_revision: int = 0, max_create_revision: int = 0) -> RangeResult:
        """Keys in [key, range_end) (one key when range_end is empty; every key >= key when it
        is b"\\0"), with every option of etcd's Range."""
        k, end = key_range(key, range_end, prefix)
        return self._c.range(k, end, revision, limit, keys_only,
                             count_only, serializable, sort_order, sort_target, min_mod_revision,
                             max_mod_revision, min_create_revision, max_create_revision)

    def put(self, key: BytesLike, value: BytesLike, *, lease: object = 0, prev_kv: bool = False,
            ignore_value: bool = False, ignore_lease: bool = False) -> PutResult:
        return self._c.put(to_bytes(key), to_bytes(value), lease_id_of(lease), prev_kv,
                           ignore_value, ignore_lease)

    def delete(self, key: BytesLike, range_end: Optional[BytesLike] = None, *, prefix: bool = False,
               prev_kv: bool = False) -> DeleteResult:
        k, end = key_range(key, range_end, prefix)
        return self._c.delete(k, end, prev_kv)

    def txn(self) -> Txn:
        """A transaction: `client.txn().if_(...).then(...).else_(...).commit()`."""
        return Txn(self)

    def _commit_txn(self, compares: List[Compare], success: List[Op], failure: List[Op]) -> TxnResult:
        return self._c.txn(compares, success, failure)

    def compact(self, revision: int, *, physical: bool = False) -> None:
        """Discards history below `revision`."""
        self._c.compact(revision, physical)

    # Watch.
    def watch(self, key: BytesLike, range_end: Optional[BytesLike] = None, *, prefix: bool = False,
              start_revision: int = 0, prev_kv: bool = False, no_put: bool = False,
              no_delete: bool = False, progress_notify: bool = False,
              callback: Optional[Callable[[WatchResponse], Any]] = None) -> "Watch":
        """Watches a key or range. Without `callback`, the Watch is an iterator of Events (and
        `responses()` iterates whole batches). With it, `callback(response)` runs on the
        library's thread, holding the GIL, once per batch; an exception it raises is reported
        as unraisable and stops the watch. Either way, cancel() or leaving the `with` block
        ends it."""
        k, end = key_range(key, range_end, prefix)
        return Watch(self._c, k, end, start_revision, prev_kv,
                     no_put, no_delete, progress_notify, callback, resume=self._network)

    # Leases.
    def lease(self, ttl: int, *, lease_id: int = 0, keepalive: bool = True) -> "Lease":
        """Grants a lease of `ttl` seconds (the server picks the id when `lease_id` is 0). With
        `keepalive` the library keeps it alive until it is revoked or closed. As a context
        manager it is revoked on exit."""
        return Lease(self, ttl, lease_id, keepalive)

    def lease_revoke(self, lease: object) -> None:
        self._c.lease_revoke(lease_id_of(lease))

    def lease_time_to_live(self, lease: object, *, keys: bool = False) -> LeaseInfo:
        """The lease's remaining TTL (-1 when it does not exist), granted TTL and keys."""
        return self._c.lease_time_to_live(lease_id_of(lease), keys)

    def leases(self) -> List[int]:
        return list(self._c.leases())

    # Locks and elections.
    def lock(self, name: BytesLike, *, ttl: int = 60, lease: object = None) -> "Lock":
        """A distributed lock (etcd's v3lock): `with client.lock("name"):`. It is held under a
        lease: the one given, or one of `ttl` seconds granted and kept alive for it."""
        return Lock(self, to_bytes(name), ttl, lease)

    def election(self, name: BytesLike, *, value: BytesLike = b"", ttl: int = 60,
                 lease: object = None) -> "Election":
        """A participant in election `name` (etcd's v3election). `with client.election("n",
        value=b"me") as e:` campaigns with `value` on enter (blocking until elected) and
        resigns on exit. Its leadership lives under a lease: the one given, or one of `ttl`
        seconds granted and kept alive for it."""
        return Election(self, to_bytes(name), ttl, lease, to_bytes(value))

    # Cluster and maintenance.
    def member_list(self) -> List[Member]:
        return list(self._c.member_list())

    def status(self) -> Status:
        return self._c.status()


class Watch:
    """A running watch: an iterator of Events (progress notifications carry none and are
    skipped; use responses() to see them). Iteration ends when the watch is cancelled; a
    compacted start revision raises CompactedError. Thread safety: cancel() may be called from
    any thread; iterate from one thread at a time."""

    _END = object()
    RESUME_FOR = 60.0  # seconds a broken stream keeps trying to resume before it ends

    def __init__(self, native_client: _native.Client, key: bytes, range_end: bytes, start_revision: int,
                 prev_kv: bool, no_put: bool, no_delete: bool, progress_notify: bool,
                 callback: Optional[Callable[[WatchResponse], Any]], resume: bool = False) -> None:
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._end_lock = threading.Lock()
        self._ended = threading.Event()
        self.error: Optional[BaseException] = None
        self._pending: "collections.deque[Event]" = collections.deque()
        self._target = callback if callback is not None else self._queue.put
        self._native = native_client
        self._args = (key, range_end, prev_kv, no_put, no_delete, progress_notify)
        self._resume = resume
        if resume and start_revision == 0:
            # "From now" made exact, so that a resumed stream misses nothing in between.
            start_revision = native_client.range(key, range_end, 0, 1, False, True, False,
                                                 0, 0, 0, 0, 0, 0).header.revision + 1
        self._next_rev = start_revision  # where a resumed stream starts: after what was seen
        self._w = self._start()

    def _start(self) -> Any:
        key, range_end, prev_kv, no_put, no_delete, progress_notify = self._args
        return self._native.watch(key, range_end, self._next_rev, prev_kv, no_put, no_delete,
                                  progress_notify, self._deliver, self._on_stream_end)

    def _deliver(self, response: WatchResponse) -> Any:
        # As clientv3: after the last event, or the revision a progress notification reports.
        if response.events:
            self._next_rev = response.events[-1].kv.mod_revision + 1
        elif response.header.revision >= self._next_rev:
            self._next_rev = response.header.revision + 1
        return self._target(response)

    def _on_stream_end(self, error: Optional[BaseException]) -> None:
        # A network client's stream broke (its member went away): resume on another member
        # from the last revision seen + 1, as clientv3 does, on a thread of our own (this one
        # is the library's).
        if self._resume and isinstance(error, Unavailable) and not self._ended.is_set():
            threading.Thread(target=self._resume_stream, args=(error,), daemon=True,
                             name="cairn-watch-resume").start()
            return
        self._on_end(error)

    def _resume_stream(self, error: Optional[BaseException]) -> None:
        deadline = time.monotonic() + self.RESUME_FOR
        delay = 0.05
        while not self._ended.is_set():
            try:
                w = self._start()
            except Unavailable as e:  # no member reachable yet: try again, for a while
                error = e
                if time.monotonic() > deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            except ClosedError:  # the client closed meanwhile: ends as a cancel does
                error = None
                break
            except BaseException as e:  # an error that retrying cannot help
                error = e
                break
            with self._end_lock:
                if not self._ended.is_set():
                    self._w = w
                    return
            w.cancel()  # cancelled meanwhile
            return
        self._on_end(error)

    def _on_end(self, error: Optional[BaseException]) -> None:
        # Once, whichever comes first: the library's last batch, or cancel().
        with self._end_lock:
            if self._ended.is_set():
                return
            self.error = error
            self._ended.set()
        self._queue.put(error if error is not None else self._END)

    @property
    def done(self) -> bool:
        """True once the watch has ended (then `error` says why, None for a cancel)."""
        return self._ended.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the watch ends (for callback watches); False after `timeout`."""
        return self._ended.wait(timeout)

    def request_progress(self) -> None:
        """Asks the server for a progress notification (a response without events)."""
        self._w.request_progress()

    @property
    def id(self) -> int:
        return self._w.id

    def cancel(self) -> None:
        """Stops the watch; iteration ends once the batches already received are consumed.
        Idempotent."""
        self._w.cancel()
        self._on_end(None)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def next_response(self, timeout: Optional[float] = None) -> Optional[WatchResponse]:
        """The next batch, or None once the watch has ended; raises queue.Empty after
        `timeout` seconds without one."""
        item = self._queue.get(timeout=timeout)
        if item is self._END:
            self._queue.put(item)  # stays ended for later calls
            return None
        if isinstance(item, BaseException):
            self._queue.put(self._END)
            raise item
        return cast(WatchResponse, item)

    def responses(self, timeout: Optional[float] = None) -> Iterator[WatchResponse]:
        while True:
            r = self.next_response(timeout)
            if r is None:
                return
            yield r

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while not self._pending:
            r = self.next_response()
            if r is None:
                raise StopIteration
            self._pending.extend(r.events)
        return self._pending.popleft()

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next Event, None once the watch has ended; queue.Empty after `timeout`."""
        while not self._pending:
            r = self.next_response(timeout)
            if r is None:
                return None
            self._pending.extend(r.events)
        return self._pending.popleft()


class Lease:
    """A granted lease. `id` is what put(..., lease=) and Op.put take (the Lease itself works
    too). Thread safety: any thread."""

    def __init__(self, client: Client, ttl: int, lease_id: int, keepalive: bool) -> None:
        self._client = client
        self.id, self.granted_ttl = client._c.lease_grant(ttl, lease_id)
        self._keepalive = client._c.lease_keep_alive(self.id) if keepalive else None
        self._revoked = False

    def __repr__(self) -> str:
        return f"Lease(id={self.id}, granted_ttl={self.granted_ttl})"

    def __int__(self) -> int:
        return self.id

    def __index__(self) -> int:
        return self.id

    def time_to_live(self, *, keys: bool = False) -> LeaseInfo:
        return self._client.lease_time_to_live(self.id, keys=keys)

    def keys(self) -> List[bytes]:
        return list(self.time_to_live(keys=True).keys)

    def stop_keepalive(self) -> None:
        """Stops the library's keep-alive: the lease then expires after its TTL."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def revoke(self) -> None:
        """Revokes the lease, deleting its keys. Idempotent; a lease that already expired is
        not an error here."""
        if self._revoked:
            return
        self.stop_keepalive()
        self._revoked = True
        from ._errors import LeaseNotFoundError
        try:
            self._client.lease_revoke(self.id)
        except LeaseNotFoundError:
            pass

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._client.closed:
            self.revoke()
        else:
            self.stop_keepalive()


class Lock:
    """etcd's distributed lock over a lease. `with client.lock("name"):` or acquire()/release().
    Thread safety: one holder at a time per Lock object; make one per thread."""

    def __init__(self, client: Client, name: bytes, ttl: int, lease: object) -> None:
        self._client = client
        self.name = name
        self._ttl = ttl
        self._given_lease = lease
        self._own_lease: Optional[Lease] = None
        self.key: Optional[bytes] = None

    def acquire(self, timeout: Optional[float] = None) -> bool:
        """Blocks until held (returns True), or until `timeout` seconds passed (returns
        False). The GIL is released meanwhile."""
        if self.key is not None:
            raise RuntimeError("this Lock is already held")
        if self._given_lease is not None:
            lease_id = lease_id_of(self._given_lease)
        else:
            self._own_lease = self._client.lease(self._ttl)
            lease_id = self._own_lease.id
        try:
            self.key = self._client._c.lock(self.name, lease_id, -1.0 if timeout is None else timeout)
        except BaseException:
            self._drop_lease()
            raise
        if self.key is None:
            self._drop_lease()
            return False
        return True

    def release(self) -> None:
        if self.key is None:
            raise RuntimeError("this Lock is not held")
        try:
            self._client._c.unlock(self.key)
        finally:
            self.key = None
            self._drop_lease()

    def _drop_lease(self) -> None:
        if self._own_lease is not None:
            self._own_lease.revoke()
            self._own_lease = None

    @property
    def locked(self) -> bool:
        return self.key is not None

    def __enter__(self) -> "Lock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Election:
    """etcd's leader election (v3election) on `name`. campaign() blocks until this
    participant leads; as a context manager the campaign runs on enter and resigns on exit.
    Thread safety: one campaign at a time per Election object."""

    def __init__(self, client: Client, name: bytes, ttl: int, lease: object, value: bytes) -> None:
        self._client = client
        self.name = name
        self._ttl = ttl
        self._given_lease = lease
        self._own_lease: Optional[Lease] = None
        self._leader_key: Any = None
        self._value = value

    def campaign(self, value: BytesLike, timeout: Optional[float] = None) -> bool:
        """Blocks until elected (True) or `timeout` seconds passed (False)."""
        if self._leader_key is not None:
            raise RuntimeError("already leading")
        if self._given_lease is not None:
            lease_id = lease_id_of(self._given_lease)
        else:
            self._own_lease = self._client.lease(self._ttl)
            lease_id = self._own_lease.id
        self._value = to_bytes(value)
        try:
            self._leader_key = self._client._c.campaign(self.name, lease_id, self._value,
                                                        -1.0 if timeout is None else timeout)
        except BaseException:
            self._drop_lease()
            raise
        if self._leader_key is None:
            self._drop_lease()
            return False
        return True

    @property
    def is_leader(self) -> bool:
        """True between a successful campaign and resign (the lease may have expired since:
        proclaim then raises ElectionNotLeaderError)."""
        return self._leader_key is not None

    @property
    def leader_key(self) -> Any:
        """The LeaderKey this participant won with (None when not leading)."""
        return self._leader_key

    def proclaim(self, value: BytesLike) -> None:
        """Changes the leader's value without a new election; only while leading."""
        if self._leader_key is None:
            raise RuntimeError("not leading")
        self._client._c.proclaim(self._leader_key, to_bytes(value))

    def resign(self) -> None:
        if self._leader_key is None:
            return
        try:
            self._client._c.resign(self._leader_key)
        finally:
            self._leader_key = None
            self._drop_lease()

    def leader(self) -> Optional[KeyValue]:
        """The current leader's key and value, None when nobody leads."""
        return self._client._c.leader(self.name)

    def observe(self) -> "Observation":
        """An iterator of the leader's KeyValue each time leadership or its value changes."""
        return Observation(self._client._c, self.name)

    def _drop_lease(self) -> None:
        if self._own_lease is not None:
            self._own_lease.revoke()
            self._own_lease = None

    def __enter__(self) -> "Election":
        if self._leader_key is None:
            self.campaign(self._value)
        return self

    def __exit__(self, *exc: object) -> None:
        self.resign()


class Observation:
    """An iterator over an election's leaders (KeyValue); cancel() or `with` ends it. get()
    takes a timeout."""

    _END = object()

    def __init__(self, native_client: _native.Client, name: bytes) -> None:
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._end_lock = threading.Lock()
        self._ended = False
        self._o = native_client.observe(name, self._queue.put, self._on_end)

    def _on_end(self, error: Optional[BaseException]) -> None:
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
        self._queue.put(error if error is not None else self._END)

    def cancel(self) -> None:
        self._o.cancel()
        self._on_end(None)

    def __enter__(self) -> "Observation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def get(self, timeout: Optional[float] = None) -> Optional[KeyValue]:
        item = self._queue.get(timeout=timeout)
        if item is self._END:
            self._queue.put(item)
            return None
        if isinstance(item, BaseException):
            self._queue.put(self._END)
            raise item
        return cast(KeyValue, item)

    def __iter__(self) -> "Observation":
        return self

    def __next__(self) -> KeyValue:
        kv = self.get()
        if kv is None:
            raise StopIteration
        return kv


__all__ = ["Client", "Watch", "Lease", "Lock", "Election", "Observation"]
