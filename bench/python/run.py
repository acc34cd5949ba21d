#!/usr/bin/env python3
"""Puts and gets per second from Python against one embedded Cairn node, three ways:
cairn's in-process client (no network), cairn's network client (gRPC through the C ABI), and
a grpcio client generated from proto/etcd (one channel shared by the threads, each calling the
blocking stub). Each path runs with 1 thread, then with N threads sharing one client object,
on the same node, with the same keys and values. Prints one table with each path's ratio to
grpcio at the same number of threads, and one with the CPU each operation cost.

    bench/python/run.py                  # 1, 16 and 64 threads, 2 s per row, best of 3 rounds
    bench/python/run.py --threads 1,8    # other thread counts
    bench/python/run.py --quick          # 1 and 4 threads, 0.5 s, one round: proves it works
    bench/python/run.py --no-build       # reuse the venv and the installed wheel

It builds libcairn in the bench preset (-O2 -g) through the shared build lock, installs the
wheel over it and the pinned grpcio packages into build/bench-python/venv, generates the
etcd stubs there, and re-runs itself inside that venv.

One thread doing sequential puts waits for one fsync per put on every path, so that row
measures the disk more than the client. With many threads the server commits many puts per
fsync (group commit), and what a call costs the client decides: the GIL, held throughout
grpcio's Python layers, is released by cairn's binding for the whole call."""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "bench-python"
VENV = WORK / "venv"
GEN = WORK / "gen"
LIB = ROOT / "build" / "bench" / "capi" / "libcairn.so.0"
KEYS_PER_THREAD = 100
GRPCIO = "grpcio"


