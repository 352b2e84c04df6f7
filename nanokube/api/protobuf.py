"""Request bodies in `application/vnd.kubernetes.protobuf` (what kubectl 1.32+ sends for its
typed-client commands), decoded into the dict the same object's JSON would be.

The envelope is `k8s\\0` + a runtime.Unknown (type meta, raw message). Field numbers and
types come from `protobuf_fields.json`, a table derived from upstream's generated.proto
files (message → [number, JSON name, label, type, (map value type)]). Go's protobuf
encoder writes every non-pointer field even when empty, so zero values are dropped unless
JSON would keep them (required fields, and pointer fields where zero means something).
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import os
import struct
from typing import Any

import orjson

from . import errors

MAGIC = b"k8s\x00"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_SPECIAL = {
    f"{_META}.Time", f"{_META}.MicroTime", f"{_META}.Duration", f"{_META}.FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity", "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
}
# pointer fields whose zero value is meaningful (JSON keeps them when set)
_KEEP_ZERO = {
    "replicas", "completions", "parallelism", "backoffLimit", "backoffLimitPerIndex", "revisionHistoryLimit",
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit", "startingDeadlineSeconds", "ttlSecondsAfterFinished", "minReplicas",
    "progressDeadlineSeconds", "expirationSeconds", "priority", "defaultMode", "mode", "runAsUser",
    "runAsGroup", "fsGroup", "automountServiceAccountToken", "enableServiceLinks", "optional", "readOnly",
    "privileged", "allowPrivilegeEscalation", "runAsNonRoot", "readOnlyRootFilesystem", "suspend",
    "allowVolumeExpansion", "value", "globalDefault", "gracePeriodSeconds", "orphanDependents", "maxSkew",
    "port", "containerPort", "allowed", "count", "weight",
}


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, dict[int, list[Any]]]:
    with open(os.path.join(os.path.dirname(__file__), "protobuf_fields.json"), "rb") as f:
        raw = orjson.loads(f.read())
    return {name: {int(e[0]): e for e in fields} for name, fields in raw.items()}


def _package(group: str) -> str:
    if group in ("", "core"):
        return "k8s.io.api.core"
    if group == "meta.k8s.io":
        return _META
    return f"k8s.io.api.{group.split('.')[0]}"


def message_for(api_version: str, kind: str) -> str | None:
    group, _, version = api_version.rpartition("/")
    pkg = _package(group)
    name = f"{pkg}.{kind}" if pkg == _META else f"{pkg}.{version}.{kind}"
    return name if name in _table() else None


def decode(body: bytes) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise errors.BadRequest("the protobuf body does not start with the Kubernetes envelope")
    try:
        unknown = _decode_message(memoryview(body)[4:], "k8s.io.apimachinery.pkg.runtime.Unknown", raw=True)
        tm = unknown.get("typeMeta") or {}
        api_version, kind = tm.get("apiVersion", ""), tm.get("kind", "")
        name = message_for(api_version, kind)
        if name is None:
            raise errors.UnsupportedMediaType(
                f"protobuf bodies of {kind or 'unknown kind'} ({api_version}) are not supported; send JSON")
        obj = _decode_message(memoryview(base64.b64decode(unknown.get("raw", ""))), name)
    except (IndexError, ValueError, KeyError, struct.error) as e:
        raise errors.BadRequest(f"the protobuf body could not be decoded: {e}") from None
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    out.update(obj)
    return out


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _signed(v: int, bits: int = 64) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _fields(buf: memoryview) -> list[tuple[int, int, Any]]:
    """(number, wire type, raw value) for every field in a message."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        v: Any
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt == 1:
            v = bytes(buf[pos:pos + 8])
            pos += 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            v = buf[pos:pos + n]
            if len(v) != n:
                raise ValueError("truncated field")
            pos += n
        elif wt == 5:
            v = bytes(buf[pos:pos + 4])
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


def _scalar(typ: str, wt: int, v: Any) -> Any:
    if typ == "string":
        return bytes(v).decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(bytes(v)).decode()
    if typ == "bool":
        return bool(v)
    if typ in ("int64", "int32"):
        return _signed(v)
    if typ in ("uint32", "uint64"):
        return v
    if typ == "double":
        return struct.unpack("<d", v)[0]
    if typ == "float":
        return struct.unpack("<f", v)[0]
    raise ValueError(f"unsupported scalar {typ}")


