"""Nodes get pod CIDRs; a node that stops heartbeating goes NotReady, is tainted, and its pods
are evicted and replaced elsewhere; when it comes back the taints go (real kubectl, simulated
nodes, timings shortened through the flags upstream has)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture(
    "--sim-nodes", "2", "--cluster-cidr", "10.99.0.0/16",
    "--default-unreachable-toleration-seconds", "2",
    "--kube-controller-manager-arg", "node-monitor-grace-period=3s",
    "--kube-controller-manager-arg", "node-monitor-period=500ms",
    "--sim-nodes-arg", "node-lease-renew-interval=0.5",
)


@pytest.fixture
def extra_node(cluster):
    """One more simulated node in its own process, which a test may kill."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "nanokube", "sim-nodes", "--kubeconfig", str(cluster.kubeconfig),
                              "--count", "1", "--name-prefix", "flaky-", "--node-lease-renew-interval", "0.5"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()
    cluster.kubectl("delete", "node", "flaky-0", "--ignore-not-found")


def _json(cluster, *args):
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def _ready(cluster, name):
    res = cluster.kubectl("get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                          check=False)
    return res.stdout.strip()


def test_nodes_get_distinct_pod_cidrs_from_the_cluster_cidr(cluster):
    nodes = wait_for(lambda: [n for n in _json(cluster, "get", "nodes")["items"] if n["spec"].get("podCIDR")])
    cidrs = [n["spec"]["podCIDR"] for n in nodes]
    assert len(set(cidrs)) == len(cidrs) >= 2
    assert all(ipaddress.ip_network(c).subnet_of(ipaddress.ip_network("10.99.0.0/16")) for c in cidrs)
    assert all(n["spec"]["podCIDRs"] == [n["spec"]["podCIDR"]] for n in nodes)


def test_pods_get_the_default_not_ready_and_unreachable_tolerations(cluster):
    cluster.kubectl("run", "tol", "--image=x", "--restart=Never")
    tolerations = _json(cluster, "get", "pod", "tol")["spec"]["tolerations"]
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300} in tolerations
    assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 2} in tolerations
    cluster.kubectl("delete", "pod", "tol", "--wait=false")


def test_a_silent_node_is_tainted_and_its_pods_replaced(cluster, extra_node):
    node = extra_node()
    assert wait_for(lambda: _ready(cluster, "flaky-0") == "True")
    # pods that can only land on the flaky node, plus ones that may go anywhere
    cluster.kubectl("create", "deployment", "spread", "--image=x", "--replicas=6")
    cluster.kubectl("rollout", "status", "deployment/spread", "--timeout=60s")
    on_flaky = wait_for(lambda: [p["metadata"]["name"] for p in _json(cluster, "get", "pods", "-l", "app=spread")["items"]
                                 if p["spec"].get("nodeName") == "flaky-0"])
    assert on_flaky, "the scheduler spreads pods over the flaky node too"

    node.kill()
    node.wait()
    assert wait_for(lambda: _ready(cluster, "flaky-0") == "Unknown", 20)
    taints = wait_for(lambda: {(t["key"], t["effect"]) for t in
                               _json(cluster, "get", "node", "flaky-0")["spec"].get("taints") or []} or None)
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in taints

    def replaced():
        pods = _json(cluster, "get", "pods", "-l", "app=spread")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        return len(live) == 6 and all(p["spec"].get("nodeName") != "flaky-0" for p in live) and pods

    pods = wait_for(replaced, 30)
    assert pods, "evicted pods were replaced on the healthy nodes"
    evicted = [p for p in pods if p["metadata"]["name"] in on_flaky]
    assert evicted and all(p["metadata"].get("deletionTimestamp") for p in evicted)
    assert all(any(c["type"] == "DisruptionTarget" and c["reason"] == "DeletionByTaintManager"
                   for c in p["status"]["conditions"]) for p in evicted)
    events = _json(cluster, "get", "events", "--field-selector", "reason=TaintManagerEviction")["items"]
    assert {e["involvedObject"]["name"] for e in events} >= set(on_flaky)

    # the kubelet comes back: Ready again, the taints go, its terminating pods are cleaned up
    extra_node()
    assert wait_for(lambda: _ready(cluster, "flaky-0") == "True", 20)
    assert wait_for(lambda: not _json(cluster, "get", "node", "flaky-0")["spec"].get("taints"), 20)
    assert wait_for(lambda: not [p for p in _json(cluster, "get", "pods", "-l", "app=spread")["items"]
                                 if p["metadata"]["name"] in on_flaky], 20)
    cluster.kubectl("delete", "deployment", "spread")
