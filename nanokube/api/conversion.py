"""Conversion between the versions of one resource that share storage.

Two built-in pairs need it: autoscaling/v1 and v2 HorizontalPodAutoscalers (stored as v2)
and core/v1 and events.k8s.io/v1 Events (stored as core/v1). Custom resources use the
conversion strategy None: only apiVersion changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

# core/v1 Event field ↔ events.k8s.io/v1 Event field
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)
_EVENT_SHARED = ("eventTime", "series", "action", "related", "reportingInstance", "reason", "type")


def _event_to_events_v1(o: Obj) -> Obj:
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": o.get("metadata", {})}
    for core, new in _EVENT_FIELDS:
        if o.get(core) not in (None, ""):
            out[new] = o[core]
    for f in _EVENT_SHARED:
        if o.get(f) not in (None, ""):
            out[f] = o[f]
    return out


def _event_to_core(o: Obj) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Event", "metadata": o.get("metadata", {})}
    for core, new in _EVENT_FIELDS:
        if o.get(new) not in (None, ""):
            out[core] = o[new]
    for f in _EVENT_SHARED:
        if o.get(f) not in (None, ""):
            out[f] = o[f]
    out.setdefault("involvedObject", {})
    return out


def _cpu_target(metrics: list[Obj]) -> int | None:
    for m in metrics or []:
        res = m.get("resource") or {}
        target = res.get("target") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu" and target.get("type") == "Utilization":
            return target.get("averageUtilization")
    return None


def _hpa_to_v1(o: Obj) -> Obj:
    spec = o.get("spec") or {}
    status = o.get("status") or {}
    out: Obj = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": o.get("metadata", {})}
    s1: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    cpu = _cpu_target(spec.get("metrics") or [])
    if cpu is not None:
        s1["targetCPUUtilizationPercentage"] = cpu
    out["spec"] = s1
    st: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas") if k in status}
    for m in status.get("currentMetrics") or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            util = (res.get("current") or {}).get("averageUtilization")
            if util is not None:
                st["currentCPUUtilizationPercentage"] = util
    st.setdefault("currentReplicas", 0)
    st.setdefault("desiredReplicas", 0)
    out["status"] = st
    return out


def _hpa_to_v2(o: Obj) -> Obj:
    spec = o.get("spec") or {}
    status = o.get("status") or {}
    out: Obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": o.get("metadata", {})}
    s2: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    cpu = spec.get("targetCPUUtilizationPercentage")
    if cpu is not None:
        s2["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]
    out["spec"] = s2
    st: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas") if k in status}
    util = status.get("currentCPUUtilizationPercentage")
    if util is not None:
        st["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util}}}]
    if st:
        out["status"] = st
    return out


_CONVERTERS: dict[tuple[str, str, str], Callable[[Obj], Obj]] = {
    ("v1", "events.k8s.io/v1", "Event"): _event_to_events_v1,
    ("events.k8s.io/v1", "v1", "Event"): _event_to_core,
    ("autoscaling/v2", "autoscaling/v1", "HorizontalPodAutoscaler"): _hpa_to_v1,
    ("autoscaling/v1", "autoscaling/v2", "HorizontalPodAutoscaler"): _hpa_to_v2,
}


def convert(obj: Obj, to_api_version: str, kind: str) -> Obj:
    """`obj` as `to_api_version`; identical versions and unknown pairs only relabel."""
    src = obj.get("apiVersion", "")
    if src == to_api_version:
        return obj
    fn = _CONVERTERS.get((src, to_api_version, kind))
    if fn is None:
        out = dict(obj)
        out["apiVersion"] = to_api_version
        return out
    return fn(copy.deepcopy(obj))
