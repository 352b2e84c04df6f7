"""Storage object in-use protection: the `pvc-protection` and `pv-protection` controllers.

Claims and volumes are created with a finalizer (`kubernetes.io/pvc-protection`,
`kubernetes.io/pv-protection`, added by the API server's admission). Deleting one only
marks it; these controllers take the finalizer off once nothing uses it any more — a claim
once no scheduled pod mounts it (asking the API server before letting go, since the pod
cache may lag), a volume once it is no longer Bound — so data is never pulled from under
a running pod. Objects made before the finalizer existed get it added.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from ..api import errors
from ..api.registry import Registry, Resource
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import pvutil

log = logging.getLogger("nanokube.controllers.volumeprotection")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
VOLUMES = _REG.require("", "v1", "persistentvolumes")
Obj = dict[str, Any]


async def _set_finalizer(client: Client, resource: Resource, obj: Obj, finalizer: str, present: bool,
                         manager: str) -> None:
    """Add or remove one finalizer, compare-and-swap on the version we looked at."""
    meta = obj["metadata"]
    current = list(meta.get("finalizers") or [])
    wanted = current + [finalizer] if present else [f for f in current if f != finalizer]
    if wanted == current:
        return
    patch = {"metadata": {"finalizers": wanted or None, "resourceVersion": meta.get("resourceVersion")}}
    try:
        await client.patch(resource, meta["name"], patch, meta.get("namespace"), field_manager=manager)
    except errors.NotFound:
        return
    log.info("%s finalizer kind=%s name=%s", "added" if present else "removed", resource.kind, object_key(obj))


class PVCProtectionController:
    name = "pvc-protection"

    def __init__(self, client: Client, claims: Informer, pods: Informer) -> None:
        self.client = client
        self.claims = claims
        self.pods = pods
        self.queue = WorkQueue()
        claims.add_handlers(self._claim_changed, lambda old, new: self._claim_changed(new), None)
        pods.add_handlers(None, lambda old, new: self._pod_changed(new), self._pod_changed)

    def _claim_changed(self, pvc: Obj) -> None:
        meta = pvc["metadata"]
        has = pvutil.PVC_PROTECTION in (meta.get("finalizers") or [])
        if bool(meta.get("deletionTimestamp")) == has:  # to release, or to protect
            self.queue.add(object_key(pvc))

    def _pod_changed(self, pod: Obj) -> None:
        """A pod went away or finished: the claims it held may be free now."""
        ns = pod["metadata"].get("namespace", "")
        for name, _ in pvutil.pod_claims(pod):
            pvc = self.claims.get(f"{ns}/{name}")
            if pvc is not None and pvc["metadata"].get("deletionTimestamp"):
                self.queue.add(f"{ns}/{name}")

    async def run(self) -> None:
        await run_worker(self.queue, self._sync, log)

    async def _sync(self, key: Hashable) -> float | None:
        pvc = self.claims.get(str(key))
        if pvc is None:
            return None
        meta = pvc["metadata"]
        if not meta.get("deletionTimestamp"):
            await _set_finalizer(self.client, CLAIMS, pvc, pvutil.PVC_PROTECTION, True, self.name)
            return None
        if pvutil.PVC_PROTECTION not in (meta.get("finalizers") or []):
            return None
        ns = meta.get("namespace", "")
        if any(pvutil.pod_uses_claim(p, pvc) for p in self.pods.by_index("namespace", ns)):
            return None
        live, _ = await self.client.list_all(PODS, ns)
        if any(pvutil.pod_uses_claim(p, pvc) for p in live):
            return None
        await _set_finalizer(self.client, CLAIMS, pvc, pvutil.PVC_PROTECTION, False, self.name)
        return None


class PVProtectionController:
    name = "pv-protection"

    def __init__(self, client: Client, volumes: Informer) -> None:
        self.client = client
        self.volumes = volumes
        self.queue = WorkQueue()
        volumes.add_handlers(self._changed, lambda old, new: self._changed(new), None)

    def _changed(self, pv: Obj) -> None:
        meta = pv["metadata"]
        has = pvutil.PV_PROTECTION in (meta.get("finalizers") or [])
        if bool(meta.get("deletionTimestamp")) == has:
            self.queue.add(meta["name"])

    async def run(self) -> None:
        await asyncio.gather(run_worker(self.queue, self._sync, log))

    async def _sync(self, key: Hashable) -> float | None:
        pv = self.volumes.get(str(key))
        if pv is None:
            return None
        if not pv["metadata"].get("deletionTimestamp"):
            await _set_finalizer(self.client, VOLUMES, pv, pvutil.PV_PROTECTION, True, self.name)
        elif (pv.get("status") or {}).get("phase") != "Bound":
            await _set_finalizer(self.client, VOLUMES, pv, pvutil.PV_PROTECTION, False, self.name)
        return None
