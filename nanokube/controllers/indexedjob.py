"""The decisions of the Job controller for Indexed Jobs (upstream's indexed_job_utils and
success_policy), pure.

Each index below spec.completions needs one succeeded pod. Indexes are recorded as sorted
intervals written compactly ("1,3-5"; two neighbours as "1,2"), in status.completedIndexes and,
with backoffLimitPerIndex, status.failedIndexes. With backoffLimitPerIndex each index has its
own failure count, carried from a failed pod to its replacement in the
`batch.kubernetes.io/job-index-failure-count` annotation - which is why a failed pod keeps
its finalizer until its replacement exists.
"""

from __future__ import annotations

import datetime
from typing import Any

from .jobutil import (
    INDEX_FAILURE_COUNT,
    INDEX_IGNORED_FAILURE_COUNT,
    UNKNOWN,
    backoff_left,
    completion_index,
    completions,
    finish_time,
    has_tracking_finalizer,
    is_terminating,
    match_pod_failure_policy,
    only_replace_failed,
    phase,
    pod_failed,
    spec_of,
    valid_index,
)

Obj = dict[str, Any]
Intervals = list[tuple[int, int]]


# -- intervals --------------------------------------------------------------------------


def parse_indexes(text: str | None, completions: int) -> Intervals:
    """Intervals from "1,3-5"; corrupt parts are skipped, indexes >= completions dropped."""
    out: Intervals = []
    for part in (text or "").split(","):
        if not part:
            continue
        bounds = part.split("-")
        try:
            first = int(bounds[0])
            last = int(bounds[1]) if len(bounds) > 1 else first
        except ValueError:
            continue
        if first >= completions:
            break
        last = min(last, completions - 1)
        if out and out[-1][1] == first - 1:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def format_indexes(iv: Intervals) -> str:
    parts = []
    for first, last in iv:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def merge_intervals(a: Intervals, b: Intervals) -> Intervals:
    out: Intervals = []
    for first, last in sorted(a + b):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def with_indexes(iv: Intervals, indexes: list[int]) -> Intervals:
    return merge_intervals(iv, [(i, i) for i in indexes])


def total(iv: Intervals | None) -> int:
    return sum(last - first + 1 for first, last in iv or [])


def contains(iv: Intervals | None, ix: int) -> bool:
    return any(first <= ix <= last for first, last in iv or [])


# -- indexes of pods -----------------------------------------------------------------------------


def succeeded_indexes(job: Obj, pods: list[Obj]) -> tuple[Intervals, Intervals]:
    """(completedIndexes as recorded, those plus indexes of succeeded pods not yet counted)."""
    n = completions(job) or 0
    prev = parse_indexes((job.get("status") or {}).get("completedIndexes"), n)
    new = sorted({completion_index(p) for p in pods
                  if phase(p) == "Succeeded" and valid_index(job, p) and has_tracking_finalizer(p)})
    return prev, with_indexes(prev, new)


def index_failure_count(pod: Obj, ignored: bool = False) -> int:
    key = INDEX_IGNORED_FAILURE_COUNT if ignored else INDEX_FAILURE_COUNT
    try:
        n = int(((pod.get("metadata") or {}).get("annotations") or {}).get(key, 0))
    except ValueError:
        return 0
    return n if 0 <= n <= 2**31 - 1 else 0


def index_failed(job: Obj, pod: Obj) -> bool:
    """Whether this pod's failure uses up its index's backoffLimitPerIndex (or a FailIndex rule)."""
    counted = False
    if pod_failed(pod, job):
        _, counted, action = match_pod_failure_policy(job, pod)
        if action == "FailIndex":
            return True
    return counted and index_failure_count(pod) >= int(spec_of(job).get("backoffLimitPerIndex") or 0)


def failed_indexes(job: Obj, pods: list[Obj]) -> Intervals:
    n = completions(job) or 0
    prev = parse_indexes((job.get("status") or {}).get("failedIndexes"), n)
    new = sorted({completion_index(p) for p in pods
                  if valid_index(job, p) and has_tracking_finalizer(p) and index_failed(job, p)})
    return with_indexes(prev, new)


def first_pending_indexes(job: Obj, pods: list[Obj], active: list[Obj], succeeded: Intervals,
                          failed: Intervals | None, count: int) -> list[int]:
    """The `count` lowest indexes below completions with no active pod, no success and no
    failure (nor a terminating pod, when only failed pods are replaced)."""
    n = completions(job) or 0
    busy = with_indexes(succeeded, sorted({completion_index(p) for p in active} - {UNKNOWN}))
    if only_replace_failed(job):
        busy = with_indexes(busy, sorted({completion_index(p) for p in pods if is_terminating(p)} - {UNKNOWN}))
    if failed:
        busy = merge_intervals(busy, failed)
    out: list[int] = []
    ix = 0
    while ix < n and len(out) < count:
        if contains(busy, ix):
            ix = next(last for first, last in busy if first <= ix <= last) + 1
            continue
        out.append(ix)
        ix += 1
    return out


def pods_with_delayed_deletion(job: Obj, pods: list[Obj], active: list[Obj], succeeded: Intervals,
                               failed: Intervals, expected_removals: set[str]) -> dict[int, Obj]:
    """Per index, the failed pod whose finalizer stays until its replacement exists (its
    failure count annotation is what the replacement continues from)."""
    active_ix = {completion_index(p) for p in active}
    out: dict[int, Obj] = {}
    for p in pods:
        if not has_tracking_finalizer(p) or p["metadata"].get("uid") in expected_removals:
            continue
        if not valid_index(job, p) or not pod_failed(p, job):
            continue
        ix = completion_index(p)
        if contains(succeeded, ix) or contains(failed, ix) or ix in active_ix:
            continue
        last = out.get(ix)
        if last is None or (index_failure_count(last) + index_failure_count(last, True)
                            <= index_failure_count(p) + index_failure_count(p, True)
                            and finish_time(p) >= finish_time(last)):
            out[ix] = p
    return out


def index_backoff_left(job: Obj, replaced: Obj | None, now: datetime.datetime, base: float, cap: float) -> float:
    if replaced is None:
        return 0.0
    failures = index_failure_count(replaced) + index_failure_count(replaced, True) + 1
    return backoff_left(failures, finish_time(replaced), now, base, cap)


def new_index_failure_counts(job: Obj, replaced: Obj | None) -> tuple[int, int]:
    """The failure-count annotations of a pod replacing `replaced` in its index."""
    if replaced is None:
        return 0, 0
    failures, ignored = index_failure_count(replaced), index_failure_count(replaced, True)
    if match_pod_failure_policy(job, replaced)[1]:
        failures += 1
    else:
        ignored += 1
    return failures, ignored


def match_success_policy(job: Obj, succeeded: Intervals) -> str | None:
    """The message of the first successPolicy rule the succeeded indexes satisfy."""
    policy = spec_of(job).get("successPolicy")
    if not policy or not succeeded:
        return None
    n = completions(job) or 0
    for i, rule in enumerate(policy.get("rules") or []):
        wanted_count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], n)
            if not required:
                continue
            have = sum(max(min(l1, l2) - max(f1, f2) + 1, 0) for f1, l1 in required for f2, l2 in succeeded)
            if have == total(required) or (wanted_count is not None and have >= int(wanted_count)):
                return f"Matched rules at index {i}"
        elif wanted_count is not None and total(succeeded) >= int(wanted_count):
            return f"Matched rules at index {i}"
    return None
