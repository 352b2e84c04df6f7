"""DaemonSets on simulated nodes, driven with real kubectl: one pod per eligible node (taints
respected), a node joining later gets its pod and loses it when it goes, rolling updates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import cluster_fixture, wait_for
from .test_deployments import sample_during

cluster = cluster_fixture("--sim-nodes", "3")

MANIFEST = {
    "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ds"},
    "spec": {"selector": {"matchLabels": {"app": "agent"}},
             "template": {"metadata": {"labels": {"app": "agent"}},
                          "spec": {"containers": [{"name": "agent", "image": "busybox:1.36"}]}}},
}


def pods(cluster, ns="ds"):
    out = cluster.kubectl("get", "pods", "-n", ns, "-l", "app=agent", "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def placement(cluster) -> dict[str, str]:
    """node -> image, for pods bound to a node (failing if a node has two)."""
    out: dict[str, str] = {}
    for p in pods(cluster):
        node = p["spec"].get("nodeName")
        if node:
            assert node not in out, f"two daemon pods on {node}"
            out[node] = p["spec"]["containers"][0]["image"]
    return out


def rollout(cluster) -> str:
    return cluster.kubectl("rollout", "status", "daemonset/agent", "-n", "ds", "--timeout=60s").stdout


def test_one_pod_per_eligible_node_late_nodes_and_rolling_update(cluster):
    cluster.kubectl("create", "namespace", "ds")
    cluster.kubectl("taint", "nodes", "sim-node-1", "k=v:NoSchedule")
    late = None
    try:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(MANIFEST))
        assert "successfully rolled out" in rollout(cluster)
        assert placement(cluster) == {"sim-node-0": "busybox:1.36", "sim-node-2": "busybox:1.36"}
        pod = pods(cluster)[0]
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms == {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [pod["spec"]["nodeName"]]}]}]}
        tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
        assert ("node.kubernetes.io/not-ready", "NoExecute") in tolerated
        labels = pod["metadata"]["labels"]
        assert labels["pod-template-generation"] == "1" and labels["controller-revision-hash"]
        ds = json.loads(cluster.kubectl("get", "ds", "agent", "-n", "ds", "-o", "json").stdout)
        assert {k: ds["status"].get(k) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                                 "updatedNumberScheduled", "numberAvailable", "numberMisscheduled",
                                                 "observedGeneration")} == \
            {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2,
             "updatedNumberScheduled": 2, "numberAvailable": 2, "numberMisscheduled": 0, "observedGeneration": 1}

        # a node joining later gets its pod
        late = subprocess.Popen([sys.executable, "-m", "nanokube", "sim-nodes", "--kubeconfig", str(cluster.kubeconfig),
                                 "--count", "1", "--name-prefix", "late-"],
                                env=dict(os.environ, PYTHONPATH=os.getcwd()), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "late-0" in placement(cluster), 30), placement(cluster)
        rollout(cluster)
        assert sorted(placement(cluster)) == ["late-0", "sim-node-0", "sim-node-2"]

        # a rolling update replaces every pod, one node at a time (maxUnavailable 1)
        def serving():
            return sum(1 for p in pods(cluster) if any(
                c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", [])))

        seen = sample_during(serving, lambda: (
            cluster.kubectl("set", "image", "daemonset/agent", "agent=busybox:1.37", "-n", "ds"),
            rollout(cluster)))
        assert "successfully rolled out" in rollout(cluster)
        assert wait_for(lambda: set(placement(cluster).values()) == {"busybox:1.37"} and len(placement(cluster)) == 3)
        assert seen and min(seen) >= 2, seen
        history = cluster.kubectl("rollout", "history", "daemonset/agent", "-n", "ds").stdout
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

        # the node goes away: so does its pod
        late.terminate()
        late.wait(10)
        cluster.kubectl("delete", "node", "late-0")
        assert wait_for(lambda: sorted(placement(cluster)) == ["sim-node-0", "sim-node-2"], 30), placement(cluster)

        # removing the taint makes the node eligible
        cluster.kubectl("taint", "nodes", "sim-node-1", "k=v:NoSchedule-")
        assert wait_for(lambda: sorted(placement(cluster)) == ["sim-node-0", "sim-node-1", "sim-node-2"], 30)
        rollout(cluster)
    finally:
        if late is not None and late.poll() is None:
            late.kill()
            late.wait(10)
        cluster.kubectl("delete", "node", "late-0", "--ignore-not-found", check=False)
        cluster.kubectl("taint", "nodes", "sim-node-1", "k=v:NoSchedule-", check=False)


def test_node_selector_and_failed_pods(cluster):
    ns = "dssel"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("label", "nodes", "sim-node-2", "disk=ssd")
    try:
        obj = json.loads(json.dumps(MANIFEST))
        obj["metadata"] = {"name": "ssd", "namespace": ns}
        obj["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))
        cluster.kubectl("rollout", "status", "daemonset/ssd", "-n", ns, "--timeout=60s")
        assert [p["spec"]["nodeName"] for p in pods(cluster, ns)] == ["sim-node-2"]
        # the label goes: so does the pod
        cluster.kubectl("label", "nodes", "sim-node-2", "disk-")
        assert wait_for(lambda: not pods(cluster, ns), 30)
        ds = json.loads(cluster.kubectl("get", "ds", "ssd", "-n", ns, "-o", "json").stdout)
        assert wait_for(lambda: json.loads(cluster.kubectl("get", "ds", "ssd", "-n", ns, "-o", "json").stdout)
                        ["status"]["desiredNumberScheduled"] == 0, 10), ds["status"]

        # a daemon pod that fails is deleted and made again
        crash = json.loads(json.dumps(MANIFEST))
        crash["metadata"] = {"name": "crash", "namespace": ns}
        crash["spec"]["selector"] = {"matchLabels": {"app": "crash"}}
        crash["spec"]["template"]["metadata"] = {"labels": {"app": "crash"}, "annotations": {
            "sim.nanokube.io/run-seconds": "1", "sim.nanokube.io/exit-code": "1"}}
        crash["spec"]["template"]["spec"]["restartPolicy"] = "Always"
        crash["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "sim-node-0"}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(crash))
        first = wait_for(lambda: [p["metadata"]["name"] for p in json.loads(cluster.kubectl(
            "get", "pods", "-n", ns, "-l", "app=crash", "-o", "json").stdout)["items"]], 30)
        assert len(first) == 1
        # restartPolicy Always: the simulated node restarts it in place, so it never fails;
        # make it fail by hand, as an eviction would
        cluster.kubectl("patch", "pod", first[0], "-n", ns, "--subresource=status", "--type=merge",
                        "-p", '{"status":{"phase":"Failed"}}')
        assert wait_for(lambda: any(p["metadata"]["name"] != first[0] for p in json.loads(cluster.kubectl(
            "get", "pods", "-n", ns, "-l", "app=crash", "-o", "json").stdout)["items"]), 30)
        events = cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout
        assert any(e["reason"] == "FailedDaemonPod" and first[0] in e["message"]
                   for e in json.loads(events)["items"])
    finally:
        cluster.kubectl("label", "nodes", "sim-node-2", "disk-", check=False)
