"""Server-side apply and managedFields: which manager owns which field of an object.

Every write records ownership in `metadata.managedFields`, as upstream's field manager does:

- `track_update` (create, update, patch): the writer ("manager") takes the fields its write
  added or changed, away from whoever owned them, and everyone loses what the write removed.
  One `Update` entry per (manager, apiVersion, subresource); more than ten fold their oldest
  into `ancient-changes`.
- `apply` (apply patches): the applied configuration is merged into the live object by the
  schema's list and map semantics; fields the manager applied last time and no longer does
  are removed unless someone else owns them; a field another manager owns and the apply would
  change is a conflict (409) unless forced, which moves it. Applying the value a field
  already has shares it without conflict. One `Apply` entry per (manager, subresource).

Details kept from upstream because clients see them: fields of an object that has no
managedFields go to `before-first-apply` on its first apply; an object whose managedFields
were cleared is not tracked again until then; a no-op apply keeps the entry's time; the
server never records identity fields (name, uid, resourceVersion, ...); `kubectl` applying
over a client-side-applied object may take the fields its last-applied annotation still
describes, and that annotation is kept up to date when present.
"""

from __future__ import annotations

import copy
import datetime
import functools
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import errors, protobuf
from . import fieldpath as fp
from .fieldpath import FieldSet, Path
from .schema import Node, Schema
from .typed import Typed, ValidationErrors

Obj = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_ENTRIES = 10


# --- managedFields entries -----------------------------------------------------------------


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: FieldSet = field(default_factory=set)
    # the set as read from the wire: an entry nobody touched is written back from cache
    read: frozenset[Path] | None = None

    def copy(self) -> Entry:
        return Entry(
            self.manager, self.operation, self.api_version, self.subresource, self.time, set(self.fields), self.read
        )

    def fields_v1(self) -> dict[str, Any]:
        # the same few field sets (a kubelet's status, a controller's spec) are written over
        # and over: encode each once
        key = self.read if self.read is not None and self.fields == self.read else frozenset(self.fields)
        out: dict[str, Any] = orjson.loads(_encoded(key))
        return out


@functools.lru_cache(maxsize=4096)
def _decoded(raw: bytes) -> frozenset[Path]:
    return frozenset(fp.decode(orjson.loads(raw)))


@functools.lru_cache(maxsize=4096)
def _encoded(fields: frozenset[Path]) -> bytes:
    return orjson.dumps(fp.encode(fields))


Managed = dict[str, Entry]


def identity(manager: str, operation: str, api_version: str, subresource: str = "") -> str:
    """Upstream's key for an entry: appliers are one entry whatever the version they used."""
    parts = []
    if manager:
        parts.append(f'"manager":{fp.go_json(manager)}')
    parts.append(f'"operation":{fp.go_json(operation)}')
    if api_version and operation != "Apply":
        parts.append(f'"apiVersion":{fp.go_json(api_version)}')
    if subresource:
        parts.append(f'"subresource":{fp.go_json(subresource)}')
    return "{" + ",".join(parts) + "}"


def decode_managed(raw: Any) -> Managed:
    """managedFields as entries by identity; ValueError for what upstream refuses to read."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    out: Managed = {}
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        op = e.get("operation") or ""
        if op not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = e.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        ftype = e.get("fieldsType") or ""
        if not ftype:
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if ftype != "FieldsV1":
            raise ValueError(f"invalid fieldsType {fp.go_quote(str(ftype))} in managed fields entry {i}")
        manager, sub = str(e.get("manager") or ""), str(e.get("subresource") or "")
        read = _decoded(orjson.dumps(e.get("fieldsV1") or {}))
        out[identity(manager, op, api_version, sub)] = Entry(
            manager, op, api_version, sub, e.get("time") or None, set(read), read
        )
    return out


@functools.lru_cache(maxsize=4096)
def _seconds(t: str | None) -> int:
    if not t:
        return 0
    try:
        return int(datetime.datetime.fromisoformat(t).timestamp())
    except ValueError:
        return 0


def encode_managed(managed: Managed) -> list[dict[str, Any]] | None:
    """The wire form, ordered as upstream: Apply first, then by time, manager, version."""
    rows = []
    for e in managed.values():
        row: dict[str, Any] = {}
        if e.manager:
            row["manager"] = e.manager
        row["operation"] = e.operation
        row["apiVersion"] = e.api_version
        if e.time:
            row["time"] = e.time
        row["fieldsType"] = "FieldsV1"
        row["fieldsV1"] = e.fields_v1()
        if e.subresource:
            row["subresource"] = e.subresource
        rows.append(row)
    rows.sort(
        key=lambda r: (
            r["operation"],
            _seconds(r.get("time")),
            r.get("manager", ""),
            r["apiVersion"],
            r.get("subresource", ""),
        )
    )
    return rows or None


def _drop_empty(managed: Managed) -> None:
    for ident in [i for i, e in managed.items() if not e.fields]:
        del managed[ident]


def _cap(managed: Managed) -> None:
    """More than ten Update entries: the oldest merge, per apiVersion, into "ancient-changes"."""
    updaters = [i for i, e in managed.items() if e.operation != "Apply"]
    if len(updaters) <= MAX_UPDATE_ENTRIES:
        return
    updaters.sort(key=lambda i: (_seconds(managed[i].time), i))
    first: dict[str, str] = {}
    length = len(updaters)
    for ident in updaters:
        if length <= MAX_UPDATE_ENTRIES:
            break
        e = managed[ident]
        bucket = identity(ANCIENT_CHANGES, "Update", e.api_version)
        if e.api_version not in first:
            first[e.api_version] = ident
            continue
        if bucket not in managed:
            oldest = managed.pop(first[e.api_version])
            managed[bucket] = Entry(ANCIENT_CHANGES, "Update", e.api_version, "", oldest.time, oldest.fields)
        b = managed[bucket]
        b.fields = e.fields | b.fields
        b.time = e.time
        del managed[ident]
        length -= 1


# --- the objects as compared ---------------------------------------------------------------


def _view(obj: Obj) -> Obj:
    """The object without its managedFields (they are no field anybody owns)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


