"""cairn.Node: a Cairn member running inside this process. It serves gRPC on its client URLs
like cairnd (so etcdctl and other processes reach it) and gives in-process clients that skip
the network."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _native
from ._client import Client

Status = _native.Status


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _urls(value: Union[str, Sequence[str]]) -> str:
    return value if isinstance(value, str) else ",".join(value)


class Node:
    """Starts a member from the options cairnd takes, under the same names (`name`,
    `data_dir`, `listen_client_urls`, `initial_cluster`, `heartbeat_interval`, ...: the flag
    names with `_` for `-`). Unlike cairnd it listens by default on 127.0.0.1 on free ports,
    since an embedded node usually lives in a test or a tool:

        with cairn.Node(data_dir="/tmp/n1") as node, node.client() as c:
            c.put(b"k", b"v")

    `flags` passes anything else as cairnd's `--flag=value` arguments. The constructor returns
    once the member serves (wait_ready), unless `wait=False`.

    Thread safety: every method may be called from any thread; close() (or leaving the `with`
    block) stops the member gracefully and frees it."""

    def __init__(self, data_dir: Union[str, "os.PathLike[str]"], *, name: str = "default",
                 listen_client_urls: Union[str, Sequence[str], None] = None,
                 advertise_client_urls: Union[str, Sequence[str], None] = None,
                 listen_peer_urls: Union[str, Sequence[str], None] = None,
                 initial_advertise_peer_urls: Union[str, Sequence[str], None] = None,
                 initial_cluster: Optional[str] = None, initial_cluster_state: str = "new",
                 initial_cluster_token: Optional[str] = None,
                 flags: Optional[Mapping[str, Any]] = None, wait: bool = True,
                 ready_timeout: float = 30.0) -> None:
        if listen_client_urls is None:
            listen_client_urls = f"http://127.0.0.1:{free_port()}"
        if listen_peer_urls is None:
            listen_peer_urls = f"http://127.0.0.1:{free_port()}"
            if initial_advertise_peer_urls is None and initial_cluster is None:
                # A lone member's id derives from its advertised peer URL: a fixed one (etcd's
                # default) keeps the id, and so the data directory, valid across restarts on
                # other ports. No one dials it while the member is alone.
                initial_advertise_peer_urls = "http://localhost:2380"
        options: Dict[str, str] = {
            "name": name,
            "data-dir": os.fspath(data_dir),
            "listen-client-urls": _urls(listen_client_urls),
            "advertise-client-urls": _urls(advertise_client_urls or listen_client_urls),
            "listen-peer-urls": _urls(listen_peer_urls),
            "initial-advertise-peer-urls": _urls(initial_advertise_peer_urls or listen_peer_urls),
            "initial-cluster-state": initial_cluster_state,
        }
        if initial_cluster is not None:
            options["initial-cluster"] = initial_cluster
        if initial_cluster_token is not None:
            options["initial-cluster-token"] = initial_cluster_token
        for key, value in (flags or {}).items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            options[key.replace("_", "-")] = str(value)
        self.name = name
        self.data_dir = os.fspath(data_dir)
        self._lock = threading.Lock()
        self._closed = False
        self._n = _native.Node.start(list(options.items()))
        # Kept: a stopped member's URLs still say where it was (a cluster's endpoint list).
        self._client_urls: List[str] = list(self._n.client_urls())
        if wait:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self.close()
                raise

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Blocks until the member serves requests (its cluster has a leader); raises
        DeadlineExceeded after `timeout` seconds."""
        self._n.wait_ready(timeout)

    @property
    def client_urls(self) -> List[str]:
        """The URLs clients reach this member on, with the ports bound."""
        return list(self._client_urls)

    @property
    def endpoint(self) -> str:
        """The first client URL as host:port, the form etcdctl's --endpoints takes."""
        url = self.client_urls[0]
        return url.split("://", 1)[-1]

    def status(self) -> Status:
        return self._n.status()

    def client(self) -> Client:
        """A client that calls this member in process, without the network. Close it (or use
        it as a context manager) before the node closes; a client left open ends when the node
        stops."""
        return Client(_native_client=self._n.client())

    def close(self) -> None:
        """Stops the member gracefully and frees it. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._n.stop()

    stop = close

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ",".join(self.client_urls)
        return f"Node(name={self.name!r}, {state})"
