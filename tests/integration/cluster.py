"""Runs clusters of real cairnd or etcd members on loopback for the integration tests.

Every member listens on free 127.0.0.1 ports, keeps its data dir and log under the test's
tmp directory (pytest keeps them after a failure), and advertises a peer URL that goes
through a fault-injecting proxy (faultnet.py), so a test can cut members off from each
other. etcdctl is Debian's 3.4, as in tests/compat.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import time

from faultnet import FaultNet, free_port

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
ETCDCTL = "/usr/bin/etcdctl"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
TOKEN = "cairn-integration"
# etcd's defaults; the tests' waits are counted in election timeouts.
HEARTBEAT_MS = 100
ELECTION_MS = 1000


def binary(kind: str) -> str:
    """cairnd: $CAIRND, else the dev preset's build. etcd: Debian's 3.4. etcd3.6: the one
    bench/etcd_compare builds."""
    path = {
        "cairnd": os.environ.get("CAIRND") or str(REPO_ROOT / "build/dev/cpp/cmd/cairnd"),
        "etcd": "/usr/bin/etcd",
        "etcd3.6": str(REPO_ROOT / "build/bench-tools/etcd"),
    }[kind]
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{kind} not found at {path}")
    return path


@dataclasses.dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """etcdctl's `Error: ...` line (its warnings before it are logs, not the answer)."""
        lines = [l for l in self.stderr.splitlines() if l.startswith("Error:")]
        return lines[-1] if lines else ""

    def json(self):
        assert self.rc == 0, f"etcdctl failed: {self.stderr}"
        return json.loads(self.stdout)


def etcdctl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    return env


