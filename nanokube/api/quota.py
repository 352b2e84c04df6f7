"""ResourceQuota arithmetic, shared by the admission plugin and the quota controller: what an
object counts for (usage), which quotas it falls under (scopes), and whether a charge fits.

Usage names are upstream's: `count/<resource>[.<group>]` for any object; the legacy names
`pods`, `services`, `secrets`, ...; `services.nodeports` and `services.loadbalancers`;
`requests.<r>` / `<r>` and `limits.<r>` for what a running pod asks for; `requests.storage`
and the per-StorageClass names for claims. Finished pods count for nothing, as upstream.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import quantity
from .resources import pod_resources
from .strategy import pod_qos_class

Obj = dict[str, Any]

LEGACY_COUNTS = {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
                 "persistentvolumeclaims"}
# resources a pod's requests count under the bare name too (`cpu` means `requests.cpu`)
BARE_REQUESTS = ("cpu", "memory", "ephemeral-storage")
LIMITED = ("cpu", "memory", "ephemeral-storage")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def count_name(group: str, plural: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def pod_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def usage(group: str, plural: str, obj: Obj) -> dict[str, Fraction]:
    """What one object counts for against a quota."""
    if group == "" and plural == "pods" and pod_terminal(obj):
        return {}
    out: dict[str, Fraction] = {count_name(group, plural): Fraction(1)}
    if group != "":
        return out
    if plural in LEGACY_COUNTS:
        out[plural] = Fraction(1)
    if plural == "pods":
        for k, v in pod_resources(obj, "requests").items():
            out[f"requests.{k}"] = v
            if k in BARE_REQUESTS:
                out[k] = v
        for k, v in pod_resources(obj, "limits").items():
            out[f"limits.{k}"] = v
    elif plural == "services":
        spec = obj.get("spec") or {}
        stype = spec.get("type", "ClusterIP")
        if stype == "LoadBalancer":
            out["services.loadbalancers"] = Fraction(1)
        if stype in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Fraction(len(spec.get("ports") or []))
    elif plural == "persistentvolumeclaims":
        spec = obj.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        cls = spec.get("storageClassName")
        if cls:
            out[f"{cls}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Fraction(1)
        if storage is not None and quantity.is_valid(storage):
            out["requests.storage"] = quantity.parse(storage)
            if cls:
                out[f"{cls}{STORAGE_CLASS_SUFFIX}requests.storage"] = quantity.parse(storage)
    return out


def _scope_matches(scope: str, operator: str, values: list[str], pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return pod_qos_class(spec) == "BestEffort"
    if scope == "NotBestEffort":
        return pod_qos_class(spec) != "BestEffort"
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
        return False
    if scope == "CrossNamespacePodAffinity":
        affinity = spec.get("affinity") or {}
        terms: list[Obj] = []
        for kind in ("podAffinity", "podAntiAffinity"):
            a = affinity.get(kind) or {}
            terms += a.get("requiredDuringSchedulingIgnoredDuringExecution") or []
            terms += [w.get("podAffinityTerm") or {} for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        return any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms)
    return False


def quota_applies(quota: Obj, group: str, plural: str, obj: Obj) -> bool:
    """Whether `obj` falls under the quota: always without scopes; with scopes only pods
    that match every scope."""
    spec = quota.get("spec") or {}
    scopes: list[tuple[str, str, list[str]]] = [(s, "Exists", []) for s in spec.get("scopes") or []]
    scopes += [(e.get("scopeName", ""), e.get("operator", ""), list(e.get("values") or []))
               for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []]
    if not scopes:
        return True
    if group != "" or plural != "pods":
        return False
    return all(_scope_matches(s, op, vals, obj) for s, op, vals in scopes)


def tracked(hard: dict[str, Any], use: dict[str, Fraction]) -> dict[str, Fraction]:
    """The part of a usage the quota limits."""
    return {k: v for k, v in use.items() if k in hard}


def missing_specs(hard: dict[str, Any], pod: Obj) -> list[str]:
    """`requests.cpu for: c1` lines: compute resources the quota limits that some container
    does not state (upstream refuses such pods: the quota could not account for them)."""
    out = []
    containers = list((pod.get("spec") or {}).get("containers") or [])
    for name in sorted(hard):
        which, _, resource = name.rpartition(".")
        if name in BARE_REQUESTS:
            which, resource = "requests", name
        if which not in ("requests", "limits") or resource not in LIMITED:
            continue
        lacking = [c.get("name", "") for c in containers
                   if resource not in ((c.get("resources") or {}).get(which) or {})]
        if lacking:
            out.append(f"{name} for: {','.join(lacking)}")
    return out


def exceeded(hard: dict[str, Any], used: dict[str, Any], charge: dict[str, Fraction]) -> list[str]:
    """Names whose use plus the charge would go over the hard limit."""
    return sorted(k for k, v in charge.items()
                  if v > 0 and quantity.parse(used.get(k, "0")) + v > quantity.parse(hard[k]))


def render(values: dict[str, Any], names: list[str], hard: dict[str, Any]) -> str:
    """`pods=1,requests.cpu=500m`, each value in the format of the quota's hard limit."""
    parts = []
    for k in names:
        v = values.get(k, 0)
        amount = v if isinstance(v, Fraction) else quantity.parse(v)
        parts.append(f"{k}={quantity.format(amount, quantity.is_binary(hard.get(k)))}")
    return ",".join(parts)


def add_usage(used: dict[str, Any], charge: dict[str, Fraction], hard: dict[str, Any]) -> dict[str, str]:
    """status.used after a charge (negative to release), formatted like the hard limits."""
    out = {k: str(v) for k, v in used.items()}
    for k, v in charge.items():
        total = quantity.parse(used.get(k, "0")) + v
        out[k] = quantity.format(max(total, Fraction(0)), quantity.is_binary(hard.get(k)))
    return out
