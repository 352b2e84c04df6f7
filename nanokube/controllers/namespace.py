"""The namespace controller: deleting a namespace deletes everything in it, then the namespace.

For a namespace with a deletionTimestamp: delete every namespaced object in it (each
resource's collection at once), report what remains in the status conditions upstream uses
(NamespaceContentRemaining, NamespaceFinalizersRemaining), and once nothing is left remove
the `kubernetes` finalizer through namespaces/finalize, after which the server deletes it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api import errors
from ..api.registry import Registry, Resource
from ..client.discovery import server_resources
from ..client.informer import Informer
from ..client.rest import Client, path_for
from ..client.workqueue import WorkQueue, run_worker
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.namespace")

NAMESPACES = Registry().get("", "v1", "namespaces")
FINALIZER = "kubernetes"
RECHECK_SECONDS = 1.0


class NamespaceController:
    name = "namespace"

    def __init__(self, client: Client, namespaces: Informer, workers: int = 2) -> None:
        self.client = client
        self.informer = namespaces
        self.queue = WorkQueue()
        self.workers = workers
        namespaces.add_handlers(self._enqueue, lambda old, new: self._enqueue(new), None)

    def _enqueue(self, ns: dict[str, Any]) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        async def sync(name: object) -> float | None:
            return None if await self.sync(str(name)) else RECHECK_SECONDS

        await run_worker(self.queue, sync, log)

    async def sync(self, name: str) -> bool:
        """One pass; True when the namespace is finished (gone or not being deleted)."""
        assert NAMESPACES is not None
        ns = self.informer.get(name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return True
        resources = [r for r in await server_resources(self.client)
                     if r.namespaced and "list" in r.verbs and ("deletecollection" in r.verbs or "delete" in r.verbs)]
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for r in resources:
            items = await self._delete_all(r, name)
            if items:
                remaining[r.qualified] = len(items)
                for item in items:
                    for f in item["metadata"].get("finalizers") or []:
                        finalizers[f] = finalizers.get(f, 0) + 1
        if remaining:
            await self._report(ns, remaining, finalizers)
            return False
        await self._finalize(ns)
        return True

    async def _delete_all(self, r: Resource, namespace: str) -> list[dict[str, Any]]:
        """Delete everything of one resource in the namespace; what is still there after."""
        try:
            items, _ = await self.client.list_all(r, namespace)
        except errors.ApiError:
            return []
        live = [i for i in items if not i["metadata"].get("deletionTimestamp")]
        if live:
            if "deletecollection" in r.verbs:
                await self.client.request("DELETE", path_for(r, namespace),
                                          body={"kind": "DeleteOptions", "apiVersion": "v1",
                                                "propagationPolicy": "Background"})
            else:
                for item in live:
                    try:
                        await self.client.delete(r, item["metadata"]["name"], namespace, propagation="Background")
                    except errors.NotFound:
                        pass
            items, _ = await self.client.list_all(r, namespace)
        return items

    async def _report(self, ns: dict[str, Any], remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        assert NAMESPACES is not None
        now = timestamps.now()
        conds = [
            {"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
             "message": "Some resources are remaining: " + ", ".join(
                 f"{k} has {v} resource instances" for k, v in sorted(remaining.items())),
             "lastTransitionTime": now},
            {"type": "NamespaceFinalizersRemaining", "status": "True" if finalizers else "False",
             "reason": "SomeFinalizersRemain" if finalizers else "ContentHasNoFinalizers",
             "message": ("Some content in the namespace has finalizers remaining: " + ", ".join(
                 f"{k} in {v} resource instances" for k, v in sorted(finalizers.items())))
             if finalizers else "All content-preserving finalizers finished",
             "lastTransitionTime": now},
        ]
        old = {c.get("type"): c for c in (ns.get("status") or {}).get("conditions") or []}
        for c in conds:
            prev = old.get(c["type"])
            if prev and prev.get("status") == c["status"]:
                c["lastTransitionTime"] = prev.get("lastTransitionTime", now)
        if [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conds] == \
                [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in old.values()]:
            return
        try:
            await self.client.patch(NAMESPACES, ns["metadata"]["name"],
                                    {"status": {"conditions": conds, "phase": "Terminating"}},
                                    subresource="status", field_manager="namespace-controller")
        except errors.NotFound:
            pass

    async def _finalize(self, ns: dict[str, Any]) -> None:
        assert NAMESPACES is not None
        name = ns["metadata"]["name"]
        spec_finalizers = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                "spec": {"finalizers": spec_finalizers}}
        try:
            await self.client.request("PUT", path_for(NAMESPACES, None, name, "finalize"), body=body)
            log.info("namespace finalized namespace=%s", name)
        except errors.NotFound:
            pass
