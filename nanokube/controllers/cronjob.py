"""The CronJob controller (upstream's cronjob controller v2): a Job at each schedule time.

Per CronJob, level-triggered: reconcile status.active with the Jobs it controls (finished
Jobs leave it, vanished ones too), delete finished Jobs beyond the history limits, then -
unless suspended - create the Job for the most recent unmet schedule time (see
cronjobutil), honouring startingDeadlineSeconds and concurrencyPolicy (Forbid skips a run
while one is active, Replace deletes the active ones first). Then it asks to look again just
after the next schedule time. The clock is a constructor argument, so tests move time
instead of waiting for it; a schedule without spec.timeZone runs in the zone of that clock
(the process's local zone by default, as upstream's kube-controller-manager does).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import os
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from ..api import cron
from . import cronjobutil as cju
from .podutil import controller_of
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.cronjob")

_REG = Registry()
JOBS = _REG.require("batch", "v1", "jobs")
CRONJOBS = _REG.require("batch", "v1", "cronjobs")
Obj = dict[str, Any]
MANAGER = "cronjob-controller"


def local_zone() -> datetime.tzinfo:
    """The process's zone ($TZ, else /etc/localtime, else UTC), DST rules included."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return datetime.UTC


def _local_now() -> datetime.datetime:
    return datetime.datetime.now(local_zone())


class _SyncFailed(Exception):
    """A write the sync needed failed; the status changed so far still goes out."""

    def __init__(self, cj: Obj, changed: bool, error: Exception) -> None:
        super().__init__(str(error))
        self.cj, self.changed, self.error = cj, changed, error


