"""The watch cache: every object in memory, fed by one storage watch (upstream's cacher).

LISTs and watches are served from here, so reads never touch storage. Objects are kept as
their encoded JSON (with `resourceVersion` set), so a LIST is a join of ready-made bytes and
a write is encoded once however many watchers it reaches.

Only the JSON stays in memory: the dict is decoded again when someone asks for it (an API
object's dict costs about five times its JSON), while the labels and the field-selector
values that filters read on every list and every event for every watcher are kept beside it.

Objects live in buckets, one per resource (`/registry/pods/`), each with a window of recent
events; a watch from an older revision than the window replays storage history first, so a
client resuming after a server restart still gets exactly the events it missed.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ..storage.interface import CompactedError, Event, Store

log = logging.getLogger("nanokube.apiserver.cache")

EVENT_WINDOW = 4096  # recent events kept per resource
MAX_PENDING = 20000  # a watcher this far behind is closed; its client relists


class CachedObject:
    __slots__ = ("_fields", "api_version", "key", "labels", "raw", "rev")

    def __init__(self, key: str, obj: dict[str, Any], raw: bytes, rev: int) -> None:
        self.key = key
        self.raw = raw
        self.rev = rev
        meta = obj.get("metadata") or {}
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.api_version: str = obj.get("apiVersion") or ""
        self._fields: tuple[object, dict[str, str]] | None = None

    @property
    def obj(self) -> dict[str, Any]:
        """The object as a dict, decoded afresh: the caller owns it and may change it."""
        out: dict[str, Any] = orjson.loads(self.raw)
        return out

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def fields(self, resource: object, compute: Callable[[dict[str, Any]], dict[str, str]]) -> dict[str, str]:
        """The object's field-selector values for `resource`, worked out by `compute` once
        (every watcher with a field selector asks for them on every event)."""
        if self._fields is None or self._fields[0] is not resource:
            self._fields = (resource, compute(self.obj))
        return self._fields[1]


class CacheEvent:
    __slots__ = ("key", "obj", "prev", "rev", "type")

    def __init__(
        self, type: str, key: str, obj: CachedObject, prev: CachedObject | None, rev: int
    ) -> None:
        self.type = type  # ADDED, MODIFIED, DELETED
        self.key = key
        self.obj = obj
        self.prev = prev
        self.rev = rev


def decode_kv(key: str, value: bytes, rev: int) -> CachedObject:
    """A stored value as served: the dict and its JSON, with resourceVersion = revision."""
    obj = orjson.loads(value)
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(rev)
    return CachedObject(key, obj, orjson.dumps(obj), rev)


def bucket_prefix(key: str) -> str:
    """`/registry/pods/default/x` → `/registry/pods/`; custom resources have a group level."""
    parts = key.split("/", 4)
    if len(parts) > 3 and "." in parts[2]:
        return f"/registry/{parts[2]}/{parts[3]}/"
    return f"/registry/{parts[2]}/"


class Watcher:
    """One client's watch: filtered events on a queue."""

    def __init__(
        self,
        bucket: Bucket,
        namespace_prefix: str,
        predicate: Callable[[CachedObject], bool] | None,
    ) -> None:
        self.bucket = bucket
        self.prefix = namespace_prefix
        self.predicate = predicate
        self.queue: asyncio.Queue[CacheEvent | None] = asyncio.Queue()
        self.closed = False
        self.overflowed = False

    def _matches(self, o: CachedObject | None) -> bool:
        if o is None or not o.key.startswith(self.prefix):
            return False
        return self.predicate is None or self.predicate(o)

    def translate(self, ev: CacheEvent) -> CacheEvent | None:
        """Upstream's filtering: an object leaving the selection is DELETED for this watcher."""
        now = ev.type != "DELETED" and self._matches(ev.obj)
        before = ev.prev is not None and self._matches(ev.prev)
        if ev.type == "DELETED":
            return ev if self._matches(ev.obj) else None
        if now and before:
            return ev
        if now:
            return CacheEvent("ADDED", ev.key, ev.obj, None, ev.rev) if ev.type != "ADDED" else ev
        if before:
            return CacheEvent("DELETED", ev.key, ev.obj, ev.prev, ev.rev)
        return None

    def deliver(self, ev: CacheEvent) -> None:
        out = self.translate(ev)
        if out is None or self.closed:
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.overflowed = True
            self.close()
            return
        self.queue.put_nowait(out)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bucket.watchers.discard(self)
            self.queue.put_nowait(None)


