"""apps/v1 kinds: selectors that match their templates, replicas, strategies (batch/v1 kinds,
which share these helpers, are in batch.py)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import FieldError
from ..selectors import label_selector_from_dict
from . import core
from . import meta as m

Obj = dict[str, Any]


def _selector(spec: Obj, kind: str, errs: list[FieldError], path: str = "spec") -> None:
    sel = spec.get("selector")
    tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if sel is None:
        errs.append(FieldError("required", f"{path}.selector"))
        return
    if not isinstance(sel, dict):
        errs.append(FieldError("type", f"{path}.selector", "must be an object", sel))
        return
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(FieldError("invalid", f"{path}.selector", f"empty selector is invalid for {kind}", sel))
        return
    errs += m.labels(sel.get("matchLabels"), f"{path}.selector.matchLabels")
    ops = ("In", "NotIn", "Exists", "DoesNotExist")
    for i, e in enumerate(sel.get("matchExpressions") or []):
        if e.get("operator") not in ops:
            errs.append(FieldError("not_supported", f"{path}.selector.matchExpressions[{i}].operator",
                                   "supported values: " + ", ".join(f'"{o}"' for o in ops), e.get("operator")))
        elif e["operator"] in ("In", "NotIn") and not e.get("values"):
            errs.append(FieldError("required", f"{path}.selector.matchExpressions[{i}].values",
                                   "must be specified when `operator` is 'In' or 'NotIn'"))
    try:
        matches = label_selector_from_dict(sel).matches(tpl_labels)
    except Exception:
        matches = False
    if not matches and spec.get("template") is not None:
        errs.append(FieldError("invalid", f"{path}.template.metadata.labels",
                               "`selector` does not match template `labels`", tpl_labels))


def _non_negative(spec: Obj, field: str, errs: list[FieldError], path: str = "spec") -> None:
    v = spec.get(field)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int):
        errs.append(FieldError("type", f"{path}.{field}", "must be an integer", v))
    elif v < 0:
        errs.append(FieldError("invalid", f"{path}.{field}", "must be greater than or equal to 0", v))


def _immutable(new: Any, old: Any, path: str, errs: list[FieldError]) -> None:
    if new != old:
        errs.append(FieldError("invalid", path, "field is immutable", new))


_INT_OR_PERCENT = re.compile(r"^(\d+)%$")


def _int_or_percent(v: Any, path: str, errs: list[FieldError]) -> None:
    if v is None:
        return
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            errs.append(FieldError("invalid", path, "must be greater than or equal to 0", v))
    elif not (isinstance(v, str) and _INT_OR_PERCENT.match(v)):
        errs.append(FieldError("invalid", path, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')", v))


def deployment(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    _selector(spec, "deployment", errs)
    _non_negative(spec, "replicas", errs)
    _non_negative(spec, "revisionHistoryLimit", errs)
    _non_negative(spec, "minReadySeconds", errs)
    errs += core.pod_template(spec.get("template"), "spec.template", restart_policies=("Always",))
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type", "RollingUpdate")
    if stype not in ("Recreate", "RollingUpdate"):
        errs.append(FieldError("not_supported", "spec.strategy.type", 'supported values: "Recreate", "RollingUpdate"', stype))
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate" and ru:
        errs.append(FieldError("forbidden", "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
    if ru:
        _int_or_percent(ru.get("maxSurge"), "spec.strategy.rollingUpdate.maxSurge", errs)
        _int_or_percent(ru.get("maxUnavailable"), "spec.strategy.rollingUpdate.maxUnavailable", errs)
        if ru.get("maxSurge") in (0, "0%") and ru.get("maxUnavailable") in (0, "0%"):
            errs.append(FieldError("invalid", "spec.strategy.rollingUpdate.maxUnavailable",
                                   "may not be 0 when `maxSurge` is 0", ru.get("maxUnavailable")))
    pd = spec.get("progressDeadlineSeconds")
    if pd is not None and isinstance(pd, int) and pd <= spec.get("minReadySeconds", 0):
        errs.append(FieldError("invalid", "spec.progressDeadlineSeconds", "must be greater than minReadySeconds", pd))
    if old is not None:
        _immutable(spec.get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector", errs)
    return errs


def replicaset(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    _selector(spec, "replicaset", errs)
    _non_negative(spec, "replicas", errs)
    errs += core.pod_template(spec.get("template"), "spec.template", restart_policies=("Always",))
    if old is not None:
        _immutable(spec.get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector", errs)
    return errs


def replication_controller(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    sel = spec.get("selector") or {}
    tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not sel:
        errs.append(FieldError("required", "spec.selector"))
    elif any(tpl_labels.get(k) != v for k, v in sel.items()):
        errs.append(FieldError("invalid", "spec.template.metadata.labels", "`selector` does not match template `labels`", tpl_labels))
    _non_negative(spec, "replicas", errs)
    errs += core.pod_template(spec.get("template"), "spec.template", restart_policies=("Always",))
    return errs


def statefulset(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    _selector(spec, "statefulset", errs)
    _non_negative(spec, "replicas", errs)
    errs += core.pod_template(spec.get("template"), "spec.template", restart_policies=("Always",))
    pmp = spec.get("podManagementPolicy", "OrderedReady")
    if pmp not in ("OrderedReady", "Parallel"):
        errs.append(FieldError("not_supported", "spec.podManagementPolicy", 'supported values: "OrderedReady", "Parallel"', pmp))
    us = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if us not in ("OnDelete", "RollingUpdate"):
        errs.append(FieldError("not_supported", "spec.updateStrategy.type", 'supported values: "OnDelete", "RollingUpdate"', us))
    if old is not None:
        ospec = old.get("spec") or {}
        a = {k: v for k, v in spec.items() if k not in ("replicas", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "ordinals", "revisionHistoryLimit")}
        b = {k: v for k, v in ospec.items() if k not in ("replicas", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "ordinals", "revisionHistoryLimit")}
        if a != b:
            errs.append(FieldError("forbidden", "spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    return errs


def daemonset(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    _selector(spec, "daemonset", errs)
    errs += core.pod_template(spec.get("template"), "spec.template", restart_policies=("Always",))
    us = spec.get("updateStrategy") or {}
    if us.get("type", "RollingUpdate") not in ("OnDelete", "RollingUpdate"):
        errs.append(FieldError("not_supported", "spec.updateStrategy.type", 'supported values: "OnDelete", "RollingUpdate"', us.get("type")))
    if old is not None:
        _immutable(spec.get("selector"), (old.get("spec") or {}).get("selector"), "spec.selector", errs)
    return errs
