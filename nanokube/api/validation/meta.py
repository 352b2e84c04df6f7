"""Names, labels, annotations and object metadata, with upstream's rules and messages."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..errors import FieldError
from ..selectors import label_key_error, label_value_error

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")

MAX_ANNOTATIONS = 256 * 1024


def dns_subdomain(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append("must be no more than 253 characters")
    if not DNS1123_SUBDOMAIN.match(value):
        out.append(SUBDOMAIN_MSG)
    return out


def dns_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not DNS1123_LABEL.match(value):
        out.append(LABEL_MSG)
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not DNS1035_LABEL.match(value):
        out.append(DNS1035_MSG)
    return out


def path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    for bad in ("/", "%"):
        if bad in value:
            return [f"may not contain '{bad}'"]
    return []


def labels(values: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if values is None:
        return errs
    if not isinstance(values, dict):
        return [FieldError("type", path, "must be a map of strings", values)]
    for k, v in values.items():
        why = label_key_error(k)
        if why:
            errs.append(FieldError("invalid", path, why, k))
        if not isinstance(v, str):
            errs.append(FieldError("type", f"{path}[{k}]", "must be a string", v))
            continue
        why = label_value_error(v)
        if why:
            errs.append(FieldError("invalid", path, why, v))
    return errs


def annotation_map(values: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if values is None:
        return errs
    if not isinstance(values, dict):
        return [FieldError("type", path, "must be a map of strings", values)]
    size = 0
    for k, v in values.items():
        why = label_key_error(k.lower())
        if why:
            errs.append(FieldError("invalid", path, why, k))
        if not isinstance(v, str):
            errs.append(FieldError("type", f"{path}[{k}]", "must be a string", v))
            continue
        size += len(k) + len(v)
    if size > MAX_ANNOTATIONS:
        errs.append(FieldError("too_long", path, f"must have at most {MAX_ANNOTATIONS} bytes"))
    return errs


def object_meta(meta: Any, *, namespaced: bool, name_check: Any = dns_subdomain, path: str = "metadata") -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(meta, dict):
        return [FieldError("required", path)]
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            errs.append(FieldError("required", f"{path}.name", "name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(FieldError("type", f"{path}.name", "must be a string", name))
    else:
        for why in name_check(name):
            errs.append(FieldError("invalid", f"{path}.name", why, name))
    gen = meta.get("generateName")
    if gen and isinstance(gen, str) and not name:
        for why in name_check(gen.rstrip("-") or "a"):
            errs.append(FieldError("invalid", f"{path}.generateName", why, gen))
    if namespaced:
        ns = meta.get("namespace")
        if not ns:
            errs.append(FieldError("required", f"{path}.namespace"))
        else:
            for why in dns_label(ns):
                errs.append(FieldError("invalid", f"{path}.namespace", why, ns))
    elif meta.get("namespace"):
        errs.append(FieldError("forbidden", f"{path}.namespace", "not allowed on this type"))
    errs += labels(meta.get("labels"), f"{path}.labels")
    errs += annotation_map(meta.get("annotations"), f"{path}.annotations")
    for i, f in enumerate(meta.get("finalizers") or []):
        if not isinstance(f, str) or label_key_error(f):
            errs.append(FieldError("invalid", f"{path}.finalizers[{i}]",
                                   "name is neither a standard finalizer name nor is it fully qualified", f))
    seen = set()
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        p = f"{path}.ownerReferences[{i}]"
        if not isinstance(ref, dict):
            errs.append(FieldError("type", p, "must be an object", ref))
            continue
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                errs.append(FieldError("required", f"{p}.{field}", f"{field} must not be empty"))
        if ref.get("uid") in seen:
            errs.append(FieldError("duplicate", f"{p}.uid", "", ref.get("uid")))
        seen.add(ref.get("uid"))
    if sum(1 for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("controller")) > 1:
        errs.append(FieldError("invalid", f"{path}.ownerReferences", "Only one reference can have Controller set to true"))
    return errs


def object_meta_update(new: dict[str, Any], old: dict[str, Any], path: str = "metadata") -> list[FieldError]:
    errs: list[FieldError] = []
    for field in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(field) != old.get(field) and old.get(field) is not None:
            errs.append(FieldError("invalid", f"{path}.{field}", "field is immutable", new.get(field)))
    return errs


def go_repr(value: Any) -> str:
    """A compact rendering of a value for messages."""
    return orjson.dumps(value).decode() if not isinstance(value, str) else value
