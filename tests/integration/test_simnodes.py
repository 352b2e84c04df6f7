"""Simulated nodes: registered, heartbeating, and running the pods bound to them."""

from __future__ import annotations

import json


from .conftest import cluster_fixture, wait_for


cluster = cluster_fixture("--sim-nodes", "3")




def get(cluster, *args):
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def test_nodes_register_ready_with_leases(cluster):
    nodes = wait_for(lambda: (lambda n: n if n and len(n["items"]) == 3 else None)(get(cluster, "nodes")))
    assert nodes, "three simulated nodes"
    for node in nodes["items"]:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert node["status"]["allocatable"]["pods"] == "110"
    lease = get(cluster, "lease", "sim-node-0", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "sim-node-0"
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"


def test_bound_pod_runs_then_deletion_completes(cluster):
    cluster.kubectl("run", "web", "--image=nginx", "--overrides", '{"spec":{"nodeName":"sim-node-1"}}')
    pod = wait_for(lambda: (lambda p: p if p and p["status"].get("phase") == "Running" else None)(get(cluster, "pod", "web")))
    assert pod, "pod reaches Running"
    assert pod["status"]["podIP"] and pod["status"]["hostIP"] == "10.240.0.2"
    assert pod["status"]["containerStatuses"][0]["ready"] is True
    out = cluster.kubectl("get", "pod", "web", "-o", "wide").stdout
    assert "Running" in out and "sim-node-1" in out
    cluster.kubectl("delete", "pod", "web", "--timeout=20s")
    assert get(cluster, "pod", "web") is None


def test_pods_that_finish_and_pods_that_crash(cluster):
    cluster.kubectl("run", "once", "--restart=Never", "--image=busybox",
                    "--annotations=sim.nanokube.io/run-seconds=0.2", "--annotations=sim.nanokube.io/exit-code=4",
                    "--overrides", '{"spec":{"nodeName":"sim-node-2"}}')
    cluster.kubectl("run", "crash", "--image=busybox", "--annotations=sim.nanokube.io/run-seconds=0.2",
                    "--annotations=sim.nanokube.io/exit-code=1", "--overrides", '{"spec":{"nodeName":"sim-node-2"}}')
    failed = wait_for(lambda: (lambda p: p if p and p["status"].get("phase") == "Failed" else None)(get(cluster, "pod", "once")))
    assert failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 4
    assert wait_for(lambda: "CrashLoopBackOff" in cluster.kubectl("get", "pod", "crash").stdout)
    pod = get(cluster, "pod", "crash")
    assert pod["status"]["containerStatuses"][0]["restartCount"] >= 2
