"""Field selectors: upstream's `f=v,f!=v` syntax, and the fields each kind lets clients select on.

The syntax is small but exact: terms split on unescaped commas, each term splits at the first
`!=`, `==` or `=`, values use `\\`, `\\,` and `\\=` escapes, terms are sorted before use, and
a term with neither field nor value (`=`) means nothing. Field names are not trimmed: upstream
rejects `spec.nodeName = x` as an unknown field, and so do we.

Which fields a kind offers comes from two places upstream, and both matter. The conversion
functions registered per kind decide which labels a request may use (and map a few old or
versioned names, such as a Pod's `spec.host` or an events.k8s.io Event's `regarding.name`,
onto the fields the registry computes). The registry's GetAttrs then computes the values
from the stored object. A label that passes the first but has no value in the second reads as
the empty string (a Pod's `status.podIPs` is one: accepted, never filled in). `field_set`
returns the values under the labels a client can send, so matching needs no translation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import errors, jsonpath
from .registry import Resource

Obj = Mapping[str, Any]

# -- Go's quoting, for messages that must read as upstream's --------------------------------

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(s: str) -> str:
    """A string as Go's %q prints it, since upstream's messages quote names and values so."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# -- syntax -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    """`field=value` (`==` reads the same) or `field!=value`."""

    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        # a field the object does not have reads as "" (upstream's Set.Get)
        have = fields.get(self.field, "")
        return have == self.value if self.operator == "=" else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


class FieldSelector:
    """An AND of field requirements, in the order upstream keeps them (sorted by term text)."""

    __slots__ = ("requirements",)

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        self.requirements: tuple[FieldRequirement, ...] = tuple(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value an `=` term pins `field` to, else None (what watch caches index on)."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def _terms(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(sorted((r.field, r.operator, r.value) for r in self.requirements))

    def __eq__(self, other: object) -> bool:
        # the same terms select the same objects, whatever order they print in
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self._terms() == other._terms()

    def __hash__(self) -> int:
        return hash(self._terms())


def escape_value(value: str) -> str:
    """Escape a value so it survives inside a selector string."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """Undo `escape_value`; an unknown escape or a bare `,`/`=` is a 400 as upstream."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise errors.BadRequest(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            # upstream prints the rune as a number here
            raise errors.BadRequest(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if escaped:
        raise errors.BadRequest("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start = 0
    escaped = False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # the first position where any operator starts wins; escapes are not considered here
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """The `fieldSelector=` query syntax; errors are 400 BadRequest with upstream's text."""
    reqs: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        value = unescape_value(raw)
        if not field and not value:
            continue  # upstream turns such a term into "everything"
        reqs.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return FieldSelector(reqs)


# -- what each kind exposes -------------------------------------------------------------------


def _text(v: Any) -> str:
    """A value as Go's fmt.Sprint shows it (booleans lower-case, missing as "")."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    return str(v)


def _go_float(v: float) -> str:
    """Go's %v for a float64: the shortest digits, in exponent form below 1e-4 or from 1e6."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(v)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    point = len(digit_tuple) + int(exponent)  # digits before the decimal point
    head = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{head}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{head}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return head + digits + "0" * (point - len(digits))
    return f"{head}{digits[:point]}.{digits[point:]}"


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(p)
    return obj


def _meta_fields(obj: Obj) -> dict[str, str]:
    return {"metadata.name": _text(_get(obj, "metadata", "name")),
            "metadata.namespace": _text(_get(obj, "metadata", "namespace"))}


def _pod_fields(obj: Obj) -> dict[str, str]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    pod_ip = status.get("podIP") or ""
    if not pod_ip and status.get("podIPs"):
        pod_ip = _get(status["podIPs"][0], "ip") or ""
    return {
        "spec.nodeName": _text(spec.get("nodeName")),
        "spec.restartPolicy": _text(spec.get("restartPolicy")),
        "spec.schedulerName": _text(spec.get("schedulerName")),
        # the deprecated `serviceAccount` stands in when the new name is empty
        "spec.serviceAccountName": _text(spec.get("serviceAccountName") or spec.get("serviceAccount")),
        "spec.hostNetwork": _text(bool(spec.get("hostNetwork"))),
        "status.phase": _text(status.get("phase")),
        "status.podIP": _text(pod_ip),
        "status.nominatedNodeName": _text(status.get("nominatedNodeName")),
    }


def _event_fields(obj: Obj) -> dict[str, str]:
    """A core Event's fields, read from either wire shape (core/v1 or events.k8s.io)."""
    if "regarding" in obj or str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        about = obj.get("regarding") or {}
        reporting = obj.get("reportingController")
        source = _get(obj, "deprecatedSource", "component")
    else:
        about = obj.get("involvedObject") or {}
        reporting = obj.get("reportingComponent")
        source = _get(obj, "source", "component")
    fields = {f"involvedObject.{k}": _text(about.get(k))
              for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update({
        "reason": _text(obj.get("reason")),
        "reportingComponent": _text(reporting),
        "source": _text(source or reporting),
        "type": _text(obj.get("type")),
    })
    return fields


def _paths(*paths: str) -> Callable[[Obj], dict[str, str]]:
    return lambda obj: {p: _text(_get(obj, *p.split("."))) for p in paths}


def _int_field(name: str, *path: str) -> Callable[[Obj], dict[str, str]]:
    return lambda obj: {name: _text(_get(obj, *path) or 0)}


def _not_supported(r: Resource, label: str) -> str:
    return f"field label not supported: {label}"


def _default_refusal(r: Resource, label: str) -> str:
    return f'{go_quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'



@dataclass(frozen=True)
class _Kind:
    # label a request may use -> the field of the computed set it reads
    labels: Mapping[str, str]
    fields: Callable[[Obj], dict[str, str]]
    refuse: Callable[[Resource, str], str] = _not_supported


def _same(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


_META = ("metadata.name", "metadata.namespace")
_EVENT_LABELS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                 "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                 "reason", "reportingComponent", "source", "type")

_KINDS: dict[tuple[str, str], _Kind] = {
    ("", "Pod"): _Kind(
        {**_same(*_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                 "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
         "spec.host": "spec.nodeName"},  # what very old clients send
        _pod_fields),
    ("", "Node"): _Kind(_same("metadata.name", "spec.unschedulable"),
                        lambda o: {"spec.unschedulable": _text(bool(_get(o, "spec", "unschedulable")))}),
    ("", "ReplicationController"): _Kind(_same(*_META, "status.replicas"), _int_field("status.replicas", "status", "replicas")),
    ("", "Event"): _Kind(_same(*_EVENT_LABELS, *_META), _event_fields),
    ("", "Namespace"): _Kind(_same("status.phase", "metadata.name"), _paths("status.phase")),
    ("", "Secret"): _Kind(_same("type", *_META), _paths("type")),
    ("", "Service"): _Kind(_same(*_META, "spec.clusterIP", "spec.type"), _paths("spec.clusterIP", "spec.type")),
    ("events.k8s.io", "Event"): _Kind(
        {"reason": "reason", "type": "type", "source": "source", "reportingController": "reportingComponent",
         **{f"regarding.{k}": f"involvedObject.{k}"
            for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
         **_same(*_META)},
        _event_fields),
    ("batch", "Job"): _Kind(_same(*_META, "status.successful"), _int_field("status.successful", "status", "succeeded"),
                            lambda r, label: f"field label {go_quote(label)} not supported for batchv1.Job"),
    ("certificates.k8s.io", "CertificateSigningRequest"): _Kind(_same("metadata.name", "spec.signerName"),
                                                                _paths("spec.signerName")),
    ("certificates.k8s.io", "ClusterTrustBundle"): _Kind(_same("metadata.name", "spec.signerName"), _paths("spec.signerName")),
    ("resource.k8s.io", "ResourceSlice"): _Kind(
        _same("metadata.name", "spec.nodeName", "spec.driver"), _paths("spec.nodeName", "spec.driver"),
        lambda r, label: f"field label not supported for {r.group}/{r.version}, Kind=ResourceSlice: {label}"),
}

_DEFAULT = _Kind(_same(*_META), lambda o: {}, _default_refusal)


def _crd_kind(r: Resource) -> _Kind:
    """metadata.name, metadata.namespace when namespaced, and the served version's
    `selectableFields` (named by their JSONPath without the leading dot)."""
    assert r.crd is not None
    paths: dict[str, str] = {}
    for v in _get(r.crd, "spec", "versions") or []:
        if isinstance(v, Mapping) and v.get("name") == r.version:
            for f in v.get("selectableFields") or []:
                path = str(_get(f, "jsonPath") or "")
                if path:
                    paths[path.removeprefix(".")] = path
    labels = _same("metadata.name", *(["metadata.namespace"] if r.namespaced else []), *paths)

    def fields(obj: Obj) -> dict[str, str]:
        out = {}
        for name, path in paths.items():
            found = jsonpath.evaluate(path, obj)
            out[name] = _text(found[0]) if found else ""
        return out

    return _Kind(labels, fields)


def _kind(r: Resource) -> _Kind:
    if r.crd is not None:
        return _crd_kind(r)
    return _KINDS.get((r.group, r.kind), _DEFAULT)


def supported_fields(r: Resource) -> tuple[str, ...]:
    """Every label a field selector may name for this kind."""
    return tuple(_kind(r).labels)


def field_set(r: Resource, obj: Obj) -> dict[str, str]:
    """The object's value for every selectable label of its kind (a wire-shaped object of
    the resource's version; Events may come in either Event shape)."""
    kind = _kind(r)
    computed = {**_meta_fields(obj), **kind.fields(obj)}
    return {label: computed.get(target, "") for label, target in kind.labels.items()}


def check_field_selector(r: Resource, sel: FieldSelector) -> None:
    """Refuse the first field the kind does not offer, with upstream's message (400)."""
    kind = _kind(r)
    for req in sel.requirements:
        if req.field not in kind.labels:
            raise errors.BadRequest(kind.refuse(r, req.field))
