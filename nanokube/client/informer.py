"""Informers: a local, always-current copy of one resource, kept by list-then-watch.

List, then watch from the list's resourceVersion; on 410 Gone (or any broken stream) list
again and report the difference as events, so handlers see every change at least once in
its final state (level-triggered). Indexers give cheap lookups by namespace, owner uid and
node name; a periodic resync re-delivers every object as an update.
"""

from __future__ import annotations

import builtins

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..api import errors
from ..api.registry import Resource
from .rest import Client

log = logging.getLogger("nanokube.client.informer")

Obj = dict[str, Any]
Handler = Callable[..., Awaitable[None] | None]
IndexFunc = Callable[[Obj], list[str]]


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def by_namespace(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def by_owner_uid(obj: Obj) -> list[str]:
    return [ref["uid"] for ref in (obj.get("metadata") or {}).get("ownerReferences") or [] if ref.get("uid")]


def by_orphan_namespace(obj: Obj) -> list[str]:
    """The namespace of an object no controller owns (a controller may adopt it)."""
    meta = obj.get("metadata") or {}
    if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
        return []
    return [meta.get("namespace") or ""]


def by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


class Informer:
    def __init__(self, client: Client, resource: Resource, *, namespace: str | None = None,
                 label_selector: str = "", field_selector: str = "", resync: float = 0.0,
                 indexers: dict[str, IndexFunc] | None = None, retry_delay: float = 1.0,
                 transform: Callable[[Obj], Obj] | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync = resync
        self.retry_delay = retry_delay
        # client-go's SetTransform: keep only what the user of the cache needs (memory)
        self.transform = transform
        self.store: dict[str, Obj] = {}
        self.indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self.indexers}
        self._handlers: list[tuple[Handler | None, Handler | None, Handler | None]] = []
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._task: asyncio.Task[None] | None = None

    # -- handlers and reads --------------------------------------------------------------------

    def add_handlers(self, on_add: Handler | None = None, on_update: Handler | None = None,
                     on_delete: Handler | None = None) -> None:
        self._handlers.append((on_add, on_update, on_delete))

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self) -> list[Obj]:
        return list(self.store.values())

    def by_index(self, index: str, value: str) -> builtins.list[Obj]:
        return [self.store[k] for k in self._indices[index].get(value, ()) if k in self.store]

    def claimable(self, namespace: str, owner_uid: str) -> builtins.list[Obj]:
        """What a controller may own in its namespace: the objects that name it as an owner
        and the orphans it could adopt (needs the `owner` and `orphan` indexes), without a
        walk over every object of the namespace."""
        keys = set(self._indices["owner"].get(owner_uid, ())) | set(self._indices["orphan"].get(namespace, ()))
        return [self.store[k] for k in sorted(keys) if k in self.store
                and (self.store[k].get("metadata") or {}).get("namespace", "") == namespace]

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer-{self.resource.plural}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def _run(self) -> None:
        resync_task = asyncio.create_task(self._resync_loop()) if self.resync > 0 else None
        need_list = True
        try:
            while True:
                try:
                    if need_list:
                        await self._list()
                        need_list = False
                    await self._watch()  # ends at its timeout: watch on from where it got
                except asyncio.CancelledError:
                    raise
                except errors.Gone:
                    log.info("watch expired, relisting resource=%s", self.resource.plural)
                    need_list = True
                except Exception as e:  # a broken connection or a server restart: list again
                    log.info("list/watch failed resource=%s error=%s", self.resource.plural, e)
                    need_list = True
                    await asyncio.sleep(self.retry_delay)
        finally:
            if resync_task:
                resync_task.cancel()

    async def _list(self) -> None:
        items, rv = await self.client.list_all(self.resource, self.namespace, label_selector=self.label_selector,
                                               field_selector=self.field_selector)
        fresh = {object_key(o): o for o in items}
        for key in [k for k in self.store if k not in fresh]:
            await self._delete(key, self.store[key])
        for key, obj in fresh.items():
            await self._upsert(key, obj)
        self.resource_version = rv
        self.synced.set()

    async def _watch(self) -> None:
        async for ev in self.client.watch(self.resource, self.namespace, resource_version=self.resource_version,
                                          label_selector=self.label_selector, field_selector=self.field_selector,
                                          timeout_seconds=300):
            obj = ev.get("object") or {}
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if ev["type"] == "BOOKMARK":
                self.resource_version = rv or self.resource_version
                continue
            key = object_key(obj)
            if ev["type"] == "DELETED":
                await self._delete(key, obj)
            else:
                await self._upsert(key, obj)
            if rv:
                self.resource_version = rv

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for obj in list(self.store.values()):
                await self._notify(1, obj, obj)

    # -- store ---------------------------------------------------------------------------------

    def _index(self, key: str, obj: Obj | None, old: Obj | None) -> None:
        for name, fn in self.indexers.items():
            idx = self._indices[name]
            for v in fn(old) if old else []:
                idx.get(v, set()).discard(key)
            for v in fn(obj) if obj else []:
                idx.setdefault(v, set()).add(key)

    async def _upsert(self, key: str, obj: Obj) -> None:
        if self.transform is not None:
            obj = self.transform(obj)
        old = self.store.get(key)
        if old is not None and (old.get("metadata") or {}).get("resourceVersion") == \
                (obj.get("metadata") or {}).get("resourceVersion"):
            return
        self.store[key] = obj
        self._index(key, obj, old)
        if old is None:
            await self._notify(0, obj)
        else:
            await self._notify(1, old, obj)

    async def _delete(self, key: str, obj: Obj) -> None:
        old = self.store.pop(key, None)
        self._index(key, None, old)
        await self._notify(2, old or obj)

    async def _notify(self, which: int, *args: Obj) -> None:
        for handlers in self._handlers:
            fn = handlers[which]
            if fn is None:
                continue
            result = fn(*args)
            if asyncio.iscoroutine(result):
                await result
