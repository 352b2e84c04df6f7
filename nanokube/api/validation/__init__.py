"""Validation of built-in kinds: metadata for every kind, per-kind rules where upstream has
them, immutable fields on update. Returns FieldErrors; the caller turns them into a 422.

Also the two strict-decoding checks of `fieldValidation`: fields the schema does not know,
and keys repeated in a JSON body.
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Callable

from ..errors import FieldError
from ..registry import Resource
from ..schema import Node, Schema, node_types
from . import batch, core, meta, workloads

Obj = dict[str, Any]
Validator = Callable[[Obj, "Obj | None"], list[FieldError]]

_NAME_RULES: dict[tuple[str, str], Callable[[str], list[str]]] = {
    ("", "Namespace"): meta.dns_label,
    ("", "Service"): meta.dns1035_label,
    ("rbac.authorization.k8s.io", "Role"): meta.path_segment,
    ("rbac.authorization.k8s.io", "ClusterRole"): meta.path_segment,
    ("rbac.authorization.k8s.io", "RoleBinding"): meta.path_segment,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): meta.path_segment,
    ("", "Event"): lambda n: [] if n else ["must not be empty"],
    ("events.k8s.io", "Event"): lambda n: [] if n else ["must not be empty"],
}


def _rules(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        if not rule.get("verbs"):
            errs.append(FieldError("required", f"rules[{i}].verbs", "verbs must contain at least one value"))
        if not rule.get("nonResourceURLs") and not rule.get("apiGroups") and rule.get("resources"):
            errs.append(FieldError("required", f"rules[{i}].apiGroups",
                                   "resource rules must supply at least one api group"))
    return errs


def _binding(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = obj.get("roleRef") or {}
    if not ref.get("name"):
        errs.append(FieldError("required", "roleRef.name"))
    if ref.get("kind") not in ("Role", "ClusterRole"):
        errs.append(FieldError("not_supported", "roleRef.kind", 'supported values: "Role", "ClusterRole"', ref.get("kind")))
    if ref.get("apiGroup") not in ("rbac.authorization.k8s.io",):
        errs.append(FieldError("not_supported", "roleRef.apiGroup", 'supported values: "rbac.authorization.k8s.io"', ref.get("apiGroup")))
    for i, s in enumerate(obj.get("subjects") or []):
        if s.get("kind") not in ("User", "Group", "ServiceAccount"):
            errs.append(FieldError("not_supported", f"subjects[{i}].kind", 'supported values: "Group", "ServiceAccount", "User"', s.get("kind")))
        if not s.get("name"):
            errs.append(FieldError("required", f"subjects[{i}].name"))
    if old is not None and old.get("roleRef") != obj.get("roleRef"):
        errs.append(FieldError("invalid", "roleRef", "cannot change roleRef", obj.get("roleRef")))
    return errs


def _priority_class(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    value = obj.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        errs.append(FieldError("required", "value"))
    elif not name.startswith("system-") and value > 1_000_000_000:
        errs.append(FieldError("forbidden", "value", "maximum allowed value of a user defined priority is 1000000000"))
    if name.startswith("system-") and old is None and name not in ("system-node-critical", "system-cluster-critical"):
        errs.append(FieldError("forbidden", "metadata.name", "priority class names with 'system-' prefix are reserved"))
    pp = obj.get("preemptionPolicy", "PreemptLowerPriority")
    if pp not in ("Never", "PreemptLowerPriority"):
        errs.append(FieldError("not_supported", "preemptionPolicy", 'supported values: "Never", "PreemptLowerPriority"', pp))
    if old is not None and old.get("value") != value:
        errs.append(FieldError("forbidden", "value", "may not be changed in an update."))
    return errs


def _storage_class(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if not obj.get("provisioner"):
        errs.append(FieldError("required", "provisioner"))
    if old is not None:
        for f in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
            if obj.get(f) != old.get(f):
                errs.append(FieldError("forbidden", f, "updates to " + f + " are forbidden."))
    return errs


def _pdb(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    if "minAvailable" in spec and "maxUnavailable" in spec:
        return [FieldError("invalid", "spec", "minAvailable and maxUnavailable cannot be both set", spec)]
    return []


def _lease(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    d = spec.get("leaseDurationSeconds")
    if d is not None and (not isinstance(d, int) or d <= 0):
        return [FieldError("invalid", "spec.leaseDurationSeconds", "must be greater than 0", d)]
    return []


def _ingress(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
        for j, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
            path = f"spec.rules[{i}].http.paths[{j}]"
            if p.get("pathType") not in ("Exact", "Prefix", "ImplementationSpecific"):
                errs.append(FieldError("not_supported" if p.get("pathType") else "required", f"{path}.pathType",
                                       'supported values: "Exact", "ImplementationSpecific", "Prefix"', p.get("pathType")))
            if not p.get("backend"):
                errs.append(FieldError("required", f"{path}.backend"))
    return errs


_VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): core.pod,
    ("", "PodTemplate"): lambda o, old: core.pod_template(o.get("template"), "template"),
    ("", "Service"): core.service,
    ("", "ConfigMap"): core.configmap,
    ("", "Secret"): core.secret,
    ("", "Namespace"): core.namespace,
    ("", "PersistentVolumeClaim"): core.pvc,
    ("", "PersistentVolume"): core.pv,
    ("", "ReplicationController"): workloads.replication_controller,
    ("apps", "Deployment"): workloads.deployment,
    ("apps", "ReplicaSet"): workloads.replicaset,
    ("apps", "StatefulSet"): workloads.statefulset,
    ("apps", "DaemonSet"): workloads.daemonset,
    ("batch", "Job"): batch.job,
    ("batch", "CronJob"): batch.cronjob,
    ("rbac.authorization.k8s.io", "Role"): _rules,
    ("rbac.authorization.k8s.io", "ClusterRole"): _rules,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("policy", "PodDisruptionBudget"): _pdb,
    ("coordination.k8s.io", "Lease"): _lease,
    ("networking.k8s.io", "Ingress"): _ingress,
}


def validate(resource: Resource, obj: Obj, old: Obj | None = None, subresource: str = "") -> list[FieldError]:
    """Everything wrong with `obj` (on update, `old` is what is stored)."""
    key = (resource.group, resource.kind)
    errs = meta.object_meta(obj.get("metadata"), namespaced=resource.namespaced,
                            name_check=_NAME_RULES.get(key, meta.dns_subdomain))
    if old is not None:
        errs += meta.object_meta_update(obj.get("metadata") or {}, old.get("metadata") or {})
    if subresource == "status":
        return errs
    fn = _VALIDATORS.get(key)
    if fn is not None:
        errs += fn(obj, old)
    return errs


# -- strict decoding ---------------------------------------------------------------------------

_ALWAYS_KNOWN = {"apiVersion", "kind", "metadata"}


def unknown_fields(schema: Schema, node: Node | None, obj: Obj) -> list[str]:
    """Paths of fields the schema does not define, as upstream's strict decoder names them."""
    out: list[str] = []
    if node is None or not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if k in _ALWAYS_KNOWN:
            if k == "metadata" and isinstance(v, dict):
                _walk(schema, schema.child(node, "metadata"), v, "metadata", out)
            continue
        child = schema.child(node, k)
        if child is None:
            if not _preserves(schema, node):
                out.append(k)
            continue
        _walk(schema, child, v, k, out)
    return out


