"""The scheduling queue: active (by priority, then arrival), back-off, unschedulable.

A pod that failed waits out a back-off (1 s doubling to 10 s per attempt, upstream's
defaults) and, if it was unschedulable, also waits for a cluster event that might help
(a node added or changed, a pod deleted); unschedulable pods are retried anyway after five
minutes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
UNSCHEDULABLE_TIMEOUT = 300.0


class SchedulingQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._heap: list[tuple[int, float, int, str]] = []
        self._active: set[str] = set()
        self._seq = itertools.count()
        self._priority: dict[str, int] = {}
        self._attempts: dict[str, int] = {}
        self._backoff: dict[str, float] = {}  # key → when it may be retried
        self._unschedulable: dict[str, float] = {}  # key → since when
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    def add(self, key: str, priority: int) -> None:
        """A new or changed pending pod: straight to active unless it is backing off."""
        self._priority[key] = priority
        if key in self._active or key in self._backoff:
            return
        self._unschedulable.pop(key, None)
        self._push(key)

    def _push(self, key: str) -> None:
        self._active.add(key)
        heapq.heappush(self._heap, (-self._priority.get(key, 0), self.clock(), next(self._seq), key))
        self._ready.set()

    def remove(self, key: str) -> None:
        self._active.discard(key)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        self._priority.pop(key, None)
        self._attempts.pop(key, None)

    async def pop(self) -> str:
        while True:
            while self._heap:
                _, _, _, key = heapq.heappop(self._heap)
                if key in self._active:
                    self._active.discard(key)
                    return key
            self._ready.clear()
            await self._ready.wait()

    def failed(self, key: str, unschedulable: bool) -> None:
        """The attempt failed: back off, and (if unschedulable) wait for a helpful event."""
        n = self._attempts.get(key, 0) + 1
        self._attempts[key] = n
        if key not in self._priority:
            return
        if unschedulable:
            self._unschedulable[key] = self.clock()
        else:
            self._backoff[key] = self.clock() + self.backoff(key)

    def backoff(self, key: str) -> float:
        n = self._attempts.get(key, 1)
        return float(min(INITIAL_BACKOFF * 2 ** (n - 1), MAX_BACKOFF))

    def done(self, key: str) -> None:
        """Scheduled: forget its history."""
        self._attempts.pop(key, None)
        self._priority.pop(key, None)

    def cluster_changed(self) -> None:
        """Something that may make unschedulable pods fit happened: retry them (after their
        back-off)."""
        now = self.clock()
        for key, since in list(self._unschedulable.items()):
            del self._unschedulable[key]
            self._backoff[key] = max(now, since + self.backoff(key))

    def flush(self) -> None:
        now = self.clock()
        for key, when in list(self._backoff.items()):
            if when <= now:
                del self._backoff[key]
                self._push(key)
        for key, since in list(self._unschedulable.items()):
            if now - since >= UNSCHEDULABLE_TIMEOUT:
                del self._unschedulable[key]
                self._push(key)

    async def run_flusher(self, period: float = 0.2) -> None:
        while True:
            await asyncio.sleep(period)
            self.flush()
