"""Structural OpenAPI v3 schemas of custom resources: checking the schema itself, and
pruning, defaulting and validating values against it, with upstream's messages."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson

from .errors import FieldError
from . import timestamps

Obj = dict[str, Any]
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_META_KEEP = {"name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
              "finalizers", "ownerReferences", "managedFields", "selfLink"}


def structural_errors(s: Any, path: str, root: bool = False) -> list[FieldError]:
    """Why a CRD version schema is not structural (or uses what this server cannot evaluate)."""
    errs: list[FieldError] = []
    if not isinstance(s, dict):
        return [FieldError("type", path, "must be an object", s)]
    t = s.get("type")
    special = s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")
    if root:
        if t != "object":
            errs.append(FieldError("required" if not t else "invalid", f"{path}.type",
                                   "must not be empty at the root" if not t else "must be object at the root", t))
    elif not t and not special:
        errs.append(FieldError("required", f"{path}.type", "must not be empty for specified object fields"))
    if t and t not in _TYPES:
        errs.append(FieldError("not_supported", f"{path}.type", ", ".join(f'"{x}"' for x in _TYPES), t))
    if s.get("x-kubernetes-validations"):
        errs.append(FieldError("forbidden", f"{path}.x-kubernetes-validations",
                               "CEL validation rules are not supported by this server"))
    for bad in ("$ref", "additionalItems", "patternProperties", "dependencies", "definitions", "id"):
        if bad in s:
            errs.append(FieldError("forbidden", f"{path}.{bad}", f"{bad} is not supported"))
    if s.get("properties") and isinstance(s.get("additionalProperties"), dict):
        errs.append(FieldError("forbidden", f"{path}.additionalProperties",
                               "additionalProperties and properties are mutual exclusive"))
    for k, sub in (s.get("properties") or {}).items():
        if root and k == "metadata":
            if isinstance(sub, dict):
                for mk in (sub.get("properties") or {}):
                    if mk not in ("name", "generateName"):
                        errs.append(FieldError("forbidden", f"{path}.properties[metadata].properties[{mk}]",
                                               "must not be specified"))
            continue
        errs += structural_errors(sub, f"{path}.properties[{k}]")
    if isinstance(s.get("items"), dict):
        errs += structural_errors(s["items"], f"{path}.items")
    elif t == "array" and not special:
        errs.append(FieldError("required", f"{path}.items", "must be specified"))
    if isinstance(s.get("additionalProperties"), dict):
        errs += structural_errors(s["additionalProperties"], f"{path}.additionalProperties")
    for comb in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(comb) or []):
            if isinstance(sub, dict) and ("type" in sub or "default" in sub):
                errs.append(FieldError("forbidden", f"{path}.{comb}[{i}].type",
                                       "must be empty to be structural"))
    return errs


# -- pruning and defaulting --------------------------------------------------------------------


def prune(schema: Obj, obj: Obj) -> Obj:
    """Drop fields the schema does not specify (the root keeps apiVersion, kind, metadata)."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for k in [k for k in meta if k not in _META_KEEP]:
            del meta[k]
    body_schema = dict(schema)
    props = dict(schema.get("properties") or {})
    for k in ("apiVersion", "kind", "metadata"):
        props.setdefault(k, {"x-kubernetes-preserve-unknown-fields": True})
    body_schema["properties"] = props
    _prune(body_schema, out)
    return out


def _prune(s: Any, v: Any) -> None:
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        if s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
            return
        props = s.get("properties")
        extra = s.get("additionalProperties")
        if s.get("x-kubernetes-embedded-resource"):
            props = dict(props or {})
            for k in ("apiVersion", "kind", "metadata"):
                props.setdefault(k, {"x-kubernetes-preserve-unknown-fields": True})
        if props is not None:
            for k in list(v):
                if k in props:
                    _prune(props[k], v[k])
                elif isinstance(extra, dict):
                    _prune(extra, v[k])
                elif not (extra is True or s.get("x-kubernetes-preserve-unknown-fields")):
                    del v[k]
        elif isinstance(extra, dict):
            for k in v:
                _prune(extra, v[k])
        elif s.get("type") == "object" and extra is None and not s.get("x-kubernetes-preserve-unknown-fields"):
            v.clear()
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for item in v:
            _prune(s["items"], item)


