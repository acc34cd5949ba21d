#!/usr/bin/env python3
"""Where a cluster's CPU goes: one row of run.py on one server, with the CPU per request of
each member and of each of its threads, grouped by thread name.

    bench/etcd_compare/threads.py --row range-l          # cairnd of the bench preset
    bench/etcd_compare/threads.py --row put --binary build/bench-tools/etcd
    bench/etcd_compare/threads.py --row put --perf /tmp/put.data   # perf record -g as well
    bench/etcd_compare/threads.py --row put --syscalls   # sendmsg, futex, fdatasync... per request

It starts the members as run.py does (fresh data under build/etcd_compare, free 127.0.0.1
ports, etcd's flags), waits until a put goes through every member, runs etcd's benchmark with
the row's flags and reads /proc/<pid>/task/*/stat before and after: user + system time, so
the figures are only as fine as the clock tick (10 ms) over the whole run. Which member
leads comes from `etcdctl endpoint status`. Prints figures; asserts nothing. Say what else
was running (the load it prints) when you quote them.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import run as R

SYSCALLS = ["sendmsg", "recvmsg", "write", "read", "futex", "fdatasync", "epoll_wait"]


def thread_cpu(pid: int) -> dict[int, tuple[str, int]]:
    """tid -> (thread name, user + system clock ticks)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (comm, int(fields[11]) + int(fields[12]))
        except OSError:
            pass
    return out


def leader_index(endpoints: list[str]) -> int | None:
    st = R.etcdctl(",".join(endpoints), "endpoint", "status", "-w", "json")
    try:
        js = json.loads(st.stdout)
        ids = [e["Status"]["header"]["member_id"] for e in js]
        return ids.index(js[0]["Status"]["leader"])
    except (ValueError, KeyError, IndexError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=R.CAIRND)
    ap.add_argument("--row", choices=["put", "range-l", "range-s"], default="range-l")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--total", type=int, default=40000)
    ap.add_argument("--perf", help="also record the members with perf into this file")
    ap.add_argument("--perf-args", default="-g -F 999")
    ap.add_argument("--syscalls", action="store_true", help="count syscalls per member (perf stat)")
    o = ap.parse_args()

    root = os.path.join(R.ROOT, "build", "etcd_compare")
    os.makedirs(root, exist_ok=True)
    data = tempfile.mkdtemp(prefix="threads-", dir=root)
    n = o.members
    ports = R.free_ports(2 * n)
    names = [f"bench{i + 1}" for i in range(n)]
    clients, peers = ports[:n], ports[n:]
    initial = ",".join(f"{a}=http://127.0.0.1:{p}" for a, p in zip(names, peers))
    endpoints = [f"127.0.0.1:{c}" for c in clients]
    procs = []
    for name, c, p in zip(names, clients, peers):
        argv = [o.binary] + R.server_flags(name, os.path.join(data, name), c, p, initial)
        with open(os.path.join(data, name + ".log"), "w") as log:
            procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        pending, deadline = list(endpoints), time.monotonic() + R.START_TIMEOUT_S
        while pending:
            if R.etcdctl(pending[0], "put", R.PRIME_KEY, "v" * R.VAL_SIZE).returncode == 0:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                print("not serving after the start timeout", file=sys.stderr)
                return 1
            time.sleep(0.2)
        lead = leader_index(endpoints)
        if o.row == "put":
            args = ["put", f"--key-size={R.KEY_SIZE}", f"--val-size={R.VAL_SIZE}", "--sequential-keys",
                    f"--key-space-size={o.total}"]
        else:
            args = ["range", R.PRIME_KEY, "--consistency=" + o.row[-1]]
        cmd = [os.path.join(R.TOOLS_BIN, "benchmark"), "--endpoints=" + ",".join(endpoints),
               f"--conns={R.CONNS_64}", "--clients=64", "--precise", *args, f"--total={o.total}"]
        helpers = []
        if o.perf:
            helpers.append(subprocess.Popen(["perf", "record", *o.perf_args.split(), "-o", o.perf, "-p",
                                             ",".join(str(p.pid) for p in procs)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        stat_files = [os.path.join(data, f"stat{i}.txt") for i in range(n)]
        if o.syscalls:
            events = ",".join("syscalls:sys_enter_" + s for s in SYSCALLS) + ",context-switches"
            for p, path in zip(procs, stat_files):
                helpers.append(subprocess.Popen(["perf", "stat", "-x,", "-e", events, "-p", str(p.pid), "-o", path],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if helpers:
            time.sleep(0.5)
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        before = [thread_cpu(p.pid) for p in procs]
        bench = subprocess.run(cmd, capture_output=True, text=True)
        after = [thread_cpu(p.pid) for p in procs]
        for h in helpers:
            h.send_signal(signal.SIGINT)
            h.wait()
        rep = R.parse_report(bench.stdout)
        tck = os.sysconf("SC_CLK_TCK")

        def per_op(ticks: int) -> float:
            return ticks / tck / o.total * 1e6

        member_ticks = [sum(t for _, t in a.values()) - sum(t for _, t in b.values()) for a, b in zip(after, before)]
        role = ["leader" if i == lead else "follower" for i in range(n)]
        print(f"{o.row} on {n} members of {o.binary}: {rep.get('ops', 0):.0f} ops/s, {rep.get('errors')} errors, "
              f"server CPU {per_op(sum(member_ticks)):.1f} us per request (load before {load})")
        for i in range(n):
            by_name, count = collections.Counter(), collections.Counter()
            for tid, (comm, t) in after[i].items():
                by_name[comm] += t - before[i].get(tid, (comm, 0))[1]
                count[comm] += 1
            threads = "  ".join(f"{k}({count[k]}):{per_op(v):.1f}" for k, v in by_name.most_common() if v > 0)
            print(f"  {names[i]} {role[i]:<8} {per_op(member_ticks[i]):5.1f}: {threads}")
            if o.syscalls:
                counts = []
                for line in open(stat_files[i]):
                    f = line.strip().split(",")
                    if len(f) > 3 and f[0].replace(".", "").isdigit():
                        counts.append(f"{f[2].replace('syscalls:sys_enter_', '')} {float(f[0]) / o.total:.2f}")
                print("      per request: " + ", ".join(counts))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=R.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
