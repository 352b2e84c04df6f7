"""ResourceQuota arithmetic, LimitRange defaults and checks, quantity formatting."""

from __future__ import annotations

from fractions import Fraction

import pytest

from nanokube.api import limitrange as lr
from nanokube.api import quota as q
from nanokube.api.quantity import format, parse
from nanokube.controllers.resourcequota import counted_resource, recount


@pytest.mark.parametrize("text,binary,want", [
    ("1500m", False, "1500m"), ("2000", False, "2k"), ("1.5Gi", True, "1536Mi"), ("100Mi", True, "100Mi"),
    ("0.5", False, "500m"), ("3", True, "3"), ("1e-10", False, "1n"), ("0", False, "0"), ("129M", False, "129M"),
])
def test_quantity_format(text, binary, want):
    assert format(parse(text), binary) == want


def pod(requests=None, limits=None, phase="Running", **spec):
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}],
                     **spec},
            "status": {"phase": phase}}


def test_pod_usage_counts_requests_limits_and_the_pod():
    use = q.usage("", "pods", pod({"cpu": "250m", "memory": "64Mi"}, {"memory": "128Mi"}))
    assert use["pods"] == 1 and use["count/pods"] == 1
    assert use["requests.cpu"] == use["cpu"] == Fraction(1, 4)
    assert use["limits.memory"] == 128 * 2**20
    assert q.usage("", "pods", pod(phase="Succeeded")) == {}


def test_service_and_claim_usage():
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    use = q.usage("", "services", svc)
    assert use["services.loadbalancers"] == 1 and use["services.nodeports"] == 2
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    use = q.usage("", "persistentvolumeclaims", pvc)
    assert use["requests.storage"] == 2**30 and use["fast.storageclass.storage.k8s.io/requests.storage"] == 2**30
    assert q.usage("apps", "deployments", {}) == {"count/deployments.apps": 1}


def test_scopes_select_pods():
    best_effort = {"spec": {"scopes": ["BestEffort"]}}
    assert q.quota_applies(best_effort, "", "pods", pod())
    assert not q.quota_applies(best_effort, "", "pods", pod({"cpu": "1"}))
    assert not q.quota_applies(best_effort, "", "services", {})
    by_class = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}
    assert q.quota_applies(by_class, "", "pods", pod(priorityClassName="high"))
    assert not q.quota_applies(by_class, "", "pods", pod(priorityClassName="low"))
    terminating = {"spec": {"scopes": ["Terminating"]}}
    assert q.quota_applies(terminating, "", "pods", pod(activeDeadlineSeconds=10))
    assert not q.quota_applies(terminating, "", "pods", pod())


def test_exceeded_and_missing_specs():
    hard = {"pods": "2", "requests.cpu": "1", "limits.memory": "1Gi"}
    assert q.missing_specs(hard, pod({"cpu": "1"})) == ["limits.memory for: c"]
    charge = q.tracked(hard, q.usage("", "pods", pod({"cpu": "600m"}, {"memory": "512Mi"})))
    assert q.exceeded(hard, {"pods": "1", "requests.cpu": "600m", "limits.memory": "0"}, charge) == ["requests.cpu"]
    assert q.exceeded(hard, {"pods": "0", "requests.cpu": "0", "limits.memory": "512Mi"}, charge) == []
    assert q.render({"requests.cpu": "600m"}, ["requests.cpu"], hard) == "requests.cpu=600m"
    assert q.add_usage({"limits.memory": "512Mi"}, {"limits.memory": Fraction(512 * 2**20)}, hard) == \
        {"limits.memory": "1Gi"}


def test_quota_controller_recounts_what_is_in_scope():
    quota = {"spec": {"hard": {"pods": "10", "requests.memory": "1Gi", "count/deployments.apps": "5"}}}
    assert counted_resource("count/deployments.apps") == ("apps", "deployments")
    assert counted_resource("requests.memory") == ("", "pods")
    used = recount(quota, {("", "pods"): [pod({"memory": "100Mi"}), pod({"memory": "100Mi"}), pod(phase="Failed")],
                           ("apps", "deployments"): [{}, {}]})
    assert used == {"pods": "2", "requests.memory": "200Mi", "count/deployments.apps": "2"}


RANGE = {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"},
                              "max": {"cpu": "1"}, "min": {"cpu": "50m"}, "maxLimitRequestRatio": {"cpu": "4"}}]}}


def test_limit_range_fills_in_defaults_and_notes_them():
    out, notes = lr.apply_defaults(pod(), [RANGE])
    assert out["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}}
    assert notes == ["cpu request for container c", "cpu limit for container c"]
    kept, notes = lr.apply_defaults(pod({"cpu": "200m"}, {"cpu": "400m"}), [RANGE])
    assert notes == [] and kept["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "400m"}


def test_limit_range_violations_use_upstreams_words():
    assert lr.pod_violations(pod({"cpu": "100m"}, {"cpu": "2"}), [RANGE]) == [
        "maximum cpu usage per Container is 1, but limit is 2",
        "cpu max limit to request ratio per Container is 4, but provided ratio is 20.000000"]
    assert lr.pod_violations(pod({"cpu": "10m"}, {"cpu": "20m"}), [RANGE]) == [
        "minimum cpu usage per Container is 50m, but request is 10m",
        "minimum cpu usage per Container is 50m, but limit is 20m"]
    assert lr.pod_violations(pod({"cpu": "100m"}, {"cpu": "200m"}), [RANGE]) == []
    claims = {"spec": {"limits": [{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}}]}}
    pvc = {"spec": {"resources": {"requests": {"storage": "500Mi"}}}}
    assert lr.claim_violations(pvc, [claims]) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
