"""Starts and stops cairnd and Debian's etcd on free loopback ports, and runs etcdctl 3.4 on them."""
from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

# What both servers share so that their member and cluster ids derive from the same inputs.
MEMBER_NAME = "compat"
CLUSTER_TOKEN = "cairn-compat"


def cairnd_path() -> str:
    """The cairnd under test: $CAIRND, else the dev preset's build in this repository."""
    path = os.environ.get("CAIRND") or str(REPO_ROOT / "build/dev/cpp/cmd/cairnd")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"cairnd not found at {path} (build the dev preset or set CAIRND)")
    return path


_handed_out: set[int] = set()


def free_port() -> int:
    """A 127.0.0.1 port no one listens on, never one handed out before: the kernel may give a
    port just released here to the next bind to port 0, before its server has bound it."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@dataclasses.dataclass
class Result:
    """What one etcdctl invocation gave."""

    rc: int
    stdout: str
    stderr: str


@dataclasses.dataclass
class Server:
    """One running single-member server (kind "cairnd" or "etcd")."""

    kind: str
    endpoint: str  # host:port of the client URL
    process: subprocess.Popen
    log_path: pathlib.Path

    @property
    def workdir(self) -> pathlib.Path:
        return self.log_path.parent

    def etcdctl_command(self, *args: str) -> list[str]:
        return [ETCDCTL, f"--endpoints={self.endpoint}", "--dial-timeout=5s", *args]

    def etcdctl(self, *args: str, stdin: str | None = None, timeout: float = 30.0) -> Result:
        done = subprocess.run(
            self.etcdctl_command(*args),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=etcdctl_env(),
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def etcdctl_background(self, *args: str) -> subprocess.Popen:
        """Starts etcdctl (a watch, say) without waiting; its output goes to files, so
        that a slow reader never blocks it. The caller stops it."""
        out = open(self.workdir / f"bg-{time.monotonic_ns()}.out", "w+")
        err = open(self.workdir / f"bg-{time.monotonic_ns()}.err", "w+")
        process = subprocess.Popen(self.etcdctl_command(*args), stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL, text=True, env=etcdctl_env())
        process.out, process.err = out, err
        return process

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def etcdctl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    return env


def start(kind: str, workdir: pathlib.Path, advertise_peer_url: str, listen_peer_port: int,
          extra_flags: list[str] = ()) -> Server:
    """Starts a server with etcd's flags; the data dir and log go under workdir."""
    binary = {"cairnd": cairnd_path, "etcd": lambda: ETCD}[kind]()
    workdir.mkdir(parents=True, exist_ok=True)
    client = f"127.0.0.1:{free_port()}"
    flags = [
        f"--name={MEMBER_NAME}",
        f"--data-dir={workdir / 'data'}",
        f"--listen-client-urls=http://{client}",
        f"--advertise-client-urls=http://{client}",
        f"--listen-peer-urls=http://127.0.0.1:{listen_peer_port}",
        f"--initial-advertise-peer-urls={advertise_peer_url}",
        f"--initial-cluster={MEMBER_NAME}={advertise_peer_url}",
        f"--initial-cluster-token={CLUSTER_TOKEN}",
        "--initial-cluster-state=new",
        *extra_flags,
    ]
    log_path = workdir / f"{kind}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, *flags], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=workdir, env=env)
    server = Server(kind, client, process, log_path)
    try:
        wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: Server) -> None:
    """Waits until a linearizable read succeeds (a leader exists and applies)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {server.process.returncode}:\n"
                               f"{server.log_tail()}")
        last = server.etcdctl("--command-timeout=2s", "get", "compat-ready-probe", timeout=10)
        if last.rc == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.kind} not ready after {READY_TIMEOUT_S}s: {last}\n"
                       f"{server.log_tail()}")


def start_pair(workdir: pathlib.Path, extra_flags: list[str] = ()) -> tuple[Server, Server]:
    """Starts etcd and cairnd with the same name, advertised peer URL and cluster token.

    Both advertise etcd's peer URL (nobody dials it: each is a one-member cluster), so the
    inputs of the member and cluster id derivation are the same.
    """
    etcd_peer = free_port()
    advertise = f"http://127.0.0.1:{etcd_peer}"
    etcd = start("etcd", workdir / "etcd", advertise, etcd_peer, extra_flags)
    try:
        cairnd = start("cairnd", workdir / "cairnd", advertise, free_port(), extra_flags)
    except BaseException:
        etcd.stop()
        raise
    return etcd, cairnd