def _pb_field(number: int, payload: bytes) -> bytes:
    n, size = len(payload), bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        size.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([(number << 3) | 2]) + bytes(size) + payload


@functools.lru_cache(maxsize=512)
def _zero_json(api_version: str, kind: str) -> bytes | None:
    if not kind or protobuf.message_for(api_version, kind) is None:
        return None
    type_meta = _pb_field(1, api_version.encode()) + _pb_field(2, kind.encode())
    try:
        return orjson.dumps(protobuf.decode(protobuf.MAGIC + _pb_field(1, type_meta)))
    except errors.ApiError:
        return None


def _zero(api_version: str, kind: str) -> tuple[Obj, bool]:
    """(the empty object a create starts from, whether the kind is built in).

    A built-in object is a Go struct: its nested structs and non-omitempty fields exist
    even when empty, so a create does not "add" them. A custom resource starts empty."""
    raw = _zero_json(api_version, kind)
    if raw is None:
        return {"apiVersion": api_version, "kind": kind}, False
    out: Obj = orjson.loads(raw)
    return out, True


def _kind(obj: Obj | None, node: Node | None, api_version: str) -> str:
    if obj and isinstance(obj.get("kind"), str) and obj["kind"]:
        return str(obj["kind"])
    group, _, version = api_version.rpartition("/")
    for gvk in (node or {}).get("x-kubernetes-group-version-kind") or ():
        if gvk.get("group", "") == group and gvk.get("version") == version:
            return str(gvk.get("kind") or "")
    return ""


def _reset(reset_fields: list[tuple[str, ...]] | None) -> list[Path]:
    return [tuple(("f", name) for name in r) for r in reset_fields or () if r]


# --- updates -------------------------------------------------------------------------------


def _record_update(
    typed: Typed,
    live: Obj,
    new: Obj,
    managed: Managed,
    manager: str,
    operation: str,
    api_version: str,
    subresource: str,
    now: str,
    reset: list[Path],
) -> None:
    """What an update changed goes to `manager`; nobody keeps what it changed or removed."""
    added, modified, removed = typed.compare(live, new)
    changed = fp.recursive_difference(added | modified, reset)
    removed = fp.recursive_difference(removed, reset)
    for e in managed.values():
        e.fields -= changed
        e.fields -= removed
    _drop_empty(managed)
    mine = {p for p in changed if p not in fp.STRIPPED}
    if not mine:
        return
    ident = identity(manager, operation, api_version, subresource)
    prev = managed.get(ident)
    managed[ident] = Entry(manager, operation, api_version, subresource, now, mine | prev.fields if prev else mine)


def _is_reset(raw: Any) -> bool:
    """`managedFields: []` or `[{}]` in a write clears the record."""
    if isinstance(raw, list) and not raw:
        return True
    return (
        isinstance(raw, list)
        and len(raw) == 1
        and isinstance(raw[0], dict)
        and all(v in (None, "") for v in raw[0].values())
    )


def _decoded_or_empty(raw: Any) -> Managed:
    try:
        return decode_managed(raw)
    except ValueError:
        return {}