def _packed(typ: str, v: memoryview) -> list[Any]:
    out = []
    pos = 0
    while pos < len(v):
        x, pos = _varint(v, pos)
        out.append(_scalar(typ, 0, x))
    return out


def _special(name: str, buf: memoryview) -> Any:
    f = {num: v for num, _, v in _fields(buf)}
    if name.endswith(".Time") or name.endswith(".MicroTime"):
        if not f:
            return None  # the zero time, which JSON writes as null
        seconds = _signed(f.get(1, 0))
        nanos = f.get(2, 0)
        t = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        if name.endswith("MicroTime"):
            return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name.endswith(".Duration"):
        ns = _signed(f.get(1, 0))
        return f"{ns / 1e9:g}s"
    if name.endswith(".Quantity"):
        return bytes(f.get(1, b"")).decode()
    if name.endswith(".IntOrString"):
        if _signed(f.get(1, 0)) == 1:
            return bytes(f.get(3, b"")).decode()
        return _signed(f.get(2, 0))
    if name.endswith(".RawExtension") or name.endswith(".FieldsV1"):
        raw = bytes(f.get(1, b""))
        return json.loads(raw) if raw else {}
    raise ValueError(name)


def _value(typ: str, wt: int, v: Any) -> Any:
    if typ in _SPECIAL:
        return _special(typ, v)
    if "." in typ:
        return _decode_message(v, typ)
    return _scalar(typ, wt, v)


def _decode_message(buf: memoryview, name: str, raw: bool = False) -> dict[str, Any]:
    spec = _table().get(name)
    if spec is None:
        raise errors.UnsupportedMediaType(f"protobuf message {name} is not supported; send JSON")
    out: dict[str, Any] = {}
    for num, wt, v in _fields(buf):
        field = spec.get(num)
        if field is None:
            continue  # a field newer than our table: ignore, as protobuf readers do
        fname, label, typ = field[1], field[2], field[3]
        if label == "map":
            entry = {n: (w, x) for n, w, x in _fields(v)}
            key = _value(typ, *entry[1]) if 1 in entry else ""
            vtyp = field[4]
            if 2 in entry:
                val = _value(vtyp, *entry[2])
            else:
                val = "" if vtyp in ("string", "bytes") or vtyp.endswith(".Quantity") else {}
            out.setdefault(fname, {})[key] = val
        elif label == "repeated":
            lst = out.setdefault(fname, [])
            if wt == 2 and typ in ("int32", "int64", "bool", "uint32", "uint64"):
                lst.extend(_packed(typ, v))
            else:
                lst.append(_value(typ, wt, v))
        elif _inlined(name, fname):
            value = _value(typ, wt, v)
            if isinstance(value, dict):
                out.update(value)
        else:
            out[fname] = _value(typ, wt, v)
    if raw:
        return out
    in_status = name.endswith("Status") and not name.endswith("AccessReviewStatus")
    return {k: v for k, v in out.items() if not _empty(k, v, in_status)}


@functools.cache
def _inlined(message: str, field: str) -> bool:
    """Go structs embedded with `json:",inline"` are one proto field but no JSON field:
    the OpenAPI definition of the message does not list the field."""
    from .schema import load

    node = load().definitions.get("io.k8s." + message.removeprefix("k8s.io."))
    props = (node or {}).get("properties")
    return isinstance(props, dict) and bool(props) and field not in props


def _empty(key: str, value: Any, in_status: bool) -> bool:
    """What Go's JSON encoder would omit (omitempty), given only the protobuf wire."""
    if value is None:
        return key != "creationTimestamp"  # a zero metav1.Time is written as null
    if key in _KEEP_ZERO and not in_status:
        return False
    if value in ("", 0, False, []) and not isinstance(value, dict):
        return value is not True
    if isinstance(value, dict) and not value and key in ("labels", "annotations", "data", "stringData", "binaryData",
                                                         "nodeSelector", "selector", "matchLabels"):
        return True
    return False
