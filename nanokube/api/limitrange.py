"""LimitRange rules (the LimitRanger admission plugin): fill in a container's missing
requests and limits from the namespace's defaults, then check containers, pods and claims
against min, max and maxLimitRequestRatio. Messages follow upstream's wording."""

from __future__ import annotations

import copy
from typing import Any

from . import quantity
from .resources import pod_resources

Obj = dict[str, Any]


def _items(limit_ranges: list[Obj], kind: str) -> list[Obj]:
    return [i for lr in limit_ranges for i in (lr.get("spec") or {}).get("limits") or [] if i.get("type") == kind]


def _fmt(v: Any) -> str:
    return quantity.format(quantity.parse(v), quantity.is_binary(v)) if quantity.is_valid(v) else str(v)


def apply_defaults(pod: Obj, limit_ranges: list[Obj]) -> tuple[Obj, list[str]]:
    """The pod with default requests and limits set where its containers have none, and the
    `cpu request for container c` notes upstream records in the kubernetes.io/limit-ranger
    annotation."""
    items = _items(limit_ranges, "Container")
    if not items:
        return pod, []
    pod = copy.deepcopy(pod)
    notes: list[str] = []
    spec = pod.get("spec") or {}
    init = spec.get("initContainers") or []
    for c in init + (spec.get("containers") or []):
        res = c.setdefault("resources", {})
        filled: dict[str, list[str]] = {"request": [], "limit": []}
        for item in items:
            for which, source, word in (("requests", item.get("defaultRequest"), "request"),
                                        ("limits", item.get("default"), "limit")):
                for k, v in sorted((source or {}).items()):
                    current = res.setdefault(which, {})
                    if k not in current:
                        current[k] = v
                        filled[word].append(k)
        where = "init container" if any(c is i for i in init) else "container"
        notes += [f"{', '.join(names)} {word} for {where} {c.get('name', '')}" for word, names in filled.items() if names]
        for which in ("requests", "limits"):
            if not res.get(which):
                res.pop(which, None)
    return pod, notes


def _check(item: Obj, scope: str, requests: dict[str, str], limits: dict[str, str] | None) -> list[str]:
    """Violations of one LimitRange item by stated requests and limits (quantity texts;
    `limits` None for claims, which have requests only)."""
    errs: list[str] = []
    req = {k: quantity.parse(v) for k, v in requests.items()}
    lim = {k: quantity.parse(v) for k, v in (limits or {}).items()}
    for k, v in (item.get("min") or {}).items():
        floor = quantity.parse(v)
        if k not in req:
            errs.append(f"minimum {k} usage per {scope} is {_fmt(v)}.  No request is specified")
        elif req[k] < floor:
            errs.append(f"minimum {k} usage per {scope} is {_fmt(v)}, but request is {_fmt(requests[k])}")
        if k in lim and lim[k] < floor:
            errs.append(f"minimum {k} usage per {scope} is {_fmt(v)}, but limit is {_fmt((limits or {})[k])}")
    for k, v in (item.get("max") or {}).items():
        ceiling = quantity.parse(v)
        if limits is None:
            if k in req and req[k] > ceiling:
                errs.append(f"maximum {k} usage per {scope} is {_fmt(v)}, but request is {_fmt(requests[k])}")
        elif k not in lim:
            errs.append(f"maximum {k} usage per {scope} is {_fmt(v)}.  No limit is specified")
        elif lim[k] > ceiling:
            errs.append(f"maximum {k} usage per {scope} is {_fmt(v)}, but limit is {_fmt(limits[k])}")
    for k, v in (item.get("maxLimitRequestRatio") or {}).items():
        if limits is None:
            continue
        if k not in lim:
            errs.append(f"{k} max limit to request ratio per {scope} is {_fmt(v)}, but no limit is specified")
        elif req.get(k):
            ratio = lim[k] / req[k]
            if ratio > quantity.parse(v):
                errs.append(f"{k} max limit to request ratio per {scope} is {_fmt(v)}, "
                            f"but provided ratio is {float(ratio):f}")
    return errs


def _stated(values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in (values or {}).items() if quantity.is_valid(v)}


def pod_violations(pod: Obj, limit_ranges: list[Obj]) -> list[str]:
    errs: list[str] = []
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    for item in _items(limit_ranges, "Container"):
        for c in containers:
            res = c.get("resources") or {}
            errs += _check(item, "Container", _stated(res.get("requests")), _stated(res.get("limits")))
    pod_items = _items(limit_ranges, "Pod")
    if pod_items:
        def totals(which: str) -> dict[str, str]:
            # a pod-wide sum counts only for resources every container states
            stated = [_stated((c.get("resources") or {}).get(which)) for c in containers]
            sums = pod_resources(pod, which)
            return {k: quantity.format(v, any(quantity.is_binary(s.get(k)) for s in stated))
                    for k, v in sums.items() if all(k in s for s in stated)}

        for item in pod_items:
            errs += _check(item, "Pod", totals("requests"), totals("limits"))
    return errs


def claim_violations(pvc: Obj, limit_ranges: list[Obj]) -> list[str]:
    requests = _stated(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))
    errs: list[str] = []
    for item in _items(limit_ranges, "PersistentVolumeClaim"):
        errs += _check(item, "PersistentVolumeClaim", {k: v for k, v in requests.items() if k == "storage"}, None)
    return errs
