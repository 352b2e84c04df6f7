"""The arithmetic of Deployments (upstream's deployment/util), pure: data in, decisions out.

Which ReplicaSet is "new" (its template equals the Deployment's, ignoring the
pod-template-hash label), revisions, how many replicas the new set may have under
maxSurge, how far old sets may shrink under maxUnavailable, how a resize is spread over
several sets in proportion to their size, and what status and conditions result.
Upstream's rounding and tie-breaking are kept: they decide which pods users see move.
"""

from __future__ import annotations

import datetime
import math
import struct
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from ..api import timestamps

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_NOT_COPIED = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
               "deprecated.deployment.rollback.to"}
MAX_INT32 = 2**31 - 1
_SAFE = "bcdfghjklmnpqrstvwxz2456789"

# condition types and reasons (as kubectl and users read them)
PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"


# -- identity ----------------------------------------------------------------------------------


def safe_encode(text: str) -> str:
    """Upstream's rand.SafeEncodeString: characters mapped onto an alphabet without vowels
    (so no words) and without look-alikes."""
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in text)


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The pod-template-hash of a template: FNV-32a of its canonical form (plus the collision
    count, little-endian, as upstream adds it), rendered as upstream renders it."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF)
    return safe_encode(str(fnv32a(data)))


def _without_hash(template: Obj) -> Obj:
    t = dict(template or {})
    meta = dict(t.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    t["metadata"] = {k: v for k, v in meta.items() if v not in (None, {}, [])}
    if not t["metadata"]:
        del t["metadata"]
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return _without_hash(a) == _without_hash(b)


def revision(rs: Obj) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def created(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def find_new(deployment: Obj, sets: list[Obj]) -> Obj | None:
    """The set whose template is the Deployment's; the oldest if several are (upstream)."""
    tpl = (deployment.get("spec") or {}).get("template") or {}
    same = [rs for rs in sets if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, tpl)]
    same.sort(key=lambda rs: (created(rs), rs["metadata"]["name"]))
    return same[0] if same else None


def next_revision(old_sets: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in old_sets), default=0) + 1


def new_set_annotations(deployment: Obj, rs: Obj, new_revision: int, exists: bool) -> dict[str, str]:
    """The annotations the new ReplicaSet should carry (upstream's SetNewReplicaSetAnnotations)."""
    ann = dict((rs.get("metadata") or {}).get("annotations") or {})
    for k, v in ((deployment.get("metadata") or {}).get("annotations") or {}).items():
        if k not in _NOT_COPIED:
            ann[k] = v
    old = ann.get(REVISION, "")
    try:
        old_n = int(old) if old else 0
    except ValueError:
        old_n = 0
    if old_n < new_revision:
        ann[REVISION] = str(new_revision)
        if old:
            ann[REVISION_HISTORY] = f"{ann[REVISION_HISTORY]},{old}" if ann.get(REVISION_HISTORY) else old
    if not exists:
        ann[DESIRED_REPLICAS] = str(replicas(deployment))
        ann[MAX_REPLICAS] = str(replicas(deployment) + max_surge(deployment))
    return ann


# -- sizes -------------------------------------------------------------------------------------


