"""PodDisruptionBudget arithmetic, shared by the disruption controller (which keeps a budget's
status) and the eviction API (which spends it).

A budget selects pods by label; `minAvailable` or `maxUnavailable` (a number or a percentage
of the pods their controllers want) gives how many must stay healthy; a pod is healthy when
Ready and not being deleted and not just evicted (an eviction is remembered in
status.disruptedPods for two minutes, until the deletion is seen).
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from .selectors import label_selector_from_dict
from . import timestamps

Obj = dict[str, Any]
# how long an eviction counts against the budget before the deletion must have been seen
DELETION_TIMEOUT = datetime.timedelta(minutes=2)


def selects(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: an empty selector selects every pod of the namespace, a missing one none."""
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return label_selector_from_dict(selector).matches((pod.get("metadata") or {}).get("labels") or {})


def pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def live_disruptions(pdb: Obj, pods: dict[str, Obj], now: datetime.datetime) -> dict[str, str]:
    """status.disruptedPods without evictions already seen through (the pod is gone or being
    deleted) or timed out."""
    out = {}
    for name, at in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        pod = pods.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        if timestamps.parse_time(at) + DELETION_TIMEOUT < now:
            continue
        out[name] = at
    return out


def healthy(pod: Obj, disrupted: dict[str, str]) -> bool:
    return pod_ready(pod) and not pod["metadata"].get("deletionTimestamp") and pod["metadata"]["name"] not in disrupted


def _scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def needs_controllers(pdb: Obj) -> bool:
    """Whether the budget is relative to what the pods' controllers want (a percentage or
    maxUnavailable), so the expected count must come from their scale."""
    spec = pdb.get("spec") or {}
    min_available = spec.get("minAvailable")
    return spec.get("maxUnavailable") is not None or (isinstance(min_available, str) and min_available.endswith("%"))


def desired_healthy(pdb: Obj, expected: int) -> int:
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        return max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
    min_available = spec.get("minAvailable")
    if min_available is None:
        return 1  # neither given: keep one pod up, as upstream's default
    return _scaled(min_available, expected, round_up=True)