def _preserves(schema: Schema, node: Node | None) -> bool:
    n = schema.resolve(node)
    return bool(n and (n.get("x-kubernetes-preserve-unknown-fields") or
                       (isinstance(n.get("additionalProperties"), dict) and not n.get("properties"))
                       or n.get("additionalProperties") is True))


def _walk(schema: Schema, node: Node | None, value: Any, path: str, out: list[str]) -> None:
    n = schema.resolve(node)
    if n is None or n.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = n.get("properties")
        extra = n.get("additionalProperties")
        if props is None and extra is None:
            if "object" in node_types(n) or not node_types(n):
                return  # an opaque object (RawExtension, JSON)
        for k, v in value.items():
            child = props.get(k) if props else None
            if child is None and isinstance(extra, dict):
                _walk(schema, extra, v, f"{path}.{k}", out)
                continue
            if child is None:
                if extra is True or (props is None and extra is None):
                    continue
                out.append(f"{path}.{k}")
                continue
            _walk(schema, child, v, f"{path}.{k}", out)
    elif isinstance(value, list):
        items = n.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _walk(schema, items, v, f"{path}[{i}]", out)


def duplicate_fields(raw: bytes) -> list[str]:
    """Keys that appear twice in one JSON object of the body.

    The body is scanned once more by the standard library's C scanner with a pairs hook that
    only compares sizes, which is several times cheaper than looking for keys with a regular
    expression; only an object with a duplicate is looked at key by key.
    """
    found: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen and k not in found:
                    found.append(k)
                seen.add(k)
        return out

    if b'"' not in raw:
        return found
    try:
        json.loads(raw, object_pairs_hook=hook)
    except ValueError:
        pass
    return found
