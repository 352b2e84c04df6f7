"""HorizontalPodAutoscaler: keeps the target within its bounds and, while no metrics API is
served, says so honestly instead of guessing (real kubectl, simulated nodes)."""

from __future__ import annotations

import json

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture("--sim-nodes", "1", "--kube-controller-manager-arg", "horizontal-pod-autoscaler-sync-period=1s")


def _hpa(cluster):
    return json.loads(cluster.kubectl("get", "hpa", "web", "-o", "json").stdout)


def _conditions(cluster):
    return {c["type"]: c for c in (_hpa(cluster).get("status") or {}).get("conditions") or []}


def test_bounds_are_kept_and_missing_metrics_reported(cluster):
    cluster.kubectl("create", "deployment", "web", "--image=x", "--replicas=1")
    cluster.kubectl("autoscale", "deployment", "web", "--min=3", "--max=5", "--cpu-percent=50")
    replicas = lambda: json.loads(cluster.kubectl("get", "deploy", "web", "-o", "json").stdout)["spec"]["replicas"]
    assert wait_for(lambda: replicas() == 3)
    conds = wait_for(lambda: (c := _conditions(cluster)).get("ScalingActive") and c)
    assert conds["ScalingActive"]["status"] == "False"
    assert conds["ScalingActive"]["reason"] == "FailedGetResourceMetric"
    assert "resource metrics API" in conds["ScalingActive"]["message"]
    assert conds["AbleToScale"]["status"] == "True"
    events = json.loads(cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=web,"
                                        "involvedObject.kind=HorizontalPodAutoscaler", "-o", "json").stdout)["items"]
    reasons = {e["reason"] for e in events}
    assert {"SuccessfulRescale", "FailedGetResourceMetric"} <= reasons
    # without metrics nothing between the bounds moves; above the maximum it comes back down
    cluster.kubectl("scale", "deployment", "web", "--replicas=4")
    assert not wait_for(lambda: replicas() != 4, 3)
    cluster.kubectl("scale", "deployment", "web", "--replicas=9")
    assert wait_for(lambda: replicas() == 5)
    assert wait_for(lambda: _hpa(cluster)["status"].get("desiredReplicas") == 5)
    assert "lastScaleTime" in _hpa(cluster)["status"]
