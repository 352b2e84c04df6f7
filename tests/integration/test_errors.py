"""Bad input gets upstream's code, reason and field causes, and nothing is stored."""

from __future__ import annotations

import pytest

from .rawhttp import Raw

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def raw(server):
    return Raw(server.kubeconfig)


def assert_status(body, code, reason):
    assert body["kind"] == "Status" and body["status"] == "Failure", body
    assert body["code"] == code and body["reason"] == reason, body


def names(raw, path=CM):
    code, body, _ = raw.request("GET", path)
    assert code == 200
    return {i["metadata"]["name"] for i in body["items"]}


def test_no_client_certificate_is_401(server):
    anon = Raw(server.kubeconfig, with_cert=False)
    code, body, _ = anon.request("GET", CM)
    assert code == 401
    assert_status(body, 401, "Unauthorized")
    code, _, _ = anon.request("GET", "/version")
    assert code == 200


def test_malformed_body_is_400(raw):
    code, body, _ = raw.request("POST", CM, b'{"metadata": {"name": "broken"', "application/json")
    assert code == 400
    assert_status(body, 400, "BadRequest")
    assert "broken" not in names(raw)


def test_not_found_and_method_not_allowed(raw):
    code, body, _ = raw.request("GET", CM + "/nope")
    assert code == 404
    assert_status(body, 404, "NotFound")
    assert body["details"] == {"name": "nope", "kind": "configmaps"}
    code, body, _ = raw.request("GET", "/api/v1/nonsense")
    assert code == 404
    code, body, _ = raw.request("PUT", CM, {"metadata": {"name": "x"}})
    assert code == 405
    assert_status(body, 405, "MethodNotAllowed")


def test_already_exists_and_conflict(raw):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}, "data": {"a": "1"}}
    code, first, _ = raw.request("POST", CM, obj)
    assert code == 201
    code, body, _ = raw.request("POST", CM, obj)
    assert code == 409
    assert_status(body, 409, "AlreadyExists")
    stale = dict(first, data={"a": "2"})
    code, _, _ = raw.request("PUT", CM + "/dup", stale)
    assert code == 200
    stale["data"] = {"a": "3"}
    code, body, _ = raw.request("PUT", CM + "/dup", stale)
    assert code == 409
    assert_status(body, 409, "Conflict")
    code, now, _ = raw.request("GET", CM + "/dup")
    assert now["data"] == {"a": "2"}


def test_body_over_3mib_is_413(raw):
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    code, body, _ = raw.request("POST", CM, big)
    assert code == 413
    assert_status(body, 413, "RequestEntityTooLarge")
    assert "huge" not in names(raw)


def test_unknown_patch_type_is_415(raw):
    raw.request("POST", CM, {"metadata": {"name": "p415"}})
    code, body, _ = raw.request("PATCH", CM + "/p415", {"data": {"a": "b"}}, "application/x-nonsense")
    assert code == 415
    assert_status(body, 415, "UnsupportedMediaType")


def test_invalid_objects_are_422_with_causes(raw):
    code, body, _ = raw.request("POST", CM, {"metadata": {"name": "Bad_Name"}})
    assert code == 422
    assert_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "noimage"},
           "spec": {"containers": [{"name": "c"}]}}
    code, body, _ = raw.request("POST", "/api/v1/namespaces/default/pods", pod)
    assert code == 422
    fields = [c["field"] for c in body["details"]["causes"]]
    assert "spec.containers[0].image" in fields
    assert "noimage" not in names(raw, "/api/v1/namespaces/default/pods")
    code, body, _ = raw.request("POST", CM, {"metadata": {"name": "lbl", "labels": {"bad key!": "v"}}})
    assert code == 422
    assert body["details"]["causes"][0]["field"].startswith("metadata.labels")


def test_immutable_field_is_422(raw):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "immut"},
           "spec": {"ports": [{"port": 80}]}}
    code, created, _ = raw.request("POST", "/api/v1/namespaces/default/services", svc)
    assert code == 201
    created["spec"]["clusterIP"] = "10.43.200.200"
    created["spec"]["clusterIPs"] = ["10.43.200.200"]
    code, body, _ = raw.request("PUT", "/api/v1/namespaces/default/services/immut", created)
    assert code == 422
    assert_status(body, 422, "Invalid")


def test_dry_run_stores_nothing(raw):
    code, body, _ = raw.request("POST", CM + "?dryRun=All", {"metadata": {"name": "dry"}})
    assert code == 201 and body["metadata"]["name"] == "dry"
    assert "dry" not in names(raw)
    code, body, _ = raw.request("POST", CM + "?dryRun=Bogus", {"metadata": {"name": "dry"}})
    assert code == 400


def test_versions_sharing_storage_convert(raw):
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                    "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}}
    code, body, _ = raw.request("POST", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", hpa)
    assert code == 201 and body["apiVersion"] == "autoscaling/v1"
    assert body["spec"]["targetCPUUtilizationPercentage"] == 50 and body["spec"]["minReplicas"] == 1
    code, v2, _ = raw.request("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/h")
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    code, listed, _ = raw.request("GET", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers")
    assert listed["items"][0]["apiVersion"] == "autoscaling/v1"
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "reason": "Tested", "message": "hello",
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "type": "Normal"}
    code, _, _ = raw.request("POST", "/api/v1/namespaces/default/events", ev)
    assert code == 201
    code, new, _ = raw.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1")
    assert new["note"] == "hello" and new["regarding"]["name"] == "p" and new["apiVersion"] == "events.k8s.io/v1"


def test_dry_run_allocates_no_service_ports_or_ips(raw):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dry-np"},
           "spec": {"type": "NodePort", "clusterIP": "10.43.77.77",
                    "ports": [{"port": 80, "nodePort": 30099}]}}
    for _ in range(2):
        code, body, _ = raw.request("POST", "/api/v1/namespaces/default/services?dryRun=All", svc)
        assert code == 201, body
    code, body, _ = raw.request("POST", "/api/v1/namespaces/default/services", svc)
    assert code == 201, body
    assert body["spec"]["clusterIP"] == "10.43.77.77" and body["spec"]["ports"][0]["nodePort"] == 30099
