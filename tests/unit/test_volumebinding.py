"""The scheduler's VolumeBinding plugin: PreFilter and Filter verdicts with upstream's
messages, the assume cache, and PreBind (writes, waiting, timeout) against a fake API."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pytest

from nanokube.api.registry import Registry
from nanokube.client.informer import Informer, object_key
from nanokube.scheduler.cache import Cache
from nanokube.scheduler.cyclestate import CycleState
from nanokube.scheduler.framework import fit_error, filter_nodes, preempt
from nanokube.scheduler.scheduler import Scheduler
from nanokube.scheduler.volumebinding import (
    BIND_CONFLICT,
    NODE_CONFLICT,
    PV_NOT_EXIST,
    UNBOUND_IMMEDIATE,
    PreBindError,
    VolumeBinding,
    find_pod_volumes,
    sort_claims,
)

REG = Registry()
Obj = dict[str, Any]


def in_loop(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """An async test, run in an event loop of its own."""
    def test() -> None:
        asyncio.run(fn())
    test.__name__ = fn.__name__
    return test


class FakeClient:
    """Just enough of the REST client: updates bump the resourceVersion and land in the
    informer stores (as the watch would bring them), creates are recorded."""

    def __init__(self) -> None:
        self.rv = 1000
        self.informers: dict[str, Informer] = {}
        self.updates: list[Obj] = []
        self.created: list[tuple[str, Obj]] = []

    async def update(self, r: Any, obj: Obj, *, subresource: str = "", field_manager: str = "") -> Obj:
        self.rv += 1
        out = copy.deepcopy(obj)
        out["metadata"]["resourceVersion"] = str(self.rv)
        self.updates.append(out)
        inf = self.informers.get(r.plural)
        if inf is not None:
            await inf._upsert(object_key(out), out)
        return out

    async def create(self, r: Any, obj: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        self.created.append((r.plural, obj))
        return obj


def node(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "spec": {}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}


def pod(name: str = "p", *claims: str, ephemeral: str = "", **spec: Any) -> Obj:
    volumes: list[Obj] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
    if ephemeral:
        volumes.append({"name": ephemeral, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}})
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c"}], "volumes": volumes, **spec}}


def claim(name: str, cls: str | None = "", size: str = "1Gi", volume: str = "", **ann: str) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    meta: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "10",
                 "annotations": dict(ann)}
    if volume:
        spec["volumeName"] = volume
        meta["annotations"]["pv.kubernetes.io/bind-completed"] = "yes"
    return {"metadata": meta, "spec": spec, "status": {"phase": "Bound" if volume else "Pending"}}


def volume(name: str, size: str = "1Gi", cls: str = "", on: str = "", claim_of: Obj | None = None) -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                 "hostPath": {"path": f"/srv/{name}"}}
    if on:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [on]}]}]}}
    if claim_of is not None:
        spec["claimRef"] = {"namespace": "default", "name": claim_of["metadata"]["name"],
                            "uid": claim_of["metadata"]["uid"]}
    return {"metadata": {"name": name, "resourceVersion": "20"}, "spec": spec,
            "status": {"phase": "Bound" if claim_of else "Available"}}


def storage_class(name: str, provisioner: str = "rancher.io/local-path", mode: str = "WaitForFirstConsumer",
                  **extra: Any) -> Obj:
    return {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode, **extra}


class World:
    """A Cache with nodes and a VolumeBinding over fake informers."""

    def __init__(self, *nodes: Obj, claims: tuple[Obj, ...] = (), volumes: tuple[Obj, ...] = (),
                 classes: tuple[Obj, ...] = (), pods: tuple[Obj, ...] = (), timeout: float = 5.0) -> None:
        self.client = FakeClient()
        self.cache = Cache()
        for n in nodes:
            self.cache.upsert_node(n)
        self.claims = self._informer("persistentvolumeclaims", claims)
        self.volumes = self._informer("persistentvolumes", volumes)
        self.classes = self._informer("storageclasses", classes, group="storage.k8s.io")
        self.pods = self._informer("pods", pods)
        self.changes = 0
        self.binding = VolumeBinding(self.client, self.cache, self.claims, self.volumes, self.classes,  # type: ignore[arg-type]
                                     pods=self.pods, bind_timeout=timeout, on_change=self._changed)
        self.cache.volumes = self.binding

    def _changed(self) -> None:
        self.changes += 1

    def _informer(self, plural: str, objs: tuple[Obj, ...], group: str = "") -> Informer:
        r = next(r for r in REG.all() if r.plural == plural and r.group == group)
        inf = Informer(self.client, r)  # type: ignore[arg-type]
        for o in objs:
            inf.store[object_key(o)] = o
        self.client.informers[plural] = inf
        return inf

    def feasible(self, p: Obj) -> tuple[list[str], str]:
        state = CycleState(p, object_key(p))
        idx, diag = filter_nodes(state, self.cache)
        if len(idx):
            return [self.cache.names[i] for i in idx.tolist()], ""
        _, message = preempt(state, self.cache, diag)
        return [], fit_error(diag, message)


NODES = (node("a", zone="z1"), node("b", zone="z1"), node("c", zone="z2"))


def test_pods_without_claims_pass_without_looking_at_storage():
    w = World(*NODES)
    p = pod("plain")
    p["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "x"}}]
    state = CycleState(p, "default/plain")
    idx, _ = filter_nodes(state, w.cache)
    assert len(idx) == 3 and "VolumeBinding" not in state.data
    no_volumes = CycleState(pod("bare"), "default/bare")
    no_volumes.spec.pop("volumes")
    assert len(filter_nodes(no_volumes, w.cache)[0]) == 3


@pytest.mark.parametrize(("claims", "p", "reason"), [
    ((), pod("p", "data"), 'persistentvolumeclaim "data" not found'),
    ((), pod("p", ephemeral="scratch"),
     'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"'),
    ((claim("p-scratch", "local-path"),), pod("p", ephemeral="scratch"),
     "PVC default/p-scratch was not created for pod default/p (pod is not owner)"),
    ((dict(claim("data", "local-path"), metadata=dict(claim("data")["metadata"], deletionTimestamp="2024-01-01T00:00:00Z")),),
     pod("p", "data"), 'persistentvolumeclaim "data" is being deleted'),
    ((dict(claim("data", volume="gone"), status={"phase": "Lost"}),), pod("p", "data"),
     'persistentvolumeclaim "data" bound to non-existent persistentvolume "gone"'),
    ((claim("data", ""),), pod("p", "data"), UNBOUND_IMMEDIATE),
    ((claim("data", "fast"),), pod("p", "data"), UNBOUND_IMMEDIATE),
    ((claim("data", "missing-class"),), pod("p", "data"), UNBOUND_IMMEDIATE),
    ((claim("data", "local-path", **{"x": "y"}) | {"spec": dict(claim("data", "local-path")["spec"], volumeName="pv")},),
     pod("p", "data"), UNBOUND_IMMEDIATE),  # pre-bound by name: the PV controller binds it
])
def test_prefilter_refuses_the_whole_pod_with_upstreams_message(claims, p, reason):
    w = World(*NODES, claims=claims, classes=(storage_class("local-path"), storage_class("fast", mode="Immediate")))
    nodes, message = w.feasible(p)
    assert nodes == []
    assert message == (f"0/3 nodes are available: {reason}. "
                       "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_bound_claim_goes_where_its_volume_is():
    data = claim("data", volume="pinned")
    w = World(*NODES, claims=(data,), volumes=(volume("pinned", on="b", claim_of=data),))
    assert w.feasible(pod("p", "data")) == (["b"], "")
    nodes, message = w.feasible(pod("p", "data", nodeSelector={"kubernetes.io/hostname": "a"}))
    # NodeAffinity runs first, as upstream: b and c are refused for the selector, a for the volume
    assert message.startswith(f"0/3 nodes are available: 1 {NODE_CONFLICT}, "
                              "2 node(s) didn't match Pod's node affinity/selector.")


def test_bound_claim_whose_volume_is_gone():
    w = World(*NODES, claims=(claim("data", volume="gone"),))
    _, message = w.feasible(pod("p", "data"))
    assert f"3 {PV_NOT_EXIST}" in message


def test_delayed_claim_takes_a_static_volume_or_a_provisioner():
    local = storage_class("local", provisioner="kubernetes.io/no-provisioner")
    w = World(*NODES, claims=(claim("data", "local"),), volumes=(volume("on-c", cls="local", on="c"),), classes=(local,))
    assert w.feasible(pod("p", "data")) == (["c"], "")
    _, message = w.feasible(pod("p", "data", nodeSelector={"zone": "z1"}))
    assert f"1 node(s) didn't match Pod's node affinity/selector, 2 {BIND_CONFLICT}." in message
    # too small, wrong class or taken volumes do not count
    w = World(*NODES, claims=(claim("data", "local", size="5Gi"), claim("other", "local")),
              volumes=(volume("small", cls="local", on="a"), volume("elsewhere", cls="other", on="b"),
                       volume("taken", size="9Gi", cls="local", on="c", claim_of=claim("other", "local"))),
              classes=(local,))
    assert w.feasible(pod("p", "data"))[0] == []
    # a class with a provisioner can make one anywhere its allowed topologies reach
    zoned = storage_class("zoned", allowedTopologies=[{"matchLabelExpressions": [{"key": "zone", "values": ["z2"]}]}])
    w = World(*NODES, claims=(claim("data", "zoned"),), classes=(zoned,))
    assert w.feasible(pod("p", "data")) == (["c"], "")
    w = World(*NODES, claims=(claim("data", "local-path"),), classes=(storage_class("local-path"),))
    assert w.feasible(pod("p", "data")) == (["a", "b", "c"], "")


def test_delayed_claim_already_given_a_node_stays_there():
    w = World(*NODES, claims=(claim("data", "local-path", **{"volume.kubernetes.io/selected-node": "b"}),),
              classes=(storage_class("local-path"),))
    assert w.feasible(pod("p", "data")) == (["b"], "")


def test_two_claims_of_one_pod_take_different_volumes_smallest_claim_first():
    local = storage_class("local", provisioner="kubernetes.io/no-provisioner")
    small, big = claim("small", "local", size="1Gi"), claim("big", "local", size="4Gi")
    vols = (volume("v1", size="1Gi", cls="local", on="a"), volume("v5", size="5Gi", cls="local", on="a"))
    classes = {"local": local}
    pc = sort_claims(pod("p", "big", "small"), {"default/big": big, "default/small": small}, classes)
    assert pc is not None and not pc.refusal
    found = find_pod_volumes(pc, node("a"), {v["metadata"]["name"]: v for v in vols}, classes)
    assert [(c["metadata"]["name"], v["metadata"]["name"]) for c, v in found.static] == [("small", "v1"), ("big", "v5")]
    # with only one volume that fits both, the second claim has nowhere to go
    found = find_pod_volumes(pc, node("a"), {"v5": vols[1]}, classes)
    assert found.reasons == [BIND_CONFLICT]


def test_reserved_volume_is_not_offered_to_the_next_pod():
    local = storage_class("local", provisioner="kubernetes.io/no-provisioner")
    w = World(*NODES, claims=(claim("one", "local"), claim("two", "local")),
              volumes=(volume("only", cls="local", on="a"),), classes=(local,))
    assert w.feasible(pod("p1", "one")) == (["a"], "")
    pc = w.binding.pre_filter(pod("p1", "one"))
    assert pc is not None
    w.binding._assume(find_pod_volumes(pc, node("a"), w.binding.volume_view(), w.binding.class_view()), "a")
    assert w.feasible(pod("p2", "two"))[0] == []
    # once the informer has a newer volume, the assumption is dropped
    newer = copy.deepcopy(w.volumes.store["only"])
    newer["metadata"]["resourceVersion"] = "99"
    w.volumes.store["only"] = newer
    assert w.feasible(pod("p2", "two")) == (["a"], "")


async def _finish_binding(w: World, claim_key: str, volume_name: str, provisioned: Obj | None = None) -> None:
    """What the PV controller would do: the volume (provisioned or chosen) and the claim bound."""
    await asyncio.sleep(0.05)
    pvc = copy.deepcopy(w.claims.store[claim_key])
    if provisioned is not None:
        await w.volumes._upsert(volume_name, provisioned)
    pvc["spec"]["volumeName"] = volume_name
    pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = "yes"
    pvc["metadata"]["resourceVersion"] = str(int(pvc["metadata"]["resourceVersion"]) + 100)
    await w.claims._upsert(claim_key, pvc)


@in_loop
async def test_prebind_binds_a_static_volume_and_waits_for_the_claim():
    local = storage_class("local", provisioner="kubernetes.io/no-provisioner")
    p = pod("p", "data")
    w = World(*NODES, claims=(claim("data", "local"),), volumes=(volume("on-a", cls="local", on="a"),),
              classes=(local,), pods=(p,))
    done = asyncio.create_task(_finish_binding(w, "default/data", "on-a"))
    await w.binding.pre_bind(p, "a")
    await done
    written = w.client.updates[0]
    assert written["spec"]["claimRef"]["name"] == "data" and written["spec"]["claimRef"]["uid"] == "uid-data"
    assert written["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert not w.binding._assumed_volumes


@in_loop
async def test_prebind_marks_the_claim_with_the_node_and_waits_for_provisioning():
    p = pod("p", "data")
    w = World(*NODES, claims=(claim("data", "local-path"),), classes=(storage_class("local-path"),), pods=(p,))
    provisioned = volume("pvc-uid-data", cls="local-path", on="b", claim_of=claim("data"))
    done = asyncio.create_task(_finish_binding(w, "default/data", "pvc-uid-data", provisioned))
    await w.binding.pre_bind(p, "b")
    await done
    assert w.client.updates[0]["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "b"
    assert w.changes > 0  # claim changes retry unschedulable pods
    # a pod whose claims are bound has nothing to do
    n = len(w.client.updates)
    await w.binding.pre_bind(p, "b")
    assert len(w.client.updates) == n


@in_loop
async def test_prebind_gives_up_after_the_bind_timeout():
    p = pod("p", "data")
    w = World(*NODES, claims=(claim("data", "local-path"),), classes=(storage_class("local-path"),), pods=(p,),
              timeout=0.2)
    with pytest.raises(PreBindError, match='running PreBind plugin "VolumeBinding": binding volumes: context deadline exceeded'):
        await w.binding.pre_bind(p, "a")
    assert not w.binding._assumed_claims


@in_loop
async def test_prebind_fails_when_the_provisioner_drops_the_node():
    p = pod("p", "data")
    w = World(*NODES, claims=(claim("data", "local-path"),), classes=(storage_class("local-path"),), pods=(p,))

    async def drop() -> None:
        await asyncio.sleep(0.05)
        pvc = copy.deepcopy(w.claims.store["default/data"])
        pvc["metadata"]["annotations"].pop("volume.kubernetes.io/selected-node")
        pvc["metadata"]["resourceVersion"] = "5000"
        await w.claims._upsert("default/data", pvc)

    task = asyncio.create_task(drop())
    with pytest.raises(PreBindError, match='selectedNode annotation value "" not set to scheduled node "a"'):
        await w.binding.pre_bind(p, "a")
    await task


@in_loop
async def test_scheduler_forgets_the_pod_and_retries_when_prebind_fails():
    client = FakeClient()
    s = Scheduler(client, bind_timeout=0.1)  # type: ignore[arg-type]
    for n in NODES:
        s.cache.upsert_node(n)
    s.claims.store["default/data"] = claim("data", "local-path")
    s.classes.store["local-path"] = storage_class("local-path")
    p = pod("p", "data")
    s.pods.store["default/p"] = p
    await s.schedule_one("default/p", p)
    assert "default/p" in s.cache.pods  # assumed while its volumes bind
    await asyncio.gather(*list(s._tasks))
    assert "default/p" not in s.cache.pods
    assert "default/p" in s.queue._backoff
    assert not any(plural == "pods" for plural, _ in client.created if _.get("kind") == "Binding")
    await s.events.flush()
    assert any(o.get("reason") == "FailedScheduling" and "context deadline exceeded" in o.get("message", "")
               for plural, o in client.created if plural == "events")


def test_nodes_rejected_for_volumes_are_never_preemption_candidates():
    data = claim("data", volume="pinned")
    w = World(*NODES, claims=(data,), volumes=(volume("pinned", on="b", claim_of=data),))
    state = CycleState(pod("p", "data", nodeSelector={"zone": "z2"}), "default/p")
    idx, diag = filter_nodes(state, w.cache)
    assert len(idx) == 0
    assert all(not resolvable for reasons in diag.reasons.values() for _, resolvable in reasons)
    assert np.array_equal(np.sort(list(diag.reasons)), np.arange(3))
