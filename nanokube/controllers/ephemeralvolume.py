"""The `ephemeral-volume` controller: a claim for each generic ephemeral volume of a pod.

A pod volume `ephemeral: {volumeClaimTemplate: ...}` needs the claim `<pod>-<volume>`,
made from the template and owned by the pod, so the garbage collector removes it with the
pod. The scheduler waits for it ("waiting for ephemeral volume controller to create the
persistentvolumeclaim ..."). A claim of that name the pod does not own is never taken over:
the pod stays unschedulable with upstream's "pod is not owner" reason.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import pvutil
from .podutil import controller_ref

log = logging.getLogger("nanokube.controllers.ephemeralvolume")

_REG = Registry()
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
Obj = dict[str, Any]
MANAGER = "ephemeral-volume-controller"


def _has_ephemeral(pod: Obj) -> bool:
    return any("ephemeral" in v for v in (pod.get("spec") or {}).get("volumes") or [])


def claim_for(pod: Obj, volume: Obj) -> Obj:
    """The claim an ephemeral volume asks for, owned by the pod."""
    template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"name": f"{pod['metadata']['name']}-{volume['name']}", "namespace": pod["metadata"]["namespace"],
                 "ownerReferences": [controller_ref(pod, "Pod", "v1")]}
    for field in ("labels", "annotations"):
        if tmeta.get(field):
            meta[field] = dict(tmeta[field])
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": dict(template.get("spec") or {})}


class EphemeralVolumeController:
    name = "ephemeral-volume"

    def __init__(self, client: Client, pods: Informer, claims: Informer) -> None:
        self.client = client
        self.pods = pods
        self.claims = claims
        self.queue = WorkQueue()
        self.events = EventRecorder(client, MANAGER)
        pods.add_handlers(self._pod_changed, lambda old, new: self._pod_changed(new), None)
        claims.add_handlers(None, None, self._claim_deleted)

    def _pod_changed(self, pod: Obj) -> None:
        if _has_ephemeral(pod) and not pod["metadata"].get("deletionTimestamp"):
            self.queue.add(object_key(pod))

    def _claim_deleted(self, pvc: Obj) -> None:
        for ref in pvc["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Pod" and ref.get("controller"):
                self.queue.add(f"{pvc['metadata'].get('namespace')}/{ref.get('name')}")

    async def run(self) -> None:
        await run_worker(self.queue, self._sync, log)

    async def _sync(self, key: Hashable) -> float | None:
        pod = self.pods.get(str(key))
        if pod is None or pod["metadata"].get("deletionTimestamp") or not _has_ephemeral(pod):
            return None
        ns = pod["metadata"]["namespace"]
        for v in (pod.get("spec") or {}).get("volumes") or []:
            if "ephemeral" not in v:
                continue
            want = claim_for(pod, v)
            existing = self.claims.get(f"{ns}/{want['metadata']['name']}")
            if existing is not None:
                if not pvutil.claim_owned_by(existing, pod):
                    log.info("claim not owned by its pod claim=%s pod=%s", object_key(existing), key)
                continue
            try:
                await self.client.create(CLAIMS, want, ns, field_manager=MANAGER)
            except errors.AlreadyExists:
                continue
            except errors.ApiError as e:
                self.events.event(pod, "Warning", "FailedBinding", f"create PVC {want['metadata']['name']}: {e}")
                raise
            log.info("created claim=%s/%s pod=%s", ns, want["metadata"]["name"], key)
        return None
