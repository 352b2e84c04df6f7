"""CustomResourceDefinitions and the objects they define (upstream's apiextensions rules).

A CRD becomes one `Resource` per served version; its objects are validated against the
version's structural OpenAPI schema, pruned of unknown fields and given the schema's
defaults. Conversion between versions is strategy None: only apiVersion changes.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import jsonpath
from .errors import FieldError
from .registry import Resource, Subresource
from .structural import prune, apply_schema_defaults, validate_value, structural_errors

__all__ = [
    "apply_scale", "apply_schema_defaults", "convert", "crd_status", "default_crd", "prune",
    "resources_for_crd", "scale_of", "validate_crd", "validate_custom_object", "version_schema",
]

Obj = dict[str, Any]
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_GV_SCALE = ("autoscaling", "v1")


def default_crd(crd: Obj) -> Obj:
    out = copy.deepcopy(crd)
    spec = out.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    return out


def version_schema(crd: Obj, version: str) -> Obj | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            s = (v.get("schema") or {}).get("openAPIV3Schema")
            return s if isinstance(s, dict) else None
    return None


def _storage_version(crd: Obj) -> str | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name") or "") or None
    return None


def validate_crd(crd: Obj, old: Obj | None = None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name") or ""
    if not group:
        errs.append(FieldError("required", "spec.group"))
    elif "." not in group:
        errs.append(FieldError("invalid", "spec.group", "should be a domain with at least one dot", group))
    if name != f"{plural}.{group}":
        errs.append(FieldError("invalid", "metadata.name", 'must be spec.names.plural+"."+spec.group', name))
    for field in ("plural", "singular"):
        v = names.get(field)
        if not v:
            errs.append(FieldError("required", f"spec.names.{field}"))
        elif not _DNS_LABEL.match(v):
            errs.append(FieldError("invalid", f"spec.names.{field}", "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", v))
    for field in ("kind", "listKind"):
        v = names.get(field)
        if not v:
            errs.append(FieldError("required", f"spec.names.{field}"))
        elif not _KIND.match(v):
            errs.append(FieldError("invalid", f"spec.names.{field}", "may have mixed case, but should otherwise match: ^[a-z]([-a-z0-9]*[a-z0-9])?$", v))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(FieldError("invalid", "spec.names.listKind", "kind and listKind may not be the same", names["listKind"]))
    for i, s in enumerate(names.get("shortNames") or []):
        if not _DNS_LABEL.match(s or ""):
            errs.append(FieldError("invalid", f"spec.names.shortNames[{i}]", "a lowercase RFC 1123 label is required", s))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errs.append(FieldError("not_supported" if scope else "required", "spec.scope", 'supported values: "Cluster", "Namespaced"', scope))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(FieldError("required", "spec.versions", "must have exactly one version marked as storage version"))
    storage = [v for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        errs.append(FieldError("invalid", "spec.versions", "must have exactly one version marked as storage version",
                               [v.get("name") for v in storage]))
    seen: set[str] = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        vname = v.get("name") or ""
        if not vname:
            errs.append(FieldError("required", f"{p}.name"))
        elif not _DNS_LABEL.match(vname):
            errs.append(FieldError("invalid", f"{p}.name", "a DNS-1035 label is required", vname))
        if vname in seen:
            errs.append(FieldError("duplicate", f"{p}.name", "", vname))
        seen.add(vname)
        if "served" not in v:
            errs.append(FieldError("required", f"{p}.served"))
        if "storage" not in v:
            errs.append(FieldError("required", f"{p}.storage"))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(FieldError("required", f"{p}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errs += structural_errors(schema, f"{p}.schema.openAPIV3Schema", root=True)
        scale = (v.get("subresources") or {}).get("scale")
        if isinstance(scale, dict):
            for field in ("specReplicasPath", "statusReplicasPath"):
                path = scale.get(field)
                if not path:
                    errs.append(FieldError("required", f"{p}.subresources.scale.{field}"))
                elif not path.startswith("."):
                    errs.append(FieldError("invalid", f"{p}.subresources.scale.{field}", "should be a json path under .spec or .status", path))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            cp = f"{p}.additionalPrinterColumns[{j}]"
            if not col.get("name"):
                errs.append(FieldError("required", f"{cp}.name"))
            if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
                errs.append(FieldError("not_supported", f"{cp}.type", 'supported values: "boolean", "date", "integer", "number", "string"', col.get("type")))
            if not col.get("jsonPath"):
                errs.append(FieldError("required", f"{cp}.jsonPath"))
    strategy = (spec.get("conversion") or {}).get("strategy", "None")
    if strategy != "None":
        errs.append(FieldError("not_supported", "spec.conversion.strategy",
                               'supported values: "None" (conversion webhooks are not supported by this server)', strategy))
    if old is not None:
        ospec = old.get("spec") or {}
        if ospec.get("scope") and ospec.get("scope") != scope:
            errs.append(FieldError("invalid", "spec.scope", "field is immutable", scope))
        if ospec.get("group") != group:
            errs.append(FieldError("invalid", "spec.group", "field is immutable", group))
        stored = set((old.get("status") or {}).get("storedVersions") or [])
        missing = stored - {v.get("name") for v in versions}
        if missing:
            errs.append(FieldError("invalid", "status.storedVersions", "must appear in spec.versions", sorted(missing)))
    return errs


def _condition(existing: list[Obj], type_: str, status: str, reason: str, message: str, now: str) -> Obj:
    for c in existing:
        if c.get("type") == type_ and c.get("status") == status:
            return {"type": type_, "status": status, "lastTransitionTime": c.get("lastTransitionTime") or now,
                    "reason": reason, "message": message}
    return {"type": type_, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}


def crd_status(crd: Obj, conflicts: list[str], now: str = "") -> Obj:
    """The status upstream's controllers settle on: accepted names, NamesAccepted, Established."""
    spec = crd.get("spec") or {}
    status = dict(crd.get("status") or {})
    existing = status.get("conditions") or []
    names = dict(spec.get("names") or {})
    conds: list[Obj] = []
    if conflicts:
        conds.append(_condition(existing, "NamesAccepted", "False", "NameConflict",
                                f'"{conflicts[0]}" is already in use', now))
        conds.append(_condition(existing, "Established", "False", "NotAccepted", "not all names are accepted", now))
        accepted = status.get("acceptedNames") or {"plural": "", "kind": ""}
    else:
        conds.append(_condition(existing, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now))
        conds.append(_condition(existing, "Established", "True", "InitialNamesAccepted",
                                "the initial names have been accepted", now))
        accepted = names
    stored = list(status.get("storedVersions") or [])
    sv = _storage_version(crd)
    if sv and sv not in stored and not conflicts:
        stored.append(sv)
    return {"acceptedNames": accepted, "conditions": conds, "storedVersions": stored}


