"""Scheduling decisions over plain dicts: filters, messages, scores, preemption."""

import random

from nanokube.scheduler.cache import Cache, pod_requests
from nanokube.scheduler.cyclestate import CycleState
from nanokube.scheduler.framework import Budget, filter_nodes, fit_error, nodes_to_score, preempt, select_node
from nanokube.scheduler.scores import image_locality, inter_pod_affinity_score, pod_topology_spread_score
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


def best_effort(name, owner="", **spec):
    meta = {"name": name, "namespace": "default", "uid": name, "labels": spec.pop("labels", {})}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner,
                                    "controller": True}]
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "image": spec.pop("image", "app")}], **spec}}


def place(c, pods, seed=1):
    """Schedule pods one after another as the scheduler does (assume each at once)."""
    rng = random.Random(seed)
    where = []
    for n, p in enumerate(pods):
        state = CycleState(p, f"default/{p['metadata']['name']}")
        feasible, _ = filter_nodes(state, c)
        i = select_node(state, c, feasible, n, rng)
        c.add_pod(state.key, p, c.names[i], assumed=True)
        where.append(c.names[i])
    return where


def test_best_effort_pods_count_as_asking_a_little_and_spread():
    for seed in range(20):
        c = cluster(*(node(f"n{i}") for i in range(5)))
        assert len(set(place(c, [best_effort(f"p{k}") for k in range(5)], seed))) == 5


def test_system_default_spreading_keeps_a_controllers_pods_apart():
    c = cluster(*(node(f"n{i}", cpu="64", memory="256Gi") for i in range(3)))
    c.add_pod("default/other", pod("other", cpu="60", memory="200Gi"), "n0")  # n0 is busy with something else
    c.add_pod("default/web-0", best_effort("web-0", owner="rs1"), "n1")
    state = CycleState(best_effort("web-1", owner="rs1"), "default/web-1")
    feasible, _ = filter_nodes(state, c)
    scores = dict(zip((c.names[i] for i in feasible), pod_topology_spread_score(state, c, feasible)))
    assert scores["n1"] < scores["n2"] == scores["n0"] == 100.0
    bare = CycleState(best_effort("bare"), "default/bare")
    assert not pod_topology_spread_score(bare, c, feasible).any()  # no controller: nothing to spread


def test_schedule_anyway_spread_scores_but_does_not_filter():
    c = cluster(node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}), node("c"))
    for k in range(3):
        c.add_pod(f"default/w{k}", best_effort(f"w{k}", labels={"app": "w"}), "a")
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": {"app": "w"}}}]
    state = CycleState(best_effort("w9", labels={"app": "w"}, topologySpreadConstraints=spread), "default/w9")
    feasible, _ = filter_nodes(state, c)
    assert len(feasible) == 3
    scores = dict(zip((c.names[i] for i in feasible), pod_topology_spread_score(state, c, feasible).tolist()))
    assert scores["b"] == 100.0 and scores["a"] < scores["b"] and scores["c"] == 0.0  # c lacks the key


def test_preferred_pod_affinity_and_anti_affinity_score_domains():
    c = cluster(node("a"), node("b"), node("c"))
    c.add_pod("default/db", best_effort("db", labels={"app": "db"}), "a")
    c.add_pod("default/noisy", best_effort("noisy", labels={"app": "noisy"}), "b")
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}},
                                           "topologyKey": "kubernetes.io/hostname"}}]},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "noisy"}},
                                            "topologyKey": "kubernetes.io/hostname"}}]}}
    state = CycleState(best_effort("web", affinity=affinity), "default/web")
    feasible, _ = filter_nodes(state, c)
    scores = dict(zip((c.names[i] for i in feasible), inter_pod_affinity_score(state, c, feasible).tolist()))
    assert scores == {"a": 100.0, "b": 0.0, "c": 100 * 100 / 150}
    # the other way round: an existing pod that wants to be near pods like the incoming one
    lonely = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}},
                                           "topologyKey": "kubernetes.io/hostname"}}]}}
    c.add_pod("default/api", best_effort("api", affinity=lonely), "c")
    state = CycleState(best_effort("cache", labels={"app": "cache"}), "default/cache")
    scores = dict(zip((c.names[i] for i in feasible), inter_pod_affinity_score(state, c, feasible).tolist()))
    assert scores["c"] == 100.0 and scores["a"] == scores["b"] == 0.0


def test_image_locality_prefers_nodes_holding_big_images():
    holder = node("a")
    holder["status"]["images"] = [{"names": ["docker.io/library/app:1.0"], "sizeBytes": 500 * 1024 * 1024}]
    c = cluster(holder, node("b"))
    state = CycleState(best_effort("p", image="app:1.0"), "default/p")
    feasible, _ = filter_nodes(state, c)
    scores = dict(zip((c.names[i] for i in feasible), image_locality(state, c, feasible).tolist()))
    assert scores["a"] > 0 and scores["b"] == 0.0
    c.upsert_node(node("a"))  # the image went away
    assert not image_locality(state, c, feasible).any()


def test_nominated_pod_holds_its_room_against_less_important_pods():
    c = cluster(node("a", cpu="1"))
    vip = pod("vip", cpu="800m", priority=100)
    vip["status"] = {"nominatedNodeName": "a"}
    c.nominate("default/vip", vip)
    low = CycleState(pod("low", cpu="500m", priority=1), "default/low")
    assert not len(filter_nodes(low, c)[0])
    assert len(filter_nodes(CycleState(vip, "default/vip"), c)[0]) == 1  # its own reservation is its own
    higher = CycleState(pod("higher", cpu="500m", priority=1000), "default/higher")
    assert len(filter_nodes(higher, c)[0]) == 1


def test_preemption_spares_pods_a_disruption_budget_protects():
    c = cluster(node("a", cpu="1"), node("b", cpu="1"))
    c.add_pod("default/guarded", pod("guarded", cpu="900m", priority=1, labels={"app": "db"}), "a")
    c.add_pod("default/free", pod("free", cpu="900m", priority=5), "b")
    state = CycleState(pod("vip", cpu="500m", priority=1000), "default/vip")
    feasible, diag = filter_nodes(state, c)
    budget = Budget("default", {"matchLabels": {"app": "db"}}, 0)
    choice, _ = preempt(state, c, diag, [budget])
    assert choice is not None and [v.key for v in choice.victims] == ["default/free"]
    choice, _ = preempt(state, c, diag, [])  # without the budget the least important pod goes
    assert choice is not None and [v.key for v in choice.victims] == ["default/guarded"]


def test_no_second_preemption_while_victims_terminate():
    c = cluster(node("a", cpu="1"))
    victim = pod("low", cpu="900m", priority=1)
    victim["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    c.add_pod("default/low", victim, "a")
    vip = pod("vip", cpu="500m", priority=1000)
    vip["status"] = {"nominatedNodeName": "a"}
    state = CycleState(vip, "default/vip")
    _, diag = filter_nodes(state, c)
    assert preempt(state, c, diag) == (None, "preemption: not eligible due to a terminating pod on the nominated node.")


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
