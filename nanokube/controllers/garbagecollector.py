"""The garbage collector: ownerReferences, and the three ways of deleting an owner.

It keeps a graph of every object's owners (informers on every resource the server lists)
and acts on three occasions:
- an object whose owners are all gone is deleted (in the background);
- an owner being deleted with the `orphan` finalizer: its dependents lose their reference to
  it, then the finalizer is removed;
- an owner being deleted with the `foregroundDeletion` finalizer: its dependents are deleted
  (foreground too), and once none that block owner deletion is left the finalizer is removed.
Before deleting anything for a missing owner, the owner is looked up live, so a stale cache
never deletes a dependent whose owner exists.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ..api import errors
from ..api.registry import Resource
from ..client.discovery import server_resources
from ..client.informer import Informer
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker

log = logging.getLogger("nanokube.controllers.garbagecollector")

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
# high-churn kinds that never own anything and that upstream's collector can ignore too
_IGNORED = {("", "events"), ("events.k8s.io", "events"), ("coordination.k8s.io", "leases")}


_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "ownerReferences", "finalizers",
                  "deletionTimestamp")


def _metadata_only(obj: dict[str, Any]) -> dict[str, Any]:
    """The collector reads only metadata (upstream watches metadata only, too): keep just
    that, so its caches of every object in the cluster stay small."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in _KEPT_METADATA if k in meta}}


@dataclass
class Node:
    uid: str
    resource: Resource
    namespace: str | None
    name: str
    owners: list[dict[str, Any]] = field(default_factory=list)
    finalizers: list[str] = field(default_factory=list)
    deleting: bool = False


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, client: Client, workers: int = 2) -> None:
        self.client = client
        self.workers = workers
        self.queue = WorkQueue()
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.kinds: dict[tuple[str, str], Resource] = {}  # (apiVersion, kind) → resource
        self.informers: list[Informer] = []

    # -- graph ---------------------------------------------------------------------------------

    def _observe(self, r: Resource, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        old = self.nodes.get(uid)
        if old is not None:
            for ref in old.owners:
                self.dependents.get(ref.get("uid", ""), set()).discard(uid)
        node = Node(uid, r, meta.get("namespace"), meta.get("name", ""), list(meta.get("ownerReferences") or []),
                    list(meta.get("finalizers") or []), bool(meta.get("deletionTimestamp")))
        self.nodes[uid] = node
        for ref in node.owners:
            self.dependents.setdefault(ref.get("uid", ""), set()).add(uid)
        if node.owners:
            self.queue.add(("dependent", uid))
        if node.deleting and (ORPHAN in node.finalizers or FOREGROUND in node.finalizers):
            self.queue.add(("owner", uid))

    def _forget(self, obj: dict[str, Any]) -> None:
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        node = self.nodes.pop(uid, None) if uid else None
        if node is None:
            return
        for ref in node.owners:
            owner_uid = ref.get("uid", "")
            self.dependents.get(owner_uid, set()).discard(uid)
            if owner_uid in self.nodes:
                self.queue.add(("owner", owner_uid))  # a foreground owner may be free now
        for dep in self.dependents.get(uid, ()):
            self.queue.add(("dependent", dep))

    # -- lifecycle -----------------------------------------------------------------------------

    async def start_informers(self) -> None:
        for r in await server_resources(self.client):
            self.kinds[(r.group_version, r.kind)] = r
            if (r.group, r.plural) in _IGNORED or not {"list", "watch", "delete"} <= set(r.verbs):
                continue
            inf = Informer(self.client, r, transform=_metadata_only)
            inf.add_handlers(lambda o, r=r: self._observe(r, o), lambda old, new, r=r: self._observe(r, new),
                             self._forget)
            self.informers.append(inf)
            inf.start()
        await asyncio.gather(*(i.wait_synced(60) for i in self.informers))

    async def run(self) -> None:
        await self.start_informers()
        try:
            await asyncio.gather(*(self._worker() for _ in range(self.workers)))
        finally:
            await asyncio.gather(*(i.stop() for i in self.informers))

    async def _worker(self) -> None:
        await run_worker(self.queue, self._sync, log)

    async def _sync(self, item: object) -> None:
        assert isinstance(item, tuple)
        kind, uid = str(item[0]), str(item[1])
        if kind == "dependent":
            await self._sync_dependent(uid)
        else:
            await self._sync_owner(uid)

    # -- decisions -----------------------------------------------------------------------------

    async def _owner_exists(self, ref: dict[str, Any], namespace: str | None) -> bool:
        """A live look-up: the owner with that uid is there (being deleted counts as there)."""
        r = self.kinds.get((ref.get("apiVersion", ""), ref.get("kind", "")))
        if r is None:
            return True  # an unknown kind: never delete on a guess
        try:
            owner = await self.client.get(r, ref.get("name", ""), namespace if r.namespaced else None)
        except errors.NotFound:
            return False
        return bool((owner.get("metadata") or {}).get("uid") == ref.get("uid"))

    async def _sync_dependent(self, uid: str) -> None:
        node = self.nodes.get(uid)
        if node is None or node.deleting or not node.owners:
            return
        for ref in node.owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None or await self._owner_exists(ref, node.namespace):
                return
        log.info("deleting object whose owners are gone resource=%s namespace=%s name=%s",
                 node.resource.plural, node.namespace, node.name)
        try:
            await self.client.delete(node.resource, node.name, node.namespace, propagation="Background",
                                     preconditions={"uid": uid})
        except errors.NotFound:
            pass

    async def _sync_owner(self, uid: str) -> None:
        owner = self.nodes.get(uid)
        if owner is None or not owner.deleting:
            return
        deps = [self.nodes[d] for d in self.dependents.get(uid, set()) if d in self.nodes]
        if ORPHAN in owner.finalizers:
            for dep in deps:
                refs = [ref for ref in dep.owners if ref.get("uid") != uid]
                await self._patch_owner_refs(dep, refs)
            await self._remove_finalizer(owner, ORPHAN)
        elif FOREGROUND in owner.finalizers:
            blocking = []
            for dep in deps:
                if not dep.deleting:
                    try:
                        await self.client.delete(dep.resource, dep.name, dep.namespace, propagation="Foreground",
                                                 preconditions={"uid": dep.uid})
                    except errors.NotFound:
                        continue
                if any(ref.get("uid") == uid and ref.get("blockOwnerDeletion") for ref in dep.owners):
                    blocking.append(dep)
            if not blocking:
                await self._remove_finalizer(owner, FOREGROUND)

    async def _patch_owner_refs(self, node: Node, refs: list[dict[str, Any]]) -> None:
        try:
            await self.client.patch(node.resource, node.name,
                                    {"metadata": {"ownerReferences": refs or None, "uid": node.uid}},
                                    node.namespace, field_manager="garbage-collector")
        except errors.NotFound:
            pass

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        current = await self.client.get(node.resource, node.name, node.namespace)
        meta = current.get("metadata") or {}
        remaining = [f for f in meta.get("finalizers") or [] if f != finalizer]
        try:
            await self.client.patch(node.resource, node.name,
                                    {"metadata": {"finalizers": remaining or None,
                                                  "resourceVersion": meta.get("resourceVersion")}},
                                    node.namespace, field_manager="garbage-collector")
        except errors.NotFound:
            pass