def resources_for_crd(crd: Obj) -> list[Resource]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    sv = _storage_version(crd)
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served"):
            continue
        subs = []
        sr = v.get("subresources") or {}
        if "status" in sr:
            subs.append(Subresource("status", names.get("kind", ""), ("get", "patch", "update")))
        if "scale" in sr:
            subs.append(Subresource("scale", "Scale", ("get", "patch", "update"), *_GV_SCALE))
        out.append(Resource(
            group=group, version=v.get("name", ""), plural=names.get("plural", ""), kind=names.get("kind", ""),
            namespaced=spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), subresources=tuple(subs),
            singular=names.get("singular", ""), storage_version=f"{group}/{sv}" if sv else "", crd=crd,
        ))
    return out


def validate_custom_object(crd: Obj, version: str, obj: Obj, old: Obj | None = None) -> list[FieldError]:
    from .validation.meta import dns_subdomain, object_meta

    namespaced = (crd.get("spec") or {}).get("scope") == "Namespaced"
    errs = object_meta(obj.get("metadata"), namespaced=namespaced, name_check=dns_subdomain)
    schema = version_schema(crd, version)
    if schema is None:
        return errs
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in ("apiVersion", "kind", "metadata")}
    root = dict(schema, properties=props)
    root.pop("required", None)
    required = [r for r in schema.get("required") or [] if r not in ("apiVersion", "kind", "metadata")]
    for r in required:
        if r not in body:
            errs.append(FieldError("required", r))
    errs += validate_value(root, body, "")
    return errs


def _path_get(obj: Obj, path: str) -> Any:
    vals = jsonpath.evaluate(path, obj)
    return vals[0] if vals else None


def _path_set(obj: Obj, path: str, value: Any) -> None:
    parts = [p for p in path.strip(".").split(".") if p]
    cur = obj
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


def _scale_spec(crd: Obj, version: str) -> Obj:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("subresources") or {}).get("scale")) or {}
    return {}


def scale_of(crd: Obj, version: str, obj: Obj) -> Obj:
    sc = _scale_spec(crd, version)
    meta = obj.get("metadata") or {}
    status: Obj = {"replicas": int(_path_get(obj, sc.get("statusReplicasPath", ".status.replicas")) or 0)}
    if sc.get("labelSelectorPath"):
        sel = _path_get(obj, sc["labelSelectorPath"])
        if sel:
            status["selector"] = sel
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": int(_path_get(obj, sc.get("specReplicasPath", ".spec.replicas")) or 0)},
        "status": status,
    }


def apply_scale(crd: Obj, version: str, obj: Obj, replicas: int) -> Obj:
    out = copy.deepcopy(obj)
    _path_set(out, _scale_spec(crd, version).get("specReplicasPath", ".spec.replicas"), replicas)
    return out


def convert(obj: Obj, to_api_version: str) -> Obj:
    out = dict(obj)
    out["apiVersion"] = to_api_version
    return out