def apply_schema_defaults(schema: Obj, obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    _default(schema, out)
    return out


def _default(s: Any, v: Any) -> None:
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        for k, sub in (s.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            if (k not in v and "default" in sub) or (v.get(k) is None and k in v and "default" in sub and not sub.get("nullable")):
                v[k] = copy.deepcopy(sub["default"])
            if k in v:
                _default(sub, v[k])
        extra = s.get("additionalProperties")
        if isinstance(extra, dict) and not s.get("properties"):
            for k in v:
                _default(extra, v[k])
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for item in v:
            _default(s["items"], item)


# -- validation --------------------------------------------------------------------------------


def _json(v: Any) -> str:
    return orjson.dumps(v).decode()


def _type_ok(t: str, v: Any) -> bool:
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return True


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate_value(s: Any, v: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(s, dict):
        return errs
    name = path or "<root>"
    if v is None:
        if s.get("nullable"):
            return errs
        if s.get("type") and not s.get("x-kubernetes-preserve-unknown-fields"):
            errs.append(FieldError("type", path, f"{name} in body must be of type {s['type']}: \"null\"", None))
        return errs
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))):
            errs.append(FieldError("type", path, f"{name} in body must be of type integer,string: {_json(v)}", v))
            return errs
    elif s.get("type") and not _type_ok(s["type"], v):
        kind = "null" if v is None else type(v).__name__
        kind = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object", "list": "array"}.get(kind, kind)
        errs.append(FieldError("type", path, f"{name} in body must be of type {s['type']}: \"{kind}\"", v))
        return errs
    if "enum" in s and v not in s["enum"]:
        errs.append(FieldError("not_supported", path, "supported values: " + ", ".join(_json(e) for e in s["enum"]), v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        mn, mx = s.get("minimum"), s.get("maximum")
        if mn is not None and (v < mn or (s.get("exclusiveMinimum") and v == mn)):
            op = "greater than" if s.get("exclusiveMinimum") else "greater than or equal to"
            errs.append(FieldError("invalid", path, f"{name} in body should be {op} {mn}", v))
        if mx is not None and (v > mx or (s.get("exclusiveMaximum") and v == mx)):
            op = "less than" if s.get("exclusiveMaximum") else "less than or equal to"
            errs.append(FieldError("invalid", path, f"{name} in body should be {op} {mx}", v))
        if s.get("multipleOf") and v % s["multipleOf"] != 0:
            errs.append(FieldError("invalid", path, f"{name} in body should be a multiple of {s['multipleOf']}", v))
        fmt = s.get("format")
        if fmt == "int32" and not -(2**31) <= v < 2**31:
            errs.append(FieldError("invalid", path, f"{name} in body must be of type int32", v))
    if isinstance(v, str):
        if s.get("maxLength") is not None and len(v) > s["maxLength"]:
            errs.append(FieldError("too_long", path, f"may not be longer than {s['maxLength']}"))
        if s.get("minLength") is not None and len(v) < s["minLength"]:
            errs.append(FieldError("invalid", path, f"{name} in body should be at least {s['minLength']} chars long", v))
        if s.get("pattern"):
            try:
                ok = re.search(s["pattern"], v) is not None
            except re.error:
                ok = True
            if not ok:
                errs.append(FieldError("invalid", path, f"{name} in body should match '{s['pattern']}'", v))
        fmt = s.get("format")
        if fmt == "date-time":
            try:
                timestamps.parse_time(v)
            except ValueError:
                errs.append(FieldError("invalid", path, f"{name} in body must be of type date-time: {_json(v)}", v))
    if isinstance(v, list):
        if s.get("maxItems") is not None and len(v) > s["maxItems"]:
            errs.append(FieldError("too_many", path, f"must have at most {s['maxItems']} items"))
        if s.get("minItems") is not None and len(v) < s["minItems"]:
            errs.append(FieldError("invalid", path, f"{name} in body should have at least {s['minItems']} items", v))
        lt = s.get("x-kubernetes-list-type")
        if s.get("uniqueItems") or lt == "set":
            seen: list[Any] = []
            for i, item in enumerate(v):
                if item in seen:
                    errs.append(FieldError("duplicate", f"{path}[{i}]", "", item))
                seen.append(item)
        if lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen_keys: list[Any] = []
            for i, item in enumerate(v):
                k = tuple((item or {}).get(x) for x in keys) if isinstance(item, dict) else item
                if k in seen_keys:
                    errs.append(FieldError("duplicate", f"{path}[{i}]", "", item))
                seen_keys.append(k)
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                errs += validate_value(s["items"], item, f"{path}[{i}]")
    if isinstance(v, dict):
        for r in s.get("required") or []:
            if r not in v:
                errs.append(FieldError("required", _field(path, r)))
        if s.get("maxProperties") is not None and len(v) > s["maxProperties"]:
            errs.append(FieldError("too_many", path, f"must have at most {s['maxProperties']} items"))
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k, sub in v.items():
            if k in props:
                errs += validate_value(props[k], sub, _field(path, k))
            elif isinstance(extra, dict):
                errs += validate_value(extra, sub, _field(path, k))
    for sub in s.get("allOf") or []:
        errs += validate_value(sub, v, path)
    if s.get("anyOf") and not any(not validate_value(sub, v, path) for sub in s["anyOf"]):
        errs.append(FieldError("invalid", path, f"{name} in body must match at least one schema in anyOf", v))
    if s.get("oneOf"):
        matching = sum(1 for sub in s["oneOf"] if not validate_value(sub, v, path))
        if matching != 1:
            errs.append(FieldError("invalid", path, f"{name} in body must match exactly one schema in oneOf", v))
    if isinstance(s.get("not"), dict) and not validate_value(s["not"], v, path):
        errs.append(FieldError("invalid", path, f"{name} in body must not match the schema in not", v))
    return errs