def sh(*cmd: str, env: dict | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def prepare(library: str | None) -> None:
    if library is None:
        sh("flock", "/tmp/cairn-build.lock", "cmake", "--preset", "bench")
        sh("flock", "/tmp/cairn-build.lock", "cmake", "--build", "--preset", "bench", "--target",
           "cairn")
        library = str(LIB)
    if not (VENV / "bin" / "python").exists():
        sh(sys.executable, "-m", "venv", str(VENV))
    pip = str(VENV / "bin" / "pip")
    sh(pip, "install", "--quiet", "--disable-pip-version-check", "-r",
       str(ROOT / "bench/python/requirements.txt"))
    env = dict(os.environ, CAIRN_LIBRARY=library)
    sh(pip, "install", "--quiet", "--disable-pip-version-check", str(ROOT / "bindings/python"), env=env)
    GEN.mkdir(parents=True, exist_ok=True)
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto/etcd").rglob("*.proto")]
    sh(str(VENV / "bin" / "python"), "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
       f"--python_out={GEN}", f"--grpc_python_out={GEN}", *protos)


class Sample:
    """One measurement: operations per second, and the CPU they cost per operation: the whole
    process (client and node), and the calling threads alone (the client's share that runs on
    the caller's thread: Python, the binding, and whatever the library does there)."""

    def __init__(self, ops: int, seconds: float, process_cpu: float, caller_cpu: float) -> None:
        self.rate = ops / seconds
        self.process_us = process_cpu / ops * 1e6
        self.caller_us = caller_cpu / ops * 1e6


def drive(threads: int, seconds: float, call: Callable[[int, int], object]) -> Sample:
    """Runs call(thread, i) in `threads` threads for `seconds`; every thread starts at once."""
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    cpu = [0.0] * threads
    deadline = [0.0]

    def worker(t: int) -> None:
        barrier.wait()
        end = deadline[0]
        c0 = time.thread_time()
        n = 0
        while time.perf_counter() < end:
            call(t, n)
            n += 1
        cpu[t] = time.thread_time() - c0
        counts[t] = n

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - start
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    process_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return Sample(max(1, sum(counts)), elapsed, process_cpu, sum(cpu))


def measure(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(GEN))
    import grpc  # noqa: E402

    import cairn  # noqa: E402
    from etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc  # noqa: E402

    value = b"v" * args.value_size
    most = max(args.threads)
    # Each thread has its own keys, so puts of different threads never touch the same key.
    keys = [[f"bench/{t:03d}/{i:04d}".encode() for i in range(KEYS_PER_THREAD)] for t in range(most)]
    results: Dict[Tuple[str, int], Tuple[Sample, Sample]] = {}
    load_before = os.getloadavg()
    flags = dict(f.split("=", 1) for f in args.node_flag)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp, \
            cairn.Node(pathlib.Path(tmp) / "node", flags=flags or None) as node:
        inproc = node.client()
        net = cairn.Client(node.client_urls)
        channel = grpc.insecure_channel(node.endpoint)
        kv = rpc_pb2_grpc.KVStub(channel)

        def grpc_put(t: int, i: int) -> None:
            kv.Put(rpc_pb2.PutRequest(key=keys[t][i % KEYS_PER_THREAD], value=value))

        def grpc_get(t: int, i: int) -> None:
            kv.Range(rpc_pb2.RangeRequest(key=keys[t][i % KEYS_PER_THREAD]))

        paths: List[Tuple[str, Callable[[int, int], object], Callable[[int, int], object]]] = [
            ("in-process", lambda t, i: inproc.put(keys[t][i % KEYS_PER_THREAD], value),
             lambda t, i: inproc.get(keys[t][i % KEYS_PER_THREAD])),
            ("network (cairn.Client)", lambda t, i: net.put(keys[t][i % KEYS_PER_THREAD], value),
             lambda t, i: net.get(keys[t][i % KEYS_PER_THREAD])),
            (GRPCIO, grpc_put, grpc_get),
        ]
        # Every key exists before the first get; every path warms up before any is measured.
        fill = [threading.Thread(target=lambda ks: [inproc.put(k, value) for k in ks], args=(ks,))
                for ks in keys]
        for th in fill:
            th.start()
        for th in fill:
            th.join()
        for _, put, get in paths:
            drive(min(most, 4), 0.2, put)
            drive(min(most, 4), 0.2, get)
        for rnd in range(args.rounds):
            for threads in args.threads:
                for name, put, get in paths:
                    p = drive(threads, args.seconds, put)
                    g = drive(threads, args.seconds, get)
                    print(f"round {rnd + 1}: {name}, {threads} threads: {p.rate:.0f} puts/s, "
                          f"{g.rate:.0f} gets/s", flush=True)
                    best = results.get((name, threads))
                    if best is not None:
                        p = p if p.rate > best[0].rate else best[0]
                        g = g if g.rate > best[1].rate else best[1]
                    results[(name, threads)] = (p, g)
        net.close()
        inproc.close()
        channel.close()
    load = os.getloadavg()
    print()
    print(f"value {args.value_size} B; {args.seconds:g} s per row, best of {args.rounds} rounds; "
          "threads share one client (grpcio: one channel, the blocking stub); linearizable gets, "
          "fsynced puts; one embedded node"
          + (f" with {' '.join('--' + f for f in args.node_flag)}" if args.node_flag else ""))
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"on {os.cpu_count()} cores")
    print()
    print(f"| {'path':<22} | {'threads':>7} | {'puts/s':>8} | {'x grpcio':>8} | {'gets/s':>8} | "
          f"{'x grpcio':>8} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for threads in args.threads:
        base_p, base_g = results[(GRPCIO, threads)]
        for name, _, _ in paths:
            p, g = results[(name, threads)]
            print(f"| {name:<22} | {threads:>7} | {p.rate:>8.0f} | {p.rate / base_p.rate:>8.2f} | "
                  f"{g.rate:>8.0f} | {g.rate / base_g.rate:>8.2f} |")
    print()
    print("CPU per operation, in µs: the whole process (client and node), and the calling "
          "threads alone")
    print()
    print(f"| {'path':<22} | {'threads':>7} | {'put: all':>8} | {'callers':>8} | {'get: all':>8} | "
          f"{'callers':>8} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for threads in args.threads:
        for name, _, _ in paths:
            p, g = results[(name, threads)]
            print(f"| {name:<22} | {threads:>7} | {p.process_us:>8.1f} | {p.caller_us:>8.1f} | "
                  f"{g.process_us:>8.1f} | {g.caller_us:>8.1f} |")
    print()
    for threads in args.threads:
        p = results[("in-process", threads)][0].rate / results[(GRPCIO, threads)][0].rate
        g = results[("in-process", threads)][1].rate / results[(GRPCIO, threads)][1].rate
        verdict = "met" if p >= 5 and g >= 5 else "NOT met"
        print(f"goal (issue 7), {threads} threads: in-process at least 5x grpcio: {verdict} "
              f"(puts {p:.1f}x, gets {g:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 and 4 threads, 0.5 s, one round")
    ap.add_argument("--threads", default="1,16,64", help="thread counts, comma-separated")
    ap.add_argument("--seconds", type=float, default=2.0, help="duration of each row")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--value-size", type=int, default=256)
    ap.add_argument("--node-flag", action="append", default=[], metavar="FLAG=VALUE",
                    help="a cairnd flag for the node, without --: --node-flag snapshot-count=1000")
    ap.add_argument("--no-build", action="store_true", help="use the venv as it is")
    ap.add_argument("--library", help="a libcairn.so.0 to use instead of building the bench "
                    "preset's (an ASan build needs LD_PRELOAD and gives meaningless figures)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.threads, args.seconds, args.rounds = "1,4", 0.5, 1
    args.threads = [int(t) for t in str(args.threads).split(",") if t]
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads: one or more counts >= 1")
    if not args.inside:
        if not args.no_build:
            prepare(args.library)
        os.execv(str(VENV / "bin" / "python"),
                 [str(VENV / "bin" / "python"), __file__, "--inside", *sys.argv[1:]])
    WORK.mkdir(parents=True, exist_ok=True)
    measure(args)


if __name__ == "__main__":
    main()
