"""Request bodies in `application/vnd.kubernetes.protobuf` (what kubectl 1.32+ sends for its
typed-client commands), decoded into the dict the same object's JSON would be.

Upstream turns such a body into a Go struct and the rest of the server never sees protobuf;
we turn it straight into the JSON form that struct would marshal to. That needs, per
message, the field numbers and how Go's encoding/json writes each field, which is what
`protobuf_fields` holds. The rules that follow from Go:

- the body is `k8s\\0` + a runtime.Unknown (type meta, raw bytes of the object's message);
- a field the sender did not write is the Go zero value: nil for pointers, slices and maps,
  "", 0, false, or an all-zero struct;
- JSON then drops nil and (with omitempty) empty strings, zero numbers, false and empty
  slices/maps, but never a struct: `spec: {}`, `resources: {}` and `creationTimestamp: null`
  (a zero metav1.Time) stay, and so does a pointer that was sent, zero or not;
- Time/MicroTime, Duration, Quantity, IntOrString, RawExtension and FieldsV1 have their own
  JSON forms; `[]byte` is base64.
"""

from __future__ import annotations

import base64
import datetime
import functools
import struct
from collections.abc import Sequence
from typing import Any

import orjson

from . import errors, quantity

MAGIC = b"k8s\x00"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_TIME, _MICROTIME, _DURATION, _FIELDSV1 = (f"{_META}.{n}" for n in ("Time", "MicroTime", "Duration", "FieldsV1"))
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_INTORSTRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RAWEXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_SPECIAL = frozenset({_TIME, _MICROTIME, _DURATION, _FIELDSV1, _QUANTITY, _INTORSTRING, _RAWEXTENSION})
# meta.k8s.io kinds every API group version also registers under its own apiVersion
_META_KINDS = frozenset({"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "GetOptions",
                         "ListOptions", "Status", "WatchEvent"})
# API groups whose proto package is not simply their first label
_PACKAGES = {"": "k8s.io.api.core", "core": "k8s.io.api.core"}
_VARINT_TYPES = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"})
_GO_ZERO_TIME = -62135596800  # Unix seconds of 0001-01-01T00:00:00Z, Go's zero time

Field = tuple[int, str, str, str, str, str]  # as in protobuf_fields


@functools.cache
def _messages() -> dict[str, tuple[Field, ...]]:
    from . import protobuf_fields  # large; loaded on the first protobuf body only

    return protobuf_fields.MESSAGES


@functools.cache
def _lists() -> frozenset[str]:
    from . import protobuf_fields

    return protobuf_fields.LISTS


def message_for(api_version: str, kind: str) -> str | None:
    """The proto message a body of this apiVersion/kind holds, or None when it is not in the table."""
    group, _, version = api_version.rpartition("/")
    if group == "meta.k8s.io":
        name = f"{_META}.{kind}" if version == "v1" else ""
    else:
        name = f"{_package(group)}.{version}.{kind}"
        if name not in _messages() and kind in _META_KINDS:
            name = f"{_META}.{kind}"
    return name if name in _messages() else None


def _package(group: str) -> str:
    return _PACKAGES.get(group) or f"k8s.io.api.{group.split('.')[0]}"


def decode(body: bytes) -> dict[str, Any]:
    """The object in a protobuf request body as its JSON dict, with kind and apiVersion.

    Raises BadRequest for a body that is not a well-formed Kubernetes protobuf message and
    UnsupportedMediaType for a kind whose message we do not know (better than guessing)."""
    if not body.startswith(MAGIC):
        raise errors.BadRequest("the object provided is unrecognized: the protobuf body does not start with the "
                                "Kubernetes prefix")
    try:
        api_version, kind, raw = _envelope(memoryview(body)[len(MAGIC):])
        if not kind:
            raise errors.BadRequest("Object 'Kind' is missing in the protobuf body")
        name = message_for(api_version, kind)
        if name is None:
            raise errors.UnsupportedMediaType(
                f"protobuf bodies of kind {kind} ({api_version or 'no apiVersion'}) are not supported; send JSON")
        obj = _message(raw, name)
    except (IndexError, ValueError, struct.error) as e:
        raise errors.BadRequest(f"the object provided is unrecognized: the protobuf body could not be decoded: {e}"
                                ) from None
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    out.update(obj)
    return out


