"""The PV controller and the local-path provisioner against a fake API: the writes of a
binding in upstream's order, the hand-over to the provisioner, release and reclaim."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from nanokube.api import errors
from nanokube.api.registry import Registry
from nanokube.client.informer import Informer, by_namespace, object_key
from nanokube.controllers import pvutil
from nanokube.controllers.persistentvolume import PersistentVolumeController

REG = Registry()
Obj = dict[str, Any]


class FakeAPI:
    """Objects by (plural, key); writes bump resourceVersion and reach the informers."""

    def __init__(self) -> None:
        self.rv = 100
        self.informers: dict[str, Informer] = {}
        self.writes: list[tuple[str, str, str]] = []  # (verb, plural, subresource)
        self.events: list[Obj] = []

    def informer(self, plural: str, group: str = "") -> Informer:
        r = next(r for r in REG.all() if r.plural == plural and r.group == group)
        inf = Informer(self, r, indexers={"namespace": by_namespace})  # type: ignore[arg-type]
        self.informers[plural] = inf
        return inf

    async def put(self, plural: str, obj: Obj) -> Obj:
        self.rv += 1
        out = copy.deepcopy(obj)
        out["metadata"]["resourceVersion"] = str(self.rv)
        await self.informers[plural]._upsert(object_key(out), out)
        return out

    async def update(self, r: Any, obj: Obj, *, subresource: str = "", field_manager: str = "") -> Obj:
        current = self.informers[r.plural].get(object_key(obj))
        if current is None:
            raise errors.NotFound("gone")
        if current["metadata"]["resourceVersion"] != obj["metadata"].get("resourceVersion"):
            raise errors.Conflict("stale")
        self.writes.append(("update", r.plural, subresource))
        new = dict(current, status=obj.get("status")) if subresource == "status" else dict(obj, status=current.get("status"))
        return await self.put(r.plural, new)

    async def create(self, r: Any, obj: Obj, namespace: str | None = None, **kw: Any) -> Obj:
        if r.plural == "events":
            self.events.append(obj)
            return obj
        self.writes.append(("create", r.plural, ""))
        if self.informers[r.plural].get(object_key(obj)) is not None:
            raise errors.AlreadyExists("exists")
        return await self.put(r.plural, dict(obj, status={"phase": "Pending"}))

    async def get(self, r: Any, name: str, namespace: str | None = None) -> Obj:
        obj = self.informers[r.plural].get(f"{namespace}/{name}" if namespace else name)
        if obj is None:
            raise errors.NotFound("not found")
        return obj

    async def delete(self, r: Any, name: str, namespace: str | None = None, **kw: Any) -> None:
        self.writes.append(("delete", r.plural, ""))
        await self.informers[r.plural]._delete(name, self.informers[r.plural].store[name])

    async def patch(self, *a: Any, **kw: Any) -> Obj:
        raise AssertionError("not expected")


class Cluster:
    def __init__(self, storage_dir: str = "/data/storage") -> None:
        self.api = FakeAPI()
        self.claims = self.api.informer("persistentvolumeclaims")
        self.volumes = self.api.informer("persistentvolumes")
        self.classes = self.api.informer("storageclasses", "storage.k8s.io")
        self.pods = self.api.informer("pods")
        self.nodes = self.api.informer("nodes")
        self.ctrl = PersistentVolumeController(self.api, self.claims, self.volumes, self.classes, self.pods,  # type: ignore[arg-type]
                                               self.nodes, storage_dir=storage_dir, identity="host_1")

    async def add(self, plural: str, obj: Obj) -> Obj:
        return await self.api.put(plural, obj)

    async def events(self) -> list[tuple[str, str]]:
        await self.ctrl.events.flush()
        await self.ctrl.provisioner.events.flush()
        return [(e["reason"], e["message"]) for e in self.api.events]


def claim(name: str = "data", cls: str | None = "", **ann: str) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                                                          "annotations": dict(ann)},
            "spec": spec, "status": {"phase": "Pending"}}


def volume(name: str, policy: str = "Retain", **ann: str) -> Obj:
    return {"kind": "PersistentVolume", "metadata": {"name": name, "uid": f"uid-{name}", "annotations": dict(ann)},
            "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "hostPath": {"path": f"/srv/{name}"}, "persistentVolumeReclaimPolicy": policy},
            "status": {"phase": "Available"}}


LOCAL_PATH = {"metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
              "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_static_binding_writes_volume_then_claim():
    async def go() -> None:
        c = Cluster()
        await c.add("persistentvolumes", volume("pv1"))
        pvc = await c.add("persistentvolumeclaims", claim())
        await c.ctrl.sync_claim(pvc)
        assert c.api.writes == [("update", "persistentvolumes", ""), ("update", "persistentvolumes", "status"),
                                ("update", "persistentvolumeclaims", ""), ("update", "persistentvolumeclaims", "status")]
        pv, pvc = c.volumes.get("pv1"), c.claims.get("default/data")
        assert pv["spec"]["claimRef"]["uid"] == "uid-data" and pv["status"]["phase"] == "Bound"
        assert pvc["spec"]["volumeName"] == "pv1"
        assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
        assert pvutil.fully_bound(pvc)
        c.api.writes.clear()
        await c.ctrl.sync_claim(pvc)
        await c.ctrl.sync_volume(pv)
        assert c.api.writes == []  # level-triggered: nothing left to do
    run(go())


def test_waiting_for_a_consumer_then_provisioning_on_the_chosen_node():
    async def go() -> None:
        c = Cluster()
        await c.add("storageclasses", LOCAL_PATH)
        await c.add("nodes", {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}})
        pvc = await c.add("persistentvolumeclaims", claim(cls="local-path"))
        await c.ctrl.sync_claim(pvc)
        assert await c.events() == [("WaitForFirstConsumer", pvutil.WAIT_FOR_CONSUMER_MESSAGE)]
        await c.add("pods", {"metadata": {"name": "web-0", "namespace": "default"}, "spec": {"volumes": [
            {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
        await c.ctrl.sync_claim(c.claims.get("default/data"))
        assert (await c.events())[-1] == ("WaitForPodScheduled", "waiting for pod web-0 to be scheduled")
        # the scheduler chose n1
        chosen = copy.deepcopy(c.claims.get("default/data"))
        chosen["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] = "n1"
        pvc = await c.add("persistentvolumeclaims", chosen)
        await c.ctrl.sync_claim(pvc)
        ann = c.claims.get("default/data")["metadata"]["annotations"]
        assert ann["volume.kubernetes.io/storage-provisioner"] == ann["volume.beta.kubernetes.io/storage-provisioner"] \
            == "rancher.io/local-path"
        assert (await c.events())[-1] == ("ExternalProvisioning", pvutil.external_provisioning_message("rancher.io/local-path"))
        await c.ctrl.provisioner.provision("default/data")
        pv = c.volumes.get("pvc-uid-data")
        assert pv["spec"]["hostPath"]["path"] == "/data/storage/pvc-uid-data_default_data"
        assert [e[0] for e in (await c.events())[-2:]] == ["Provisioning", "ProvisioningSucceeded"]
        await c.ctrl.provisioner.provision("default/data")  # made once only
        assert sum(1 for w in c.api.writes if w[0] == "create") == 1
        await c.ctrl.sync_volume(pv)  # the PV controller hands it to its claim
        assert ("claim", "default/data") in c.ctrl.queue._queued
        await c.ctrl.sync_claim(c.claims.get("default/data"))
        assert c.claims.get("default/data")["status"]["phase"] == "Bound"
        assert c.volumes.get("pvc-uid-data")["status"]["phase"] == "Bound"
        # the bound-by-controller mark stays off: the provisioner made the volume for this claim
        assert "pv.kubernetes.io/bound-by-controller" not in c.volumes.get("pvc-uid-data")["metadata"]["annotations"]
    run(go())


def test_claims_without_a_class_get_the_default_and_others_wait_for_their_provisioner():
    async def go() -> None:
        c = Cluster()
        await c.add("storageclasses", LOCAL_PATH)
        pvc = await c.add("persistentvolumeclaims", claim(cls=None))
        await c.ctrl.sync_claim(pvc)
        assert c.claims.get("default/data")["spec"]["storageClassName"] == "local-path"
        await c.add("storageclasses", {"metadata": {"name": "ebs"}, "provisioner": "ebs.csi.aws.com",
                                       "volumeBindingMode": "Immediate"})
        await c.add("storageclasses", {"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
                                       "volumeBindingMode": "Immediate"})
        for name, cls in (("ext", "ebs"), ("none", "local"), ("nocls", "missing")):
            await c.ctrl.sync_claim(await c.add("persistentvolumeclaims", claim(name, cls=cls)))
        assert c.claims.get("default/ext")["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == \
            "ebs.csi.aws.com"
        events = await c.events()
        assert ("ProvisioningFailed", "no volume plugin matched name: kubernetes.io/no-provisioner") in events
        assert ("ProvisioningFailed", 'storageclass.storage.k8s.io "missing" not found') in events
        await c.ctrl.provisioner.provision("default/ext")  # not ours
        assert c.volumes.list() == []
    run(go())


def test_release_and_reclaim_by_policy():
    async def go() -> None:
        c = Cluster()
        made = volume("made", "Delete", **{"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"})
        for pv in (volume("kept"), volume("static", "Delete"), made):
            pv["spec"]["claimRef"] = {"namespace": "default", "name": f"claim-{pv['metadata']['name']}", "uid": "gone"}
            pv["status"]["phase"] = "Bound"
            await c.add("persistentvolumes", pv)
        for name in ("kept", "static", "made"):
            await c.ctrl.sync_volume(c.volumes.get(name))
        assert c.volumes.get("kept")["status"]["phase"] == "Released"
        assert c.volumes.get("static")["status"] == {
            "phase": "Failed", "lastPhaseTransitionTime": c.volumes.get("static")["status"]["lastPhaseTransitionTime"],
            "message": 'error getting deleter volume plugin for volume "static": no deletable volume plugin matched'}
        assert c.volumes.get("made")["status"]["phase"] == "Released"
        assert ("VolumeFailedDelete",
                'error getting deleter volume plugin for volume "static": no deletable volume plugin matched') in await c.events()
        await c.ctrl.provisioner.delete("made")
        await c.ctrl.provisioner.delete("static")  # not its own
        assert sorted(v["metadata"]["name"] for v in c.volumes.list()) == ["kept", "static"]
    run(go())


def test_a_claim_lost_its_volume():
    async def go() -> None:
        c = Cluster()
        pvc = claim(**{"pv.kubernetes.io/bind-completed": "yes"})
        pvc["spec"]["volumeName"] = "vanished"
        pvc["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
        await c.ctrl.sync_claim(await c.add("persistentvolumeclaims", pvc))
        assert c.claims.get("default/data")["status"] == {"phase": "Lost"}
        assert await c.events() == [("ClaimLost", pvutil.CLAIM_LOST_VOLUME)]
    run(go())
