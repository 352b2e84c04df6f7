"""A Store that reports how long each storage call took (for /metrics), around any backend."""

from __future__ import annotations

import builtins

import time
from collections.abc import Callable

from .interface import Event, KeyValue, ListResult, Store, Watch


class TimedStore(Store):
    def __init__(self, inner: Store, observe: Callable[[str, float], None]) -> None:
        self.inner = inner
        self.observe = observe

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, key: str, value: bytes) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.create(key, value)
        finally:
            self.observe("create", time.perf_counter() - t)

    async def get(self, key: str) -> KeyValue | None:
        t = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self.observe("get", time.perf_counter() - t)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        t = time.perf_counter()
        try:
            return await self.inner.list(prefix, revision=revision, limit=limit, start_after=start_after)
        finally:
            self.observe("list", time.perf_counter() - t)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.update(key, value, expected_revision)
        finally:
            self.observe("update", time.perf_counter() - t)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.delete(key, expected_revision)
        finally:
            self.observe("delete", time.perf_counter() - t)

    def watch(self, prefix: str, after_revision: int) -> Watch:
        return self.inner.watch(prefix, after_revision)

    async def history(self, prefix: str, after_revision: int, until_revision: int) -> builtins.list[Event]:
        return await self.inner.history(prefix, after_revision, until_revision)

    def current_revision(self) -> int:
        return self.inner.current_revision()

    def compacted_revision(self) -> int:
        return self.inner.compacted_revision()

    async def compact(self, revision: int) -> None:
        t = time.perf_counter()
        try:
            await self.inner.compact(revision)
        finally:
            self.observe("compact", time.perf_counter() - t)