class CronJobController:
    name = "cronjob"

    def __init__(self, client: Client, cronjobs: Informer, jobs: Informer, workers: int = 5,
                 now: Callable[[], datetime.datetime] = _local_now) -> None:
        self.client = client
        self.cronjobs = cronjobs
        self.jobs = jobs
        self.workers = workers
        self.now = now
        self.queue = WorkQueue()
        self.events = EventRecorder(client, MANAGER)
        cronjobs.add_handlers(lambda cj: self.queue.add(object_key(cj)), self._cronjob_updated,
                              lambda cj: self.queue.add(object_key(cj)))
        jobs.add_handlers(self._job_added, self._job_updated, self._job_deleted)

    # -- event handlers ----------------------------------------------------------------------

    def _resolve(self, namespace: str, ref: Obj | None) -> str | None:
        if ref is None or ref.get("kind") != "CronJob":
            return None
        key = f"{namespace}/{ref.get('name')}"
        cj = self.cronjobs.get(key)
        return key if cj is not None and cj["metadata"].get("uid") == ref.get("uid") else None

    def _job_added(self, job: Obj) -> None:
        key = self._resolve(job["metadata"].get("namespace", ""), controller_of(job))
        if key is not None:
            self.queue.add(key)

    def _job_updated(self, old: Obj, new: Obj) -> None:
        ns = new["metadata"].get("namespace", "")
        for key in {self._resolve(ns, controller_of(old)), self._resolve(ns, controller_of(new))} - {None}:
            self.queue.add(str(key))

    def _job_deleted(self, job: Obj) -> None:
        self._job_added(job)

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        """A changed schedule or zone is looked at again at its next time; anything else now."""
        key = object_key(new)
        ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
        if ospec.get("schedule") == nspec.get("schedule") and ospec.get("timeZone") == nspec.get("timeZone"):
            self.queue.add(key)
            return
        try:
            schedule = cron.parse(cju.schedule_text(new))
        except cron.CronError:
            self.events.event(new, "Warning", "UnParseableCronJobSchedule",
                              f"unparseable schedule for cronjob: {nspec.get('schedule')}")
            return
        delay = cju.requeue_after(new, self.now(), schedule)
        if delay is not None:
            self.queue.add_after(key, delay)

    # -- sync --------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log) for _ in range(self.workers)))

    async def sync(self, key: str) -> float | None:
        """Reconcile one CronJob; returns seconds until it should be looked at again."""
        cached = self.cronjobs.get(key)
        if cached is None:
            return None
        cj = copy.deepcopy(cached)
        ns, name = cj["metadata"]["namespace"], cj["metadata"]["name"]
        jobs = [j for j in self.jobs.by_index("namespace", ns)
                if (controller_of(j) or {}).get("kind") == "CronJob" and (controller_of(j) or {}).get("name") == name]
        changed = await self._cleanup(cj, jobs)
        failure: Exception | None = None
        requeue: float | None = None
        try:
            cj, requeue, synced = await self._sync(cj, jobs)
            changed = changed or synced
        except _SyncFailed as e:
            cj, failure = e.cj, e.error
            changed = changed or e.changed
        if changed:
            status = cj.setdefault("status", {})
            if not status.get("active"):
                status.pop("active", None)
            await self.client.update(CRONJOBS, cj, subresource="status", field_manager=MANAGER)
        if requeue is not None:
            return requeue
        if failure is not None:
            raise failure
        return None

    async def _sync(self, cj: Obj, jobs: list[Obj]) -> tuple[Obj, float | None, bool]:
        """Upstream's syncCronJob: (the CronJob as changed, requeue delay, status changed)."""
        now = self.now()
        changed = False
        children: set[str] = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            found, finished = cju.in_active(cj, uid), cju.finished_type(job)
            if not found and finished is None:
                fresh = await self.client.get(CRONJOBS, cj["metadata"]["name"], cj["metadata"]["namespace"])
                if cju.in_active(fresh, uid):  # our cache is behind our own status write
                    cj = copy.deepcopy(fresh)
                    continue
                self.events.event(cj, "Warning", "UnexpectedJob",
                                  f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}")
            elif found and finished is not None:
                cju.remove_active(cj, uid)
                self.events.event(cj, "Normal", "SawCompletedJob",
                                  f"Saw completed job: {job['metadata']['name']}, status: {finished}")
                changed = True
            elif finished == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = (cj.get("status") or {}).get("lastSuccessfulTime")
                if completed and (not last or timestamps.parse_time(completed) > timestamps.parse_time(last)):
                    cj.setdefault("status", {})["lastSuccessfulTime"] = completed
                    changed = True
        for ref in list((cj.get("status") or {}).get("active") or []):
            if ref.get("uid") in children:
                continue
            try:  # the informer may just be slow: ask the server before calling it missing
                await self.client.get(JOBS, ref["name"], ref.get("namespace"))
            except errors.NotFound:
                self.events.event(cj, "Normal", "MissingJob", f"Active job went missing: {ref['name']}")
                cju.remove_active(cj, ref.get("uid", ""))
                changed = True
        spec = cj.get("spec") or {}
        if cj["metadata"].get("deletionTimestamp"):
            return cj, None, changed
        zone = spec.get("timeZone")
        if zone is not None:
            try:
                cron.load_zone(zone)
            except cron.CronError as e:
                self.events.event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{zone}": {e}')
                return cj, None, changed
        if spec.get("suspend"):
            return cj, None, changed
        if "TZ" in str(spec.get("schedule")):
            self.events.event(cj, "Warning", "UnsupportedSchedule",
                              f'CRON_TZ or TZ used in schedule "{spec.get("schedule")}" is not officially supported, '
                              "see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
        try:
            schedule = cron.parse(cju.schedule_text(cj))
        except cron.CronError as e:
            self.events.event(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{spec.get("schedule")}" : {e}')
            return cj, None, changed
        try:
            scheduled, too_many = cju.next_schedule_time(cj, now, schedule)
        except cron.CronError as e:
            self.events.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}")
            return cj, None, changed
        if too_many:
            self.events.event(cj, "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                              ".spec.startingDeadlineSeconds or check clock skew")
            log.info("too many missed times cronjob=%s", object_key(cj))
        if scheduled is None:
            return cj, cju.requeue_after(cj, now, schedule), changed
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + datetime.timedelta(seconds=int(deadline)) < now:
            self.events.event(cj, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                              + scheduled.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return cj, cju.requeue_after(cj, now, schedule), changed
        ns = cj["metadata"]["namespace"]
        last = (cj.get("status") or {}).get("lastScheduleTime")
        if cju.in_active_by_name(cj, cju.job_name(cj, scheduled), ns) or \
                (last and timestamps.parse_time(last) == scheduled):
            return cj, cju.requeue_after(cj, now, schedule), changed
        active = (cj.get("status") or {}).get("active") or []
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self.events.event(cj, "Normal", "JobAlreadyActive",
                              "Not starting job because prior execution is running and concurrency policy is Forbid")
            return cj, cju.requeue_after(cj, now, schedule), changed
        if policy == "Replace":
            for ref in list(active):
                try:
                    job = await self.client.get(JOBS, ref["name"], ref.get("namespace"))
                except errors.ApiError as e:
                    self.events.event(cj, "Warning", "FailedGet", f"Get job: {e}")
                    raise _SyncFailed(cj, changed, e) from e
                if not await self._delete_job(cj, job):
                    raise _SyncFailed(cj, changed, RuntimeError(f"could not replace job {ns}/{ref['name']}"))
                changed = True
        return await self._start(cj, scheduled, now, schedule, changed)

    async def _start(self, cj: Obj, scheduled: datetime.datetime, now: datetime.datetime,
                     schedule: cron.CronSchedule, changed: bool) -> tuple[Obj, float | None, bool]:
        """Create the Job for `scheduled` (its name is the lock: AlreadyExists means a previous
        attempt made it) and record it in status.active."""
        request = cju.job_from_template(cj, scheduled)
        ns = cj["metadata"]["namespace"]
        try:
            job = await self.client.create(JOBS, request, ns, field_manager=MANAGER)
            self.events.event(cj, "Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}")
            log.info("created job cronjob=%s job=%s", object_key(cj), job["metadata"]["name"])
        except errors.AlreadyExists:
            job = await self.client.get(JOBS, request["metadata"]["name"], ns)
            if (controller_of(job) or {}).get("uid") != cj["metadata"]["uid"] or \
                    cju.in_active(cj, job["metadata"]["uid"]):
                return cj, None, changed
            log.info("job already exists cronjob=%s job=%s", object_key(cj), job["metadata"]["name"])
        except errors.ApiError as e:
            if not any(c.get("reason") == "NamespaceTerminating" for c in e.causes):
                self.events.event(cj, "Warning", "FailedCreate", f"Error creating job: {e}")
            raise _SyncFailed(cj, changed, e) from e
        status = cj.setdefault("status", {})
        status["active"] = [*(status.get("active") or []), cju.object_reference(job)]
        status["lastScheduleTime"] = timestamps.format_time(scheduled)
        return cj, cju.requeue_after(cj, now, schedule), True

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> bool:
        """Delete finished Jobs beyond the history limits, oldest first."""
        changed = False
        for job in cju.jobs_to_delete(cj, jobs):
            if await self._delete_job(cj, job):
                changed = True
        return changed

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        name = job["metadata"]["name"]
        try:
            await self.client.delete(JOBS, name, job["metadata"]["namespace"], propagation="Background")
        except errors.ApiError as e:
            self.events.event(cj, "Warning", "FailedDelete", f"Deleted job: {e}")
            log.warning("deleting job failed cronjob=%s job=%s error=%s", object_key(cj), name, e)
            return False
        cju.remove_active(cj, job["metadata"]["uid"])
        self.events.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")
        return True
