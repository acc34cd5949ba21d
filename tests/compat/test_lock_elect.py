"""Locks and elections against etcd and cairnd: etcdctl 3.4's lock and elect, contended, and
etcd's Lock and Election gRPC services driven by lockelect/ (etcdctl does not call them: its
lock and elect run clientv3's concurrency package over KV, Watch and Lease)."""
from __future__ import annotations

import pathlib
import re
import signal
import subprocess
import time

import pytest

from compat_servers import Server
from etcdctl_scenario import POLL_LIMIT_S, stop_background

HERE = pathlib.Path(__file__).resolve().parent
# An owner key's last part: the session's lease id in hex, which each server chooses.
OWNER = re.compile(r"(?<=/)[0-9a-f]{1,16}\b")


class Owners:
    """Names the owner keys' lease ids in order of first appearance, per server."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return OWNER.sub(lambda m: self.names.setdefault(m.group(0), f"<owner {len(self.names)}>"),
                         text)


def output(process: subprocess.Popen) -> str:
    process.out.seek(0)
    return process.out.read()


def wait_until(what: str, condition) -> None:
    """Waits for a condition with a generous deadline; fails saying what never happened."""
    deadline = time.monotonic() + POLL_LIMIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def owner_keys(server: Server, prefix: str) -> list[str]:
    result = server.etcdctl("get", prefix, "--prefix", "--keys-only")
    assert result.rc == 0, result
    return [line for line in result.stdout.splitlines() if line]


def lock_handover(server: Server) -> list[str]:
    """A holder, a waiter running a command; the waiter's command runs once the holder exits."""
    name = Owners()
    holder = server.etcdctl_background("lock", "L")
    waiter = None
    try:
        wait_until("the first lock is held", lambda: "L/" in output(holder))
        waiter = server.etcdctl_background("lock", "L", "--", "sh", "-c",
                                           'echo "ran with $ETCD_LOCK_KEY at $ETCD_LOCK_REV"')
        wait_until("the waiter's key exists", lambda: len(owner_keys(server, "L/")) == 2)
        # Safety, not timing: while the holder lives the waiter's command must not have run.
        assert waiter.poll() is None and output(waiter) == "", f"{server.kind}: two holders"
        holder.send_signal(signal.SIGINT)  # etcdctl unlocks and closes its session
        wait_until("the waiter ran its command", lambda: waiter.poll() is not None)
        return [name(output(holder)), f"waiter rc={waiter.returncode}", name(output(waiter)),
                f"keys left: {owner_keys(server, 'L/')}"]
    finally:
        stop_background(holder)
        if waiter is not None:
            stop_background(waiter)


def lock_after_holder_dies(server: Server) -> list[str]:
    """A holder killed outright: its session lease expires and the waiter gets the lock."""
    name = Owners()
    holder = server.etcdctl_background("lock", "--ttl=2", "K")
    waiter = None
    try:
        wait_until("the first lock is held", lambda: "K/" in output(holder))
        waiter = server.etcdctl_background("lock", "K", "echo", "got it")
        wait_until("the waiter's key exists", lambda: len(owner_keys(server, "K/")) == 2)
        assert waiter.poll() is None and output(waiter) == "", f"{server.kind}: two holders"
        holder.send_signal(signal.SIGKILL)  # no unlock, no revoke: only expiry frees it
        wait_until("the waiter got the lock", lambda: waiter.poll() is not None)
        return [name(output(holder)), f"waiter rc={waiter.returncode}", name(output(waiter))]
    finally:
        stop_background(holder)
        if waiter is not None:
            stop_background(waiter)


def elect_handover(server: Server) -> list[str]:
    """An observer, a leader and a candidate; the candidate leads once the leader exits."""
    name = Owners()
    observer = server.etcdctl_background("elect", "-l", "E")
    first = second = None
    try:
        first = server.etcdctl_background("elect", "E", "p1")
        wait_until("p1 is elected", lambda: "p1" in output(first))
        second = server.etcdctl_background("elect", "E", "p2")
        wait_until("the candidate's key exists", lambda: len(owner_keys(server, "E/")) == 2)
        assert output(second) == "", f"{server.kind}: two leaders"
        wait_until("the observer saw p1", lambda: "p1" in output(observer))
        first.send_signal(signal.SIGINT)  # etcdctl resigns and closes its session
        wait_until("p2 is elected", lambda: "p2" in output(second))
        wait_until("the observer saw p2", lambda: "p2" in output(observer))
        return [name(output(first)), name(output(second)), name(output(observer))]
    finally:
        for process in (observer, first, second):
            if process is not None:
                stop_background(process)


@pytest.mark.parametrize("scenario", [lock_handover, lock_after_holder_dies, elect_handover],
                         ids=lambda f: f.__name__)
def test_etcdctl_lock_and_elect_match_etcd(start_pair, scenario):
    etcd, cairnd = start_pair()
    want = scenario(etcd)
    got = scenario(cairnd)
    assert got == want, f"cairnd differs from etcd:\n  etcd:   {want}\n  cairnd: {got}"


@pytest.fixture(scope="module")
def lockelect(tmp_path_factory) -> pathlib.Path:
    """The Go program that drives the gRPC services, built from lockelect/."""
    binary = tmp_path_factory.mktemp("lockelect") / "lockelect"
    build = subprocess.run(["go", "build", "-o", str(binary), "."], cwd=HERE / "lockelect",
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"building lockelect failed:\n{build.stderr}"
    return binary


# etcd 3.5 rechecks a lock waiter's key after its wait and answers "mutex: session is
# expired" when the key went with its lease; Debian's etcd 3.4 predates that check and
# answers ok. Cairn implements 3.5's.
SESSION_EXPIRED_STEP = "lock x L3 after its lease was revoked: "


def test_lock_and_election_services_match_etcd(start_pair, lockelect):
    etcd, cairnd = start_pair()
    runs = {}
    for server in (etcd, cairnd):
        done = subprocess.run([str(lockelect), server.endpoint], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{server.kind}:\n{done.stdout}\n{done.stderr}"
        runs[server.kind] = done.stdout.splitlines()
    want, got = runs["etcd"], runs["cairnd"]
    assert SESSION_EXPIRED_STEP + "ok" in want, "etcd no longer behaves as this test says"
    want = [SESSION_EXPIRED_STEP + 'error code=Unknown msg="mutex: session is expired"'
            if line == SESSION_EXPIRED_STEP + "ok" else line for line in want]
    assert got == want, "cairnd differs from etcd:\n" + "\n".join(
        f"  etcd:   {w}\n  cairnd: {g}" for w, g in zip(want, got) if w != g) + (
        f"\n  lines: etcd {len(want)}, cairnd {len(got)}" if len(want) != len(got) else "")
