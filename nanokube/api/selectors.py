"""Label and field selectors: parsing, matching, canonical rendering (upstream's syntax).

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists),
`!a` (does not exist), `a>3`, `a<3`, comma-separated (AND). Field selectors: `f=v`,
`f==v`, `f!=v` over the fields each kind exposes, with backslash escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import errors
from .registry import Resource

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_key_error(key: str) -> str | None:
    """Why `key` is not a valid label key (prefix/name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not _NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                "and end with an alphanumeric character")
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character")
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        v = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and v in self.values
        if self.op in ("!=", "notin"):
            return not present or v not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present:
            return False
        try:
            have, want = int(v or ""), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.op == ">" else have < want

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        return f"{self.key}{self.op}{self.values[0]}"


class LabelSelector:
    """AND of requirements; `nothing` is the selector that matches no object."""

    def __init__(self, requirements: list[Requirement] | None = None, nothing: bool = False) -> None:
        self.requirements = sorted(requirements or [], key=lambda r: r.key)
        self.nothing = nothing

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: dict[str, str]) -> bool:
        if self.nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})"


_TOKEN = re.compile(r"\s*(!=|==|=|>|<|,|\(|\)|!|[^\s!=<>,()]+)")


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        if m.group(1):
            out.append(m.group(1))
        pos = m.end()
        if text[pos:].strip() == "":
            break
    return out


def _bad(text: str, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"unable to parse requirement: {why}")


def _check_key(key: str) -> None:
    why = label_key_error(key)
    if why:
        raise _bad(key, f'key: Invalid value: "{key}": {why}')


def _check_value(key: str, value: str) -> None:
    why = label_value_error(value)
    if why:
        raise _bad(key, f'values[0][{key}]: Invalid value: "{value}": {why}')


