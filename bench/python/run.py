#!/usr/bin/env python3
"""Puts and gets per second from Python against one embedded Cairn node, three ways:
cairn's in-process client (no network), cairn's network client (gRPC through the C ABI), and
a grpcio client generated from proto/etcd. Prints one table with each path's ratio to grpcio.

    bench/python/run.py              # 2,000 puts and 20,000 gets per path
    bench/python/run.py --quick      # 200 and 2,000: proves it works
    bench/python/run.py --no-build   # reuse the venv and the installed wheel

It builds libcairn in the bench preset (-O2 -g) through the shared build lock, installs the
wheel over it and the pinned grpcio packages into build/bench-python/venv, generates the
etcd stubs there, and re-runs itself inside that venv. One thread per path, sequential
requests: it measures the cost of one call from Python, not the server's capacity."""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "bench-python"
VENV = WORK / "venv"
GEN = WORK / "gen"
LIB = ROOT / "build" / "bench" / "capi" / "libcairn.so.0"


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


def timed(n: int, fn) -> float:
    """Calls fn(i) n times; returns calls per second."""
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def measure(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(GEN))
    import grpc  # noqa: E402

    import cairn  # noqa: E402
    from etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc  # noqa: E402

    value = b"v" * args.value_size
    keys = [f"bench/{i:08d}".encode() for i in range(args.puts)]
    rows = []
    with tempfile.TemporaryDirectory(dir=WORK) as tmp, cairn.Node(pathlib.Path(tmp) / "node") as node:
        endpoint = node.endpoint
        inproc = node.client()
        net = cairn.Client(node.client_urls)
        channel = grpc.insecure_channel(endpoint)
        kv = rpc_pb2_grpc.KVStub(channel)
        kv.Put(rpc_pb2.PutRequest(key=b"warm", value=value))

        def grpc_put(i: int) -> None:
            kv.Put(rpc_pb2.PutRequest(key=keys[i % len(keys)], value=value))

        def grpc_get(i: int) -> None:
            kv.Range(rpc_pb2.RangeRequest(key=keys[i % len(keys)]))

        paths = [
            ("in-process", lambda i: inproc.put(keys[i % len(keys)], value),
             lambda i: inproc.get(keys[i % len(keys)])),
            ("network (cairn.Client)", lambda i: net.put(keys[i % len(keys)], value),
             lambda i: net.get(keys[i % len(keys)])),
            ("grpcio", grpc_put, grpc_get),
        ]
        for _, put, get in paths:  # warm up every path before measuring any
            for i in range(min(50, args.puts)):
                put(i)
                get(i)
        results = {}
        for rnd in range(args.rounds):
            for name, put, get in paths:
                p = timed(args.puts, put)
                g = timed(args.gets, get)
                best = results.get(name, (0.0, 0.0))
                results[name] = (max(best[0], p), max(best[1], g))
        net.close()
        inproc.close()
        channel.close()
    base_put, base_get = results["grpcio"]
    load = os.getloadavg()
    print()
    print(f"puts: {args.puts}, gets: {args.gets} per path and round, value {args.value_size} B, "
          f"best of {args.rounds} rounds; one thread, sequential, linearizable gets, fsynced puts")
    print(f"load average (1, 5, 15 min) after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
          f" on {os.cpu_count()} cores")
    print()
    print(f"| {'path':<24} | {'puts/s':>9} | {'x grpcio':>8} | {'gets/s':>9} | {'x grpcio':>8} |")
    print(f"|{'-' * 26}|{'-' * 11}|{'-' * 10}|{'-' * 11}|{'-' * 10}|")
    for name, (p, g) in results.items():
        print(f"| {name:<24} | {p:>9.0f} | {p / base_put:>8.2f} | {g:>9.0f} | {g / base_get:>8.2f} |")
    goal = results["in-process"][1] / base_get
    print()
    print(f"goal (issue 7): in-process gets at least 5x grpcio: {'met' if goal >= 5 else 'NOT met'}"
          f" ({goal:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 puts and 2,000 gets per path")
    ap.add_argument("--puts", type=int, default=2000)
    ap.add_argument("--gets", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--value-size", type=int, default=256)
    ap.add_argument("--no-build", action="store_true", help="use the venv as it is")
    ap.add_argument("--library", help="a libcairn.so.0 to use instead of building the bench "
                    "preset's (an ASan build needs LD_PRELOAD and gives meaningless figures)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.puts, args.gets, args.rounds = 200, 2000, 1
    if not args.inside:
        if not args.no_build:
            prepare(args.library)
        os.execv(str(VENV / "bin" / "python"),
                 [str(VENV / "bin" / "python"), __file__, "--inside", *sys.argv[1:]])
    WORK.mkdir(parents=True, exist_ok=True)
    measure(args)


if __name__ == "__main__":
    main()
