"""Runs one etcdctl scenario against etcd and cairnd and reduces each output to what must match."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import time

from compat_servers import Result, Server

# Status fields that legitimately differ: versions, storage sizes (bbolt against WiredTiger),
# and raft positions (etcd's log holds its own configuration entries).
STATUS_VOLATILE = ("version", "dbSize", "dbSizeInUse", "raftIndex", "raftTerm",
                   "raftAppliedIndex")
# How long a polling step (until) or a background collection waits before it records
# what it has; the comparison with etcd then decides, so there is no timing assert.
POLL_LIMIT_S = 20.0


@dataclasses.dataclass(frozen=True)
class Step:
    """One etcdctl invocation: its arguments and what it reads on stdin.

    Arguments may name what differs per server: {lease0}, {lease1}, ... the leases granted so
    far in the scenario (hex, as etcdctl prints them) and {dir} the server's work directory.
    """

    args: tuple[str, ...]
    stdin: str | None = None
    fails: bool = False  # what etcd does; checked, so a scenario that goes wrong is noticed
    # Dotted paths in the JSON output left out of the comparison, where etcd 3.4 and the newer
    # etcd that Cairn follows answer differently (each use says which).
    ignore: tuple[str, ...] = ()
    # Repeat the command until its stdout matches this regex (EMPTY: a key waiting for its
    # lease to expire; or until a lock's waiter has queued its key).
    until: str | None = None
    # Regexes whose matches in this step's output are replaced by "<masked>": names that
    # embed a session's lease id (lock and election keys, which print it unpadded).
    mask: tuple[str, ...] = ()
    # Start the command in the background under this name instead of waiting for it...
    background: str | None = None
    # ...or stop the background command of this name once its stdout matches the regex
    # `sentinel` (or it exited by itself), and take its output as this step's result; a
    # sentinel ends with the last line's newline, so that no event is cut in half...
    collect: str | None = None
    sentinel: str | None = None
    # ...or, with peek, wait for the sentinel the same way but leave the command running.
    peek: bool = False

    @property
    def is_json(self) -> bool:
        return any(a == "json" and b in ("-w", "--write-out")
                   for b, a in zip(self.args, self.args[1:]))

    def __str__(self) -> str:
        if self.collect:
            return f"(output {'so far ' if self.peek else ''}of background {self.collect})"
        return "etcdctl " + " ".join(repr(a) if not a or " " in a else a for a in self.args)


EMPTY = r"\A\Z"


def step(*args: str, stdin: str | None = None, fails: bool = False,
         ignore: tuple[str, ...] = (), until: str | None = None,
         mask: tuple[str, ...] = ()) -> Step:
    return Step(tuple(args), stdin, fails, ignore, until, mask=mask)


def txn(*lines: str, flags: tuple[str, ...] = (), fails: bool = False) -> Step:
    """`etcdctl txn` fed on stdin in its interactive syntax: compares, blank line, success
    ops, blank line, failure ops, blank line. Pass "" between the three groups."""
    return Step(("txn", *flags), "\n".join(lines) + "\n\n", fails)


def background(name: str, *args: str) -> Step:
    return Step(tuple(args), background=name)


def collect(name: str, sentinel: str | None = None, fails: bool = False,
            mask: tuple[str, ...] = ()) -> Step:
    return Step((), fails=fails, mask=mask, collect=name, sentinel=sentinel)


def peek(name: str, sentinel: str, mask: tuple[str, ...] = ()) -> Step:
    """Waits until the background command's output matches sentinel; its output so far is the
    result. Orders what other processes do after what this one has seen."""
    return Step((), mask=mask, collect=name, sentinel=sentinel, peek=True)


class Normalizer:
    """Rewrites one server's outputs so that only what must equal etcd's is left.

    HashKV values are compared as they are: Cairn computes etcd's hash over the same history.
    Lease IDs, which each server chooses, become labels in the order they were granted.
    """

    def __init__(self, server: Server):
        self.endpoint = server.endpoint
        self.workdir = str(server.workdir)
        self.leases: list[int] = []

    def args(self, s: Step) -> list[str]:
        names = {f"lease{i}": f"{lease:x}" for i, lease in enumerate(self.leases)}
        return [a.format(dir=self.workdir, **names) if "{" in a else a for a in s.args]

    def learn(self, result: Result) -> None:
        for match in re.finditer(r"lease ([0-9a-f]+) granted with TTL", result.stdout):
            lease = int(match.group(1), 16)
            if lease not in self.leases:
                self.leases.append(lease)

    def tree(self, node, parent_key: str = ""):
        if isinstance(node, list):
            return [self.tree(item, parent_key) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        is_status = "dbSize" in node or parent_key == "Status"
        for key, value in node.items():
            if key == "raft_term" or key == "took":
                continue
            if is_status and key in STATUS_VOLATILE:
                continue
            if (key == "TTL" and "grantedTTL" in node) or (key == "ttl" and "granted-ttl" in node):
                continue  # the remaining time of a lease
            if key in ("ID", "id", "lease") and isinstance(value, int) and value in self.leases:
                out[key] = f"<lease {self.leases.index(value)}>"
                continue
            if key == "keys" and isinstance(value, list):
                out[key] = sorted(value)  # a lease's keys, which etcd lists in no set order
                continue
            out[key] = self.tree(value, key)
        return out

    def text(self, text: str) -> str:
        text = text.replace(self.endpoint, "<endpoint>").replace(self.workdir, "<dir>")
        # As etcdctl prints lease ids: in hex, zero-padded to 16 digits, after "lease " or alone.
        for i, lease in enumerate(self.leases):
            text = re.sub(rf"(?m)(^|lease )0*{lease:x}\b", rf"\g<1><lease {i}>", text)
        text = re.sub(r"remaining\(-?\d+s\)", "remaining(<t>)", text)
        text = re.sub(r"attached keys\(\[(.*?)\]\)",
                      lambda m: f"attached keys([{' '.join(sorted(m.group(1).split()))}])", text)
        return re.sub(r"took = \S+", "took = <t>", text)

    def stdout(self, text: str, is_json: bool):
        text = self.text(text)
        if not is_json:
            return text
        try:
            return self.tree(json.loads(text))
        except ValueError:
            return f"not JSON: {text!r}"

    def stderr(self, text: str) -> list[str]:
        """Keeps etcdctl's own lines; of the client library's JSON log lines (timestamps,
        random target names) keeps the message and the error, which carries the gRPC code."""
        lines = []
        for line in self.text(text).splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and "level" in entry:
                # A client stopped by the test may be in the middle of a call, which it then
                # cancels and logs; whether it is depends on timing, not on the server.
                if str(entry.get("error", "")).endswith("desc = context canceled"):
                    continue
                lines.append(f"log {entry.get('msg')}: {entry.get('error')}")
            else:
                lines.append(line)
        return lines

    def result(self, s: Step, result: Result) -> dict:
        self.learn(result)
        for pattern in s.mask:
            result = Result(result.rc, re.sub(pattern, "<masked>", result.stdout),
                            re.sub(pattern, "<masked>", result.stderr))
        stdout = self.stdout(result.stdout, s.is_json)
        for path in s.ignore:
            drop(stdout, path.split("."))
        return {"rc": result.rc, "stdout": stdout, "stderr": self.stderr(result.stderr)}


def drop(tree, path: list[str]) -> None:
    """Removes the field at path (a list of keys) from a parsed JSON tree, if it is there."""
    for key in path[:-1]:
        if not isinstance(tree, dict) or key not in tree:
            return
        tree = tree[key]
    if isinstance(tree, dict):
        tree.pop(path[-1], None)


def stop_background(process: subprocess.Popen) -> Result:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.out.seek(0)
    process.err.seek(0)
    result = Result(process.returncode, process.out.read(), process.err.read())
    process.out.close()
    process.err.close()
    return result


def wait_background(process: subprocess.Popen, sentinel: str | None) -> str:
    """Waits until the process's stdout matches sentinel, it exits, or POLL_LIMIT_S passes;
    returns its stdout so far."""
    deadline = time.monotonic() + POLL_LIMIT_S
    while True:
        process.out.seek(0)
        out = process.out.read()
        if (sentinel is not None and re.search(sentinel, out)) or process.poll() is not None \
                or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def collect_background(process: subprocess.Popen, sentinel: str | None) -> Result:
    wait_background(process, sentinel)
    result = stop_background(process)
    # The way a watch ends (our SIGTERM, or the server cancelling it) is in the output; the
    # exit status of a process we terminated says nothing about the server.
    return Result(0 if result.rc == -15 else result.rc, result.stdout, result.stderr)


def run_step(server: Server, normalizer: Normalizer, s: Step,
             running: dict[str, subprocess.Popen]) -> dict | None:
    if s.background:
        running[s.background] = server.etcdctl_background(*normalizer.args(s))
        return None
    if s.peek:
        out = wait_background(running[s.collect], s.sentinel)
        return normalizer.result(s, Result(0, out, ""))
    if s.collect:
        return normalizer.result(s, collect_background(running.pop(s.collect), s.sentinel))
    result = server.etcdctl(*normalizer.args(s), stdin=s.stdin)
    deadline = time.monotonic() + POLL_LIMIT_S
    while s.until is not None and not re.search(s.until, result.stdout) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
        result = server.etcdctl(*normalizer.args(s), stdin=s.stdin)
    return normalizer.result(s, result)


def run(server: Server, steps: list[Step]) -> list[dict | None]:
    """Runs the steps in order on one server; returns each step's normalized result (None
    for a step that only started something in the background). Background commands are
    stopped before it returns, whatever happens."""
    normalizer = Normalizer(server)
    running: dict[str, subprocess.Popen] = {}
    try:
        return [run_step(server, normalizer, s, running) for s in steps]
    finally:
        for process in running.values():
            stop_background(process)


def check_etcd(steps: list[Step], results: list[dict | None]) -> None:
    """Fails if etcd itself did not do what the scenario expects of it (a broken scenario)."""
    for s, result in zip(steps, results):
        if result is not None:
            assert (result["rc"] != 0) == s.fails, f"etcd itself: {s} gave {result}"


def differences(steps: list[Step], etcd_results: list, cairnd_results: list) -> str:
    """A readable account of every step whose results differ; empty when all match."""
    out = []
    for s, want, got in zip(steps, etcd_results, cairnd_results):
        if want != got:
            out.append(f"{s}\n  etcd:   {want}\n  cairnd: {got}")
    return "\n".join(out)


def assert_cairnd_matches_etcd(etcd: Server, cairnd: Server, steps: list[Step]) -> None:
    """Runs the scenario on etcd, checks that etcd did what the scenario expects, runs it on
    cairnd, and fails with every step whose normalized results differ."""
    want = run(etcd, steps)
    check_etcd(steps, want)
    got = run(cairnd, steps)
    diff = differences(steps, want, got)
    assert not diff, f"cairnd differs from etcd:\n{diff}"
