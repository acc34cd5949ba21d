"""The etcdctl membership scenario (issue 6, point 4), run on a 3-member cluster of either kind,
and the reduction of each output to what must match between etcd and cairnd.

IDs, ports and URLs differ per run and per server; they are replaced by the names of the
members they belong to (<m1>, <m1-client>, <m1-peer>, <cluster>). Sizes, versions and raft
positions are masked. Lines of list-like outputs are sorted (etcd orders members by id).
"""
from __future__ import annotations

import json
import re
import time

from cluster import Cluster, Result

POLL_LIMIT_S = 60.0
# JSON keys whose values differ between servers or runs without meaning anything.
VOLATILE = {"revision", "raft_term", "member_id", "version", "dbSize", "dbSizeInUse",
            "raftIndex", "raftTerm", "raftAppliedIndex", "dbSizeQuota", "storageVersion"}


class Scenario:
    def __init__(self, cluster: Cluster):
        self.c = cluster
        self.transcript: list[tuple[str, str]] = []
        self.subst: dict[str, str] = {}
        self.int_subst: dict[int, str] = {}

    # --- normalization

    def learn(self) -> None:
        """Records every id, port and URL the cluster has now, with the name to show instead."""
        listed = self.c.etcdctl("member", "list", "-w", "json").json()
        cid = int(listed["header"]["cluster_id"])
        self.int_subst[cid] = "<cluster>"
        self.subst[f"{cid:x}"] = "<cluster>"
        for m in listed["members"]:
            name = m.get("name") or self.c.name_of_peer(m["peerURLs"][0])
            self.int_subst[int(m["ID"])] = f"<{name}>"
            self.subst[f"{int(m['ID']):x}"] = f"<{name}>"
        self.learn_ports()

    def learn_ports(self) -> None:
        for name, m in self.c.members.items():
            self.subst[m.endpoint] = f"<{name}-client>"
            self.subst[f"127.0.0.1:{m.proxy_port}"] = f"<{name}-peer>"
            for i, port in enumerate(getattr(m, "alt_proxy_ports", []), 2):
                self.subst[f"127.0.0.1:{port}"] = f"<{name}-peer{i}>"

    def text(self, s: str) -> str:
        # etcdctl prints ids with %16x: an id of fewer hex digits comes with extra spaces
        # before it, which depend on the random id, so a run of spaces before a name is one.
        for k in sorted(self.subst, key=len, reverse=True):
            s = re.sub(rf"( ?) *\b{re.escape(k)}\b", lambda m, k=k: m.group(1) + self.subst[k], s)
        return s

    def value(self, v):
        if isinstance(v, dict):
            return {k: ("<masked>" if k in VOLATILE else self.value(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, int) and not isinstance(v, bool):
            return self.int_subst.get(v, v)
        if isinstance(v, str):
            return self.text(v)
        return v

    # --- steps

    def record(self, what: str, r: Result, kind: str = "text", mask: tuple[str, ...] = ()) -> Result:
        """kind: text (as printed), lines (sorted), json, json-members (sorted by name).
        Normalized at the end, once every id that appeared is known."""
        self.transcript.append((what, (r, kind, mask)))
        return r

    def normalize(self, r: Result, kind: str, mask: tuple[str, ...]) -> str:
        out = r.stdout
        if kind == "lines":
            out = "\n".join(sorted(self.text(l) for l in out.splitlines() if l.strip()))
        elif kind in ("json", "json-members") and r.rc == 0:
            doc = self.value(json.loads(out))
            if kind == "json-members":
                doc["members"].sort(key=lambda m: m.get("name", ""))
            elif isinstance(doc, list):
                doc.sort(key=lambda e: json.dumps(e, sort_keys=True))
            out = json.dumps(doc, sort_keys=True, indent=1)
        else:
            # etcdctl pads ids to 16 characters: an id of 15 hex digits has a space more.
            out = re.sub(r"(?<=\S)  +(?=<)", " ", self.text(out))
        for pattern in mask:
            out = re.sub(pattern, "<masked>", out)
        return f"rc={0 if r.rc == 0 else 'error'}\n{out.strip()}\n{self.text(r.error)}".strip()

    def result(self) -> list[tuple[str, str]]:
        self.learn_ports()
        return [(what, x if isinstance(x, str) else self.normalize(*x))
                for what, x in self.transcript]

    def run(self, what: str, *args: str, names: list[str] | None = None, kind: str = "text",
            mask: tuple[str, ...] = ()) -> Result:
        return self.record(what, self.c.etcdctl(*args, names=names), kind, mask)

    def until(self, what: str, ok, *args: str, names: list[str] | None = None,
              kind: str = "text", mask: tuple[str, ...] = ()) -> Result:
        """Repeats the command until ok(result) (or the poll limit) and records the last."""
        deadline = time.monotonic() + POLL_LIMIT_S
        while True:
            r = self.c.etcdctl(*args, names=names)
            if ok(r) or time.monotonic() > deadline:
                return self.record(what, r, kind, mask)
            time.sleep(0.2)

    def hex_id(self, name: str) -> str:
        return f"{self.c.ids()[name]:x}"


# Table columns of `endpoint status`: endpoint, id, version, db size, is leader, is learner,
# raft term, raft index, raft applied index, errors.
STATUS_MASK = (r"(?m)(?<=>, )[0-9.]+, [0-9.]+ [kMG]?B(?=, )", r"(?m)(?<=(true|alse), )\d+, \d+, \d+")
HEALTH_MASK = (r"took = [0-9.]+[µnm]?s",)


def run(c: Cluster) -> list[tuple[str, str]]:
    s = Scenario(c)
    s.learn()
    ids = c.ids()
    # Who leads after the bootstrap is chance: move it to m1 first, masking who it was.
    s.run("move leadership to m1", "move-leader", f"{ids['m1']:x}",
          mask=(r"(?<=from )<m\d>",))
    c.wait_leader()
    s.run("member list", "member", "list", kind="lines")
    s.run("member list as json", "member", "list", "-w", "json", kind="json-members")
    # etcdctl 3.4 prints health to stderr, newer ones to stdout: take the lines from both.
    health = c.etcdctl("endpoint", "health", "--cluster")
    lines = [l for l in (health.stdout + health.stderr).splitlines() if "healthy" in l]
    s.record("endpoint health --cluster", Result(health.rc, "\n".join(lines), health.stderr),
             kind="lines", mask=HEALTH_MASK)
    s.run("endpoint status --cluster", "endpoint", "status", "--cluster", kind="lines",
          mask=STATUS_MASK)
    s.run("endpoint status --cluster as json", "endpoint", "status", "--cluster", "-w", "json",
          kind="json")

    # A learner: added, refused promotion while it has not caught up (it is not even started).
    m4 = c.new_member("m4")
    m4.alt_proxy_ports = [c.net.listen("m4", m4.listen_peer_port)]
    # etcd refuses reconfiguration until every member has been connected for 5 s (strict
    # reconfig check: "unhealthy cluster"); keep asking until it accepts.
    s.until("member add m4 as learner", lambda r: "unhealthy cluster" not in r.error, "member",
            "add", "m4", f"--peer-urls={m4.peer_url}", "--learner",
            mask=(r'(?<=ETCD_INITIAL_CLUSTER=")[^"]*',))
    s.learn()
    s.run("member list with an unstarted learner", "member", "list", kind="lines")
    s.run("promote a learner that is not started", "member", "promote", s.hex_id("m4"))
    c.start_added("m4")
    s.learn()
    s.run("linearizable get on the learner", "get", "k", names=["m4"])
    s.run("serializable get on the learner", "get", "k", "--consistency=s", names=["m4"])
    s.run("endpoint status of the learner", "endpoint", "status", names=["m4"], kind="lines",
          mask=STATUS_MASK)
    s.until("promote the learner once it caught up", lambda r: r.rc == 0, "member", "promote",
            s.hex_id("m4"))
    s.run("member list after promotion", "member", "list", kind="lines")
    s.run("promote a voter", "member", "promote", s.hex_id("m4"))
    s.run("promote an unknown member", "member", "promote", "1234")

    # Update: m4 moves to its second peer URL (the same member behind another proxy port).
    s.run("member update m4", "member", "update", s.hex_id("m4"),
          f"--peer-urls=http://127.0.0.1:{m4.alt_proxy_ports[0]}")
    s.run("member list after update", "member", "list", kind="lines")
    s.run("update an unknown member", "member", "update", "1234",
          "--peer-urls=http://127.0.0.1:1")

    # Leadership: to m4 and back; through a follower's endpoint alone etcdctl finds no leader.
    s.run("move leadership to m4", "move-leader", s.hex_id("m4"))
    c.wait_leader()
    s.run("endpoint status with m4 leading", "endpoint", "status", "--cluster", kind="lines",
          mask=STATUS_MASK)
    s.run("move-leader through a follower only", "move-leader", s.hex_id("m1"), names=["m2"])
    s.run("move leadership to m1 again", "move-leader", s.hex_id("m1"))
    c.wait_leader()
    s.run("move leadership to an unknown member", "move-leader", "1234")

    # Remove: m4 leaves and stops; its id is gone, and its URLs are taken by nobody.
    m4_id = s.hex_id("m4")
    # The strict reconfig check again: m4 reconnected on its new URL moments ago.
    s.until("member remove m4", lambda r: "unhealthy cluster" not in r.error, "member",
            "remove", m4_id)
    deadline = time.monotonic() + POLL_LIMIT_S
    while m4.alive and time.monotonic() < deadline:
        time.sleep(0.2)
    s.transcript.append(("m4 stopped by itself after its removal", str(not m4.alive)))
    s.run("remove m4 again", "member", "remove", m4_id)
    s.run("add a member on a taken peer URL", "member", "add", "m5",
          f"--peer-urls={c.members['m1'].peer_url}")
    s.run("member list at the end", "member", "list", kind="lines")
    s.run("endpoint status --cluster at the end", "endpoint", "status", "--cluster",
          names=["m1", "m2", "m3"], kind="lines", mask=STATUS_MASK)
    return s.result()