def _envelope(buf: memoryview) -> tuple[str, str, memoryview]:
    """(apiVersion, kind, raw) from a runtime.Unknown: 1 = TypeMeta{1 apiVersion, 2 kind}, 2 = raw."""
    api_version = kind = ""
    raw = memoryview(b"")
    for num, wt, v in _wire(buf):
        if num == 1 and wt == 2:
            for n2, wt2, v2 in _wire(v):
                if n2 == 1 and wt2 == 2:
                    api_version = _text(v2)
                elif n2 == 2 and wt2 == 2:
                    kind = _text(v2)
        elif num == 2 and wt == 2:
            raw = v
    return api_version, kind, raw


# --- the wire format ---------------------------------------------------------------------

def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def _wire(buf: memoryview) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for every field of a message, in wire order."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        v: Any
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt in (1, 5):
            size = 8 if wt == 1 else 4
            v = bytes(buf[pos:pos + size])
            if len(v) != size:
                raise ValueError("truncated field")
            pos += size
        elif wt == 2:
            n, pos = _varint(buf, pos)
            v = buf[pos:pos + n]
            if len(v) != n:
                raise ValueError("truncated field")
            pos += n
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


def _text(v: memoryview) -> str:
    return bytes(v).decode("utf-8", errors="replace")  # Go's JSON writes bad UTF-8 as U+FFFD


def _int(v: int, typ: str) -> int:
    if typ in ("sint32", "sint64"):
        return (v >> 1) ^ -(v & 1)
    if typ == "int32":
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v
    if typ == "uint32":
        return v & 0xFFFFFFFF
    if typ == "uint64":
        return v & 0xFFFFFFFFFFFFFFFF
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _float(x: float) -> float | int:
    """Go writes integral floats without a fraction (2, not 2.0)."""
    return int(x) if x.is_integer() and abs(x) < 1e21 else x


def _scalar(typ: str, wt: int, v: Any) -> Any:
    if typ in ("string", "bytes"):
        if wt != 2:
            raise ValueError(f"wire type {wt} for a {typ}")
        return _text(v) if typ == "string" else base64.b64encode(bytes(v)).decode()
    if typ in _VARINT_TYPES:
        if wt != 0:
            raise ValueError(f"wire type {wt} for a {typ}")
        return v != 0 if typ == "bool" else _int(v, typ)
    if typ == "double" and wt == 1:
        return _float(struct.unpack("<d", v)[0])
    if typ == "float" and wt == 5:
        return _float(struct.unpack("<f", v)[0])
    raise ValueError(f"unsupported scalar {typ} (wire type {wt})")


def _zero(typ: str) -> Any:
    """What JSON writes for a Go zero value of this proto type."""
    if typ == "string":
        return ""
    if typ == "bool":
        return False
    if typ == "bytes":
        return None
    if typ in _VARINT_TYPES or typ in ("double", "float"):
        return 0
    if typ in _lists():
        return None
    return _message(memoryview(b""), typ)


# --- types with their own JSON form -------------------------------------------------------

def _special(name: str, buf: memoryview) -> Any:
    f: dict[int, Any] = {}
    for num, _, v in _wire(buf):
        f[num] = v
    if name in (_TIME, _MICROTIME):
        if not len(buf):
            return None  # Go's zero time, which JSON writes as null
        seconds, nanos = _int(f.get(1, 0), "int64"), _int(f.get(2, 0), "int32")
        if name == _TIME:
            return None if seconds == _GO_ZERO_TIME else _rfc3339(seconds, 0, micro=False)
        micros = abs(nanos) // 1000 * (1 if nanos >= 0 else -1)
        return _rfc3339(seconds, micros, micro=True)
    if name == _DURATION:
        return _go_duration(_int(f.get(1, 0), "int64"))
    if name == _QUANTITY:
        if 1 not in f:
            return "0"
        text = _text(f[1])
        if not quantity.is_valid(text):
            raise ValueError(f"quantities must match the regular expression '{quantity.PATTERN}'")
        return text
    if name == _INTORSTRING:
        return _text(f.get(3, b"")) if _int(f.get(1, 0), "int64") == 1 else _int(f.get(2, 0), "int32")
    # RawExtension / FieldsV1: the raw bytes are the JSON itself; nil is null
    raw = bytes(f.get(1, b""))
    return orjson.loads(raw) if raw else None


