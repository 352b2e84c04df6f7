"""PodDisruptionBudgets: status kept by the disruption controller, spent by the eviction API
that `kubectl drain` uses (real kubectl, simulated nodes)."""

from __future__ import annotations

import json

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture("--sim-nodes", "3")


def _pdb_status(cluster, name):
    return json.loads(cluster.kubectl("get", "pdb", name, "-o", "json").stdout).get("status") or {}


def test_drain_respects_the_budget(cluster):
    cluster.kubectl("create", "deployment", "web", "--image=x", "--replicas=4")
    cluster.kubectl("create", "pdb", "web", "--selector=app=web", "--max-unavailable=0")
    cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    st = wait_for(lambda: (s := _pdb_status(cluster, "web")).get("currentHealthy") == 4 and s)
    assert st["expectedPods"] == 4 and st["desiredHealthy"] == 4 and st["disruptionsAllowed"] == 0
    assert st["conditions"][0]["reason"] == "InsufficientPods"

    pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    node = pods[0]["spec"]["nodeName"]
    res = cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=3s", check=False)
    assert res.returncode != 0 and "global timeout reached" in res.stderr
    assert len(json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]) == 4

    # one disruption allowed: drain evicts, the budget is spent and the pods come back elsewhere
    cluster.kubectl("patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"maxUnavailable":1}}')
    assert wait_for(lambda: _pdb_status(cluster, "web").get("disruptionsAllowed") == 1)
    cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=60s")

    def moved():
        live = [p for p in json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
                if not p["metadata"].get("deletionTimestamp")]
        return len(live) == 4 and all(p["spec"].get("nodeName") != node for p in live)

    assert wait_for(moved, 60)
    cluster.kubectl("uncordon", node)
    cluster.kubectl("delete", "deployment", "web")
    cluster.kubectl("delete", "pdb", "web")


def test_eviction_of_a_pod_without_budget_and_a_pending_pod(cluster):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        v1 = client.CoreV1Api(api)
        cluster.kubectl("run", "solo", "--image=x", "--restart=Never")
        v1.create_namespaced_pod_eviction("solo", "default", client.V1Eviction(
            metadata=client.V1ObjectMeta(name="solo")))
        pod = v1.read_namespaced_pod("solo", "default")
        assert pod.metadata.deletion_timestamp is not None
        assert any(c.type == "DisruptionTarget" and c.reason == "EvictionByEvictionAPI" for c in pod.status.conditions)
        try:
            v1.create_namespaced_pod_eviction("nope", "default", client.V1Eviction(
                metadata=client.V1ObjectMeta(name="nope")))
            raise AssertionError("evicting a missing pod must fail")
        except client.ApiException as e:
            assert e.status == 404
