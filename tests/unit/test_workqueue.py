"""The controllers' work queue: de-duplication, one worker per key, back-off."""

from __future__ import annotations

import asyncio

from nanokube.client.workqueue import WorkQueue


def run(coro):
    return asyncio.run(coro)


def test_deduplicates_and_requeues_keys_changed_while_processing():
    async def main():
        q = WorkQueue()
        q.add("a")
        q.add("a")
        q.add("b")
        assert len(q) == 2
        key = await q.get()
        assert key == "a"
        q.add("a")  # changed while being worked on: not handed out twice at once
        assert await q.get() == "b"
        assert len(q) == 0
        q.done("a")
        assert await asyncio.wait_for(q.get(), 1) == "a"
        q.done("a")
        q.done("b")
        await q.shutdown()
        assert await q.get() is None

    run(main())


def test_exponential_back_off_and_forget():
    async def main():
        q = WorkQueue(base_delay=0.01)
        loop = asyncio.get_running_loop()
        start = loop.time()
        q.add_rate_limited("k")
        q.add_rate_limited("k")  # second failure: 20 ms, replacing the pending 10 ms retry
        assert await asyncio.wait_for(q.get(), 1) == "k"
        assert loop.time() - start >= 0.019
        assert q.failures("k") == 2
        q.done("k")
        q.forget("k")
        assert q.failures("k") == 0
        await q.shutdown()

    run(main())