def _rfc3339(seconds: int, micros: int, micro: bool) -> str:
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds, microseconds=micros)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}Z" if micro else "Z")


def _go_duration(ns: int) -> str:
    """time.Duration's String(): "0s", "1.5s", "1m30s", "2h0m0s", "500ms", "1.5µs", "12ns"."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_decimal(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_decimal(u, 6)}ms"
    secs, frac = divmod(u, 1_000_000_000)
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    text = _decimal(seconds * 1_000_000_000 + frac, 9) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _decimal(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10 ** digits)
    return f"{whole}.{frac:0{digits}d}".rstrip("0") if frac else str(whole)


# --- messages ------------------------------------------------------------------------------

def _message(buf: memoryview, name: str) -> Any:
    """A message as Go's JSON would write the struct it decodes into."""
    if name in _SPECIAL:
        return _special(name, buf)
    fields = _messages().get(name)
    if fields is None:
        raise errors.UnsupportedMediaType(f"protobuf message {name} is not supported; send JSON")
    wire: dict[int, list[tuple[int, Any]]] = {}
    for num, wt, v in _wire(buf):
        wire.setdefault(num, []).append((wt, v))
    if name in _lists():
        return _repeated(fields[0][3], wire.get(1, []))
    out: dict[str, Any] = {}
    for number, json_name, kind, typ, value_type, flags in fields:
        seen = wire.get(number)
        if "i" in flags:
            out.update(_single(typ, seen))
            continue
        nil = seen is None and ("p" in flags or bool(kind) or typ == "bytes" or typ in _lists())
        if nil:
            value = None
        elif seen is None:
            value = _zero(typ)
        elif kind == "map":
            value = _map(typ, value_type, seen)
        elif kind == "rep":
            value = _repeated(typ, seen)
        else:
            value = _single(typ, seen)
        if _omitted(flags, kind, typ, value, nil):
            continue
        out[json_name] = value
    return out


def _single(typ: str, seen: Sequence[tuple[int, Any]] | None) -> Any:
    """A non-repeated field; a message sent more than once is merged, a scalar's last value wins."""
    if not seen:
        return _zero(typ)
    if "." in typ:
        if any(wt != 2 for wt, _ in seen):
            raise ValueError(f"wire type for message {typ}")
        return _message(memoryview(b"".join(bytes(v) for _, v in seen)), typ)
    wt, v = seen[-1]
    return _scalar(typ, wt, v)


def _repeated(typ: str, seen: Sequence[tuple[int, Any]]) -> list[Any]:
    items: list[Any] = []
    for wt, v in seen:
        if wt == 2 and typ in _VARINT_TYPES:  # packed
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                items.append(_scalar(typ, 0, x))
        elif "." in typ:
            if wt != 2:
                raise ValueError(f"wire type {wt} for message {typ}")
            items.append(_message(v, typ))
        else:
            items.append(_scalar(typ, wt, v))
    return items


def _map(key_type: str, value_type: str, seen: Sequence[tuple[int, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for wt, v in seen:
        if wt != 2:
            raise ValueError("wire type of a map entry")
        entry: dict[int, list[tuple[int, Any]]] = {}
        for num, ewt, ev in _wire(v):
            entry.setdefault(num, []).append((ewt, ev))
        key = _single(key_type, entry.get(1))
        if value_type == "bytes" and not entry.get(2):
            out[key] = ""  # an absent bytes value decodes as an empty, not nil, slice
        else:
            out[key] = _single(value_type, entry.get(2))
    return out


def _omitted(flags: str, kind: str, typ: str, value: Any, nil: bool) -> bool:
    """Whether encoding/json leaves the field out."""
    if nil:
        return "o" in flags  # nil pointer, slice or map: omitted, or written as null
    if "o" not in flags or "p" in flags:
        return False  # a pointer that was sent is written even when it points to a zero value
    if "." in typ and not kind and typ not in _lists():
        return False  # omitempty never drops a struct
    return not value  # "", 0, false, empty slice or map
