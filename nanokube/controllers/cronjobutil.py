"""The decisions of the CronJob controller (upstream's cronjob_controllerv2 utils), pure: the
clock is an argument.

A CronJob's next Job is due at the most recent schedule time after the later of its
creation and its lastScheduleTime, if that time is not in the future; startingDeadlineSeconds
moves the earliest time considered up to now minus the deadline, so start times missed for
longer are never run. Only the most recent missed time is run, never a backlog; more than a
hundred missed times earn a warning. Jobs are named `<cronjob>-<scheduled minute since the
epoch>`, so two controllers (or one restarted) can never both create the run for one time.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..api import cron
from .podutil import controller_ref
from ..api import timestamps

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # seconds added to a requeue, so a slightly fast clock never wakes too early
TOO_MANY_MISSED = 100


class Missed(Enum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


def schedule_text(cj: Obj) -> str:
    """The schedule as the controller parses it: spec.timeZone becomes a TZ= prefix (a
    schedule that already carries TZ keeps its own; an unknown zone is left out, and the
    controller reports it before parsing)."""
    spec = cj.get("spec") or {}
    schedule = str(spec.get("schedule") or "")
    zone = spec.get("timeZone")
    if "TZ" in schedule or zone is None:
        return schedule
    try:
        cron.load_zone(zone)
    except cron.CronError:
        return schedule
    return f"TZ={zone} {schedule}"


@dataclass
class MostRecent:
    earliest: datetime.datetime  # the later of creation and the last schedule time
    time: datetime.datetime | None  # the most recent due time not after now
    missed: Missed


def most_recent_schedule_time(cj: Obj, now: datetime.datetime, schedule: cron.CronSchedule,
                              include_deadline: bool) -> MostRecent:
    """Upstream's mostRecentScheduleTime. Raises cron.CronError for a schedule that parses
    but never fires twice a second apart (e.g. 31 February)."""
    meta, spec, status = cj.get("metadata") or {}, cj.get("spec") or {}, cj.get("status") or {}
    earliest = timestamps.parse_time(meta["creationTimestamp"])
    if status.get("lastScheduleTime"):
        earliest = timestamps.parse_time(status["lastScheduleTime"])
    deadline = spec.get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        scheduling_deadline = now - datetime.timedelta(seconds=int(deadline))
        if scheduling_deadline > earliest:
            earliest = scheduling_deadline
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return MostRecent(earliest, None, Missed.NONE)
    if t1 is not None and t2 is not None and now < t2:
        return MostRecent(earliest, t1, Missed.NONE)
    if t1 is None or t2 is None or round((t2 - t1).total_seconds()) < 1:
        raise cron.CronError("time difference between two schedules is less than 1 second")
    between = round((t2 - t1).total_seconds())
    elapsed = int((now - t1).total_seconds())
    missed_count = elapsed // between + 1
    # jump close to now in whole intervals, then let the schedule find the exact time (for
    # irregular schedules such as "30 6-16/4 * * 1-5")
    potential = t1 + datetime.timedelta(seconds=(missed_count - 2) * between)
    most_recent: datetime.datetime | None = None
    t = schedule.next(potential)
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    missed = Missed.MANY if missed_count > TOO_MANY_MISSED else Missed.FEW if missed_count > 0 else Missed.NONE
    return MostRecent(earliest, most_recent, missed)


def next_schedule_time(cj: Obj, now: datetime.datetime,
                       schedule: cron.CronSchedule) -> tuple[datetime.datetime | None, bool]:
    """The unmet time to run now (or None), and whether too many were missed to list."""
    recent = most_recent_schedule_time(cj, now, schedule, True)
    if recent.time is None or recent.time > now:
        return None, False
    return recent.time, recent.missed == Missed.MANY


def requeue_after(cj: Obj, now: datetime.datetime, schedule: cron.CronSchedule) -> float | None:
    """Seconds until the controller should look at the CronJob again: just after its next
    schedule time (None when it has none)."""
    try:
        recent = most_recent_schedule_time(cj, now, schedule, False)
        base = recent.time or (recent.earliest if recent.missed == Missed.NONE else now)
    except cron.CronError:
        base = now
    nxt = schedule.next(base)
    if nxt is None:
        return None
    return (nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime.datetime) -> str:
    return f"{cj['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime.datetime) -> Obj:
    """The Job for one scheduled time: the template's labels, annotations and spec, the
    scheduled time (in the CronJob's zone) as an annotation, the CronJob as controller."""
    spec = cj.get("spec") or {}
    template = spec.get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    zone = cron.load_zone(spec.get("timeZone") or "")
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = _rfc3339_in(scheduled, zone)
    meta: Obj = {"name": job_name(cj, scheduled), "namespace": cj["metadata"]["namespace"],
                 "annotations": annotations, "ownerReferences": [controller_ref(cj, "CronJob", "batch/v1")]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def _rfc3339_in(t: datetime.datetime, zone: datetime.tzinfo) -> str:
    """Go's time.RFC3339: Z for UTC, else the numeric offset."""
    local = t.astimezone(zone)
    off = local.utcoffset()
    if not off:
        return timestamps.format_time(local)
    return local.isoformat(timespec="seconds")


def finished_type(job: Obj) -> str | None:
    """Complete or Failed when the Job has finished, else None."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def object_reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "namespace": meta["namespace"],
            "resourceVersion": meta.get("resourceVersion", ""), "uid": meta["uid"]}


def in_active(cj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in (cj.get("status") or {}).get("active") or [])


def in_active_by_name(cj: Obj, name: str, namespace: str) -> bool:
    return any(ref.get("name") == name and ref.get("namespace") == namespace
               for ref in (cj.get("status") or {}).get("active") or [])


def remove_active(cj: Obj, uid: str) -> None:
    status = cj.setdefault("status", {})
    status["active"] = [ref for ref in status.get("active") or [] if ref.get("uid") != uid]


def by_start_time(jobs: list[Obj]) -> list[Obj]:
    """Oldest first by status.startTime (jobs never started last), name breaking ties."""
    key: Callable[[Obj], tuple[int, str, str]] = lambda j: (
        0 if (j.get("status") or {}).get("startTime") else 1,
        (j.get("status") or {}).get("startTime") or "", j["metadata"]["name"])
    return sorted(jobs, key=key)


def jobs_to_delete(cj: Obj, jobs: list[Obj]) -> list[Obj]:
    """Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest first."""
    spec = cj.get("spec") or {}
    out: list[Obj] = []
    for kind, limit_field in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(limit_field)
        if limit is None:
            continue
        finished = by_start_time([j for j in jobs if finished_type(j) == kind])
        out += finished[:max(len(finished) - int(limit), 0)]
    return out
