"""PodDisruptionBudget arithmetic."""

from __future__ import annotations

import datetime

from nanokube.api import disruption as budget

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def pdb(**spec):
    return {"metadata": {"name": "b"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def pod(name, ready=True, deleting=False, labels=None):
    meta = {"name": name, "labels": {"app": "web"} if labels is None else labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_selectors_nil_selects_nothing_empty_everything():
    assert budget.selects(pdb(), pod("a")) and not budget.selects(pdb(), pod("a", labels={"app": "db"}))
    assert budget.selects({"spec": {"selector": {}}}, pod("a", labels={}))
    assert not budget.selects({"spec": {}}, pod("a"))


def test_desired_healthy():
    assert budget.desired_healthy(pdb(minAvailable=2), 10) == 2
    assert budget.desired_healthy(pdb(minAvailable="50%"), 5) == 3  # rounds up
    assert budget.desired_healthy(pdb(maxUnavailable=1), 4) == 3
    assert budget.desired_healthy(pdb(maxUnavailable="30%"), 4) == 2  # 1.2 unavailable rounds up to 2
    assert budget.desired_healthy(pdb(maxUnavailable=5), 4) == 0
    assert budget.desired_healthy(pdb(), 4) == 1
    assert not budget.needs_controllers(pdb(minAvailable=2))
    assert budget.needs_controllers(pdb(minAvailable="50%")) and budget.needs_controllers(pdb(maxUnavailable=0))


def test_recent_evictions_count_as_unhealthy_until_seen_or_timed_out():
    b = pdb()
    b["status"] = {"disruptedPods": {"a": "2026-01-01T11:59:30Z", "b": "2026-01-01T11:50:00Z",
                                     "c": "2026-01-01T11:59:30Z", "gone": "2026-01-01T11:59:30Z"}}
    pods = {"a": pod("a"), "b": pod("b"), "c": pod("c", deleting=True)}
    live = budget.live_disruptions(b, pods, NOW)
    assert live == {"a": "2026-01-01T11:59:30Z"}
    assert not budget.healthy(pods["a"], live) and budget.healthy(pods["b"], live)
    assert not budget.healthy(pod("d", ready=False), {}) and not budget.healthy(pods["c"], {})
