"""The provisioner behind k3s's default StorageClass `local-path` (`rancher.io/local-path`),
run by the controller-manager instead of as a Deployment.

It behaves as an external provisioner does (sig-storage-lib-external-provisioner, which
rancher/local-path-provisioner is built on): it takes the claims the PV controller handed
to it (annotation `volume.kubernetes.io/storage-provisioner: rancher.io/local-path`) once
they have a node when their class waits for the first consumer, and creates a volume
`pvc-<claim uid>` pre-bound to the claim — a host path under the storage directory on that
node, pinned to it by node affinity; the PV controller then binds the two. A Released
volume of its own with reclaim policy Delete is deleted.

Making and removing the directory itself is the node's business (hostPath type
DirectoryOrCreate: the kubelet creates it when a pod mounts it); the control plane never
touches a host's disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any, cast

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import pvutil

log = logging.getLogger("nanokube.controllers.localpath")

_REG = Registry()
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
VOLUMES = _REG.require("", "v1", "persistentvolumes")
Obj = dict[str, Any]
PROVISIONER = pvutil.LOCAL_PATH_PROVISIONER


class LocalPathProvisioner:
    def __init__(self, client: Client, claims: Informer, volumes: Informer, classes: Informer, nodes: Informer,
                 storage_dir: str, identity: str = "", workers: int = 2) -> None:
        self.client = client
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.nodes = nodes
        self.storage_dir = storage_dir
        self.workers = workers
        self.queue = WorkQueue()
        # external provisioners report as `<provisioner>_<instance>`
        self.events = EventRecorder(client, f"{PROVISIONER}_{identity}" if identity else PROVISIONER)
        claims.add_handlers(self._claim_changed, lambda old, new: self._claim_changed(new), None)
        volumes.add_handlers(self._volume_changed, lambda old, new: self._volume_changed(new), None)

    def _claim_changed(self, pvc: Obj) -> None:
        if pvutil.annotations_of(pvc).get(pvutil.ANN_STORAGE_PROVISIONER) == PROVISIONER and \
                not (pvc.get("spec") or {}).get("volumeName"):
            self.queue.add(("claim", object_key(pvc)))

    def _volume_changed(self, pv: Obj) -> None:
        if pvutil.annotations_of(pv).get(pvutil.ANN_PROVISIONED_BY) == PROVISIONER and \
                (pv.get("status") or {}).get("phase") == "Released":
            self.queue.add(("volume", pv["metadata"]["name"]))

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, self._sync, log) for _ in range(self.workers)))

    async def _sync(self, item: Hashable) -> float | None:
        kind, key = cast(tuple[str, str], item)
        if kind == "claim":
            await self.provision(key)
        else:
            await self.delete(key)
        return None

    async def provision(self, key: str) -> None:
        pvc = self.claims.get(key)
        if pvc is None or pvc["metadata"].get("deletionTimestamp") or (pvc.get("spec") or {}).get("volumeName"):
            return
        ann = pvutil.annotations_of(pvc)
        if ann.get(pvutil.ANN_STORAGE_PROVISIONER) != PROVISIONER:
            return
        sc = self.classes.get(pvutil.claim_class(pvc))
        if sc is None or sc.get("provisioner") != PROVISIONER:
            return
        name = pvutil.provisioned_volume_name(pvc)
        if self.volumes.get(name) is not None:
            return  # made already; the PV controller binds it
        node: Obj | None = None
        selected = ann.get(pvutil.ANN_SELECTED_NODE)
        if sc.get("volumeBindingMode") == pvutil.WAIT_FOR_FIRST_CONSUMER:
            if not selected:
                return  # the scheduler has not chosen a node yet
            node = self.nodes.get(selected)
            if node is None:
                await self._reschedule(pvc, f'failed to get target node: node "{selected}" not found')
                return
        elif selected:
            node = self.nodes.get(selected)
        why = pvutil.local_path_refusal(pvc, node)
        if why:
            self.events.event(pvc, "Warning", "ProvisioningFailed",
                              f'failed to provision volume with StorageClass "{sc["metadata"]["name"]}": {why}')
            return
        assert node is not None
        self.events.event(pvc, "Normal", "Provisioning",
                          f'External provisioner is provisioning volume for claim "{key}"')
        volume = pvutil.local_path_volume(pvc, sc, node, self.storage_dir)
        try:
            await self.client.create(VOLUMES, volume, field_manager=PROVISIONER)
        except errors.AlreadyExists:
            pass
        log.info("provisioned volume=%s claim=%s node=%s path=%s", name, key, node["metadata"]["name"],
                 volume["spec"]["hostPath"]["path"])
        self.events.event(pvc, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    async def _reschedule(self, pvc: Obj, message: str) -> None:
        """The chosen node is gone: drop the choice so the scheduler picks again."""
        self.events.event(pvc, "Warning", "ProvisioningFailed", message)
        meta = pvc["metadata"]
        try:
            await self.client.patch(CLAIMS, meta["name"], {"metadata": {
                "annotations": {pvutil.ANN_SELECTED_NODE: None}, "resourceVersion": meta.get("resourceVersion")}},
                meta.get("namespace"), field_manager=PROVISIONER)
        except errors.NotFound:
            pass

    async def delete(self, name: str) -> None:
        pv = self.volumes.get(name)
        if pv is None or pvutil.annotations_of(pv).get(pvutil.ANN_PROVISIONED_BY) != PROVISIONER:
            return
        if (pv.get("status") or {}).get("phase") != "Released" or pv["metadata"].get("deletionTimestamp") or \
                (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != "Delete":
            return
        try:
            await self.client.delete(VOLUMES, name, preconditions={"uid": pv["metadata"]["uid"]})
        except errors.NotFound:
            return
        log.info("deleted released volume=%s path=%s", name, ((pv.get("spec") or {}).get("hostPath") or {}).get("path"))