def parse_label_selector(text: str) -> LabelSelector:
    """The query-string form (`labelSelector=`); errors are 400 BadRequest as upstream's."""
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0
    n = len(toks)
    while i < n:
        if toks[i] == "!":
            if i + 1 >= n:
                raise _bad(text, "found '', expected: identifier")
            key = toks[i + 1]
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            i += 2
        else:
            key = toks[i]
            if key in (",", "(", ")", "=", "==", "!=", ">", "<"):
                raise _bad(text, f"found '{key}', expected: !, identifier, or 'end of string'")
            _check_key(key)
            i += 1
            if i >= n or toks[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = toks[i]
                i += 1
                if op in ("=", "==", "!=", ">", "<"):
                    value = toks[i] if i < n and toks[i] not in (",",) else ""
                    if value in ("(", ")", "=", "==", "!=", ">", "<", "!"):
                        raise _bad(text, f"found '{value}', expected: identifier")
                    if value:
                        i += 1
                    if op in (">", "<"):
                        try:
                            int(value)
                        except ValueError:
                            raise _bad(text, f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}") from None
                    else:
                        _check_value(key, value)
                    reqs.append(Requirement(key, "=" if op == "==" else op, (value,)))
                elif op in ("in", "notin"):
                    if i >= n or toks[i] != "(":
                        raise _bad(text, f"found '{toks[i] if i < n else ''}', expected: '('")
                    i += 1
                    values: list[str] = []
                    expect_value = True
                    while i < n and toks[i] != ")":
                        if toks[i] == ",":
                            if expect_value:
                                values.append("")
                            expect_value = True
                        else:
                            _check_value(key, toks[i])
                            values.append(toks[i])
                            expect_value = False
                        i += 1
                    if i >= n:
                        raise _bad(text, "found '', expected: ')'")
                    i += 1
                    if expect_value and values:
                        values.append("")
                    if not values:
                        raise _bad(text, "for 'in', 'notin' operators, values set can't be empty")
                    reqs.append(Requirement(key, op, tuple(dict.fromkeys(values))))
                else:
                    raise _bad(text, f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < n:
            if toks[i] != ",":
                raise _bad(text, f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= n:
                raise _bad(text, "found '', expected: identifier after ','")
    return LabelSelector(reqs)


def label_selector_from_dict(sel: dict[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector; like upstream, a missing selector selects nothing and an
    empty one selects everything."""
    if sel is None:
        return LabelSelector(nothing=True)
    reqs: list[Requirement] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append(Requirement(k, "=", (str(v),)))
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise errors.BadRequest(f'"{expr.get("operator")}" is not a valid label selector operator')
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(reqs)


# -- field selectors -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str

    def matches(self, fields: dict[str, str]) -> bool:
        have = fields.get(self.field)
        if self.op == "=":
            return have == self.value
        return have != self.value

    def __str__(self) -> str:
        esc = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'=' if self.op == '=' else '!='}{esc}"


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement] | None = None) -> None:
        self.requirements = sorted(requirements or [], key=lambda r: r.field)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: dict[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise errors.BadRequest(f"invalid field selector: invalid escape sequence in {value!r}")
            out.append(value[i + 1])
            i += 2
            continue
        if c in ",=":
            raise errors.BadRequest(f"invalid field selector: unescaped {c!r} in {value!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    reqs = []
    if text.strip():
        for term in _split_unescaped(text, ","):
            if not term:
                continue
            for op, canon in (("!=", "!="), ("==", "="), ("=", "=")):
                idx = _find_unescaped(term, op)
                if idx >= 0:
                    reqs.append(FieldRequirement(term[:idx].strip(), canon, _unescape(term[idx + len(op):])))
                    break
            else:
                raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
    return FieldSelector(reqs)


def _find_unescaped(term: str, op: str) -> int:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith(op, i):
            return i
        i += 1
    return -1


def _s(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    return str(v)


def _get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# per kind, the field paths upstream exposes beyond metadata.name and metadata.namespace
_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "Event"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    ("events.k8s.io", "Event"): ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                                 "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                                 "reason", "reportingController", "type"),
    ("", "Secret"): ("type",),
    ("", "Node"): ("spec.unschedulable",),
    ("", "Namespace"): ("status.phase",),
    ("", "ReplicationController"): ("status.replicas",),
    ("apps", "ReplicaSet"): ("status.replicas",),
    ("batch", "Job"): ("status.successful",),
    ("", "Service"): ("spec.clusterIP", "spec.type"),
    ("", "PersistentVolumeClaim"): (),
}


def supported_fields(r: Resource) -> tuple[str, ...]:
    base = ("metadata.name", "metadata.namespace")
    if r.crd is not None:
        return base + tuple(_crd_selectable(r))
    return base + _FIELDS.get((r.group, r.kind), ())


def _crd_selectable(r: Resource) -> list[str]:
    assert r.crd is not None
    for v in (r.crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == r.version:
            return [str(f.get("jsonPath", "")).lstrip(".") for f in v.get("selectableFields") or []]
    return []


def field_set(r: Resource, obj: dict[str, Any]) -> dict[str, str]:
    """The values of every selectable field of `obj`."""
    meta = obj.get("metadata") or {}
    out = {"metadata.name": _s(meta.get("name")), "metadata.namespace": _s(meta.get("namespace"))}
    for path in supported_fields(r)[2:]:
        if path == "source" and r.kind == "Event" and r.group == "":
            out[path] = _s((obj.get("source") or {}).get("component") or obj.get("reportingComponent"))
        elif path == "spec.unschedulable" or path == "spec.hostNetwork":
            out[path] = _s(bool(_get(obj, path)))
        else:
            out[path] = _s(_get(obj, path))
    return out


def check_field_selector(r: Resource, sel: FieldSelector) -> None:
    """Refuse fields the kind does not expose, with upstream's message."""
    known = supported_fields(r)
    for req in sel.requirements:
        if req.field not in known:
            if r.crd is not None:
                only = ", ".join(f'"{f}"' for f in known)
                raise errors.BadRequest(f'"{req.field}" is not a known field selector: only {only}')
            raise errors.BadRequest(f"field label not supported: {req.field}")
