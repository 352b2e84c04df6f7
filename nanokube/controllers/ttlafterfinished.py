"""The TTL-after-finished controller: a finished Job with spec.ttlSecondsAfterFinished is
deleted that many seconds after it finished (the lastTransitionTime of its Complete or Failed
condition).

Before deleting, the Job is read fresh from the server and checked again (the TTL may have
been changed or removed meanwhile); the delete is Foreground, so the Job's pods go first,
with a uid precondition, so a new Job that took the name is never touched. The clock is a
constructor argument.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.ttlafterfinished")

JOBS = Registry().require("batch", "v1", "jobs")
Obj = dict[str, Any]


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def needs_cleanup(job: Obj) -> bool:
    """A finished Job with a TTL, not already being deleted."""
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and \
        not job["metadata"].get("deletionTimestamp") and finish_time(job) is not None


def finish_time(job: Obj) -> datetime.datetime | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True" and c.get("lastTransitionTime"):
            return timestamps.parse_time(str(c["lastTransitionTime"]))
    return None


def time_left(job: Obj, now: datetime.datetime) -> float | None:
    """Seconds until the Job expires (<= 0: it has); None when it has no TTL or has not finished."""
    finished = finish_time(job)
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if finished is None or ttl is None:
        return None
    if finished > now:
        log.warning("job finished in the future, clock skew? job=%s", object_key(job))
    return (finished + datetime.timedelta(seconds=int(ttl)) - now).total_seconds()


class TTLAfterFinishedController:
    name = "ttl-after-finished"

    def __init__(self, client: Client, jobs: Informer, workers: int = 5,
                 now: Callable[[], datetime.datetime] = _utc) -> None:
        self.client = client
        self.jobs = jobs
        self.workers = workers
        self.now = now
        self.queue = WorkQueue()
        jobs.add_handlers(self._changed, lambda old, new: self._changed(new), None)

    def _changed(self, job: Obj) -> None:
        if needs_cleanup(job):
            self.queue.add(object_key(job))

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log) for _ in range(self.workers)))

    async def sync(self, key: str) -> float | None:
        """Delete the Job if it has expired; else the seconds until it does."""
        job = self.jobs.get(key)
        if job is None or not needs_cleanup(job):
            return None
        left = time_left(job, self.now())
        if left is None or left > 0:
            return left
        meta = job["metadata"]
        try:  # the cache may be stale: decide on what the server has now
            fresh = await self.client.get(JOBS, meta["name"], meta["namespace"])
        except errors.NotFound:
            return None
        if not needs_cleanup(fresh):
            return None
        left = time_left(fresh, self.now())
        if left is None or left > 0:
            return left
        log.info("deleting expired job job=%s", key)
        try:
            await self.client.delete(JOBS, meta["name"], meta["namespace"], propagation="Foreground",
                                     preconditions={"uid": fresh["metadata"]["uid"]})
        except errors.NotFound:
            pass
        return None
