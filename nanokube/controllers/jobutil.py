"""The decisions of the Job controller (upstream's job_controller, indexed_job_utils,
pod_failure_policy, backoff_utils and success_policy), pure: data in, decisions out, the
clock an argument.

Vocabulary. A pod *finished* when its phase is Succeeded or Failed; it is *considered
failed* when Failed, or when deleted before finishing (unless the Job only replaces pods
once they fail). Every pod the controller makes carries the `batch.kubernetes.io/job-tracking`
finalizer until it has been counted: a finished pod's uid goes first into
status.uncountedTerminatedPods, the finalizer comes off, and only then does the uid move into
the succeeded/failed counters - so no pod is counted twice or lost, whatever crashes.
Indexed Jobs count by index instead: status.completedIndexes and failedIndexes hold sorted
index intervals written compactly ("1,3-5", two neighbours as "1,2").
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any

from .podutil import deletion_rank, pod_is_active, pod_is_ready
from ..api import timestamps

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"  # spec.managedBy of Jobs this controller runs
MAX_UNCOUNTED = 500  # uids in uncountedTerminatedPods before the controller stops to flush
MAX_CREATE_DELETE_PER_SYNC = 500
MAX_GENERATED_NAME = 58  # 63 less the five random characters generateName appends
UNKNOWN = -1

MSG_BACKOFF = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"
MSG_COMPLETIONS = "Reached expected number of succeeded pods"
MSG_MAX_FAILED_INDEXES = "Job has exceeded the specified maximal number of failed indexes"
MSG_FAILED_INDEXES = "Job has failed indexes"


# -- jobs and pods ----------------------------------------------------------------------------


def spec_of(job: Obj) -> Obj:
    return job.get("spec") or {}


def is_indexed(job: Obj) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def completions(job: Obj) -> int | None:
    c = spec_of(job).get("completions")
    return None if c is None else int(c)


def suspended(job: Obj) -> bool:
    return bool(spec_of(job).get("suspend"))


def per_index_backoff(job: Obj) -> bool:
    return spec_of(job).get("backoffLimitPerIndex") is not None


def managed_elsewhere(job: Obj) -> bool:
    managed_by = spec_of(job).get("managedBy")
    return managed_by is not None and managed_by != JOB_CONTROLLER_NAME


def find_condition(job: Obj, ctype: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def condition_true(job: Obj, ctype: str) -> bool:
    c = find_condition(job, ctype)
    return c is not None and c.get("status") == "True"


def is_finished(job: Obj) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime.datetime) -> Obj:
    stamp = timestamps.format_time(now)
    return {"type": ctype, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def ensure_condition(conditions: list[Obj], ctype: str, status: str, reason: str, message: str,
                     now: datetime.datetime) -> bool:
    """Set the condition of that type in place; a False condition is never added from
    nothing. Returns whether the list changed."""
    for i, c in enumerate(conditions):
        if c.get("type") == ctype:
            if c.get("status") != status or c.get("reason", "") != reason or c.get("message", "") != message:
                conditions[i] = new_condition(ctype, status, reason, message, now)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(ctype, status, reason, message, now))
        return True
    return False


def completion_index(pod: Obj) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        ix = int(value) if value is not None else UNKNOWN
    except ValueError:
        return UNKNOWN
    return ix if ix >= 0 else UNKNOWN


def valid_index(job: Obj, pod: Obj) -> bool:
    ix = completion_index(pod)
    return ix != UNKNOWN and ix < (completions(job) or 0)


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def only_replace_failed(job: Obj) -> bool:
    """podReplacementPolicy Failed (implied by a podFailurePolicy): a terminating pod is
    replaced only once it has failed."""
    spec = spec_of(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def pod_failed(pod: Obj, job: Obj) -> bool:
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    # a pod deleted before it finished (by a user, the GC, eviction) never reaches Failed
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) != "Succeeded"


def count_ready(pods: list[Obj]) -> int:
    return sum(1 for p in pods if pod_is_ready(p))


# -- pod failure policy -----------------------------------------------------------------------


def _exit_code_matches(code: int, req: Obj) -> bool:
    values = req.get("values") or []
    if req.get("operator") == "In":
        return code in values
    if req.get("operator") == "NotIn":
        return code not in values
    return False


def _terminated_container(pod: Obj, req: Obj) -> Obj | None:
    status = pod.get("status") or {}
    for statuses in (status.get("containerStatuses") or [], status.get("initContainerStatuses") or []):
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated")
            if term is None:
                continue
            if req.get("containerName") not in (None, cs.get("name")):
                continue
            code = int(term.get("exitCode") or 0)
            if code != 0 and _exit_code_matches(code, req):
                return dict(cs)
    return None


def _matching_condition(pod: Obj, patterns: list[Obj]) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        for pattern in patterns:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                return dict(cond)
    return None


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, bool, str | None]:
    """For a failed pod: the Job failure message (a FailJob rule matched), whether the failure
    counts against the back-off limits (not when an Ignore rule matched), and the action."""
    policy = spec_of(job).get("podFailurePolicy")
    if not policy:
        return None, True, None
    meta = pod["metadata"]
    for i, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        matched: str | None = None
        if rule.get("onExitCodes") is not None:
            cs = _terminated_container(pod, rule["onExitCodes"])
            if cs is not None:
                code = cs["state"]["terminated"].get("exitCode")
                matched = (f"Container {cs.get('name')} for pod {meta.get('namespace')}/{meta.get('name')} "
                           f"failed with exit code {code} matching {action} rule at index {i}")
        elif rule.get("onPodConditions") is not None:
            cond = _matching_condition(pod, rule["onPodConditions"])
            if cond is not None:
                matched = (f"Pod {meta.get('namespace')}/{meta.get('name')} has condition {cond.get('type')} "
                           f"matching {action} rule at index {i}")
        if matched is None:
            continue
        if action == "Ignore":
            return None, False, "Ignore"
        if action == "FailIndex":
            return None, True, "FailIndex"
        if action == "Count":
            return None, True, "Count"
        if action == "FailJob":
            return matched, True, "FailJob"
    return None, True, None


def fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
    for p in pods:
        if pod_failed(p, job):
            message, _, _ = match_pod_failure_policy(job, p)
            if message is not None:
                return message
    return None


def counted_failures(job: Obj, failed: list[Obj]) -> int:
    return sum(1 for p in failed if match_pod_failure_policy(job, p)[1])


# -- limits -----------------------------------------------------------------------------------


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """restartPolicy OnFailure: container restarts of running pods count as failures."""
    spec = spec_of(job)
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for p in pods:
        if phase(p) in ("Running", "Pending"):
            status = p.get("status") or {}
            for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                restarts += int(cs.get("restartCount") or 0)
    limit = int(spec.get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def active_deadline_left(job: Obj, now: datetime.datetime) -> float | None:
    """Seconds until activeDeadlineSeconds runs out (<= 0: it has); None when it does not
    apply (no deadline, not started, suspended)."""
    deadline = spec_of(job).get("activeDeadlineSeconds")
    start = (job.get("status") or {}).get("startTime")
    if deadline is None or not start or suspended(job):
        return None
    return float(deadline) - (now - timestamps.parse_time(start)).total_seconds()


# -- back-off after pod failures --------------------------------------------------------------


@dataclass(frozen=True)
class BackoffRecord:
    """Consecutive pod failures since the last success, and when the last one happened."""

    failures: int = 0
    last_failure: datetime.datetime | None = None


def finish_time(pod: Obj) -> datetime.datetime:
    """When a pod finished: its containers' last finish, else when it stopped being ready,
    else its deletion time less the grace period, else its creation."""
    status, meta = pod.get("status") or {}, pod["metadata"]
    latest: datetime.datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            latest = None
            break
        t = timestamps.parse_time(finished)
        latest = t if latest is None or t > latest else latest
    if latest is not None:
        return latest
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "False" and c.get("lastTransitionTime"):
            return timestamps.parse_time(c["lastTransitionTime"])
    if meta.get("deletionTimestamp"):
        return timestamps.parse_time(meta["deletionTimestamp"]) - datetime.timedelta(
            seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
    return timestamps.parse_time(meta.get("creationTimestamp") or "1970-01-01T00:00:00Z")


def next_backoff(old: BackoffRecord, succeeded: list[Obj], failed: list[Obj]) -> BackoffRecord:
    """The record after these newly finished pods: failures pile up, a success resets them
    (failures after the last success still count)."""
    if not failed:
        return old if not succeeded else BackoffRecord()
    failed_times = sorted(finish_time(p) for p in failed)
    if not succeeded:
        return BackoffRecord(old.failures + len(failed_times), failed_times[-1])
    last_success = max(finish_time(p) for p in succeeded)
    after = [t for t in failed_times if t > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)


def backoff_left(failures: int, last_failure: datetime.datetime | None, now: datetime.datetime,
                 base: float, cap: float) -> float:
    """Seconds before a replacement may be created: base, doubling per consecutive failure,
    capped, counted from the last failure."""
    if failures == 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    return max(delay - (now - last_failure).total_seconds(), 0.0)


# -- how many pods ----------------------------------------------------------------------------


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """Pods that should be running: parallelism, but never more than the completions left;
    a Job without completions stops starting pods once one has succeeded."""
    parallelism = int(spec_of(job).get("parallelism", 1))
    n = completions(job)
    if n is None:
        return active if succeeded > 0 else parallelism
    return max(min(n - succeeded, parallelism), 0)


def _removal_order(pod: Obj) -> tuple[int, int, int, int, float]:
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    return (*deletion_rank(pod), -(timestamps.parse_time(created).timestamp() if created else 0.0))


def active_pods_for_removal(job: Obj, active: list[Obj], at_least: int) -> list[Obj]:
    """Pods to delete: for Indexed Jobs every pod without a valid index and all but one pod
    of each repeated index; then the least advanced pods up to `at_least`."""
    remove: list[Obj] = []
    left: list[Obj] = list(active)
    if is_indexed(job):
        left = []
        by_index: dict[int, list[Obj]] = {}
        for p in active:
            if valid_index(job, p):
                by_index.setdefault(completion_index(p), []).append(p)
            else:
                remove.append(p)
        for group in by_index.values():
            group.sort(key=_removal_order)
            remove += group[:-1]
            left.append(group[-1])
    if len(remove) < at_least:
        left.sort(key=_removal_order)
        remove += left[:at_least - len(remove)]
    return remove


# -- pods -------------------------------------------------------------------------------------


def generate_name(job_name: str, index: int | None) -> str:
    if index is None:
        prefix = f"{job_name}-"
        return prefix[:MAX_GENERATED_NAME]
    suffix = f"-{index}-"
    prefix = job_name + suffix
    return prefix if len(prefix) <= MAX_GENERATED_NAME else prefix[:MAX_GENERATED_NAME - len(suffix)] + suffix


def new_pod(job: Obj, owner_ref: Obj, index: int | None, failure_counts: tuple[int, int] | None = None) -> Obj:
    """A pod from the Job's template: the tracking finalizer, the Job as controller, and for
    Indexed Jobs the index (annotation, label, JOB_COMPLETION_INDEX, hostname <job>-<index>)."""
    template = copy.deepcopy(spec_of(job).get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    meta = job["metadata"]
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    finalizers = list(tmeta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    if index is not None:
        annotations[COMPLETION_INDEX] = str(index)
        labels[COMPLETION_INDEX] = str(index)
        spec["hostname"] = f"{meta['name']}-{index}"
        ref = {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            env = c.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": ref})
        if failure_counts is not None:  # backoffLimitPerIndex: the count the index has reached
            failures, ignored = failure_counts
            annotations[INDEX_FAILURE_COUNT] = str(failures)
            if ignored > 0:
                annotations[INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    pod_meta: Obj = {"generateName": generate_name(meta["name"], index), "namespace": meta["namespace"],
                     "labels": labels, "finalizers": finalizers, "ownerReferences": [owner_ref]}
    if annotations:
        pod_meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


# -- status -----------------------------------------------------------------------------------


def new_finished_pods(job: Obj, pods: list[Obj], uncounted_succeeded: set[str], uncounted_failed: set[str],
                      expected_removals: set[str]) -> tuple[list[Obj], list[Obj]]:
    """Pods that finished and are in no counter yet (they still carry the finalizer)."""
    succeeded: list[Obj] = []
    failed: list[Obj] = []
    for p in pods:
        uid = p["metadata"].get("uid", "")
        if not has_tracking_finalizer(p) or uid in expected_removals:
            continue
        if is_indexed(job) and not valid_index(job, p):
            continue
        if phase(p) == "Succeeded" and uid not in uncounted_succeeded:
            succeeded.append(p)
        elif pod_failed(p, job) and uid not in uncounted_failed:
            failed.append(p)
    return succeeded, failed


def move_counted(status: Obj, with_finalizer: set[str]) -> bool:
    """Uids in uncountedTerminatedPods whose finalizer is gone join the counters."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for kind in ("succeeded", "failed"):
        uids = uncounted.get(kind) or []
        keep = [u for u in uids if u in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            status[kind] = int(status.get(kind) or 0) + len(uids) - len(keep)
            if keep:
                uncounted[kind] = keep
            else:
                uncounted.pop(kind, None)
    return changed


def wire_status(status: Obj) -> Obj:
    """The status as the API shows it: zero counters and empty strings left out, ready,
    terminating and uncountedTerminatedPods always there."""
    out = {k: v for k, v in status.items() if v is not None}
    for k in ("active", "succeeded", "failed"):
        if not out.get(k):
            out.pop(k, None)
    if not out.get("completedIndexes"):
        out.pop("completedIndexes", None)
    out.setdefault("uncountedTerminatedPods", {})
    return out


def active_pods(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if pod_is_active(p)]
