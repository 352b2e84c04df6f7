"""The scheduler against a real server with simulated nodes, driven with real kubectl."""

from __future__ import annotations

import json
import subprocess
import sys
import time


from .conftest import cluster_fixture, wait_for


cluster = cluster_fixture("--sim-nodes", "3")




def get(cluster, *args):
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def pod_manifest(name, ns, cpu="100m", priority_class=None, labels=None, **spec):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}], **spec}}
    if priority_class:
        body["spec"]["priorityClassName"] = priority_class
    return json.dumps(body)


def test_unsatisfiable_pod_stays_pending_with_upstream_message(cluster):
    cluster.kubectl("create", "namespace", "s1")
    cluster.kubectl("apply", "-f", "-", input=pod_manifest("huge", "s1", cpu="100"))
    expected = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                "3 No preemption victims found for incoming pod.")
    assert wait_for(lambda: expected in cluster.kubectl("get", "events", "-n", "s1").stdout)
    pod = get(cluster, "pod", "huge", "-n", "s1")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable" and cond["message"] == expected
    assert "FailedScheduling" in cluster.kubectl("describe", "pod", "huge", "-n", "s1").stdout
    cluster.kubectl("delete", "pod", "huge", "-n", "s1", "--wait=false")


def test_pods_are_bound_and_reported(cluster):
    cluster.kubectl("create", "namespace", "s2")
    cluster.kubectl("apply", "-f", "-", input=pod_manifest("p", "s2"))
    assert wait_for(lambda: (get(cluster, "pod", "p", "-n", "s2") or {}).get("status", {}).get("phase") == "Running")
    events = cluster.kubectl("get", "events", "-n", "s2", "--field-selector", "reason=Scheduled").stdout
    assert "Successfully assigned s2/p to sim-node-" in events


def test_anti_affinity_and_topology_spread(cluster):
    cluster.kubectl("create", "namespace", "s3")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(4):
        cluster.kubectl("apply", "-f", "-", input=pod_manifest(f"solo-{i}", "s3", labels={"app": "solo"}, affinity=anti))
    assert wait_for(lambda: sum(1 for p in get(cluster, "pods", "-n", "s3", "-l", "app=solo")["items"]
                                if p["spec"].get("nodeName")) == 3)
    pods = get(cluster, "pods", "-n", "s3", "-l", "app=solo")["items"]
    assert len({p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")}) == 3
    pending = [p for p in pods if not p["spec"].get("nodeName")]
    assert len(pending) == 1
    assert wait_for(lambda: "didn't match pod anti-affinity rules" in cluster.kubectl("get", "events", "-n", "s3").stdout)

    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "even"}}}]
    for i in range(6):
        cluster.kubectl("apply", "-f", "-", input=pod_manifest(f"even-{i}", "s3", labels={"app": "even"},
                                                               topologySpreadConstraints=spread))
    assert wait_for(lambda: all(p["spec"].get("nodeName") for p in get(cluster, "pods", "-n", "s3", "-l", "app=even")["items"]))
    per_node: dict[str, int] = {}
    for p in get(cluster, "pods", "-n", "s3", "-l", "app=even")["items"]:
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    assert sorted(per_node.values()) == [2, 2, 2]


def test_higher_priority_pod_preempts_lower_ones(cluster):
    cluster.kubectl("create", "namespace", "s4")
    cluster.kubectl("create", "priorityclass", "low", "--value=10")
    cluster.kubectl("create", "priorityclass", "high", "--value=1000")
    # fill every node's 4 cpus with low-priority pods
    for i in range(3):
        cluster.kubectl("apply", "-f", "-", input=pod_manifest(f"filler-{i}", "s4", cpu="3500m", priority_class="low"))
    assert wait_for(lambda: all(p["status"].get("phase") == "Running" for p in get(cluster, "pods", "-n", "s4")["items"]))
    cluster.kubectl("apply", "-f", "-", input=pod_manifest("vip", "s4", cpu="2", priority_class="high"))
    assert wait_for(lambda: (get(cluster, "pod", "vip", "-n", "s4") or {}).get("status", {}).get("phase") == "Running")
    vip = get(cluster, "pod", "vip", "-n", "s4")
    assert vip["status"].get("nominatedNodeName") in (None, vip["spec"]["nodeName"])
    fillers = [p for p in get(cluster, "pods", "-n", "s4")["items"] if p["metadata"]["name"].startswith("filler")]
    assert len(fillers) == 2 and vip["spec"]["nodeName"] not in {p["spec"]["nodeName"] for p in fillers}
    events = cluster.kubectl("get", "events", "-n", "s4").stdout
    assert "Preempted" in events


def test_pods_for_another_scheduler_are_left_alone(cluster):
    cluster.kubectl("create", "namespace", "s5")
    cluster.kubectl("apply", "-f", "-", input=pod_manifest("other", "s5", schedulerName="my-scheduler"))
    time.sleep(1.5)
    assert not get(cluster, "pod", "other", "-n", "s5")["spec"].get("nodeName")


def test_two_schedulers_one_leader_and_take_over(server, tmp_path):
    def start(log):
        return subprocess.Popen(
            [sys.executable, "-m", "nanokube", "scheduler", "--kubeconfig", str(server.kubeconfig),
             "--leader-elect-lease-duration", "2", "--leader-elect-renew-deadline", "1.5",
             "--leader-elect-retry-period", "0.2"], stdout=open(log, "wb"), stderr=subprocess.STDOUT)

    def holder():
        res = server.kubectl("get", "lease", "kube-scheduler", "-n", "kube-system", "-o",
                             "jsonpath={.spec.holderIdentity}", check=False)
        return res.stdout.strip() if res.returncode == 0 else ""

    server.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "le-node"},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}}))
    procs = [start(tmp_path / "a.log"), start(tmp_path / "b.log")]
    try:
        first = wait_for(holder)
        assert first
        server.kubectl("create", "namespace", "le")
        server.kubectl("apply", "-f", "-", input=pod_manifest("one", "le"))
        assert wait_for(lambda: (get(server, "pod", "one", "-n", "le") or {}).get("spec", {}).get("nodeName") == "le-node")
        # kill the leader: the other takes the lease and schedules the next pod
        logs = [(tmp_path / n).read_text() for n in ("a.log", "b.log")]
        leader = next(i for i, text in enumerate(logs) if "scheduler running" in text)
        procs[leader].kill()
        procs[leader].wait()
        assert wait_for(lambda: holder() not in ("", first), 10)
        server.kubectl("apply", "-f", "-", input=pod_manifest("two", "le"))
        assert wait_for(lambda: (get(server, "pod", "two", "-n", "le") or {}).get("spec", {}).get("nodeName") == "le-node")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        server.kubectl("delete", "node", "le-node", check=False)
        server.kubectl("delete", "namespace", "le", "--wait=false", check=False)
