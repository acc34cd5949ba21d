"""Fixtures of the etcdctl compatibility suite: an etcd and a cairnd started alike, always stopped."""
from __future__ import annotations

import pytest

import compat_servers


@pytest.fixture
def start_pair(tmp_path):
    """Returns a function that starts (etcd, cairnd) with extra flags given to both; every
    server started is stopped when the test ends, whatever its outcome."""
    started = []

    def start(*extra_flags: str):
        etcd, cairnd = compat_servers.start_pair(tmp_path, list(extra_flags))
        started.extend([etcd, cairnd])
        return etcd, cairnd

    yield start
    for server in started:
        server.stop()
