"""The disruption controller: the status of every PodDisruptionBudget.

For each budget: the pods it selects, how many should exist (the pods themselves for an
integer minAvailable, else the replicas their controllers want - Deployment through its
ReplicaSet, StatefulSet, ReplicationController, or any owner with a scale subresource), how
many must stay healthy, how many are, and so how many evictions the eviction API may allow
now. Evictions it has not yet seen through (status.disruptedPods) count as unhealthy until
the pod's deletion shows up or two minutes pass.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import disruption as budget
from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from .podutil import controller_of
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.disruption")

_REG = Registry()
PDBS = _REG.require("policy", "v1", "poddisruptionbudgets")
Obj = dict[str, Any]


class DisruptionController:
    name = "disruption"

    def __init__(self, client: Client, pdbs: Informer, pods: Informer, controllers: dict[str, Informer],
                 workers: int = 2,
                 clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        """`controllers`: informers by kind for ReplicaSet, Deployment, StatefulSet and
        ReplicationController (the owners whose scale is read from the cache)."""
        self.client = client
        self.pdbs = pdbs
        self.pods = pods
        self.controllers = controllers
        self.workers = workers
        self.clock = clock
        self.queue = WorkQueue()
        self.events = EventRecorder(client, "controllermanager")
        pdbs.add_handlers(self._pdb_changed, lambda old, new: self._pdb_changed(new), None)
        pods.add_handlers(self._pod_changed, lambda old, new: self._pod_changed(new, old), self._pod_changed)

    def _pdb_changed(self, pdb: Obj) -> None:
        self.queue.add(object_key(pdb))

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        ns = pod["metadata"].get("namespace")
        for pdb in self.pdbs.by_index("namespace", ns):
            if budget.selects(pdb, pod) or (old is not None and budget.selects(pdb, old)):
                self.queue.add(object_key(pdb))

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log) for _ in range(self.workers)))

    async def _owner_scale(self, ns: str, ref: Obj) -> tuple[str, int] | None:
        """(uid, replicas) of what ultimately scales the pods of controller `ref` - the
        Deployment above a ReplicaSet - or None when it is unknown."""
        kind = ref.get("kind", "")
        key = f"{ns}/{ref.get('name')}"
        if kind in self.controllers:
            obj = self.controllers[kind].get(key)
            if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
                return None
            owner = controller_of(obj)
            if kind == "ReplicaSet" and owner is not None and owner.get("kind") == "Deployment":
                return await self._owner_scale(ns, owner)
            return str(ref.get("uid")), int((obj.get("spec") or {}).get("replicas", 1))
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        resource = next((r for r in _REG.all() if r.group == group and r.kind == kind and r.subresource("scale")), None)
        if resource is None:
            return None
        try:
            scale = await self.client.get(resource, str(ref.get("name")), ns, subresource="scale")
        except errors.NotFound:
            return None
        return str(ref.get("uid")), int((scale.get("spec") or {}).get("replicas", 0))

    async def _expected(self, pdb: Obj, pods: list[Obj]) -> tuple[int, str | None]:
        """The number of pods that should exist, or an error saying why it is unknown."""
        if not budget.needs_controllers(pdb):
            return len(pods), None
        ns = pdb["metadata"]["namespace"]
        by_ref: dict[str, tuple[str, int] | None] = {}
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                return 0, f"found no controller ref for pod {pod['metadata']['name']}"
            uid = str(ref.get("uid"))
            if uid not in by_ref:
                by_ref[uid] = await self._owner_scale(ns, ref)
            if by_ref[uid] is None:
                return 0, f"found no controllers for pod {pod['metadata']['name']}"
        owners = dict(v for v in by_ref.values() if v is not None)  # a Deployment counts once
        return sum(owners.values()), None

    async def sync(self, key: str) -> float | None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None
        ns = pdb["metadata"]["namespace"]
        pods = [p for p in self.pods.by_index("namespace", ns) if budget.selects(pdb, p)]
        now = self.clock()
        by_name = {p["metadata"]["name"]: p for p in pods}
        disrupted = budget.live_disruptions(pdb, by_name, now)
        expected, problem = await self._expected(pdb, pods)
        current = sum(1 for p in pods if budget.healthy(p, disrupted))
        stamp = timestamps.format_time(now)
        if problem is not None:
            self.events.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                              f"Failed to calculate the number of expected pods: {problem}")
            desired, allowed = 0, 0
            condition = {"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed", "message": problem}
        else:
            desired = budget.desired_healthy(pdb, expected)
            allowed = max(0, current - desired)
            condition = {"type": "DisruptionAllowed", "status": "True" if allowed else "False",
                         "reason": "SufficientPods" if allowed else "InsufficientPods", "message": ""}
        old = pdb.get("status") or {}
        old_cond = next((c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
        same_cond = old_cond is not None and all(old_cond.get(k) == v for k, v in condition.items())
        condition["lastTransitionTime"] = old_cond["lastTransitionTime"] if same_cond and old_cond else stamp
        condition["observedGeneration"] = pdb["metadata"].get("generation", 1)
        status: Obj = {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
                       "currentHealthy": current, "desiredHealthy": desired, "expectedPods": expected,
                       "conditions": [condition]}
        if disrupted:
            status["disruptedPods"] = disrupted
        if status != old:
            try:
                await self.client.update(PDBS, dict(pdb, status=status), subresource="status",
                                         field_manager="disruption-controller")
            except errors.NotFound:
                return None
        if disrupted:  # look again when the oldest remembered eviction times out
            first = min(timestamps.parse_time(t) for t in disrupted.values())
            return max(1.0, (first + budget.DELETION_TIMEOUT - now).total_seconds())
        return None
