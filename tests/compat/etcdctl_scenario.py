"""Runs one etcdctl scenario against etcd and cairnd and reduces each output to what must match."""
from __future__ import annotations

import dataclasses
import json
import re

from compat_servers import Result, Server

# Status fields that legitimately differ: versions, storage sizes (bbolt against WiredTiger),
# and raft positions (etcd's log holds its own configuration entries).
STATUS_VOLATILE = ("version", "dbSize", "dbSizeInUse", "raftIndex", "raftTerm",
                   "raftAppliedIndex")


@dataclasses.dataclass(frozen=True)
class Step:
    """One etcdctl invocation: its arguments and what it reads on stdin."""

    args: tuple[str, ...]
    stdin: str | None = None
    fails: bool = False  # what etcd does; checked, so a scenario that goes wrong is noticed
    # Dotted paths in the JSON output left out of the comparison, where etcd 3.4 and the newer
    # etcd that Cairn follows answer differently (each use says which).
    ignore: tuple[str, ...] = ()

    @property
    def is_json(self) -> bool:
        return any(a == "json" and b in ("-w", "--write-out")
                   for b, a in zip(self.args, self.args[1:]))

    def __str__(self) -> str:
        return "etcdctl " + " ".join(repr(a) if not a or " " in a else a for a in self.args)


def step(*args: str, stdin: str | None = None, fails: bool = False,
         ignore: tuple[str, ...] = ()) -> Step:
    return Step(tuple(args), stdin, fails, ignore)


def txn(*lines: str, flags: tuple[str, ...] = (), fails: bool = False) -> Step:
    """`etcdctl txn` fed on stdin in its interactive syntax: compares, blank line, success
    ops, blank line, failure ops, blank line. Pass "" between the three groups."""
    return Step(("txn", *flags), "\n".join(lines) + "\n\n", fails)


class Normalizer:
    """Rewrites one server's outputs so that only what must equal etcd's is left.

    Hash values (HashKV, which depend on the storage format) become labels in order of first
    appearance within the scenario, so "stable across calls, changed by a write" is compared.
    """

    def __init__(self, server: Server):
        self.endpoint = server.endpoint
        self.hash_labels: dict[int, str] = {}

    def hash_label(self, value: int) -> str:
        return self.hash_labels.setdefault(value, f"<hash {len(self.hash_labels)}>")

    def tree(self, node, parent_key: str = ""):
        if isinstance(node, list):
            return [self.tree(item, parent_key) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        is_status = "dbSize" in node or parent_key == "Status"
        for key, value in node.items():
            if key == "raft_term":
                continue
            if is_status and key in STATUS_VOLATILE:
                continue
            if key == "hash" and parent_key in ("HashKV", "Hash"):
                out[key] = self.hash_label(value)
                continue
            if key == "took":
                continue
            out[key] = self.tree(value, key)
        return out

    def text(self, text: str) -> str:
        text = text.replace(self.endpoint, "<endpoint>")
        return re.sub(r"took = \S+", "took = <t>", text)

    def stdout(self, text: str, is_json: bool):
        if not is_json:
            return self.text(text)
        try:
            return self.tree(json.loads(text.replace(self.endpoint, "<endpoint>")))
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
                lines.append(f"log {entry.get('msg')}: {entry.get('error')}")
            else:
                lines.append(line)
        return lines

    def result(self, s: Step, result: Result) -> dict:
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


def run(server: Server, steps: list[Step]) -> list[dict]:
    """Runs the steps in order on one server; returns each step's normalized result."""
    normalizer = Normalizer(server)
    return [normalizer.result(s, server.etcdctl(*s.args, stdin=s.stdin)) for s in steps]


def differences(steps: list[Step], etcd_results: list[dict], cairnd_results: list[dict]) -> str:
    """A readable account of every step whose results differ; empty when all match."""
    out = []
    for s, want, got in zip(steps, etcd_results, cairnd_results):
        if want != got:
            out.append(f"{s}\n  etcd:   {want}\n  cairnd: {got}")
    return "\n".join(out)
