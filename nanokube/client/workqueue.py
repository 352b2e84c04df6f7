"""A work queue for controllers: de-duplicating, one worker per key at a time, with
per-key exponential back-off for retries (client-go's rate-limiting queue).

A key added while it is queued is not queued twice; a key added while being processed is
queued again once `done` is called, so no change is lost and no key runs concurrently.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Hashable

from ..api import errors


class WorkQueue:
    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: collections.deque[Hashable] = collections.deque()
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._ready = asyncio.Condition()
        self._pending_wakes: set[asyncio.Future[None]] = set()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._wake()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: Hashable) -> None:
        """Retry later: 5 ms, 10 ms, 20 ms ... doubling per failure, capped."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2**n), self.max_delay))

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its back-off starts over."""
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._ready:
                self._ready.notify()

        task = asyncio.ensure_future(notify())
        self._pending_wakes.add(task)
        task.add_done_callback(self._pending_wakes.discard)

    async def get(self) -> Hashable | None:
        """The next key to work on (None once shut down); call `done(key)` when finished."""
        async with self._ready:
            await self._ready.wait_for(lambda: bool(self._queue) or self._shutdown)
            if not self._queue:
                return None
            key = self._queue.popleft()
            self._queued.discard(key)
            self._processing.add(key)
            return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    async def shutdown(self) -> None:
        self._shutdown = True
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        async with self._ready:
            self._ready.notify_all()


async def run_worker(queue: WorkQueue, sync: Callable[[Hashable], Awaitable[float | None]],
                     log: logging.Logger) -> None:
    """The loop every controller worker runs: take a key, sync it, retry with back-off on
    failure; a sync that returns a number of seconds asks to look again after that long."""
    while True:
        key = await queue.get()
        if key is None:
            return
        try:
            again = await sync(key)
            queue.forget(key)
            if again is not None:
                queue.add_after(key, again)
        except errors.Conflict as e:  # raced another writer: expected, retried with the fresh object
            log.debug("sync conflict key=%s error=%s", key, e)
            queue.add_rate_limited(key)
        except Exception as e:
            log.warning("sync failed key=%s error=%s", key, e)
            queue.add_rate_limited(key)
        finally:
            queue.done(key)