def _base_for_update(old: Obj | None, incoming: Any, subresource: str) -> Managed:
    """The entries an update starts from: the writer's own when valid, else the live ones."""
    live_raw = ((old or {}).get("metadata") or {}).get("managedFields")
    if subresource:
        return _decoded_or_empty(live_raw)
    if _is_reset(incoming):
        return {}
    sent = _decoded_or_empty(incoming) if incoming is not None else {}
    return sent or _decoded_or_empty(live_raw)


def track_update(
    old: Obj | None,
    new: Obj,
    *,
    manager: str,
    schema: Schema,
    node: Node | None,
    api_version: str,
    now: str,
    subresource: str = "",
    operation: str = "Update",
    reset_fields: list[tuple[str, ...]] | None = None,
) -> Obj:
    """`new` with managedFields updated for a create (old None), update or patch by `manager`.

    `reset_fields` are field paths this write may not own (status for the main resource of a
    kind with a status subresource; everything but status for the status subresource)."""
    meta = dict(new.get("metadata") or {})
    incoming = meta.pop("managedFields", None)
    result = dict(new)
    result["metadata"] = meta
    managed = _base_for_update(old, incoming, subresource)
    if not managed and old is not None:
        return result  # an object whose record was cleared is not tracked until it is applied
    typed = Typed(schema, node)
    live = _view(old) if old is not None else _zero(api_version, _kind(new, node, api_version))[0]
    _record_update(
        typed,
        live,
        _view(new),
        managed,
        manager or "unknown",
        operation,
        api_version,
        subresource,
        now,
        _reset(reset_fields),
    )
    _cap(managed)
    encoded = encode_managed(managed)
    if encoded:
        meta["managedFields"] = encoded
    return result


# --- apply ---------------------------------------------------------------------------------


class _Conflicts(Exception):
    def __init__(self, items: list[tuple[str, Path]]) -> None:
        super().__init__(len(items))
        self.items = items


def _conflicts(found: dict[str, FieldSet]) -> _Conflicts:
    return _Conflicts([(ident, p) for ident in sorted(found) for p in fp.iterate(found[ident])])


def _print_manager(ident: str) -> str:
    e = orjson.loads(ident)
    out = fp.go_quote(e.get("manager", ""))
    if e.get("subresource"):
        out += f" with subresource {fp.go_quote(e['subresource'])}"
    if e.get("operation") == "Update":
        out += f" using {e.get('apiVersion', '')}"
    return out


def _conflict_error(c: _Conflicts) -> errors.Conflict:
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {_print_manager(i)}", "field": fp.path_string(p)}
        for i, p in c.items
    ]
    if len(c.items) == 1:
        ident, p = c.items[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(ident)}: {fp.path_string(p)}"
    else:
        by_manager: dict[str, list[Path]] = {}
        for ident, p in c.items:
            by_manager.setdefault(ident, []).append(p)
        lines = []
        for ident in sorted(by_manager):
            lines.append(f"conflicts with {_print_manager(ident)}:")
            lines.extend(f"- {fp.path_string(p)}" for p in by_manager[ident])
        message = f"Apply failed with {len(c.items)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, causes=causes)


def _prune(typed: Typed, merged: Obj, managed: Managed, last: FieldSet) -> Obj:
    """Remove what the applier set last time and nobody sets any more."""
    named_last = typed.with_named_parents(last)
    owned: FieldSet = set()
    for e in managed.values():
        owned |= e.fields
    merged_fields = typed.with_named_parents(typed.field_set(merged))
    first = typed.remove(merged, named_last)
    kept = typed.with_named_parents(typed.field_set(first)) | typed.with_named_parents(owned)
    second = typed.remove(merged, merged_fields - kept)
    gone = merged_fields - typed.with_named_parents(typed.field_set(second))
    out = typed.remove(merged, gone & named_last)
    return out if isinstance(out, dict) else {}


def _apply_once(
    typed: Typed,
    live: Obj,
    config: Obj,
    managed: Managed,
    manager: str,
    api_version: str,
    subresource: str,
    force: bool,
    now: str,
    reset: list[Path],
) -> tuple[Obj, Managed]:
    managed = {i: e.copy() for i, e in managed.items()}
    merged = typed.merge(live, config)
    if not isinstance(merged, dict):
        merged = {}
    ident = identity(manager, "Apply", api_version, subresource)
    last = managed.get(ident)
    managed[ident] = Entry(
        manager,
        "Apply",
        api_version,
        subresource,
        last.time if last else None,
        fp.recursive_difference(typed.field_set(config), reset),
    )
    if last is not None and last.fields:
        merged = _prune(typed, merged, managed, last.fields)
    added, modified, removed = typed.compare(live, merged)
    changed = fp.recursive_difference(added | modified, reset)
    removed = fp.recursive_difference(removed, reset)
    found = {i: e.fields & changed for i, e in managed.items() if i != ident and e.fields & changed}
    if found and not force:
        raise _conflicts(found)
    for i, e in managed.items():
        if i != ident:
            e.fields -= changed
            e.fields -= removed
    _drop_empty(managed)
    noop = merged == live
    mine = managed.get(ident)
    if mine is not None:
        if not noop:
            mine.time = now
        mine.fields = {p for p in mine.fields if p not in fp.STRIPPED}
        if not mine.fields:
            del managed[ident]
    return (live if noop else merged), managed