def etcdctl(endpoints: str, *args: str, timeout: float = 30.0) -> Result:
    try:
        done = subprocess.run([ETCDCTL, f"--endpoints={endpoints}", "--dial-timeout=3s", *args],
                              capture_output=True, text=True, env=etcdctl_env(), timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return Result(-1, e.stdout or "", f"Error: etcdctl timed out after {timeout}s")
    return Result(done.returncode, done.stdout, done.stderr)


@dataclasses.dataclass
class Member:
    name: str
    kind: str
    workdir: pathlib.Path
    net: FaultNet
    client_port: int = dataclasses.field(default_factory=free_port)
    listen_peer_port: int = dataclasses.field(default_factory=free_port)
    proxy_port: int = 0  # what the member advertises: its proxy in front of listen_peer_port
    process: subprocess.Popen | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.proxy_port = self.net.listen(self.name, self.listen_peer_port)
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def log_path(self) -> pathlib.Path:
        return self.workdir / f"{self.kind}.{self.starts}.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, initial_cluster: str, state: str, extra_flags: list[str] = ()) -> None:
        assert not self.alive
        self.starts += 1
        flags = [
            f"--name={self.name}",
            f"--data-dir={self.workdir / 'data'}",
            f"--listen-client-urls=http://{self.endpoint}",
            f"--advertise-client-urls=http://{self.endpoint}",
            f"--listen-peer-urls=http://127.0.0.1:{self.listen_peer_port}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={initial_cluster}",
            f"--initial-cluster-token={TOKEN}",
            f"--initial-cluster-state={state}",
            f"--heartbeat-interval={HEARTBEAT_MS}",
            f"--election-timeout={ELECTION_MS}",
            # etcd 3.4's default is off; 3.5's and Cairn's on. The tests rely on it.
            "--pre-vote=true",
            *extra_flags,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([binary(self.kind), *flags], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.workdir, env=env)
        self.net.register(self.name, self.process.pid)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Sends sig (SIGKILL does not wait for anything) and reaps the process."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def etcdctl(self, *args: str, timeout: float = 30.0) -> Result:
        return etcdctl(self.endpoint, *args, timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Cluster:
    """Members of one cluster, by name (m1, m2, ...), and the proxies between them."""

    def __init__(self, kind: str, workdir: pathlib.Path, extra_flags: list[str] = ()):
        self.kind = kind
        self.workdir = workdir
        self.extra_flags = list(extra_flags)
        self.net = FaultNet()
        self.members: dict[str, Member] = {}

    # --- lifecycle

    def new_member(self, name: str) -> Member:
        m = Member(name, self.kind, self.workdir / name, self.net)
        self.members[name] = m
        return m

    def start(self, n: int) -> "Cluster":
        names = [f"m{i + 1}" for i in range(n)]
        for name in names:
            self.new_member(name)
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members.values())
        for m in self.members.values():
            m.start(initial, "new", self.extra_flags)
        for m in self.members.values():
            self.wait_ready(m)
        return self

    def restart(self, name: str) -> None:
        """Starts a stopped member again on its data dir (its initial-cluster flags are then
        ignored, as etcd ignores them)."""
        m = self.members[name]
        m.start(self.initial_cluster(), "existing", self.extra_flags)
        self.wait_ready(m)

    def initial_cluster(self, names: list[str] | None = None) -> str:
        names = names or list(self.members)
        return ",".join(f"{n}={self.members[n].peer_url}" for n in names)

    def add(self, name: str, learner: bool = False, start: bool = True) -> tuple[Member, Result]:
        """`etcdctl member add` through the running members, then starts the new member with
        --initial-cluster-state=existing (unless start is False)."""
        m = self.new_member(name)
        args = ["member", "add", name, f"--peer-urls={m.peer_url}"]
        if learner:
            args.append("--learner")
        # etcd refuses reconfiguration until every member has been connected for 5 s (its
        # strict reconfig check); a cluster just started or healed asks for patience.
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            added = self.etcdctl(*args, names=self.running(exclude=[name]))
            if "unhealthy cluster" not in added.error or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert added.rc == 0, f"member add failed: {added.stderr}"
        if start:
            self.start_added(name)
        return m, added

    def start_added(self, name: str, wait: bool = True) -> None:
        names = [n for n in self.members if n == name or n in self.voters_and_learners()]
        self.members[name].start(self.initial_cluster(names), "existing", self.extra_flags)
        if wait:
            self.wait_ready(self.members[name], serializable=True)

    def voters_and_learners(self) -> set[str]:
        return {m.get("name") or self.name_of_peer(m["peerURLs"][0]) for m in self.member_list()}

    def name_of_peer(self, url: str) -> str:
        return next(n for n, m in self.members.items() if m.peer_url == url)

    def stop(self) -> None:
        for m in self.members.values():
            m.stop()
        self.net.stop()

    def wait_ready(self, m: Member, serializable: bool = False) -> None:
        """Until a read succeeds on m: linearizable (a leader exists and m applies), or, for a
        learner (which refuses those), serializable."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        args = ["--command-timeout=2s", "get", "ready-probe"]
        if serializable:
            args.append("--consistency=s")
        while time.monotonic() < deadline:
            if not m.alive:
                raise RuntimeError(f"{m.name} ({m.kind}) exited with {m.process.returncode}:\n"
                                   f"{m.log_tail()}")
            last = m.etcdctl(*args, timeout=10)
            if last.rc == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{m.name} not ready after {READY_TIMEOUT_S}s: {last}\n{m.log_tail()}")

    # --- queries

    def running(self, exclude: list[str] = ()) -> list[str]:
        return [n for n, m in self.members.items() if m.alive and n not in exclude]

    def endpoints(self, names: list[str] | None = None) -> str:
        names = self.running() if names is None else names
        return ",".join(self.members[n].endpoint for n in names)

    def etcdctl(self, *args: str, names: list[str] | None = None, timeout: float = 30.0) -> Result:
        return etcdctl(self.endpoints(names), *args, timeout=timeout)

    def member_list(self, on: str | None = None) -> list[dict]:
        names = [on] if on else None
        return self.etcdctl("member", "list", "-w", "json", names=names).json()["members"]

    def ids(self) -> dict[str, int]:
        """Member name -> id, from the cluster's member list."""
        out = {}
        for m in self.member_list():
            out[m.get("name") or self.name_of_peer(m["peerURLs"][0])] = int(m["ID"])
        return out

    def status(self, name: str) -> dict | None:
        r = self.members[name].etcdctl("endpoint", "status", "-w", "json",
                                       "--command-timeout=2s", timeout=10)
        if r.rc != 0:
            return None
        return json.loads(r.stdout)[0]["Status"]

    def leader(self, among: list[str] | None = None) -> str | None:
        """The leader as the given members (default: all running) agree on it, or None."""
        ids = {v: k for k, v in self.ids_cached().items()}
        seen = set()
        for name in among or self.running():
            st = self.status(name)
            if st is None or not st.get("leader"):
                return None
            seen.add(int(st["leader"]))
        if len(seen) != 1:
            return None
        return ids.get(seen.pop())

    def ids_cached(self) -> dict[str, int]:
        if not hasattr(self, "_ids") or set(self._ids) != set(self.members):
            self._ids = self.ids()
        return self._ids

    def wait_leader(self, among: list[str] | None = None, timeout: float = 30.0,
                    not_: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader(among)
            if leader is not None and leader != not_:
                return leader
            time.sleep(0.1)
        raise AssertionError(f"no agreed leader among {among or self.running()} in {timeout}s")

    def hashkv(self, name: str, rev: int) -> dict:
        r = self.members[name].etcdctl("endpoint", "hashkv", f"--rev={rev}", "-w", "json")
        return r.json()[0]["HashKV"]

    def log_tails(self) -> str:
        return "\n".join(f"--- {n} ({m.log_path}):\n{m.log_tail()}" for n, m in self.members.items())
