"""The ResourceQuota controller: status.used of every quota, recounted from the objects.

Admission charges each create to the quota as it happens; this controller is what gives
usage back when objects are deleted or pods finish, and corrects any drift, by recounting
what the namespace holds: from shared informers for the kinds quotas usually limit, from a
LIST for any other `count/<resource>`. It recounts a namespace's quotas when one of those
objects goes away or changes, when a quota changes, and every `resync` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction
from typing import Any

from ..api import errors
from ..api import quota as q
from ..api.registry import Registry, Resource
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker

log = logging.getLogger("nanokube.controllers.resourcequota")

_REG = Registry()
QUOTAS = _REG.require("", "v1", "resourcequotas")
Obj = dict[str, Any]
# the kinds recounted from informers; anything else named by count/<resource> is listed
INFORMED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers")


def counted_resource(name: str) -> tuple[str, str]:
    """(group, plural) of the objects a quota resource name counts."""
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        return group, plural
    if name in q.LEGACY_COUNTS:
        return "", name
    if name.startswith("services."):
        return "", "services"
    if name == "requests.storage" or q.STORAGE_CLASS_SUFFIX in name:
        return "", "persistentvolumeclaims"
    return "", "pods"


def recount(quota: Obj, objects: dict[tuple[str, str], list[Obj]]) -> dict[str, str]:
    """status.used: the sum of what each object under the quota counts for."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    totals: dict[str, Fraction] = {k: Fraction(0) for k in hard}
    for (group, plural), items in objects.items():
        for obj in items:
            if not q.quota_applies(quota, group, plural, obj):
                continue
            for k, v in q.tracked(hard, q.usage(group, plural, obj)).items():
                totals[k] += v
    return q.add_usage({}, totals, hard) if totals else {}


class ResourceQuotaController:
    name = "resourcequota"

    def __init__(self, client: Client, quotas: Informer, informed: dict[str, Informer], resync: float = 300.0,
                 workers: int = 2) -> None:
        self.client = client
        self.quotas = quotas
        self.informed = informed
        self.resync = resync
        self.workers = workers
        self.queue = WorkQueue()
        self.registry = _REG
        quotas.add_handlers(self._quota_changed, self._quota_updated, None)
        for inf in informed.values():
            inf.add_handlers(None, self._object_updated, self._object_gone)

    def _quota_changed(self, quota: Obj) -> None:
        self.queue.add(object_key(quota))

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        # not on status changes: admission's charges would make it recount from a pod cache
        # that has not yet seen the object just charged
        hard = (new.get("spec") or {}).get("hard")
        if (old.get("spec") or {}).get("hard") != hard or (new.get("status") or {}).get("hard") != hard:
            self.queue.add(object_key(new))

    def _namespace_changed(self, ns: str | None) -> None:
        for quota in self.quotas.by_index("namespace", ns or ""):
            self.queue.add(object_key(quota))

    def _object_updated(self, old: Obj, new: Obj) -> None:
        # what an object counts for changes with its spec (requests) or when a pod finishes
        if old.get("spec") != new.get("spec") or \
                (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase"):
            self._namespace_changed(new["metadata"].get("namespace"))

    def _object_gone(self, obj: Obj) -> None:
        self._namespace_changed(obj["metadata"].get("namespace"))

    async def run(self) -> None:
        async def resync() -> None:
            while True:
                await asyncio.sleep(self.resync)
                for quota in self.quotas.list():
                    self.queue.add(object_key(quota))

        await asyncio.gather(resync(), *(run_worker(self.queue, lambda k: self.sync(str(k)), log)
                                         for _ in range(self.workers)))

    async def _objects(self, ns: str, group: str, plural: str) -> list[Obj]:
        if group == "" and plural in self.informed:
            return self.informed[plural].by_index("namespace", ns)
        if group == "" and plural == "resourcequotas":
            return self.quotas.by_index("namespace", ns)
        resource: Resource | None = next((r for r in self.registry.all() if r.group == group and r.plural == plural
                                          and r.namespaced), None)
        if resource is None:
            return []
        items, _ = await self.client.list_all(resource, ns)
        return items

    async def sync(self, key: str) -> float | None:
        quota = self.quotas.get(key)
        if quota is None:
            return None
        ns = quota["metadata"]["namespace"]
        hard = (quota.get("spec") or {}).get("hard") or {}
        kinds = {counted_resource(k) for k in hard}
        objects = {kind: await self._objects(ns, *kind) for kind in kinds}
        status = {"hard": dict(hard), "used": recount(quota, objects)}
        if (quota.get("status") or {}) == status:
            return None
        try:
            await self.client.update(QUOTAS, dict(quota, status=status), subresource="status",
                                     field_manager="resourcequota-controller")
        except errors.NotFound:
            pass
        return None
