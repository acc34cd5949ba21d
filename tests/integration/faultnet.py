"""A fault-injecting TCP proxy in front of every member's peer port, so a test can cut members
off from each other without root: each member advertises its proxy's port, and the proxy
forwards to the port the member listens on.

A rule names a direction between two members, "a -> b": the bytes a sends to b. Those travel
on connections a dialed to b (client to server) and on connections b dialed to a (server to
client), so the proxy has to know who dialed: it finds the process owning the connection's
client end through /proc/net/tcp and /proc/<pid>/fd (our own processes, no privilege needed).
A connection it cannot attribute (etcdctl, a member not registered) is never cut.

Modes:
  blackhole  the bytes are read and thrown away: the sender sees a silent peer, as when a
             network drops packets; its connections stay open until it gives up on them
  drop       connections that carry the direction are reset and new ones closed at once
heal() lifts every rule and closes the connections that lost bytes, so that the streams
start again cleanly instead of resuming with a hole in them.
"""
from __future__ import annotations

import os
import socket
import threading

BUF = 64 * 1024

_handed_out: set[int] = set()
_handed_out_mu = threading.Lock()


def _bind_fresh(reuse_addr: bool = False) -> socket.socket:
    """A socket bound to a 127.0.0.1 port that no one listens on and that this process has not
    handed out before. The kernel may give a port that free_port() released to the next bind to
    port 0, before the member it was meant for has bound it; so every port is handed out once."""
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuse_addr:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with _handed_out_mu:
            if port not in _handed_out:
                _handed_out.add(port)
                return sock
        sock.close()


def free_port() -> int:
    """A port for a member to listen on (see _bind_fresh)."""
    with _bind_fresh() as s:
        return s.getsockname()[1]


def _proc_net_tcp_inode(client_port: int, server_port: int) -> str | None:
    """The socket inode of the client end 127.0.0.1:client_port -> 127.0.0.1:server_port:
    in /proc/net/tcp, or in tcp6 as an IPv4-mapped address (gRPC dials dual-stack sockets)."""
    for table, host in (("/proc/net/tcp", "0100007F"),
                        ("/proc/net/tcp6", "0000000000000000FFFF00000100007F")):
        local = f"{host}:{client_port:04X}"
        remote = f"{host}:{server_port:04X}"
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1] == local and fields[2] == remote:
                        return fields[9]
        except OSError:
            pass
    return None


def _pid_owning(inode: str, pids: dict[int, str]) -> str | None:
    target = f"socket:[{inode}]"
    for pid, name in list(pids.items()):
        fd_dir = f"/proc/{pid}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(f"{fd_dir}/{fd}") == target:
                        return name
                except OSError:
                    continue
        except OSError:
            continue
    return None


class _Conn:
    def __init__(self, net: "FaultNet", client: socket.socket, server: socket.socket,
                 src: str | None, dst: str):
        self.net, self.client, self.server, self.src, self.dst = net, client, server, src, dst
        self.tainted = False  # lost bytes to a blackhole: closed on heal
        self.closed = False

    def start(self) -> None:
        # client -> server carries src -> dst; server -> client carries dst -> src.
        threading.Thread(target=self._pump, args=(self.client, self.server, self.src, self.dst),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.server, self.client, self.dst, self.src),
                         daemon=True).start()

    def _pump(self, from_sock: socket.socket, to_sock: socket.socket, a: str | None,
              b: str | None) -> None:
        try:
            while True:
                data = from_sock.recv(BUF)
                if not data:
                    break
                mode = self.net.rule(a, b)
                if mode == "drop":
                    break
                if mode == "blackhole":
                    self.tainted = True
                    continue
                to_sock.sendall(data)
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.net._forget(self)

    def carries(self, a: str, b: str) -> bool:
        return {self.src, self.dst} == {a, b}


class FaultNet:
    """The proxies of one cluster and the rules they apply. Thread safety: every method may
    be called from any thread."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._rules: dict[tuple[str, str], str] = {}
        self._pids: dict[int, str] = {}
        self._conns: set[_Conn] = set()
        self._listeners: list[socket.socket] = []
        self._stopped = False

    # --- members and proxies

    def register(self, name: str, pid: int) -> None:
        """Names the process whose outgoing connections are `name`'s (again after a restart)."""
        with self._mu:
            self._pids = {p: n for p, n in self._pids.items() if n != name}
            self._pids[pid] = name

    def listen(self, name: str, target_port: int) -> int:
        """Starts a proxy for member `name` that forwards to 127.0.0.1:target_port; returns
        the port it listens on (what the member advertises). May be called more than once
        for a member (an alternative peer URL)."""
        lsock = _bind_fresh(reuse_addr=True)
        lsock.listen(64)
        port = lsock.getsockname()[1]
        with self._mu:
            self._listeners.append(lsock)
        threading.Thread(target=self._accept, args=(lsock, port, name, target_port),
                         daemon=True).start()
        return port

    def _accept(self, lsock: socket.socket, port: int, dst: str, target_port: int) -> None:
        while True:
            try:
                client, addr = lsock.accept()
            except OSError:
                return
            inode = _proc_net_tcp_inode(addr[1], port)
            with self._mu:
                pids = dict(self._pids)
            src = _pid_owning(inode, pids) if inode else None
            if self.rule(src, dst) == "drop" or self.rule(dst, src) == "drop":
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", target_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()  # the member is down: the dialer sees a refused peer
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self, client, server, src, dst)
            with self._mu:
                if self._stopped:
                    conn.close()
                    return
                self._conns.add(conn)
            conn.start()

    def _forget(self, conn: _Conn) -> None:
        with self._mu:
            self._conns.discard(conn)

    # --- rules

    def rule(self, a: str | None, b: str | None) -> str | None:
        if a is None or b is None:
            return None
        with self._mu:
            return self._rules.get((a, b))

    def block(self, a: str, b: str, mode: str = "blackhole") -> None:
        """Cuts the direction a -> b."""
        assert mode in ("blackhole", "drop")
        with self._mu:
            self._rules[(a, b)] = mode
            doomed = [c for c in self._conns if mode == "drop" and c.carries(a, b)]
        for c in doomed:
            c.close()

    def cut(self, a: str, b: str, mode: str = "blackhole") -> None:
        """Cuts both directions between a and b."""
        self.block(a, b, mode)
        self.block(b, a, mode)

    def isolate(self, name: str, others: list[str], mode: str = "blackhole") -> None:
        for other in others:
            if other != name:
                self.cut(name, other, mode)

    def heal(self) -> None:
        with self._mu:
            self._rules.clear()
            doomed = [c for c in self._conns if c.tainted]
        for c in doomed:
            c.close()

    def stop(self) -> None:
        with self._mu:
            self._stopped = True
            listeners, self._listeners = self._listeners, []
            conns = list(self._conns)
        for lsock in listeners:
            try:
                lsock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
            except OSError:
                pass
            try:
                lsock.close()
            except OSError:
                pass
        for c in conns:
            c.close()
