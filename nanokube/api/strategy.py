"""What the server does to an object on create and update, per kind (upstream's strategies).

System-owned metadata is set here; status is reset on create and carried over on update for
kinds with a status subresource (so only `/status` writes change it, and only it);
`metadata.generation` counts spec changes for the kinds that have one.
"""

from __future__ import annotations

import copy
import secrets
from fractions import Fraction
from typing import Any

from . import quantity
from .registry import Resource

# kinds whose metadata.generation upstream maintains (custom resources always have one)
GENERATION_KINDS = {
    ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("", "ReplicationController"), ("batch", "Job"), ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"), ("networking.k8s.io", "Ingress"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("", "Pod"),
}

# what a freshly created object's status is, for kinds whose create resets it
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Pod"): {"phase": "Pending"},
    ("", "Namespace"): {"phase": "Active"},
    ("", "Service"): {"loadBalancer": {}},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("", "ReplicationController"): {"replicas": 0},
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {
        "currentNumberScheduled": 0, "numberMisscheduled": 0,
        "desiredNumberScheduled": 0, "numberReady": 0,
    },
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("autoscaling", "HorizontalPodAutoscaler"): {},
    ("policy", "PodDisruptionBudget"): {
        "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
    },
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {},
}

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_METADATA = ("uid", "creationTimestamp", "generation", "resourceVersion", "selfLink")


def generate_name(prefix: str, rand: secrets.SystemRandom | None = None) -> str:
    """generateName: the prefix plus five characters from upstream's alphabet."""
    r = rand or secrets.SystemRandom()
    return prefix + "".join(r.choice(_NAME_ALPHABET) for _ in range(5))


def tracks_generation(resource: Resource) -> bool:
    return resource.crd is not None or (resource.group, resource.kind) in GENERATION_KINDS


def _drop_empty_lists(meta: dict[str, Any]) -> None:
    """finalizers and ownerReferences are omitempty in Go: a patch that removes the last
    one leaves no empty list behind."""
    for field in ("finalizers", "ownerReferences"):
        if meta.get(field) == []:
            del meta[field]


def prepare_create(resource: Resource, obj: dict[str, Any], *, uid: str, now: str) -> dict[str, Any]:
    """System fields of a new object; the caller has already checked and set the name."""
    obj = dict(obj)
    meta = dict(obj.get("metadata") or {})
    meta["uid"] = uid
    meta["creationTimestamp"] = now
    for field in ("resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(field, None)
    if tracks_generation(resource):
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    _drop_empty_lists(meta)
    obj["metadata"] = meta
    if resource.has_status():
        initial = _INITIAL_STATUS.get((resource.group, resource.kind))
        if resource.crd is not None:
            obj.pop("status", None)
        elif initial is not None:
            obj["status"] = copy.deepcopy(initial)
    if resource.group == "" and resource.kind == "Pod":
        obj["status"] = dict(obj.get("status") or {}, qosClass=pod_qos_class(obj.get("spec") or {}))
    return obj


def pod_qos_class(spec: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from the cpu and memory requests and limits of
    every (init) container, as upstream's create strategy records it in status.qosClass."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        res = c.get("resources") or {}
        for name, q in (res.get("requests") or {}).items():
            if name in ("cpu", "memory") and quantity.is_valid(q) and quantity.parse(q) > 0:
                requests[name] = requests.get(name, Fraction(0)) + quantity.parse(q)
        found = set()
        for name, q in (res.get("limits") or {}).items():
            if name in ("cpu", "memory") and quantity.is_valid(q) and quantity.parse(q) > 0:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + quantity.parse(q)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == q for n, q in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def spec_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Anything outside metadata and status differs."""
    keys = (set(new) | set(old)) - {"metadata", "status", "apiVersion", "kind"}
    return any(new.get(k) != old.get(k) for k in keys)


def prepare_update(
    resource: Resource, new: dict[str, Any], old: dict[str, Any], subresource: str = ""
) -> dict[str, Any]:
    """Carry over what the writer may not change; bump generation on spec changes."""
    if subresource == "status":
        # a status write changes status (and may touch labels/annotations upstream ignores);
        # everything else stays as it was
        out = copy.deepcopy(old)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        meta = dict(out["metadata"])
        new_meta = new.get("metadata") or {}
        if "managedFields" in new_meta:
            meta["managedFields"] = new_meta["managedFields"]
        out["metadata"] = meta
        return out
    out = dict(new)
    meta = dict(out.get("metadata") or {})
    old_meta = old.get("metadata") or {}
    for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta.pop("resourceVersion", None)
    _drop_empty_lists(meta)
    if resource.has_status() and subresource == "":
        if "status" in old:
            out["status"] = old["status"]
        else:
            out.pop("status", None)
    if tracks_generation(resource):
        generation = int(old_meta.get("generation") or 1)
        if spec_changed(out, old):
            generation += 1
        meta["generation"] = generation
    else:
        meta.pop("generation", None)
    out["metadata"] = meta
    return out


def reset_fields(resource: Resource, subresource: str) -> list[tuple[str, ...]]:
    """Fields a writer through this endpoint does not own (managed-fields tracking and apply):
    the main resource does not own status when the kind has a status subresource, and a
    status write owns nothing but status (spec and metadata stay as they were)."""
    if subresource == "" and resource.has_status():
        return [("status",)]
    if subresource == "status":
        return [("spec",), ("metadata",)]
    return []