class Bucket:
    def __init__(self, prefix: str, history_from: int) -> None:
        self.prefix = prefix
        self.objects: dict[str, CachedObject] = {}
        self._sorted: list[str] | None = None
        self.events: collections.deque[CacheEvent] = collections.deque()
        # every event after this revision is in `events`
        self.history_from = history_from
        self.watchers: set[Watcher] = set()

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def put(self, o: CachedObject) -> None:
        if o.key not in self.objects:
            self._sorted = None
        self.objects[o.key] = o

    def remove(self, key: str) -> None:
        if self.objects.pop(key, None) is not None:
            self._sorted = None

    def record(self, ev: CacheEvent) -> None:
        self.events.append(ev)
        if len(self.events) > EVENT_WINDOW:
            dropped = self.events.popleft()
            self.history_from = dropped.rev
        for w in list(self.watchers):
            w.deliver(ev)


class WatchCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.buckets: dict[str, Bucket] = {}
        self.rev = 0
        self.start_rev = 0
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.on_event: list[Callable[[CacheEvent], None]] = []
        self._wakers: set[asyncio.Future[None]] = set()
        # objects being written by this process, by key: (the exact bytes stored, the dict)
        self._hints: dict[str, tuple[bytes, dict[str, Any]]] = {}

    async def start(self) -> None:
        """Load everything, then follow the storage watch from the loaded revision."""
        result = await self.store.list("/registry/")
        self.rev = self.start_rev = result.revision
        for kv in result.kvs:
            self._bucket(bucket_prefix(kv.key)).put(decode_kv(kv.key, kv.value, kv.mod_revision))
        watch = self.store.watch("/registry/", self.rev)
        self._task = asyncio.create_task(self._follow(watch))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for b in self.buckets.values():
            for w in list(b.watchers):
                w.close()

    def _bucket(self, prefix: str) -> Bucket:
        b = self.buckets.get(prefix)
        if b is None:
            b = self.buckets[prefix] = Bucket(prefix, self.start_rev)
        return b

    def bucket(self, prefix: str) -> Bucket:
        return self._bucket(prefix)

    async def _follow(self, watch: Any) -> None:
        try:
            async for ev in watch:
                self._apply(ev)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("storage watch failed")
            raise

    def hint(self, key: str, raw: bytes, obj: dict[str, Any]) -> None:
        """A writer's own dict of the value it is storing, so the event needs no decoding."""
        self._hints[key] = (raw, obj)

    def unhint(self, key: str, raw: bytes) -> None:
        if self._hints.get(key, (None,))[0] is raw:
            del self._hints[key]

    def _apply(self, ev: Event) -> None:
        key = ev.kv.key
        bucket = self._bucket(bucket_prefix(key))
        prev = bucket.objects.get(key)
        if ev.type == "DELETE":
            obj = decode_kv(key, ev.kv.value, ev.kv.mod_revision)
            bucket.remove(key)
            cev = CacheEvent("DELETED", key, obj, prev, ev.revision)
        else:
            hinted = self._hints.get(key)
            if hinted is not None and hinted[0] is ev.kv.value:
                del self._hints[key]
                d = dict(hinted[1])
                d["metadata"] = dict(d.get("metadata") or {}, resourceVersion=str(ev.revision))
                obj = CachedObject(key, d, orjson.dumps(d), ev.revision)
            else:
                obj = decode_kv(key, ev.kv.value, ev.kv.mod_revision)
            bucket.put(obj)
            cev = CacheEvent("MODIFIED" if prev is not None else "ADDED", key, obj, prev, ev.revision)
        self.rev = ev.revision
        bucket.record(cev)
        for hook in self.on_event:
            hook(cev)
        self._notify()

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._advanced:
                self._advanced.notify_all()

        if self._advanced._waiters:  # only pay for waking when someone waits
            task = asyncio.ensure_future(wake())
            self._wakers.add(task)
            task.add_done_callback(self._wakers.discard)

    async def wait_fresh(self, revision: int | None = None, timeout: float = 3.0) -> None:
        """Wait until the cache has applied `revision` (default: storage's current one)."""
        target = self.store.current_revision() if revision is None else revision
        if self.rev >= target:
            return

        async def wait() -> None:
            async with self._advanced:
                await self._advanced.wait_for(lambda: self.rev >= target)

        await asyncio.wait_for(wait(), timeout)

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: str) -> CachedObject | None:
        b = self.buckets.get(bucket_prefix(key))
        return b.objects.get(key) if b else None

    def list(self, prefix: str, namespace: str | None, start_after: str = "") -> Iterable[CachedObject]:
        """Objects of one resource (optionally one namespace) in key order."""
        b = self.buckets.get(prefix)
        if b is None:
            return []
        keys = b.sorted_keys()
        lo = prefix + f"{namespace}/" if namespace else prefix
        hi = lo[:-1] + chr(ord(lo[-1]) + 1)
        start = bisect.bisect_left(keys, lo)
        if start_after:
            start = max(start, bisect.bisect_right(keys, start_after))
        end = bisect.bisect_left(keys, hi, start)
        objects = b.objects
        return (objects[k] for k in keys[start:end])

    def count(self, prefix: str, namespace: str | None) -> int:
        b = self.buckets.get(prefix)
        if b is None:
            return 0
        if not namespace:
            return len(b.objects)
        keys = b.sorted_keys()
        lo = prefix + f"{namespace}/"
        hi = lo[:-1] + chr(ord(lo[-1]) + 1)
        return bisect.bisect_left(keys, hi) - bisect.bisect_left(keys, lo)

    async def watch(
        self,
        prefix: str,
        namespace: str | None,
        after: int,
        predicate: Callable[[CachedObject], bool] | None,
    ) -> tuple[Watcher, list[CacheEvent]]:
        """A watcher registered now, plus the (filtered) events after `after` it missed.

        Raises CompactedError when `after` is older than both the window and storage history.
        """
        bucket = self._bucket(prefix)
        w = Watcher(bucket, prefix + f"{namespace}/" if namespace else prefix, predicate)
        bucket.watchers.add(w)
        now = self.rev
        backlog: list[CacheEvent] = []
        try:
            if after < bucket.history_from:
                until = bucket.history_from
                for ev in await self.store.history(prefix, after, until):
                    backlog.append(self._event_from_storage(ev))
                after = until
            backlog.extend(ev for ev in bucket.events if after < ev.rev <= now)
        except CompactedError:
            w.close()
            raise
        out = []
        for ev in backlog:
            t = w.translate(ev)
            if t is not None:
                out.append(t)
        return w, out

    @staticmethod
    def _event_from_storage(ev: Event) -> CacheEvent:
        key = ev.kv.key
        obj = decode_kv(key, ev.kv.value, ev.kv.mod_revision)
        prev = decode_kv(key, ev.prev.value, ev.prev.mod_revision) if ev.prev else None
        if ev.type == "DELETE":
            return CacheEvent("DELETED", key, obj, prev, ev.revision)
        return CacheEvent("ADDED" if ev.created or prev is None else "MODIFIED", key, obj, prev, ev.revision)
