"""Counting a Job's finished pods (upstream's trackJobStatusAndRemoveFinalizers and
tracking_utils): the half of the Job controller that writes status.

Each pod the Job controller creates carries the `batch.kubernetes.io/job-tracking`
finalizer. Once a pod has finished (or the Job is finishing), its uid is written into
status.uncountedTerminatedPods, then its finalizer comes off, then the uid moves into
status.succeeded or status.failed (Indexed Jobs count completedIndexes instead). Whatever
step a crash interrupts, the next sync picks up from what the API shows, and no pod is
counted twice or lost. The Job reaches its final condition (Complete, Failed) only when no
uid is left uncounted and no pod is terminating.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from . import indexedjob as ix
from . import jobutil as ju

log = logging.getLogger("nanokube.controllers.job")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
JOBS = _REG.require("batch", "v1", "jobs")
Obj = dict[str, Any]
MANAGER = "job-controller"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass
class SyncState:
    """One sync's view of a Job and its pods (upstream's syncJobCtx)."""

    job: Obj
    pods: list[Obj]
    active: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_removals: set[str]
    backoff: ju.BackoffRecord
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None  # the condition the Job is reaching
    prev_succeeded: ix.Intervals = field(default_factory=list)
    succeeded_ix: ix.Intervals = field(default_factory=list)
    failed_ix: ix.Intervals | None = None
    delayed: dict[int, Obj] = field(default_factory=dict)




class Tracker:
    """Status writes and finalizer removals of the Job controller, and what it must remember
    between syncs: finalizer removals not yet seen, back-off records, and its last status
    write while the informer is behind it."""

    def __init__(self, client: Client, jobs: Informer, events: EventRecorder) -> None:
        self.client = client
        self.jobs = jobs
        self.events = events
        self.removals: dict[str, set[str]] = {}  # job key -> pod uids whose finalizer removal is not yet seen
        self.backoffs: dict[str, ju.BackoffRecord] = {}
        self._written: dict[str, tuple[set[str], Obj]] = {}

    def removal_seen(self, key: str, uid: str) -> None:
        self.removals.get(key, set()).discard(uid)

    async def remove_finalizer(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"metadata": {
                "$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}},
                meta["namespace"], content_type=STRATEGIC, field_manager=MANAGER)
        except errors.NotFound:
            pass

    def current(self, key: str) -> Obj | None:
        """The cached Job, or our own last status write when the cache has not caught up."""
        cached = self.jobs.get(key)
        written = self._written.get(key)
        if cached is None or written is None:
            self._written.pop(key, None)
            return cached
        superseded, obj = written
        if cached["metadata"].get("uid") == obj["metadata"].get("uid") and \
                cached["metadata"].get("resourceVersion") in superseded:
            return obj
        del self._written[key]
        return cached

    def forget(self, key: str) -> None:
        self.removals.pop(key, None)
        self.backoffs.pop(key, None)
        self._written.pop(key, None)

    # -- status and finalizers ---------------------------------------------------------------

    def can_remove_finalizer(self, ctx: SyncState, pod: Obj, failed: bool) -> bool:
        if ctx.job["metadata"].get("deletionTimestamp") or ctx.finished is not None or ju.phase(pod) == "Succeeded":
            return True
        if not failed:
            return False
        if ju.per_index_backoff(ctx.job):
            held = ctx.delayed.get(ju.completion_index(pod))
            if held is not None and held["metadata"].get("uid") == pod["metadata"].get("uid"):
                return False  # its replacement takes over its failure count first
        return True

    async def track(self, key: str, ctx: SyncState, needs_flush: bool, now: datetime.datetime) -> None:
        """Record finished pods in uncountedTerminatedPods, remove their finalizers, move them
        into the counters, and mark the Job finished once nothing is left to count."""
        job = ctx.job
        status = job["status"]
        uncounted = status["uncountedTerminatedPods"]
        indexed = ju.is_indexed(job)
        pods = sorted(ctx.pods, key=ju.completion_index) if indexed else ctx.pods
        with_finalizer = {p["metadata"]["uid"] for p in pods
                          if ju.has_tracking_finalizer(p) and p["metadata"]["uid"] not in ctx.expected_removals}
        needs_flush = ju.move_counted(status, with_finalizer) or needs_flush
        to_remove: list[Obj] = []
        new_indexes: list[int] = []
        at_max = False
        failing = ctx.finished is not None and ctx.finished["type"] != "SuccessCriteriaMet"
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if not ju.has_tracking_finalizer(pod) or uid in ctx.expected_removals:
                continue
            failed = ju.pod_failed(pod, job)
            if not self.can_remove_finalizer(ctx, pod, failed):
                continue
            to_remove.append(pod)
            if ju.phase(pod) == "Succeeded" and uid not in ctx.uncounted_failed:
                i = ju.completion_index(pod)
                if indexed:
                    if ju.valid_index(job, pod) and not ix.contains(ctx.prev_succeeded, i):
                        new_indexes.append(i)
                        needs_flush = True
                elif uid not in ctx.uncounted_succeeded:
                    uncounted.setdefault("succeeded", []).append(uid)
                    needs_flush = True
            elif (failed or failing) and uid not in ctx.uncounted_failed and (not indexed or ju.valid_index(job, pod)):
                if ju.match_pod_failure_policy(job, pod)[1]:
                    uncounted.setdefault("failed", []).append(uid)
                    needs_flush = True
            if len(new_indexes) + len(uncounted.get("succeeded") or []) + len(uncounted.get("failed") or []) \
                    >= ju.MAX_UNCOUNTED:
                at_max = True
                break
        if indexed:
            ctx.succeeded_ix = ix.with_indexes(ctx.succeeded_ix, sorted(new_indexes))
            completed = ix.format_indexes(ctx.succeeded_ix)
            needs_flush = needs_flush or completed != (status.get("completedIndexes") or "")
            status["succeeded"] = ix.total(ctx.succeeded_ix)
            status["completedIndexes"] = completed
            failed_text = ix.format_indexes(ctx.failed_ix) if ctx.failed_ix is not None else None
            if failed_text != status.get("failedIndexes"):
                status["failedIndexes"] = failed_text
                needs_flush = True
        if ctx.finished is not None and ctx.finished["type"] == "FailureTarget":
            status.setdefault("conditions", []).append(ctx.finished)
            needs_flush = True
            ctx.finished = ju.new_condition("Failed", "True", ctx.finished["reason"], ctx.finished["message"], now)
        if ctx.finished is not None and ctx.finished["type"] == "SuccessCriteriaMet":
            if not ju.condition_true(job, "SuccessCriteriaMet"):
                status.setdefault("conditions", []).append(ctx.finished)
                needs_flush = True
            ctx.finished = ju.new_condition("Complete", "True", ctx.finished["reason"], ctx.finished["message"], now)
        needs_flush = await self.flush_and_remove(key, ctx, to_remove, with_finalizer, needs_flush)
        finished = not at_max and self.enact_finished(ctx, now)
        if finished or needs_flush:
            await self.write_status(key, ctx)
            if finished and ctx.finished is not None:
                self.record_finished(ctx.job, ctx.finished)

    async def flush_and_remove(self, key: str, ctx: SyncState, to_remove: list[Obj], with_finalizer: set[str],
                                needs_flush: bool) -> bool:
        """Write the uncounted uids, then take the finalizers off, then move what came off
        into the counters. Returns whether a status change is still unwritten."""
        if needs_flush:
            await self.write_status(key, ctx)
            self.backoffs[key] = ctx.backoff
            needs_flush = False
        error: BaseException | None = None
        if to_remove:
            pending = self.removals.setdefault(key, set())
            pending.update(p["metadata"]["uid"] for p in to_remove)
            results = await asyncio.gather(*(self.remove_finalizer(p) for p in to_remove), return_exceptions=True)
            for pod, result in zip(to_remove, results):
                if isinstance(result, BaseException):
                    pending.discard(pod["metadata"]["uid"])
                    error = error or result
                else:
                    with_finalizer.discard(pod["metadata"]["uid"])
        if ju.move_counted(ctx.job["status"], with_finalizer):
            needs_flush = True
        if error is not None:
            if needs_flush:
                await self.write_status(key, ctx)
            raise error
        return needs_flush

    def enact_finished(self, ctx: SyncState, now: datetime.datetime) -> bool:
        if ctx.finished is None:
            return False
        status = ctx.job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed") or ctx.terminating > 0:
            return False
        cond = ctx.finished
        ju.ensure_condition(status.setdefault("conditions", []), cond["type"], cond["status"],
                            cond.get("reason", ""), cond.get("message", ""), now)
        if cond["type"] == "Complete":
            status["completionTime"] = cond["lastTransitionTime"]
        return True

    def record_finished(self, job: Obj, cond: Obj) -> None:
        if cond["type"] == "Complete":
            n = ju.completions(job)
            if n is not None and int(job["status"].get("succeeded") or 0) > n:
                self.events.event(job, "Warning", "TooManySucceededPods",
                                  "Too many succeeded pods running after completion count reached")
            self.events.event(job, "Normal", "Completed", "Job completed")
        else:
            self.events.event(job, "Warning", cond.get("reason", ""), cond.get("message", ""))
        log.info("job finished job=%s condition=%s reason=%s", object_key(job), cond["type"], cond.get("reason"))

    async def write_status(self, key: str, ctx: SyncState) -> None:
        """PUT the status (a Conflict is retried by the queue with a fresh read). The answer is
        kept: until the informer shows it, syncs start from it rather than from the stale cache."""
        job = ctx.job
        body = dict(job, status=ju.wire_status(job["status"]))
        try:
            written = await self.client.update(JOBS, body, subresource="status", field_manager=MANAGER)
        except errors.NotFound:
            return
        prev = self._written.get(key)
        superseded = (prev[0] if prev else set()) | {job["metadata"].get("resourceVersion", "")}
        self._written[key] = (superseded, copy.deepcopy(written))
        written.setdefault("status", {}).setdefault("uncountedTerminatedPods", {})
        ctx.job = written
