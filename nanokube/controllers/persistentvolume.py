"""The PersistentVolume controller (`persistentvolume-binder`): claims meet volumes.

Level-triggered per claim and per volume, with upstream's decisions (pvutil.plan_claim and
pvutil.plan_volume):
- an unbound claim binds to the best Available volume (pre-bound first, then the smallest
  that fits), or — no volume — is handed to its class's provisioner (annotations
  `volume.kubernetes.io/storage-provisioner` and its beta twin, event ExternalProvisioning);
  a claim of a WaitForFirstConsumer class waits (event WaitForFirstConsumer) until the
  scheduler has picked a node and written it to `volume.kubernetes.io/selected-node`; a
  claim with no class and no volume says so (FailedBinding);
- a bound claim stays Bound while its volume points back at it, else it is Lost;
- a volume whose claim is gone is Released and reclaimed by its policy: Retain keeps it,
  Delete leaves it to the provisioner that made it (a volume no provisioner made fails, as
  upstream's has no deleter plugin for it).
Binding writes the volume (claimRef, then phase Bound), then the claim (volumeName and the
bind annotations, then status Bound), so an interrupted binding is finished by the next pass.

One worker, as upstream: two concurrent passes could give one volume to two claims. Our
own writes are remembered until the informers catch up, so the passes that follow each
write see it; every write is compare-and-swap, so a stale view costs a retry, never a wrong
binding. Everything is looked at again every `sync_period` seconds (upstream's 15 s).
The k3s default class's provisioner runs beside it (localpath.py).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Hashable
from typing import Any, cast

from ..api import errors
from ..api.registry import Registry, Resource
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import pvutil
from .localpath import LocalPathProvisioner

log = logging.getLogger("nanokube.controllers.persistentvolume")

_REG = Registry()
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
VOLUMES = _REG.require("", "v1", "persistentvolumes")
Obj = dict[str, Any]
MANAGER = "persistentvolume-controller"
IN_TREE_PREFIX = "kubernetes.io/"  # provisioners upstream's in-tree plugins own; we have none


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _rv(obj: Obj | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PersistentVolumeController:
    name = "persistentvolume-binder"

    def __init__(self, client: Client, claims: Informer, volumes: Informer, classes: Informer, pods: Informer,
                 nodes: Informer, *, storage_dir: str = "/var/lib/nanokube/storage", identity: str = "",
                 sync_period: float = 15.0, now: Callable[[], datetime.datetime] = _utc) -> None:
        self.client = client
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.pods = pods
        self.sync_period = sync_period
        self.now = now
        self.queue = WorkQueue()
        self.events = EventRecorder(client, MANAGER)
        # what we wrote, until the informer shows it (upstream's claim and volume caches)
        self._written: dict[tuple[str, str], Obj] = {}
        self.provisioner = LocalPathProvisioner(client, claims, volumes, classes, nodes, storage_dir, identity)
        claims.add_handlers(self._claim_changed, lambda old, new: self._claim_changed(new), self._claim_deleted)
        volumes.add_handlers(self._volume_changed, lambda old, new: self._volume_changed(new), self._volume_deleted)
        classes.add_handlers(lambda sc: self._pending_claims(), None, None)

    # -- event handlers ------------------------------------------------------------------------

    def _seen(self, kind: str, obj: Obj) -> None:
        key = (kind, object_key(obj))
        mine = self._written.get(key)
        if mine is not None and _rv(obj) >= _rv(mine):
            del self._written[key]

    def _claim_changed(self, pvc: Obj) -> None:
        self._seen("claim", pvc)
        self.queue.add(("claim", object_key(pvc)))

    def _claim_deleted(self, pvc: Obj) -> None:
        key = object_key(pvc)
        self._written.pop(("claim", key), None)
        # its volume is released now: volumeName, or a volume pre-bound to it
        name = (pvc.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(("volume", name))
        for pv in self.volumes.list():
            if pvutil.is_bound_to(pv, pvc):
                self.queue.add(("volume", pv["metadata"]["name"]))

    def _volume_changed(self, pv: Obj) -> None:
        self._seen("volume", pv)
        self.queue.add(("volume", pv["metadata"]["name"]))
        if not (pv.get("spec") or {}).get("claimRef"):
            self._pending_claims(pvutil.volume_class(pv))

    def _volume_deleted(self, pv: Obj) -> None:
        self._written.pop(("volume", pv["metadata"]["name"]), None)
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(("claim", f"{ref.get('namespace', '')}/{ref.get('name', '')}"))

    def _pending_claims(self, storage_class: str | None = None) -> None:
        """A volume became free or a class appeared: claims still waiting look again (upstream
        waits for its periodic resync; the answer is the same, only sooner)."""
        for pvc in self.claims.list():
            if (pvc.get("status") or {}).get("phase") == "Pending" and \
                    (storage_class is None or pvutil.claim_class(pvc) == storage_class):
                self.queue.add(("claim", object_key(pvc)))

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(self._worker(), self._resync(), self.provisioner.run())

    async def _worker(self) -> None:
        await run_worker(self.queue, self._sync, log)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            for pvc in self.claims.list():
                self.queue.add(("claim", object_key(pvc)))
            for pv in self.volumes.list():
                self.queue.add(("volume", pv["metadata"]["name"]))

    async def _sync(self, item: Hashable) -> float | None:
        kind, key = cast(tuple[str, str], item)
        if kind == "claim":
            pvc = self._latest("claim", self.claims, key)
            if pvc is not None:
                await self.sync_claim(pvc)
        else:
            pv = self._latest("volume", self.volumes, key)
            if pv is not None:
                await self.sync_volume(pv)
        return None

    def _latest(self, kind: str, informer: Informer, key: str) -> Obj | None:
        cached = informer.get(key)
        mine = self._written.get((kind, key))
        if cached is None:
            return None  # deleted: whatever we wrote before is gone too
        return mine if mine is not None and _rv(mine) > _rv(cached) else cached

    def _volume_map(self) -> dict[str, Obj]:
        out = {pv["metadata"]["name"]: pv for pv in self.volumes.list()}
        for (kind, key), obj in self._written.items():
            if kind == "volume" and key in out and _rv(obj) > _rv(out[key]):
                out[key] = obj
        return out

    def _class_map(self) -> dict[str, Obj]:
        return {sc["metadata"]["name"]: sc for sc in self.classes.list()}

    # -- writes --------------------------------------------------------------------------------

    async def _write(self, resource: Resource, obj: Obj, subresource: str = "") -> Obj:
        out = await self.client.update(resource, obj, subresource=subresource, field_manager=MANAGER)
        self._written[("claim" if resource is CLAIMS else "volume", object_key(out))] = out
        return out

    async def _claim_phase(self, pvc: Obj, phase: str, pv: Obj | None) -> Obj:
        status = pvutil.claim_status(pvc, phase, pv)
        if status is None:
            return pvc
        out = await self._write(CLAIMS, dict(pvc, status=status), "status")
        log.info("claim entered phase claim=%s phase=%s", object_key(pvc), phase)
        return out

    async def _volume_phase(self, pv: Obj, phase: str, message: str = "") -> Obj:
        status = pvutil.volume_status(pv, phase, message, self.now())
        if status is None:
            return pv
        out = await self._write(VOLUMES, dict(pv, status=status), "status")
        log.info("volume entered phase volume=%s phase=%s", pv["metadata"]["name"], phase)
        return out

    # -- claims --------------------------------------------------------------------------------

    async def sync_claim(self, pvc: Obj) -> None:
        plan = pvutil.plan_claim(pvc, self._volume_map(), self._class_map())
        if plan.action == "bind":
            assert plan.volume is not None
            await self._bind(plan.volume, pvc)
        elif plan.action == "lost":
            assert plan.event is not None
            if (pvc.get("status") or {}).get("phase") != "Lost":
                await self._claim_phase(pvc, "Lost", None)
                self.events.event(pvc, *plan.event)
        elif plan.action == "assign-class":
            spec = dict(pvc.get("spec") or {}, storageClassName=plan.storage_class)
            await self._write(CLAIMS, dict(pvc, spec=spec))
            log.info("default storage class assigned claim=%s class=%s", object_key(pvc), plan.storage_class)
        elif plan.action == "wait-consumer":
            self._wait_event(pvc)
            await self._claim_phase(pvc, "Pending", None)
        elif plan.action == "provision":
            await self._provision(pvc)
        elif plan.action == "error":
            assert plan.event is not None
            self.events.event(pvc, *plan.event)
            raise RuntimeError(f"claim {object_key(pvc)}: {plan.event[2]}")
        else:
            if plan.event is not None:
                self.events.event(pvc, *plan.event)
            await self._claim_phase(pvc, "Pending", None)

    def _wait_event(self, pvc: Obj) -> None:
        """WaitForFirstConsumer, or — when pods using the claim exist but are not scheduled
        yet — WaitForPodScheduled naming them."""
        meta = pvc["metadata"]
        waiting = sorted(p["metadata"]["name"] for p in self.pods.by_index("namespace", meta.get("namespace", ""))
                         if not (p.get("spec") or {}).get("nodeName")
                         and any(name == meta["name"] for name, _ in pvutil.pod_claims(p)))
        if not waiting:
            self.events.event(pvc, "Normal", "WaitForFirstConsumer", pvutil.WAIT_FOR_CONSUMER_MESSAGE)
        elif len(waiting) == 1:
            self.events.event(pvc, "Normal", "WaitForPodScheduled", f"waiting for pod {waiting[0]} to be scheduled")
        else:
            self.events.event(pvc, "Normal", "WaitForPodScheduled",
                              f"waiting for pods {','.join(waiting)} to be scheduled")

    async def _provision(self, pvc: Obj) -> None:
        """Hand the claim to its class's provisioner. Every provisioner is external to this
        controller (upstream's in-tree ones are gone); ours is one of them."""
        name = pvutil.claim_class(pvc)
        sc = self.classes.get(name)
        if sc is None:
            self.events.event(pvc, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{name}" not found')
            return
        provisioner = str(sc.get("provisioner") or "")
        if provisioner.startswith(IN_TREE_PREFIX):
            self.events.event(pvc, "Warning", "ProvisioningFailed", f"no volume plugin matched name: {provisioner}")
            return
        ann = pvutil.annotations_of(pvc)
        if ann.get(pvutil.ANN_STORAGE_PROVISIONER) != provisioner or \
                ann.get(pvutil.ANN_BETA_STORAGE_PROVISIONER) != provisioner:
            meta = dict(pvc["metadata"])
            meta["annotations"] = dict(ann, **{pvutil.ANN_STORAGE_PROVISIONER: provisioner,
                                              pvutil.ANN_BETA_STORAGE_PROVISIONER: provisioner})
            pvc = await self._write(CLAIMS, dict(pvc, metadata=meta))
        self.events.event(pvc, "Normal", "ExternalProvisioning", pvutil.external_provisioning_message(provisioner))

    async def _bind(self, pv: Obj, pvc: Obj) -> None:
        bound = pvutil.bind_volume_to_claim(pv, pvc)
        if bound is not None:
            pv = await self._write(VOLUMES, bound)
        pv = await self._volume_phase(pv, "Bound")
        claimed = pvutil.bind_claim_to_volume(pvc, pv)
        if claimed is not None:
            pvc = await self._write(CLAIMS, claimed)
        await self._claim_phase(pvc, "Bound", pv)
        log.info("bound claim=%s volume=%s", object_key(pvc), pv["metadata"]["name"])

    # -- volumes -------------------------------------------------------------------------------

    async def _claim_of(self, pv: Obj) -> Obj | None:
        """The claim a volume's claimRef names, by name then uid; a claim the informer has
        not seen yet is asked for (a provisioner or the scheduler may be ahead of us)."""
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        ns, name, uid = ref.get("namespace", ""), ref.get("name", ""), ref.get("uid")
        claim = self._latest("claim", self.claims, f"{ns}/{name}")
        phase = (pv.get("status") or {}).get("phase")
        stale = claim is None and phase not in ("Released", "Failed")
        if stale or (claim is not None and claim["metadata"].get("uid") != uid):
            try:
                claim = await self.client.get(CLAIMS, name, ns)
            except errors.NotFound:
                return None
        if claim is not None and claim["metadata"].get("uid") != uid:
            return None  # the claim it was bound to was deleted; this one only has its name
        return claim

    async def sync_volume(self, pv: Obj) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        claim = await self._claim_of(pv) if ref and ref.get("uid") else None
        plan = pvutil.plan_volume(pv, claim)
        if plan.action == "phase":
            await self._volume_phase(pv, plan.phase)
        elif plan.action == "enqueue-claim":
            assert claim is not None
            self.queue.add(("claim", object_key(claim)))
        elif plan.action == "mismatch":
            assert claim is not None
            self.events.event(pv, "Warning", "VolumeMismatch",
                              f'Cannot bind PersistentVolume to requested PersistentVolumeClaim "{claim["metadata"]["name"]}" '
                              "due to incompatible volumeMode.")
            self.events.event(claim, "Warning", "VolumeMismatch",
                              f'Cannot bind PersistentVolume "{pv["metadata"]["name"]}" to requested '
                              "PersistentVolumeClaim due to incompatible volumeMode.")
        elif plan.action == "release":
            await self._release(pv)
        elif plan.action == "unbind":
            pv = await self._write(VOLUMES, pvutil.unbind_volume(pv))
            await self._volume_phase(pv, "Available")

    async def _release(self, pv: Obj) -> None:
        if (pv.get("status") or {}).get("phase") not in ("Released", "Failed"):
            pv = await self._volume_phase(pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        message: str | None = "No recycler plugin found for the volume!"
        reason = "VolumeFailedRecycle"
        if policy == "Delete":
            message, reason = pvutil.deleter_refusal(pv), "VolumeFailedDelete"
        if message is None:
            return  # its provisioner deletes it
        if (pv.get("status") or {}).get("phase") != "Failed":
            await self._volume_phase(pv, "Failed", message)
            self.events.event(pv, "Warning", reason, message)
