"""Scheduling decisions over plain dicts: filters, messages, scores, preemption."""

import random

from nanokube.scheduler.cache import Cache, pod_requests
from nanokube.scheduler.framework import filter_nodes, fit_error, nodes_to_score, preempt, select_node
from nanokube.scheduler.plugins import CycleState
from nanokube.scheduler.queue import SchedulingQueue


def node(name, cpu="4", memory="8Gi", pods="110", labels=None, taints=None, unschedulable=False):
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}


def pod(name, cpu="100m", memory="64Mi", priority=0, **spec):
    return {"metadata": {"name": name, "namespace": "default", "labels": spec.pop("labels", {}), "uid": name},
            "spec": {"priority": priority, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
                     **spec}}


def cluster(*nodes):
    c = Cache()
    for n in nodes:
        c.upsert_node(n)
    return c


def test_requests_follow_init_containers_sidecars_and_overhead():
    p = {"spec": {"containers": [{"resources": {"requests": {"cpu": "100m"}}}, {"resources": {"requests": {"cpu": "200m"}}}],
                  "initContainers": [{"resources": {"requests": {"cpu": "1"}}},
                                     {"restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}],
                  "overhead": {"cpu": "10m"}}}
    # upstream: max(sum(containers)+sidecars, largest init + sidecars started before it) + overhead
    assert pod_requests(p)["cpu"] == 1010


def test_failed_scheduling_message_counts_reasons_like_upstream():
    c = cluster(node("a", cpu="1"), node("b", cpu="1"),
                node("c", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
                node("d", unschedulable=True), node("e", taints=[{"key": "x", "effect": "NoExecute"}]))
    state = CycleState(pod("big", cpu="2"))
    feasible, diag = filter_nodes(state, c)
    assert len(feasible) == 0
    choice, pre = preempt(state, c, diag)
    assert choice is None
    assert fit_error(diag, pre) == (
        "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
        "1 node(s) had untolerated taint {x: }, 1 node(s) were unschedulable, 2 Insufficient cpu. "
        "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, "
        "3 Preemption is not helpful for scheduling.")


def test_tolerations_node_selector_and_affinity():
    c = cluster(node("a", labels={"disk": "ssd"}), node("b", taints=[{"key": "gpu", "effect": "NoSchedule"}]))
    feasible, _ = filter_nodes(CycleState(pod("p", nodeSelector={"disk": "hdd"})), c)
    assert len(feasible) == 0
    feasible, _ = filter_nodes(CycleState(pod("p", tolerations=[{"key": "gpu", "operator": "Exists"}],
                                              nodeSelector={"kubernetes.io/hostname": "b"})), c)
    assert [c.names[i] for i in feasible] == ["b"]


def test_least_allocated_prefers_the_emptier_node():
    c = cluster(node("busy"), node("idle"))
    c.add_pod("default/x", pod("x", cpu="3"), "busy")
    state = CycleState(pod("p"))
    feasible, _ = filter_nodes(state, c)
    assert c.names[select_node(state, c, feasible, 0, random.Random(1))] == "idle"


def test_pod_anti_affinity_and_topology_spread():
    c = cluster(node("a"), node("b"))
    c.add_pod("default/web-1", pod("web-1", labels={"app": "web"}), "a")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    feasible, diag = filter_nodes(CycleState(pod("web-2", labels={"app": "web"}, affinity=anti)), c)
    assert [c.names[i] for i in feasible] == ["b"]
    assert diag.reasons[c.index["a"]][0][0] == "node(s) didn't match pod anti-affinity rules"
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    c.add_pod("default/web-0", pod("web-0", labels={"app": "web"}), "a")
    c.add_pod("default/web-3", pod("web-3", labels={"app": "web"}), "b")
    feasible, _ = filter_nodes(CycleState(pod("web-4", labels={"app": "web"}, topologySpreadConstraints=spread)), c)
    assert [c.names[i] for i in feasible] == ["b"]


def test_preemption_picks_the_node_with_the_least_important_victims():
    c = cluster(node("a", cpu="1"), node("b", cpu="1"))
    c.add_pod("default/low-a", pod("low-a", cpu="900m", priority=10), "a")
    c.add_pod("default/low-b", pod("low-b", cpu="900m", priority=5), "b")
    state = CycleState(pod("vip", cpu="500m", priority=1000))
    feasible, diag = filter_nodes(state, c)
    assert len(feasible) == 0
    choice, _ = preempt(state, c, diag)
    assert choice is not None and c.names[choice.node] == "b" and [v.key for v in choice.victims] == ["default/low-b"]
    never = CycleState(pod("vip", cpu="500m", priority=1000, preemptionPolicy="Never"))
    assert preempt(never, c, diag) == (None, "preemption: not eligible due to preemptionPolicy=Never.")


def test_nodes_to_score_is_adaptive():
    assert nodes_to_score(50) == 50
    assert nodes_to_score(1000) == 420
    assert nodes_to_score(5000) == 500
    assert nodes_to_score(20000) == 1000


def test_queue_orders_by_priority_and_backs_off():
    import asyncio

    t = [0.0]
    q = SchedulingQueue(clock=lambda: t[0])

    async def go():
        q.add("low", 1)
        q.add("high", 100)
        assert await q.pop() == "high"
        q.failed("high", unschedulable=True)
        assert await q.pop() == "low"
        q.cluster_changed()
        q.flush()
        assert len(q._heap) == 0  # still backing off (1 s)
        t[0] = 1.0
        q.flush()
        assert await q.pop() == "high"

    asyncio.run(go())
