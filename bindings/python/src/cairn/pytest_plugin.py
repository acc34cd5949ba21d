"""The pytest plugin that ships with cairn (registered through the `pytest11` entry point):

- `cairn_node`: an embedded single-member node in a temporary directory, on free 127.0.0.1
  ports, stopped when the test ends;
- `cairn_client`: an in-process client of `cairn_node`;
- `cairn_cluster`: three embedded members forming one cluster (see Cluster)."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from ._client import Client
from ._node import Node, free_port


class Cluster:
    """Members started together in one process, each with its own data directory and ports.
    `client()` connects over the network to every member's client URL."""

    def __init__(self, nodes: List[Node]) -> None:
        self.nodes = nodes

    @property
    def endpoints(self) -> List[str]:
        return [url for n in self.nodes for url in n.client_urls]

    def client(self) -> Client:
        return Client(self.endpoints)

    def close(self) -> None:
        for n in reversed(self.nodes):
            n.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_cluster(base_dir: str, size: int = 3, token: str = "cairn-pytest") -> Cluster:
    """Starts `size` members of one new cluster under base_dir and waits until they serve."""
    peers = [f"http://127.0.0.1:{free_port()}" for _ in range(size)]
    names = [f"m{i}" for i in range(size)]
    initial = ",".join(f"{n}={p}" for n, p in zip(names, peers))
    nodes: List[Node] = []
    try:
        for name, peer in zip(names, peers):
            # Not waiting yet: the first member cannot elect a leader alone.
            nodes.append(Node(f"{base_dir}/{name}", name=name, listen_peer_urls=peer,
                              initial_cluster=initial, initial_cluster_token=token, wait=False))
        for n in nodes:
            n.wait_ready()
    except BaseException:
        for n in reversed(nodes):
            n.close()
        raise
    return Cluster(nodes)


@pytest.fixture
def cairn_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with Node(tmp_path_factory.mktemp("cairn") / "node") as node:
        yield node


@pytest.fixture
def cairn_client(cairn_node: Node) -> Iterator[Client]:
    with cairn_node.client() as client:
        yield client


@pytest.fixture
def cairn_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with start_cluster(str(tmp_path_factory.mktemp("cairn-cluster"))) as cluster:
        yield cluster
