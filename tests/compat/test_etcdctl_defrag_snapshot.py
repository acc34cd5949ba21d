"""etcdctl 3.4 against etcd and cairnd: defrag, then snapshot save, leave the data as it was."""
from __future__ import annotations

import pytest

import etcdctl_scenario
from etcdctl_scenario import Step, step
from test_etcdctl_lease_watch import HISTORY

SCENARIOS: dict[str, list[Step]] = {
    "defrag": HISTORY + [
        step("defrag"),
        step("get", "w/", "--prefix", "-w", "json"),
        step("endpoint", "status", "-w", "json"),
        step("put", "after", "1"),
        step("get", "", "--prefix", "--keys-only"),
    ],
    "snapshot save": HISTORY + [
        step("snapshot", "save", "{dir}/snap.db"),
        step("get", "", "--prefix", "--keys-only"),
    ],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_etcdctl_scenario_matches_etcd(start_pair, name):
    etcdctl_scenario.assert_cairnd_matches_etcd(*start_pair(), SCENARIOS[name])
