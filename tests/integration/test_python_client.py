"""The official kubernetes Python client against a real server."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException


def test_crud_on_several_kinds(api_client):
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyclient")))
    cm = core.create_namespaced_config_map("pyclient", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"a": "b"}), data={"k": "v"}))
    assert cm.metadata.uid and cm.metadata.resource_version
    cm.data["k"] = "w"
    updated = core.replace_namespaced_config_map("settings", "pyclient", cm)
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("settings", "pyclient", cm)  # stale resourceVersion
    assert err.value.status == 409
    secret = core.create_namespaced_secret("pyclient", client.V1Secret(
        metadata=client.V1ObjectMeta(name="s"), string_data={"password": "hunter2"}))
    assert secret.data == {"password": "aHVudGVyMg=="} and not secret.string_data
    dep = apps.create_namespaced_deployment("pyclient", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert dep.spec.replicas == 1 and dep.metadata.generation == 1
    scale = apps.patch_namespaced_deployment_scale("d", "pyclient", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment("d", "pyclient").metadata.generation == 2
    svc = core.create_namespaced_service("pyclient", client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(type="NodePort", selector={"app": "d"},
                                  ports=[client.V1ServicePort(port=80)])))
    assert svc.spec.cluster_ip and 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.ports[0].target_port == 80
    core.delete_namespaced_config_map("settings", "pyclient")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("settings", "pyclient")
    assert err.value.status == 404


def test_watch_from_list_resource_version(api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pywatch")))
    listed = core.list_namespaced_config_map("pywatch")
    events = []

    def consume():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "pywatch",
                           resource_version=listed.metadata.resource_version, timeout_seconds=3):
            events.append((ev["type"], ev["object"].metadata.name))

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.5)
    core.create_namespaced_config_map("pywatch", {"metadata": {"name": "one"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("one", "pywatch", {"data": {"a": "2"}})
    core.delete_namespaced_config_map("one", "pywatch")
    started = time.monotonic()
    t.join(10)
    assert not t.is_alive(), "the watch did not end after timeout_seconds"
    assert time.monotonic() - started < 8
    assert events == [("ADDED", "one"), ("MODIFIED", "one"), ("DELETED", "one")]


def test_deletecollection(api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pydc")))
    for i in range(5):
        core.create_namespaced_config_map("pydc", {"metadata": {"name": f"c{i}", "labels": {"even": str(i % 2 == 0)}}})
    core.delete_collection_namespaced_config_map("pydc", label_selector="even=True")
    left = sorted(c.metadata.name for c in core.list_namespaced_config_map("pydc").items)
    assert left == ["c1", "c3"]


def test_dynamic_client_server_side_apply(api_client):
    dyn = dynamic.DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": "default"},
            "data": {"x": "1"}}
    first = cms.server_side_apply(body=body, field_manager="tool-a")
    assert first.data.x == "1"
    body["data"] = {"x": "2"}
    with pytest.raises(ApiException) as err:
        cms.server_side_apply(body=body, field_manager="tool-b")
    assert err.value.status == 409
    second = cms.server_side_apply(body=body, field_manager="tool-b", force_conflicts=True)
    assert second.data.x == "2"
    managers = {m.manager for m in second.metadata.managedFields}
    assert "tool-b" in managers
