"""Recording core/v1 Events, as client-go's recorder does.

The same event for the same object (same reason, message, type and source) within ten
minutes is not written again: the existing Event's count and lastTimestamp go up instead,
which is what `kubectl describe` shows as "(x5 over 3m)". Writes happen in the background so
a controller never waits on them; a failed write is logged and dropped, as upstream does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.registry import Registry
from .rest import Client

log = logging.getLogger("nanokube.client.events")

EVENTS = Registry().get("", "v1", "events")
AGGREGATION_WINDOW = 600.0


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self._seen: dict[tuple[str, ...], tuple[str, str, int, float]] = {}  # key → (ns, name, count, first)
        self._queue: asyncio.Queue[tuple[dict[str, Any], str, str, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about `obj` (type Normal or Warning), without waiting."""
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        self._queue.put_nowait((obj, type_, reason, message))

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (for tests and shutdown)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _drain(self) -> None:
        while True:
            obj, type_, reason, message = await self._queue.get()
            try:
                await self._write(obj, type_, reason, message)
            except (errors.ApiError, OSError) as e:
                log.info("event not written reason=%s error=%s", reason, e)
            finally:
                self._queue.task_done()

    def _stamp(self, t: float) -> str:
        return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def _write(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        assert EVENTS is not None
        ref = object_reference(obj)
        namespace = ref.get("namespace") or "default"
        key = (ref.get("kind", ""), namespace, ref.get("name", ""), ref.get("uid", ""), type_, reason, message)
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[3] < AGGREGATION_WINDOW:
            ns, name, count, first = seen
            try:
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": self._stamp(now)}, ns,
                                        field_manager=self.component)
                self._seen[key] = (ns, name, count + 1, first)
                return
            except errors.NotFound:
                pass  # deleted meanwhile: write a new one
        name = f"{ref.get('name', 'event')}.{int(now * 1e9):x}"
        stamp = self._stamp(now)
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                "source": source, "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host}
        await self.client.create(EVENTS, body, namespace, field_manager=self.component)
        self._seen[key] = (namespace, name, 1, now)
