"""The ReplicaSet controller: as many pods as `spec.replicas`, and a status that says so.
The same code runs ReplicationControllers (`resource=REPLICATIONCONTROLLERS`), as upstream's does.

Level-triggered per ReplicaSet: claim pods (adopt orphans its selector matches, release
owned pods it no longer matches), create or delete the difference, write the status.
Expectations remember creations and deletions not yet seen through the pod informer, so a
slow watch never makes it create a pod twice. Creations go out in slow-start batches
(1, 2, 4, ...) so a failing template costs one error, not hundreds, and at most 500 per
sync (upstream's burstReplicas), so a large set reports progress between bursts.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

from ..api import errors
from ..api.registry import Registry, Resource
from ..api.selectors import LabelSelector, label_selector_from_dict
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from .expectations import Expectations
from .podutil import controller_of, controller_ref, deletion_rank, pod_is_active, pod_is_available, pod_is_ready
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.replicaset")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
REPLICASETS = _REG.require("apps", "v1", "replicasets")
REPLICATIONCONTROLLERS = _REG.require("", "v1", "replicationcontrollers")
BURST_REPLICAS = 500  # upstream's burstReplicas: at most this many creations or deletions per sync
Obj = dict[str, Any]


class ReplicaSetController:
    name = "replicaset"

    def __init__(self, client: Client, replicasets: Informer, pods: Informer, workers: int = 5,
                 resource: Resource | None = None) -> None:
        self.client = client
        self.rs = replicasets
        self.pods = pods
        self.resource = resource or REPLICASETS
        self.workers = workers
        self.queue = WorkQueue()
        self.expectations = Expectations()
        self.events = EventRecorder(client, "replicaset-controller")
        replicasets.add_handlers(self._rs_changed, lambda old, new: self._rs_changed(new), self._rs_deleted)
        pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- event handlers ------------------------------------------------------------------------

    def _selector(self, rs: Obj) -> LabelSelector:
        """A ReplicaSet's LabelSelector, or a ReplicationController's plain label map."""
        selector = (rs.get("spec") or {}).get("selector")
        if self.resource.kind == "ReplicationController":
            return label_selector_from_dict({"matchLabels": selector or {}}) if selector else \
                label_selector_from_dict(None)
        return label_selector_from_dict(selector)

    def _rs_changed(self, rs: Obj) -> None:
        self.queue.add(object_key(rs))

    def _rs_deleted(self, rs: Obj) -> None:
        self.expectations.forget(object_key(rs))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != self.resource.kind:
            return None
        return f"{pod['metadata'].get('namespace')}/{ref.get('name')}"

    def _matching_sets(self, pod: Obj) -> list[str]:
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        return [object_key(rs) for rs in self.rs.by_index("namespace", ns)
                if self._selector(rs).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed(key, added=True)
            self.queue.add(key)
        elif controller_of(pod) is None:
            for k in self._matching_sets(pod):
                self.queue.add(k)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in {self._owner_key(old), self._owner_key(new)} - {None}:
            self.queue.add(key)
        if controller_of(new) is None:
            for k in self._matching_sets(new):
                self.queue.add(k)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed(key, added=False)
            self.queue.add(key)

    # -- work ------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        await run_worker(self.queue, lambda key: self.sync(str(key)), log)

    async def sync(self, key: str) -> float | None:
        rs = self.rs.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        meta = rs["metadata"]
        ns = meta["namespace"]
        selector = self._selector(rs)
        owned: list[Obj] = []
        for pod in self.pods.claimable(ns, meta["uid"]):
            ref = controller_of(pod)
            labels = pod["metadata"].get("labels") or {}
            if ref is not None:
                if ref.get("uid") != meta["uid"]:
                    continue
                if not selector.matches(labels) and not meta.get("deletionTimestamp"):
                    await self._release(pod)
                    continue
                owned.append(pod)
            elif selector.matches(labels) and pod_is_active(pod) and not meta.get("deletionTimestamp"):
                if await self._adopt(rs, pod):
                    owned.append(pod)
        active = [p for p in owned if pod_is_active(p)]
        error: str | None = None
        if self.expectations.satisfied(key) and not meta.get("deletionTimestamp"):
            error = await self._manage(rs, key, active)
        status = await self._update_status(rs, active, owned, error)
        # pods become available minReadySeconds after they are ready: look again then
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        if error is None and min_ready > 0 and status.get("readyReplicas", 0) == want and \
                status.get("availableReplicas", 0) != want:
            return float(min_ready)
        return None

    async def _manage(self, rs: Obj, key: str, active: list[Obj]) -> str | None:
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = max(-BURST_REPLICAS, min(BURST_REPLICAS, len(active) - want))
        if diff < 0:
            return await self._create(rs, key, -diff)
        if diff > 0:
            victims = sorted(active, key=deletion_rank)[:diff]
            self.expectations.expect(key, deletes=len(victims))
            for pod in victims:
                try:
                    await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                             preconditions={"uid": pod["metadata"]["uid"]})
                    self.events.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
                except errors.NotFound:
                    self.expectations.observed(key, added=False)
        return None

    async def _create(self, rs: Obj, key: str, count: int) -> str | None:
        batch = 1
        remaining = count
        while remaining > 0:
            n = min(batch, remaining)
            self.expectations.expect(key, adds=n)
            results = await asyncio.gather(*(self._create_pod(rs) for _ in range(n)), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            for _ in failures:
                self.expectations.observed(key, added=True)
            if failures:
                message = str(failures[0])
                self.events.event(rs, "Warning", "FailedCreate", f"Error creating: {message}")
                return message
            remaining -= n
            batch *= 2
        return None

    async def _create_pod(self, rs: Obj) -> None:
        tpl = (rs.get("spec") or {}).get("template") or {}
        tmeta = tpl.get("metadata") or {}
        meta = rs["metadata"]
        pod: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "ownerReferences": [self._ref(rs)],
            },
            "spec": tpl.get("spec") or {},
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        created = await self.client.create(PODS, pod, meta["namespace"], field_manager="replicaset-controller")
        self.events.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    def _ref(self, rs: Obj) -> Obj:
        return controller_ref(rs, self.resource.kind, self.resource.group_version)

    async def _adopt(self, rs: Obj, pod: Obj) -> bool:
        refs = list(pod["metadata"].get("ownerReferences") or [])
        refs.append(self._ref(rs))
        try:
            await self.client.patch(PODS, pod["metadata"]["name"],
                                    {"metadata": {"ownerReferences": refs, "uid": pod["metadata"]["uid"],
                                                  "resourceVersion": pod["metadata"]["resourceVersion"]}},
                                    pod["metadata"]["namespace"], field_manager="replicaset-controller")
            return True
        except (errors.NotFound, errors.Conflict):
            return False

    async def _release(self, pod: Obj) -> None:
        refs = [r for r in pod["metadata"].get("ownerReferences") or [] if not r.get("controller")]
        try:
            await self.client.patch(PODS, pod["metadata"]["name"],
                                    {"metadata": {"ownerReferences": refs or None, "uid": pod["metadata"]["uid"]}},
                                    pod["metadata"]["namespace"], field_manager="replicaset-controller")
        except errors.NotFound:
            pass

    async def _update_status(self, rs: Obj, active: list[Obj], owned: list[Obj], error: str | None) -> Obj:
        spec = rs.get("spec") or {}
        now = datetime.datetime.now(datetime.UTC)
        tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in tpl_labels.items())),
            "readyReplicas": sum(1 for p in active if pod_is_ready(p)),
            "availableReplicas": sum(1 for p in active if pod_is_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if error:
            status["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                     "message": error,
                                     "lastTransitionTime": timestamps.format_time(now)}]
        for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[k]:
                del status[k]
        old = rs.get("status") or {}
        if {k: v for k, v in old.items() if k != "conditions"} == {k: v for k, v in status.items() if k != "conditions"} \
                and bool(old.get("conditions")) == bool(status.get("conditions")):
            return status
        body = dict(rs, status=status)
        try:
            await self.client.update(self.resource, body, subresource="status", field_manager="replicaset-controller")
        except errors.NotFound:
            pass
        return status