def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_of(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString (3 or "25%") against a total."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        exact = Decimal(pct * total) / Decimal(100)
        return int(math.ceil(exact)) if round_up else int(math.floor(exact))
    return int(text)


def is_rolling(deployment: Obj) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return (strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge rounded up, maxUnavailable rounded down); both zero makes unavailable one."""
    ru = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    want = replicas(deployment)
    surge = scaled_value(ru.get("maxSurge", "25%"), want, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), want, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Obj) -> int:
    return fenceposts(deployment)[0] if is_rolling(deployment) else 0


def max_unavailable(deployment: Obj) -> int:
    if not is_rolling(deployment) or replicas(deployment) == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas(deployment))


def new_set_replicas(deployment: Obj, all_sets: list[Obj], new: Obj) -> int:
    """How big the new set may be now (upstream's NewRSNewReplicas)."""
    want = replicas(deployment)
    if not is_rolling(deployment):
        return want
    current = sum(replicas(rs) for rs in all_sets)
    limit = want + max_surge(deployment)
    if current >= limit:
        return replicas(new)
    return replicas(new) + min(limit - current, want - replicas(new))


def active(sets: Iterable[Obj]) -> list[Obj]:
    return [rs for rs in sets if replicas(rs) > 0]


def by_creation(sets: Iterable[Obj], newest_first: bool = False) -> list[Obj]:
    return sorted(sets, key=lambda rs: (created(rs), rs["metadata"]["name"]), reverse=newest_first)


def cleanup_unhealthy(old_sets: list[Obj], max_cleanup: int) -> dict[str, int]:
    """Scale down old sets' unavailable replicas first (they serve nobody)."""
    plan: dict[str, int] = {}
    done = 0
    for rs in by_creation(old_sets):
        if done >= max_cleanup:
            break
        size = replicas(rs)
        unhealthy = size - status_of(rs, "availableReplicas")
        if size == 0 or unhealthy <= 0:
            continue
        n = min(max_cleanup - done, unhealthy)
        plan[rs["metadata"]["name"]] = size - n
        done += n
    return plan


def scale_down_old(deployment: Obj, all_sets: list[Obj], old_sets: list[Obj]) -> dict[str, int]:
    """Shrink old sets as far as maxUnavailable allows, oldest first."""
    min_available = replicas(deployment) - max_unavailable(deployment)
    available = sum(status_of(rs, "availableReplicas") for rs in all_sets)
    if available <= min_available:
        return {}
    budget = available - min_available
    plan: dict[str, int] = {}
    done = 0
    for rs in by_creation(old_sets):
        if done >= budget:
            break
        size = replicas(rs)
        if size == 0:
            continue
        n = min(size, budget - done)
        plan[rs["metadata"]["name"]] = size - n
        done += n
    return plan


def round_half_away(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP)) if x >= 0 else \
        -int((-x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def proportional_sizes(deployment: Obj, sets: list[Obj]) -> dict[str, int]:
    """A resize during a rollout, spread over the active sets in proportion to their size
    (upstream's scale(): bigger sets first, leftovers to the first)."""
    sets = active(sets)
    want = replicas(deployment)
    surge = max_surge(deployment)
    allowed = want + surge if want > 0 else 0
    to_add = allowed - sum(replicas(rs) for rs in sets)
    # larger first; on ties newer first when growing, older first when shrinking (stable sorts)
    ordered = sorted(by_creation(sets, newest_first=to_add > 0), key=lambda rs: -replicas(rs))
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        name = rs["metadata"]["name"]
        if to_add == 0:
            sizes[name] = replicas(rs)
            continue
        share = _proportion(deployment, rs, to_add, added, want, surge)
        sizes[name] = replicas(rs) + share
        added += share
    if ordered and to_add != 0:
        first = ordered[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _proportion(deployment: Obj, rs: Obj, to_add: int, added: int, want: int, surge: int) -> int:
    size = replicas(rs)
    if size == 0 or to_add == 0 or to_add == added:
        return 0
    if want == 0:
        fraction = -size
    else:
        try:
            annotated = int(((rs.get("metadata") or {}).get("annotations") or {})[MAX_REPLICAS])
        except (KeyError, ValueError):
            annotated = status_of(deployment, "replicas")
        if annotated == 0:
            fraction = 0
        else:
            fraction = round_half_away(Decimal(size * (want + surge)) / Decimal(annotated)) - size
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def find_active_or_latest(new: Obj | None, old_sets: list[Obj]) -> Obj | None:
    old_sorted = by_creation(old_sets, newest_first=True)
    live = active(([new] if new else []) + old_sorted)
    if len(live) == 1:
        return live[0]
    if not live:
        return new or (old_sorted[0] if old_sorted else None)
    return None


def is_saturated(deployment: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS)
    want = replicas(deployment)
    return replicas(rs) == want and desired == str(want) and status_of(rs, "availableReplicas") == want


def needs_replica_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = (rs.get("metadata") or {}).get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


# -- status ------------------------------------------------------------------------------------


def has_progress_deadline(deployment: Obj) -> bool:
    value = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def condition(status: Obj, ctype: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == ctype), None)


def set_condition(status: Obj, ctype: str, value: str, reason: str, message: str, now: str) -> None:
    """Upstream's SetDeploymentCondition: same status and reason changes nothing; same status
    keeps the transition time."""
    current = condition(status, ctype)
    if current and current.get("status") == value and current.get("reason") == reason:
        return
    new = {"type": ctype, "status": value, "lastUpdateTime": now, "lastTransitionTime": now,
           "reason": reason, "message": message}
    if current and current.get("status") == value:
        new["lastTransitionTime"] = current.get("lastTransitionTime", now)
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype] + [new]


def remove_condition(status: Obj, ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]


def calculate_status(deployment: Obj, all_sets: list[Obj], new: Obj | None, now: str) -> Obj:
    available = sum(status_of(rs, "availableReplicas") for rs in all_sets)
    total = sum(replicas(rs) for rs in all_sets)
    old = deployment.get("status") or {}
    status: Obj = {
        "observedGeneration": (deployment.get("metadata") or {}).get("generation", 1),
        "replicas": sum(status_of(rs, "replicas") for rs in all_sets),
        "updatedReplicas": status_of(new, "replicas") if new else 0,
        "readyReplicas": sum(status_of(rs, "readyReplicas") for rs in all_sets),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
        "conditions": [dict(c) for c in old.get("conditions") or []],
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(deployment) - max_unavailable(deployment):
        set_condition(status, AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
    else:
        set_condition(status, AVAILABLE, "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.", now)
    return status


def is_complete(deployment: Obj, status: Obj) -> bool:
    want = replicas(deployment)
    return status.get("updatedReplicas") == want and status.get("replicas") == want and \
        status.get("availableReplicas") == want and \
        int(status.get("observedGeneration") or 0) >= int((deployment.get("metadata") or {}).get("generation") or 1)


def is_progressing(deployment: Obj, status: Obj) -> bool:
    old = deployment.get("status") or {}
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(status.get("replicas") or 0) - int(status.get("updatedReplicas") or 0)
    return int(status.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0) or new_old < old_old or \
        int(status.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0) or \
        int(status.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)


def timed_out(deployment: Obj, status: Obj, now: datetime.datetime) -> bool:
    if not has_progress_deadline(deployment):
        return False
    cond = condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = timestamps.parse_time(cond.get("lastUpdateTime") or cond.get("lastTransitionTime") or "")
    deadline = int((deployment.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    return since + datetime.timedelta(seconds=deadline) < now


def rollout_status(deployment: Obj, all_sets: list[Obj], new: Obj | None, now: datetime.datetime) -> Obj:
    """The status after a rollout step, with the Progressing and ReplicaFailure conditions
    (upstream's syncRolloutStatus)."""
    stamp = timestamps.format_time(now)
    status = calculate_status(deployment, all_sets, new, stamp)
    if not has_progress_deadline(deployment):
        remove_condition(status, PROGRESSING)
    current = condition(status, PROGRESSING)
    complete_already = status["replicas"] == status["updatedReplicas"] and current is not None and \
        current.get("reason") == "NewReplicaSetAvailable"
    if has_progress_deadline(deployment) and not complete_already:
        new_name = new["metadata"]["name"] if new else ""
        if is_complete(deployment, status):
            set_condition(status, PROGRESSING, "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{new_name}" has successfully progressed.', stamp)
        elif is_progressing(deployment, status):
            message = f'ReplicaSet "{new_name}" is progressing.' if new else \
                f'Deployment "{deployment["metadata"]["name"]}" is progressing.'
            since = current.get("lastTransitionTime", stamp) if current and current.get("status") == "True" else stamp
            remove_condition(status, PROGRESSING)
            status["conditions"].append({"type": PROGRESSING, "status": "True", "lastUpdateTime": stamp,
                                         "lastTransitionTime": since, "reason": "ReplicaSetUpdated",
                                         "message": message})
        elif timed_out(deployment, status, now):
            set_condition(status, PROGRESSING, "False", "ProgressDeadlineExceeded",
                          f'ReplicaSet "{new_name}" has timed out progressing.', stamp)
    failures = [c for rs in ([new] if new else []) for c in (rs.get("status") or {}).get("conditions") or []
                if c.get("type") == "ReplicaFailure"]
    if not failures:
        failures = [c for rs in all_sets for c in (rs.get("status") or {}).get("conditions") or []
                    if c.get("type") == "ReplicaFailure"]
    if failures:
        c = failures[0]
        set_condition(status, REPLICA_FAILURE, c.get("status", "True"), c.get("reason", ""), c.get("message", ""),
                      stamp)
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def same_status(a: Obj, b: Obj) -> bool:
    return {k: v for k, v in a.items() if v not in (None, 0, [], {})} == \
        {k: v for k, v in b.items() if v not in (None, 0, [], {})}


def requeue_after(deployment: Obj, status: Obj, now: datetime.datetime) -> float | None:
    """When to look again so a stuck rollout is reported once its deadline passes."""
    if not has_progress_deadline(deployment):
        return None
    cond = condition(status, PROGRESSING)
    if cond is None or cond.get("status") != "True" or cond.get("reason") == "NewReplicaSetAvailable":
        return None
    if is_complete(deployment, status):
        return None
    since = timestamps.parse_time(cond.get("lastUpdateTime") or cond.get("lastTransitionTime") or "")
    deadline = int((deployment.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    remaining = (since + datetime.timedelta(seconds=deadline) - now).total_seconds()
    return max(remaining, 0.0) + 1.0


def history_to_delete(deployment: Obj, old_sets: list[Obj]) -> list[Obj]:
    """Old sets beyond revisionHistoryLimit that are fully scaled down, lowest revision first."""
    limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None:
        return []
    cleanable = [rs for rs in old_sets if not rs["metadata"].get("deletionTimestamp")]
    extra = len(cleanable) - int(limit)
    if extra <= 0:
        return []
    cleanable.sort(key=lambda rs: (revision(rs), created(rs)))
    out = []
    for rs in cleanable[:extra]:
        if status_of(rs, "replicas") or replicas(rs) or \
                int(rs["metadata"].get("generation") or 0) > status_of(rs, "observedGeneration"):
            continue
        out.append(rs)
    return out