def _allowed_by_last_applied(typed: Typed, live: Obj, api_version: str) -> FieldSet | None:
    """Fields `kubectl` may take over: those its client-side last-applied configuration
    still describes exactly as they are."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text or not isinstance(text, str):
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        typed.validate(last)
    except ValidationErrors:
        return None
    added, modified, removed = typed.compare(last, live)
    return typed.field_set(last) - modified - added - removed


def _last_applied_text(config: Obj) -> str:
    cfg = copy.deepcopy(config)
    meta = cfg.get("metadata")
    if isinstance(meta, dict) and "annotations" in meta:
        ann = meta["annotations"]
        if isinstance(ann, dict):
            meta["annotations"] = {k: v for k, v in ann.items() if k != LAST_APPLIED}
        else:
            del meta["annotations"]
    return fp.go_json(cfg) + "\n"


def _gvk(api_version: Any, kind: Any) -> str:
    group, _, version = str(api_version or "").rpartition("/")
    return f"{group}/{version}, Kind={kind or ''}"


def apply(
    live: Obj | None,
    applied: Obj,
    *,
    manager: str,
    force: bool,
    schema: Schema,
    node: Node | None,
    api_version: str,
    now: str,
    subresource: str = "",
    reset_fields: list[tuple[str, ...]] | None = None,
) -> Obj:
    """The object after `manager` applies `applied` (creating it when `live` is None).

    Raises Conflict (409, one cause per field) when another manager owns a field this apply
    would change and `force` is false; BadRequest for a configuration that names another
    type or carries managedFields."""
    kind = applied.get("kind")
    if applied.get("apiVersion") != api_version or (live is not None and live.get("kind") not in (None, kind)):
        raise errors.BadRequest(f"invalid object type: {_gvk(applied.get('apiVersion'), kind)}")
    ameta = applied.get("metadata")
    if isinstance(ameta, dict) and ameta.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    typed = Typed(schema, node)
    try:
        typed.validate(applied)
    except ValidationErrors as e:
        meta = ameta if isinstance(ameta, dict) else {}
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk(api_version, kind)}"
        raise errors.InternalError(f"failed to create typed patch object ({where}): {e}") from None
    reset = _reset(reset_fields)
    config = copy.deepcopy(applied)
    zero, builtin = _zero(api_version, str(kind or ""))
    if live is None:
        view: Obj = {"apiVersion": api_version, "kind": kind}
        managed: Managed = {}
    else:
        view = copy.deepcopy(_view(live))
        try:
            managed = decode_managed((live.get("metadata") or {}).get("managedFields"))
        except ValueError as e:
            raise errors.InternalError(f"failed to decode managed fields: {e}") from None
        if not managed:
            # the fields of an object nobody applied before belong to whoever made it
            _record_update(
                typed, zero, view, managed, BEFORE_FIRST_APPLY, "Update", api_version, subresource, now, reset
            )
            _cap(managed)
    who = manager or "unknown"
    try:
        result, managed = _apply_once(typed, view, config, managed, who, api_version, subresource, force, now, reset)
    except _Conflicts as c:
        allowed = _allowed_by_last_applied(typed, view, api_version) if manager == "kubectl" else None
        if allowed is None:
            raise _conflict_error(c) from None
        rest = [(i, p) for i, p in c.items if p not in allowed]
        if rest:
            raise _conflict_error(_Conflicts(rest)) from None
        result, managed = _apply_once(typed, view, config, managed, who, api_version, subresource, True, now, reset)
    if builtin and result is not view:
        result = typed.drop_new_nulls(result, view)
    result = dict(result)
    meta = dict(result.get("metadata") or {})
    annotations = meta.get("annotations")
    if manager == "kubectl" and isinstance(annotations, dict) and annotations.get(LAST_APPLIED):
        meta["annotations"] = {**annotations, LAST_APPLIED: _last_applied_text(applied)}
    meta.pop("managedFields", None)
    encoded = encode_managed(managed)
    if encoded:
        meta["managedFields"] = encoded
    result["metadata"] = meta
    return result


__all__ = ["Entry", "apply", "decode_managed", "encode_managed", "identity", "track_update"]
