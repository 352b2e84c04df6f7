"""Tables show upstream's columns and cells."""

from __future__ import annotations

import datetime

import pytest

from nanokube.api import jsonpath, printers
from nanokube.api.registry import Registry, Resource

REG = Registry()
NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
T0 = "2026-01-01T11:00:00Z"


@pytest.mark.parametrize("seconds,text", [
    (5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"), (3 * 365 * 86400, "3y"),
    (int(2.5 * 365 * 86400), "2y182d"), (-5, "<invalid>"),
])
def test_human_duration(seconds, text):
    assert printers.human_duration(seconds) == text


def table(plural, obj, group="", version="v1"):
    r = REG.get(group, version, plural)
    t = printers.build_table(r, [obj], now=NOW)
    return [c["name"] for c in t["columnDefinitions"]], t["rows"][0]["cells"], t


def test_pod_columns_and_status_reasons():
    pod = {"metadata": {"name": "p", "creationTimestamp": T0},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
           "status": {"phase": "Running", "podIP": "10.42.0.5", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                "lastState": {"terminated": {"finishedAt": "2026-01-01T11:55:00Z"}}},
               {"name": "b", "ready": False, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    names, cells, t = table("pods", pod)
    assert names == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert cells[:6] == ["p", "1/2", "CrashLoopBackOff", "3 (5m ago)", "60m", "10.42.0.5"]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    pending = {"metadata": {"name": "q", "creationTimestamp": T0, "deletionTimestamp": T0},
               "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}}
    assert table("pods", pending)[1][1:3] == ["0/1", "Terminating"]
    init = {"metadata": {"name": "i"}, "spec": {"initContainers": [{"name": "x"}, {"name": "y"}],
                                                "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "x", "state": {"terminated": {"exitCode": 0}}},
                {"name": "y", "state": {"running": {}}}]}}
    assert table("pods", init)[1][2] == "Init:1/2"
    done = {"metadata": {"name": "d"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}
    assert table("pods", done)[1][2] == "Completed"


def test_service_cells():
    svc = {"metadata": {"name": "web", "creationTimestamp": T0},
           "spec": {"type": "NodePort", "clusterIP": "10.43.0.10", "selector": {"app": "web"},
                    "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}
    names, cells, _ = table("services", svc)
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert cells == ["web", "NodePort", "10.43.0.10", "<none>", "80:30080/TCP,53/UDP", "60m", "app=web"]
    svc["spec"]["type"] = "LoadBalancer"
    assert table("services", svc)[1][3] == "<pending>"


def test_deployment_and_configmap_and_default():
    d = {"metadata": {"name": "d", "creationTimestamp": T0},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                  "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    names, cells, _ = table("deployments", d, "apps")
    assert names == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert cells == ["d", "2/3", 3, 2, "60m", "c", "nginx", "app=d"]
    assert table("configmaps", {"metadata": {"name": "c", "creationTimestamp": T0}, "data": {"a": "b"}})[1] == ["c", 1, "60m"]
    names, cells, _ = table("roles", {"metadata": {"name": "r", "creationTimestamp": T0}}, "rbac.authorization.k8s.io")
    assert names == ["Name", "Created At"] and cells == ["r", T0]


def test_custom_resource_columns():
    crd = {"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "versions": [
        {"name": "v1", "additionalPrinterColumns": [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}}
    r = Resource("example.com", "v1", "widgets", "Widget", True, crd=crd)
    obj = {"metadata": {"name": "w", "creationTimestamp": T0}, "spec": {"replicas": 2},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    t = printers.build_table(r, [obj], now=NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Replicas", "Ready", "Age"]
    assert t["rows"][0]["cells"] == ["w", 2, "True", "60m"]


def test_jsonpath_subset():
    obj = {"a": {"b": [{"n": 1, "t": "x"}, {"n": 2, "t": "y"}]}, "m": {"k.io/x": "v"}}
    assert jsonpath.evaluate(".a.b[1].n", obj) == [2]
    assert jsonpath.evaluate(".a.b[*].n", obj) == [1, 2]
    assert jsonpath.evaluate('.a.b[?(@.t=="y")].n', obj) == [2]
    assert jsonpath.evaluate(".m['k.io/x']", obj) == ["v"]
    assert jsonpath.evaluate(".nope.x", obj) == []
