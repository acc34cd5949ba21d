"""Fixtures of the integration suite: clusters of real members, always stopped; their logs'
tails printed when a test fails (the whole logs stay under pytest's tmp directory)."""
from __future__ import annotations

import pytest

from cluster import Cluster


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def start_cluster(tmp_path, request):
    """Returns start(kind, n, *extra_flags) -> Cluster: n members of kind ("cairnd", "etcd"
    or "etcd3.6") bootstrapped together; every cluster is stopped when the test ends."""
    clusters = []

    def start(kind: str, n: int = 3, *extra_flags: str) -> Cluster:
        c = Cluster(kind, tmp_path / f"{kind}-{len(clusters)}", list(extra_flags))
        clusters.append(c)
        c.start(n)
        return c

    yield start
    failed = any(getattr(request.node, f"rep_{w}", None) is not None
                 and getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))
    for c in clusters:
        if failed:
            print(f"\n=== logs of the {c.kind} cluster under {c.workdir}\n{c.log_tails()}")
        c.stop()
