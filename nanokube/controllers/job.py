"""The Job controller (batch/v1): pods until enough have succeeded, or the Job fails.

Per Job, level-triggered, as upstream's syncJob: claim pods (adopting orphans the selector
matches, with the tracking finalizer), work out what finished since the status was written,
decide whether the Job has failed (backoffLimit, a podFailurePolicy FailJob rule,
activeDeadlineSeconds, failed indexes) or succeeded (completions, successPolicy), then either
delete its active pods or create and delete pods towards min(parallelism, completions left) -
in slow-start batches, after the back-off that pod failures earn, and never while pods
created or deleted earlier have not come back through the informer (expectations). Finished
pods are counted through status.uncountedTerminatedPods and the removal of their finalizer
(see jobutil). A Job first gets the interim condition (FailureTarget, SuccessCriteriaMet) and
the final one (Failed, Complete) only once no pod of it is left terminating.

Pod events are batched: they schedule a sync a second later, so a burst of pod changes costs
one sync.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.selectors import label_selector_from_dict
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import indexedjob as ix
from . import jobutil as ju
from .expectations import Expectations
from .jobtracking import JOBS, MANAGER, PODS, STRATEGIC, SyncState, Tracker
from .podutil import controller_of, controller_ref, pod_is_ready
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.job")

Obj = dict[str, Any]
SYNC_BATCH_PERIOD = 1.0
POD_FAILURE_BACKOFF = 10.0  # upstream's DefaultJobPodFailureBackOff
MAX_POD_FAILURE_BACKOFF = 600.0  # upstream's MaxJobPodFailureBackOff


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class JobController:
    name = "job"

    def __init__(self, client: Client, jobs: Informer, pods: Informer, workers: int = 5,
                 now: Callable[[], datetime.datetime] = _utc, backoff_base: float = POD_FAILURE_BACKOFF,
                 backoff_max: float = MAX_POD_FAILURE_BACKOFF, batch_period: float = SYNC_BATCH_PERIOD) -> None:
        self.client = client
        self.jobs = jobs
        self.pods = pods
        self.workers = workers
        self.now = now
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.batch_period = batch_period
        self.queue = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.orphans = WorkQueue(base_delay=1.0, max_delay=60.0)
        self.expectations = Expectations()
        self._due: dict[str, float] = {}
        self.events = EventRecorder(client, MANAGER)
        self.tracker = Tracker(client, jobs, self.events)
        jobs.add_handlers(lambda j: self._enqueue(object_key(j)), self._job_updated, self._job_deleted)
        pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- queueing ----------------------------------------------------------------------------

    def _enqueue(self, key: str, delay: float = 0.0) -> None:
        """Sync `key` after `delay` seconds; an earlier pending sync is kept (every sync asks
        again for whatever later wake-up it needs)."""
        if delay <= 0:
            self.queue.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._due.get(key)
        if pending is not None and loop.time() <= pending <= due:
            return
        self._due[key] = due
        self.queue.add_after(key, delay)

    def _batched(self, key: str) -> None:
        self._enqueue(key, self.batch_period)

    # -- event handlers ----------------------------------------------------------------------

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.get(f"{namespace}/{ref.get('name')}")
        return job if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _matching_jobs(self, pod: Obj) -> list[Obj]:
        labels = pod["metadata"].get("labels") or {}
        return [j for j in self.jobs.by_index("namespace", pod["metadata"].get("namespace", ""))
                if ju.spec_of(j).get("selector") and
                label_selector_from_dict(ju.spec_of(j)["selector"]).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_gone(pod, final=False)
            return
        ns = pod["metadata"].get("namespace", "")
        ref = controller_of(pod)
        if ref is not None:
            job = self._resolve(ns, ref)
            if job is not None:
                self.expectations.observed(object_key(job), added=True)
                self._batched(object_key(job))
            return
        if ju.has_tracking_finalizer(pod):
            self.orphans.add(object_key(pod))
        for job in self._matching_jobs(pod):
            self._batched(object_key(job))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if new["metadata"].get("deletionTimestamp"):
            self._pod_gone(new, final=False)
            return
        ns = new["metadata"].get("namespace", "")
        uid = new["metadata"].get("uid", "")
        removed = not ju.has_tracking_finalizer(new)
        cur, prev = controller_of(new), controller_of(old)
        if cur != prev and prev is not None:
            job = self._resolve(ns, prev)
            if job is not None:
                if removed:
                    self.tracker.removal_seen(object_key(job), uid)
                self._batched(object_key(job))
        if cur is not None:
            job = self._resolve(ns, cur)
            if job is not None:
                if removed:
                    self.tracker.removal_seen(object_key(job), uid)
                self._batched(object_key(job))
            return
        if ju.has_tracking_finalizer(new):
            self.orphans.add(object_key(new))
        if cur != prev or (old["metadata"].get("labels") != new["metadata"].get("labels")):
            for job in self._matching_jobs(new):
                self._batched(object_key(job))

    def _pod_deleted(self, pod: Obj) -> None:
        self._pod_gone(pod, final=True)

    def _pod_gone(self, pod: Obj, final: bool) -> None:
        """A pod deleted, or marked for deletion (its replacement need not wait)."""
        has_finalizer = ju.has_tracking_finalizer(pod)
        job = self._resolve(pod["metadata"].get("namespace", ""), controller_of(pod))
        if job is None or ju.is_finished(job):
            if has_finalizer and not final:
                self.orphans.add(object_key(pod))
            return
        key = object_key(job)
        self.expectations.observed(key, added=False)
        if final or not has_finalizer:
            self.tracker.removal_seen(key, pod["metadata"].get("uid", ""))
        self._batched(key)

    def _job_updated(self, old: Obj, new: Obj) -> None:
        key = object_key(new)
        if old["metadata"].get("generation") == new["metadata"].get("generation"):
            self._batched(key)
        else:
            self._enqueue(key)
        if ju.is_finished(new):
            self._cleanup_finalizers(new)
        left = ju.active_deadline_left(new, self.now())
        if left is not None and ju.spec_of(old).get("activeDeadlineSeconds") != ju.spec_of(new).get("activeDeadlineSeconds"):
            self._enqueue(key, left)

    def _job_deleted(self, job: Obj) -> None:
        self._enqueue(object_key(job))
        self._cleanup_finalizers(job)

    def _cleanup_finalizers(self, job: Obj) -> None:
        """Pods of a finished or deleted Job that still carry the finalizer lose it."""
        uid = job["metadata"].get("uid", "")
        for pod in self.pods.by_index("owner", uid):
            if (controller_of(pod) or {}).get("uid") == uid and ju.has_tracking_finalizer(pod):
                self.orphans.add(object_key(pod))

    # -- workers -----------------------------------------------------------------------------

    async def run(self) -> None:
        workers = [run_worker(self.queue, lambda k: self.sync(str(k)), log) for _ in range(self.workers)]
        await asyncio.gather(*workers, run_worker(self.orphans, lambda k: self._sync_orphan(str(k)), log))

    async def _sync_orphan(self, key: str) -> None:
        """Take the tracking finalizer off a pod no live Job of ours will count."""
        pod = self.pods.get(key)
        if pod is None or not ju.has_tracking_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self._resolve(pod["metadata"].get("namespace", ""), ref)
            if job is not None and (ju.managed_elsewhere(job) or not ju.is_finished(job)):
                return
        await self.tracker.remove_finalizer(pod)

    # -- sync --------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        self._due.pop(key, None)
        shared = self.tracker.current(key)
        if shared is None:
            self.expectations.forget(key)
            self.tracker.forget(key)
            return
        if ju.managed_elsewhere(shared):
            return
        if ju.is_finished(shared):
            self.tracker.backoffs.pop(key, None)
            return
        if ju.spec_of(shared).get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
            self.events.event(shared, "Warning", "UnknownCompletionMode",
                              "Skipped Job sync because completion mode is unknown")
            return
        job = copy.deepcopy(shared)
        status = job.setdefault("status", {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        now = self.now()
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim_pods(job)
        active = ju.active_pods(pods)
        ctx = SyncState(job=job, pods=pods, active=active, ready=ju.count_ready(active),
                    terminating=sum(1 for p in pods if ju.is_terminating(p)),
                    uncounted_succeeded=set(uncounted.get("succeeded") or []),
                    uncounted_failed=set(uncounted.get("failed") or []),
                    expected_removals=set(self.tracker.removals.get(key, set())),
                    backoff=self.tracker.backoffs.get(key, ju.BackoffRecord()))
        n_active = len(active)
        new_succeeded, new_failed = ju.new_finished_pods(job, pods, ctx.uncounted_succeeded, ctx.uncounted_failed,
                                                         ctx.expected_removals)
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        ctx.failed = int(status.get("failed") or 0) + ju.counted_failures(job, new_failed) + len(ctx.uncounted_failed)
        if not status.get("startTime") and not ju.suspended(job):
            status["startTime"] = timestamps.format_time(now)
        ctx.backoff = ju.next_backoff(ctx.backoff, new_succeeded, new_failed)
        self._decide_failure(key, ctx, now)
        if ju.is_indexed(job):
            self._decide_indexes(ctx, now)
        error: Exception | None = None
        suspend_changed = False
        if ctx.finished is not None:
            deleted_ready, deleted, error = await self._delete_active(job, ctx.active)
            if deleted != n_active or not satisfied:
                ctx.finished = None  # pods or finalizers may still be on their way
            n_active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            managed = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                n_active, error = await self._manage(key, ctx, now)
                managed = True
            n = ju.completions(job)
            if (ctx.succeeded > 0 if n is None else ctx.succeeded >= n) and n_active == 0:
                ctx.finished = ju.new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                                ju.MSG_COMPLETIONS, now)
            elif managed:
                suspend_changed = self._suspend_condition(job, now)
        needs_flush = suspend_changed or n_active != int(status.get("active") or 0) or \
            status.get("ready") != ctx.ready or status.get("terminating") != ctx.terminating
        status.update(active=n_active, ready=ctx.ready, terminating=ctx.terminating)
        await self.tracker.track(key, ctx, needs_flush, now)
        if error is not None:
            raise error

    def _decide_failure(self, key: str, ctx: SyncState, now: datetime.datetime) -> None:
        job, spec = ctx.job, ju.spec_of(ctx.job)
        met = ju.find_condition(job, "SuccessCriteriaMet")
        if met is not None and met.get("status") == "True":
            ctx.finished = met
            return
        target = ju.find_condition(job, "FailureTarget")
        if target is not None and target.get("status") == "True":
            ctx.finished = ju.new_condition("Failed", "True", target.get("reason", ""), target.get("message", ""), now)
            return
        message = ju.fail_job_message(job, ctx.pods)
        if message is not None:
            ctx.finished = ju.new_condition("FailureTarget", "True", "PodFailurePolicy", message, now)
            return
        if ctx.failed > int(spec.get("backoffLimit", 6)) or ju.past_backoff_limit_on_failure(job, ctx.pods):
            ctx.finished = ju.new_condition("FailureTarget", "True", "BackoffLimitExceeded", ju.MSG_BACKOFF, now)
            return
        left = ju.active_deadline_left(job, now)
        if left is not None and left <= 0:
            ctx.finished = ju.new_condition("FailureTarget", "True", "DeadlineExceeded", ju.MSG_DEADLINE, now)
        elif left is not None:
            self._enqueue(key, left)

    def _decide_indexes(self, ctx: SyncState, now: datetime.datetime) -> None:
        job, spec = ctx.job, ju.spec_of(ctx.job)
        n = ju.completions(job) or 0
        ctx.prev_succeeded, ctx.succeeded_ix = ix.succeeded_indexes(job, ctx.pods)
        ctx.succeeded = ix.total(ctx.succeeded_ix)
        if ju.per_index_backoff(job):
            ctx.failed_ix = ix.failed_indexes(job, ctx.pods)
            failed = ix.total(ctx.failed_ix)
            if ctx.finished is None:
                max_failed = spec.get("maxFailedIndexes")
                if max_failed is not None and failed > int(max_failed):
                    ctx.finished = ju.new_condition("FailureTarget", "True", "MaxFailedIndexesExceeded",
                                                    ju.MSG_MAX_FAILED_INDEXES, now)
                elif failed > 0 and failed + ctx.succeeded >= n:
                    ctx.finished = ju.new_condition("FailureTarget", "True", "FailedIndexes",
                                                    ju.MSG_FAILED_INDEXES, now)
            ctx.delayed = ix.pods_with_delayed_deletion(job, ctx.pods, ctx.active, ctx.succeeded_ix, ctx.failed_ix,
                                                        ctx.expected_removals)
        if ctx.finished is None:
            message = ix.match_success_policy(job, ctx.succeeded_ix)
            if message is not None:
                ctx.finished = ju.new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", message, now)

    def _suspend_condition(self, job: Obj, now: datetime.datetime) -> bool:
        conditions = job["status"].setdefault("conditions", [])
        if ju.suspended(job):
            changed = ju.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now)
            if changed:
                self.events.event(job, "Normal", "Suspended", "Job suspended")
        else:
            changed = ju.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now)
            if changed:
                self.events.event(job, "Normal", "Resumed", "Job resumed")
                # activeDeadlineSeconds counts from the resumption, as for a Job created suspended
                job["status"]["startTime"] = timestamps.format_time(now)
        if not conditions:
            del job["status"]["conditions"]
        return changed

    # -- pods ----------------------------------------------------------------------------------

    async def _claim_pods(self, job: Obj) -> list[Obj]:
        """The Job's pods: its own that its selector matches (others are released) and
        orphans it matches (adopted, with the tracking finalizer)."""
        meta = job["metadata"]
        selector = label_selector_from_dict(ju.spec_of(job).get("selector"))
        deleting = bool(meta.get("deletionTimestamp"))
        can_adopt: bool | None = None
        owned: list[Obj] = []
        for pod in self.pods.claimable(meta["namespace"], meta["uid"]):
            ref = controller_of(pod)
            matches = selector.matches(pod["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != meta["uid"]:
                    continue
                if matches:
                    owned.append(pod)
                elif not deleting:
                    await self._patch_pod(pod, {"ownerReferences": [{"$patch": "delete", "uid": meta["uid"]}],
                                                "$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]})
                continue
            if deleting or not matches or pod["metadata"].get("deletionTimestamp"):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(job)
            if can_adopt and await self._patch_pod(pod, {"ownerReferences": [controller_ref(job, "Job", "batch/v1")],
                                                         "finalizers": [ju.TRACKING_FINALIZER]}):
                adopted = copy.deepcopy(pod)
                fins = adopted["metadata"].setdefault("finalizers", [])
                if ju.TRACKING_FINALIZER not in fins:
                    fins.append(ju.TRACKING_FINALIZER)
                owned.append(adopted)
        return owned

    async def _can_adopt(self, job: Obj) -> bool:
        """Adopt only for a Job that is live and not being deleted (a fresh read, not the cache)."""
        try:
            fresh = await self.client.get(JOBS, job["metadata"]["name"], job["metadata"]["namespace"])
        except errors.NotFound:
            return False
        return fresh["metadata"].get("uid") == job["metadata"]["uid"] and not fresh["metadata"].get("deletionTimestamp")

    async def _patch_pod(self, pod: Obj, metadata: Obj) -> bool:
        meta = pod["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"metadata": {**metadata, "uid": meta["uid"]}},
                                    meta["namespace"], content_type=STRATEGIC, field_manager=MANAGER)
            return True
        except (errors.NotFound, errors.Conflict):
            return False

    async def _delete_active(self, job: Obj, pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete a finished Job's active pods, keeping their finalizers (they are counted as
        they go). Returns (ready deleted, deleted, first error)."""
        results = await asyncio.gather(*(self._delete_pod(job, p) for p in pods), return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        return (sum(1 for p, r in zip(pods, results) if pod_is_ready(p) and not isinstance(r, Exception)),
                len(pods) - len(failures), failures[0] if failures else None)

    async def _delete_pod(self, job: Obj, pod: Obj) -> bool:
        """Delete one pod; False when it was already gone."""
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"])
        except errors.NotFound:
            return False
        self.events.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")
        return True

    async def _delete_job_pods(self, key: str, job: Obj, pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete pods the Job no longer wants (suspended, too many); their finalizer comes off
        first, so they count neither as succeeded nor as failed."""
        self.expectations.expect(key, deletes=len(pods))

        async def one(pod: Obj) -> None:
            try:
                if ju.has_tracking_finalizer(pod):
                    await self.tracker.remove_finalizer(pod)
                deleted = await self._delete_pod(job, pod)
            except Exception:
                self.expectations.observed(key, added=False)
                raise
            if not deleted:  # no deletion will come through the informer
                self.expectations.observed(key, added=False)

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        return (sum(1 for p, r in zip(pods, results) if pod_is_ready(p) and not isinstance(r, Exception)),
                len(pods) - len(failures), failures[0] if failures else None)

    async def _manage(self, key: str, ctx: SyncState, now: datetime.datetime) -> tuple[int, Exception | None]:
        """Create or delete pods towards the number the Job wants; returns the active count."""
        job = ctx.job
        n_active = len(ctx.active)
        if ju.suspended(job):
            ready, removed, error = await self._delete_job_pods(
                key, job, ju.active_pods_for_removal(job, ctx.active, n_active))
            ctx.terminating += removed
            ctx.ready -= ready
            return n_active - removed, error
        want = ju.want_active(job, ctx.succeeded, n_active)
        victims = ju.active_pods_for_removal(job, ctx.active, max(n_active - want, 0))[:ju.MAX_CREATE_DELETE_PER_SYNC]
        if victims:
            ready, removed, error = await self._delete_job_pods(key, job, victims)
            ctx.terminating += removed
            ctx.ready -= ready
            return n_active - removed, error
        diff = want - (ctx.terminating if ju.only_replace_failed(job) else 0) - n_active
        if diff <= 0:
            return n_active, None
        if not ju.per_index_backoff(job):
            wait = ju.backoff_left(ctx.backoff.failures, ctx.backoff.last_failure, now,
                                   self.backoff_base, self.backoff_max)
            if wait > 0:
                self._enqueue(key, max(wait, self.batch_period))
                return n_active, None
        diff = min(diff, ju.MAX_CREATE_DELETE_PER_SYNC)
        indexes: list[int | None] = [None] * diff
        if ju.is_indexed(job):
            pending = ix.first_pending_indexes(job, ctx.pods, ctx.active, ctx.succeeded_ix, ctx.failed_ix, diff)
            if ju.per_index_backoff(job):
                waits = {i: ix.index_backoff_left(job, ctx.delayed.get(i), now, self.backoff_base, self.backoff_max)
                         for i in pending}
                ready_now = [i for i in pending if waits[i] <= 0]
                if pending and not ready_now:
                    self._enqueue(key, max(min(waits.values()), self.batch_period))
                    return n_active, None
                pending = ready_now
            indexes = [i for i in pending]
        created, error = await self._create(key, ctx, indexes)
        return n_active + created, error

    async def _create(self, key: str, ctx: SyncState, indexes: list[int | None]) -> tuple[int, Exception | None]:
        """Create pods in slow-start batches (1, 2, 4, ...): a failing template costs one error,
        not hundreds. Returns (pods created, first error)."""
        job = ctx.job
        self.expectations.expect(key, adds=len(indexes))
        created = 0
        batch = 1
        remaining = list(indexes)
        while remaining:
            now_batch, remaining = remaining[:batch], remaining[batch:]
            results = await asyncio.gather(*(self._create_pod(ctx, i) for i in now_batch), return_exceptions=True)
            failures = [r for r in results if isinstance(r, Exception)]
            created += len(now_batch) - len(failures)
            for _ in failures:
                self.expectations.observed(key, added=True)
            if failures:
                for _ in remaining:  # never attempted: not expected either
                    self.expectations.observed(key, added=True)
                first = failures[0]
                if isinstance(first, errors.ApiError) and any(
                        c.get("reason") == "NamespaceTerminating" for c in first.causes):
                    return created, None
                self.events.event(job, "Warning", "FailedCreate", f"Error creating: {first}")
                return created, first
            batch *= 2
        return created, None

    async def _create_pod(self, ctx: SyncState, index: int | None) -> None:
        job = ctx.job
        counts = ix.new_index_failure_counts(job, ctx.delayed.get(index)) \
            if index is not None and ju.per_index_backoff(job) else None
        pod = ju.new_pod(job, controller_ref(job, "Job", "batch/v1"), index, counts)
        created = await self.client.create(PODS, pod, job["metadata"]["namespace"], field_manager=MANAGER)
        self.events.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
