"""What controllers ask about pods and owners: is it active, ready, available, who controls
it, and which pods go first when scaling down. One definition, so every workload controller
counts pods the same way upstream's controllers do."""

from __future__ import annotations

import datetime
from typing import Any
from ..api import timestamps

Obj = dict[str, Any]


def controller_of(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def pod_is_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def pod_is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pod_is_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    if not pod_is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("lastTransitionTime"):
            since = timestamps.parse_time(c["lastTransitionTime"])
            return (now - since).total_seconds() >= min_ready_seconds
    return False


def deletion_rank(pod: Obj) -> tuple[int, int, int, int]:
    """Which pods go first when scaling down (upstream's order, simplified): unassigned before
    assigned, pending before unknown before running, not ready before ready, most restarts."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if pod_is_ready(pod) else 0, -restarts)


def controller_ref(owner: Obj, kind: str, api_version: str) -> Obj:
    """The ownerReference a controller puts on what it creates."""
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}
