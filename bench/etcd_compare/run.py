#!/usr/bin/env python3
"""cairnd against etcd, measured by etcd's own benchmark tool, one member each, one run.

How to run (from anywhere in the repository):

    bench/etcd_compare/run.py --quick   # 2,000 requests per row: proves it works; under
                                        # a minute once built
    bench/etcd_compare/run.py           # default: 20,000 puts with 1 client, 50,000
                                        # requests in every 64-client row: ~3-5 min

What it does:
  1. Builds cairnd in the `bench` preset (RelWithDebInfo, -O2) through the shared build
     lock (`flock /tmp/cairn-build.lock`), and etcd's tools from the Go module proxy with
     bench/etcd_compare/tools/go.mod: etcd's `benchmark` command (go.etcd.io/etcd/v3) and
     an etcd 3.6 server (go.etcd.io/etcd/server/v3's etcdmain). They go to
     build/bench-tools/. Debian's etcd 3.4 is /usr/bin/etcd (scripts/install-deps.sh).
  2. For every row, in turn for cairnd, etcd 3.6 and etcd 3.4 (alternating, so drift in
     the machine's load hits all three alike): starts the server (one member, or three as
     one cluster) on free 127.0.0.1 ports with fresh data directories and the same etcd
     flags, waits until a put goes through every member, runs the row, reads the peak RSS
     (VmHWM in /proc/<pid>/status; the sum over the members) and stops it with SIGTERM.
  3. Prints one table: ops/s (higher is better), p50 and p99 latency in ms (lower is
     better), peak RSS in MiB (lower is better), and on each etcd line the ratio
     cairnd/that etcd for every column.

Rows (key 8 B, value 256 B, as in etcd's own performance docs):
  put-1       put, 1 client on 1 connection, a new sequential key per request
  put-64      put, 64 clients on 8 connections, a new sequential key per request
  range-l-64  range of one key, linearizable (etcd's default), 64 clients on 8 connections
  range-s-64  range of one key, serializable, 64 clients on 8 connections
  put-64/3m, range-l-64/3m
              the same as put-64 and range-l-64 on a 3-member cluster of each server (all
              three on this machine), the 8 connections spread over the three members

Every server fsyncs before acknowledging a write (the default of all three; etcd is never
given --unsafe-no-fsync). The data directories live under --data-root, which must be a
real disk (not tmpfs) for the fsyncs to mean anything.

This prints figures and asserts nothing about them; it is not part of the test command.
Figures on a shared 2-core machine are noisy: say what else was running when you quote them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TOOLS_MOD = os.path.join(HERE, "tools")
TOOLS_BIN = os.path.join(ROOT, "build", "bench-tools")
CAIRND = os.path.join(ROOT, "build", "bench", "cpp", "cmd", "cairnd")
DEBIAN_ETCD = "/usr/bin/etcd"
BUILD_LOCK = "/tmp/cairn-build.lock"

KEY_SIZE = 8
VAL_SIZE = 256
PRIME_KEY = "benchkey"  # 8 bytes: the key the range rows read
CONNS_64 = 8

QUICK_TOTALS = {"put-1": 2000, "put-64": 2000, "range-l-64": 2000, "range-s-64": 2000}
DEFAULT_TOTALS = {"put-1": 20000, "put-64": 50000, "range-l-64": 50000, "range-s-64": 50000}

# Each benchmark run and each server start is bounded, so the script always ends.
BENCH_TIMEOUT_S = 900
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 20


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Row:
    name: str
    title: str
    clients: int
    conns: int
    args: list[str]  # the benchmark subcommand and its flags, without --total
    members: int = 1  # members of the cluster under test


def rows_for(totals: dict[str, int], members: list[int]) -> list[tuple[Row, int]]:
    put = ["put", f"--key-size={KEY_SIZE}", f"--val-size={VAL_SIZE}", "--sequential-keys"]
    rows = []
    if 1 in members:
        rows += [
            Row("put-1", "put, 1 client", 1, 1, put),
            Row("put-64", "put, 64 clients", 64, CONNS_64, put),
            Row("range-l-64", "range linearizable, 64 clients", 64, CONNS_64, ["range", PRIME_KEY, "--consistency=l"]),
            Row("range-s-64", "range serializable, 64 clients", 64, CONNS_64, ["range", PRIME_KEY, "--consistency=s"]),
        ]
    if 3 in members:
        # A 3-member cluster of each server on this machine (issue 6): the 64 clients' 8
        # connections spread over the three members, so followers forward and ReadIndex.
        rows += [
            Row("put-64/3m", "3 members: put, 64 clients", 64, CONNS_64, put, members=3),
            Row("range-l-64/3m", "3 members: range linearizable, 64 clients", 64, CONNS_64,
                ["range", PRIME_KEY, "--consistency=l"], members=3),
        ]
    return [(r, totals[r.name.split("/")[0]]) for r in rows]


@dataclass
class Server:
    label: str
    binary: str
    is_cairnd: bool = False
    is_baseline: bool = False  # another cairnd (--baseline): compared, but not part of the goal


@dataclass
class Result:
    row: str
    server: str
    ops: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    rss_mib: float | None = None
    cpu_us: float | None = None      # the server's CPU time per request (all members), µs
    client_cpu_us: float | None = None  # the benchmark tool's CPU time per request, µs
    errors: int = 0
    note: str = ""
    command: str = ""
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- build


def run_checked(cmd: list[str], cwd: str | None = None, env: dict | None = None) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def build() -> None:
    # Other engineers compile on the same 2 cores: every build takes the shared lock.
    run_checked(["flock", BUILD_LOCK, "sh", "-c",
                 "cmake --preset bench >/dev/null && cmake --build --preset bench --target cairnd"], cwd=ROOT)
    env = dict(os.environ)
    env["PATH"] = "/usr/local/go/bin:" + env.get("PATH", "")
    # etcd 3.6.16 asks for a newer Go than scripts/install-go.sh may have put on the machine;
    # then let the go command fetch that toolchain from the module proxy (golang.org/toolchain).
    have = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, env=env).stdout.strip()
    want = re.search(r"^go (\S+)", open(os.path.join(TOOLS_MOD, "go.mod")).read(), re.M).group(1)
    if version_tuple(have.removeprefix("go")) < version_tuple(want):
        log(f"{have} is older than go.mod's go {want}: building with GOTOOLCHAIN=auto")
        env["GOTOOLCHAIN"] = "auto"
    os.makedirs(TOOLS_BIN, exist_ok=True)
    run_checked(["flock", BUILD_LOCK, "nice", "go", "build", "-trimpath", "-o", TOOLS_BIN + "/",
                 "go.etcd.io/etcd/v3/tools/benchmark", "./etcd"], cwd=TOOLS_MOD, env=env)


def version_of(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"etcd Version: (\S+)", out) or re.search(r"cairnd Version: (\S+)", out)
    return m.group(1) if m else "?"


# ---------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_flags(name: str, data_dir: str, client_port: int, peer_port: int,
                 initial_cluster: str) -> list[str]:
    """The same etcd flags for every server: loopback only, defaults otherwise."""
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={initial_cluster}",
        "--initial-cluster-state=new",
        "--initial-cluster-token=bench",
    ]


def etcdctl(endpoint: str, *args: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(["etcdctl", f"--endpoints={endpoint}", "--command-timeout=2s", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def vm_hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def tail(path: str, n: int = 15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------- one measurement


def parse_report(out: str) -> dict:
    r: dict = {}
    m = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    if m:
        r["ops"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}% in ([0-9.]+) secs", out, re.M)
        if m:
            r[key] = float(m.group(1)) * 1000.0
    errs = 0
    if "Error distribution:" in out:
        for m in re.finditer(r"^\s*\[(\d+)\]\s+(.*)$", out.split("Error distribution:", 1)[1], re.M):
            errs += int(m.group(1))
            r.setdefault("error_lines", []).append(m.group(0).strip())
    r["errors"] = errs
    return r


def free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def measure(server: Server, row: Row, total: int, data_root: str, logs_dir: str,
            members: int = 1) -> Result:
    """Starts `members` members of the server as one cluster (the benchmark's connections
    then go round-robin to all of them, as etcd's own tool spreads them), runs the row."""
    res = Result(row=row.name, server=server.label)
    label = server.label.replace(" ", "")
    rowfile = row.name.replace("/", "-")
    data_dir = tempfile.mkdtemp(prefix=f"{rowfile}-{label}-", dir=data_root)
    ports = free_ports(2 * members)
    names = ["bench"] if members == 1 else [f"bench{i + 1}" for i in range(members)]
    clients, peers = ports[:members], ports[members:]
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(names, peers))
    endpoints = ",".join(f"127.0.0.1:{p}" for p in clients)
    procs: list[subprocess.Popen] = []
    log_paths: list[str] = []
    for name, cport, pport in zip(names, clients, peers):
        argv = [server.binary] + server_flags(name, os.path.join(data_dir, name), cport, pport, initial)
        log_path = os.path.join(logs_dir, f"{rowfile}.{server.label.replace(' ', '-')}.{name}.log")
        with open(log_path, "w") as lf:
            procs.append(subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True))
        log_paths.append(log_path)
    try:
        # Ready when a write goes through every member: also writes the key the range rows
        # read, and (with several members) shows that followers forward to the leader.
        value = "v" * VAL_SIZE
        deadline = time.monotonic() + START_TIMEOUT_S
        pending = list(clients)
        while pending:
            for proc, path in zip(procs, log_paths):
                if proc.poll() is not None:
                    res.note = f"exited with {proc.returncode} at start"
                    log(f"{server.label} exited at start; log tail:\n{tail(path)}")
                    return res
            try:
                if etcdctl(f"127.0.0.1:{pending[0]}", "put", PRIME_KEY, value).returncode == 0:
                    pending.pop(0)
                    continue
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                res.note = "not serving after start timeout"
                log(f"{server.label} not serving after {START_TIMEOUT_S}s; log tail:\n{tail(log_paths[0])}")
                return res
            time.sleep(0.2)

        args = list(row.args)
        if args[0] == "put":
            args.append(f"--key-space-size={total}")  # every put writes a new key
        cmd = [os.path.join(TOOLS_BIN, "benchmark"), f"--endpoints={endpoints}", f"--conns={row.conns}",
               f"--clients={row.clients}", "--precise", *args, f"--total={total}"]
        res.command = " ".join(cmd)
        log(f"{row.name} on {server.label}: {res.command}")
        # CPU time per request says how much machine each server needs for the same work,
        # a figure that the load of a shared machine disturbs far less than ops/s.
        cpu_before = [cpu_seconds(p.pid) for p in procs]
        client_before = os.times()
        try:
            bench = subprocess.run(cmd, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            res.note = f"benchmark timed out after {BENCH_TIMEOUT_S}s"
            return res
        cpu_after = [cpu_seconds(p.pid) for p in procs]
        client_after = os.times()
        if None not in cpu_before and None not in cpu_after:
            res.cpu_us = (sum(cpu_after) - sum(cpu_before)) / total * 1e6
        res.client_cpu_us = ((client_after.children_user - client_before.children_user) +
                             (client_after.children_system - client_before.children_system)) / total * 1e6
        parsed = parse_report(bench.stdout)
        res.ops, res.p50_ms, res.p99_ms = parsed.get("ops"), parsed.get("p50_ms"), parsed.get("p99_ms")
        res.errors = parsed.get("errors", 0)
        if parsed.get("error_lines"):
            res.extra["error_lines"] = parsed["error_lines"]
            log(f"{server.label} {row.name}: errors:\n  " + "\n  ".join(parsed["error_lines"]))
        if bench.returncode != 0 or res.ops is None:
            res.note = f"benchmark exit {bench.returncode}"
            log(f"benchmark failed ({bench.returncode}):\n{bench.stdout[-2000:]}\n{bench.stderr[-2000:]}")
        for proc, path in zip(procs, log_paths):
            if proc.poll() is not None:
                res.note = (res.note + "; " if res.note else "") + f"server exited with {proc.returncode} during run"
                log(f"{server.label} died during {row.name}; log tail:\n{tail(path)}")
    finally:
        # Peak RSS just before stopping: with several members, the sum of their peaks.
        peaks = [vm_hwm_mib(p.pid) for p in procs if p.poll() is None]
        if peaks and all(x is not None for x in peaks) and len(peaks) == len(procs):
            res.rss_mib = sum(peaks)
        running = [(proc, path) for proc, path in zip(procs, log_paths) if proc.poll() is None]
        for proc, _ in running:
            proc.send_signal(signal.SIGTERM)
        for proc, path in running:
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
                if proc.returncode not in (0, -signal.SIGTERM):
                    res.note = (res.note + "; " if res.note else "") + f"exit {proc.returncode} on SIGTERM"
            except subprocess.TimeoutExpired:
                res.note = (res.note + "; " if res.note else "") + f"still running {STOP_TIMEOUT_S}s after SIGTERM"
                log(f"{server.label} ignored SIGTERM for {STOP_TIMEOUT_S}s; killing it. Log tail:\n{tail(path)}")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------- table


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def print_table(results: list[Result], rows: list[tuple[Row, int]], servers: list[Server]) -> None:
    by = {(r.row, r.server): r for r in results}
    cairnd = next((s.label for s in servers if s.is_cairnd), None)
    head = (f"{'row':<50} {'server':<12} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8}"
            f" {'CPU µs':>7}   {'cairnd/etcd: ops/s':>18} {'p50':>6} {'p99':>6} {'RSS':>6} {'CPU':>6}  note")
    print()
    print("ops/s: higher is better; p50, p99, peak RSS: lower is better.")
    print("CPU µs: the server's CPU time per request (user + system, all members); the benchmark")
    print("tool's own is in the log. Less disturbed by a busy machine than ops/s.")
    print("cairnd/etcd ratios: ops/s above 1 means cairnd is faster; p50, p99, RSS and CPU below 1 mean cairnd is better.")
    print(head)
    print("-" * len(head))
    for row, total in rows:
        first = True
        c = by.get((row.name, cairnd)) if cairnd else None
        for s in servers:
            r = by.get((row.name, s.label))
            if r is None:
                continue
            title = f"{row.title} ({total})" if first else ""
            first = False
            line = (f"{title:<50} {s.label:<12} {fmt(r.ops, '9.0f')} {fmt(r.p50_ms, '8.3f')} "
                    f"{fmt(r.p99_ms, '8.3f')} {fmt(r.rss_mib, '8.1f')} {fmt(r.cpu_us, '7.1f')}")
            if c is not None and not s.is_cairnd:
                line += (f"   {ratio(c.ops, r.ops):>18} {ratio(c.p50_ms, r.p50_ms):>6} "
                         f"{ratio(c.p99_ms, r.p99_ms):>6} {ratio(c.rss_mib, r.rss_mib):>6} "
                         f"{ratio(c.cpu_us, r.cpu_us):>6}")
            else:
                line += " " * 50
            notes = []
            if r.errors:
                notes.append(f"{r.errors} errors")
            if r.note:
                notes.append(r.note)
            print(line + ("  " + "; ".join(notes) if notes else ""))
    if cairnd:
        print()
        print("Goal (issues 5 and 6): cairnd ahead of every etcd by 1.5x or more on throughput "
              "(a --baseline is shown, not judged).")
        for row, _ in rows:
            c = by.get((row.name, cairnd))
            parts, met = [], True
            for s in servers:
                if s.is_cairnd:
                    continue
                r = by.get((row.name, s.label))
                if c is None or r is None or c.ops is None or r.ops is None or c.errors or r.errors:
                    parts.append(f"vs {s.label}: n/a")
                    met = met and s.is_baseline
                    continue
                q = c.ops / r.ops
                met = met and (q >= 1.5 or s.is_baseline)
                parts.append(f"vs {s.label}: {q:.2f}x")
            print(f"  {row.name:<13} {'meets' if met else 'MISSES':<7} " + ", ".join(parts))


# ---------------------------------------------------------------------------- main


def machine_state() -> str:
    load = open("/proc/loadavg").read().split()[:3]
    cc = subprocess.run(["pgrep", "-c", "cc1plus"], capture_output=True, text=True).stdout.strip() or "0"
    return f"load {' '.join(load)}, cc1plus processes {cc}, cores {os.cpu_count()}"


def source_state() -> str:
    """The commit cairnd was built from, and whether the work tree had changes in cpp/."""
    git = ["git", "-C", ROOT]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(git + ["status", "--porcelain", "--", "cpp", "proto", "CMakeLists.txt", "cmake"],
                           capture_output=True, text=True).stdout.splitlines()
    return f"{head or '?'}" + (f" with {len(dirty)} changed files under cpp/, proto/, cmake/" if dirty else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 requests per row instead of 20,000-50,000")
    ap.add_argument("--total", type=int, help="requests per row (overrides --quick and the defaults)")
    ap.add_argument("--rows", default="", help="comma-separated subset: put-1,put-64,range-l-64,range-s-64,"
                    "put-64/3m,range-l-64/3m")
    ap.add_argument("--members", default="1,3", help="cluster sizes: 1 (one member each), 3 (3-member "
                    "clusters: put-64/3m and range-l-64/3m), or 1,3 (default)")
    ap.add_argument("--servers", default="", help="comma-separated subset: cairnd,etcd3.6,etcd3.4")
    ap.add_argument("--baseline", help="another cairnd binary (a copy of the last build, say), run right "
                    "after cairnd as 'cairnd base' and compared as the etcds are: to measure a change")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole alternation; the table shows each")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in build/")
    ap.add_argument("--data-root", default=None, help="where the fresh data dirs go (a real disk, not tmpfs)")
    ap.add_argument("--json", help="also write the results to this file")
    opts = ap.parse_args()

    totals = dict(QUICK_TOTALS if opts.quick else DEFAULT_TOTALS)
    if opts.total:
        totals = {k: opts.total for k in totals}
    rows = rows_for(totals, [int(m) for m in opts.members.split(",")])
    if opts.rows:
        want = opts.rows.split(",")
        rows = [(r, t) for r, t in rows if r.name in want]

    if not opts.no_build:
        build()
    etcd36 = os.path.join(TOOLS_BIN, "etcd")
    servers = [
        Server("cairnd", CAIRND, is_cairnd=True),
        Server("etcd 3.6", etcd36),
        Server("etcd 3.4", DEBIAN_ETCD),
    ]
    if opts.servers:
        keys = {"cairnd": servers[0], "etcd3.6": servers[1], "etcd3.4": servers[2]}
        servers = [keys[k] for k in opts.servers.split(",")]
    if opts.baseline:
        servers.insert(1, Server("cairnd base", os.path.abspath(opts.baseline), is_baseline=True))
    for b in [s.binary for s in servers] + [os.path.join(TOOLS_BIN, "benchmark")]:
        if not os.access(b, os.X_OK):
            print(f"missing {b}: build it (drop --no-build) or run scripts/install-deps.sh", file=sys.stderr)
            return 1
    if shutil.which("etcdctl") is None:
        print("missing etcdctl (Debian's etcd-client, from scripts/install-deps.sh)", file=sys.stderr)
        return 1
    for s in servers:
        if not s.is_cairnd and not s.is_baseline:
            s.label = f"etcd {version_of(s.binary)}"

    data_root = opts.data_root or os.path.join(ROOT, "build", "etcd_compare")
    os.makedirs(data_root, exist_ok=True)
    fs = subprocess.run(["stat", "-f", "-c", "%T", data_root], capture_output=True, text=True).stdout.strip()
    if fs in ("tmpfs", "ramfs"):
        log(f"warning: {data_root} is on {fs}: fsync costs nothing there, the put rows mean little")
    logs_dir = tempfile.mkdtemp(prefix="logs-", dir=data_root)

    started = datetime.datetime.now(datetime.timezone.utc)
    before = machine_state()
    print(f"etcd_compare: {started:%Y-%m-%d %H:%M:%S} UTC; {before}")
    print(f"servers: {', '.join(s.label + ' (' + s.binary + ')' for s in servers)}; data on {fs} under {data_root}")
    print(f"cairnd: work tree at {source_state()}" + (" (not rebuilt: --no-build)" if opts.no_build else ""))
    print(f"key {KEY_SIZE} B, value {VAL_SIZE} B; server logs in {logs_dir}")
    sys.stdout.flush()

    results: list[Result] = []
    for rnd in range(opts.rounds):
        for row, total in rows:
            for s in servers:
                r = measure(s, row, total, data_root, logs_dir, row.members)
                if opts.rounds > 1:
                    r.row = f"{row.name}"
                    r.extra["round"] = rnd + 1
                results.append(r)
                log(f"{row.name} {s.label}: ops/s {fmt(r.ops, '.0f')} p50 {fmt(r.p50_ms, '.3f')} ms "
                    f"p99 {fmt(r.p99_ms, '.3f')} ms RSS {fmt(r.rss_mib, '.1f')} MiB "
                    f"server CPU {fmt(r.cpu_us, '.1f')} µs/op, benchmark tool CPU "
                    f"{fmt(r.client_cpu_us, '.1f')} µs/op {r.note}")
        if opts.rounds > 1:
            print(f"\nround {rnd + 1}")
            print_table([r for r in results if r.extra.get("round") == rnd + 1], rows, servers)

    if opts.rounds == 1:
        print_table(results, rows, servers)
    ended = datetime.datetime.now(datetime.timezone.utc)
    print(f"\nended {ended:%H:%M:%S} UTC ({(ended - started).seconds}s); {machine_state()}")
    print("benchmark commands (endpoint differs per server):")
    seen = set()
    for r in results:
        if r.row not in seen and r.command:
            seen.add(r.row)
            print(f"  {r.row}: {r.command}")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump([r.__dict__ for r in results], f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
