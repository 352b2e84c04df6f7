"""Server-side apply and managedFields (upstream's structured merge, in Python).

Every write records which manager owns which fields: `track_update` for create, update and
patch (operation Update), `apply` for apply patches (operation Apply). Apply merges the
applied configuration into the live object by the schema's list and map semantics, removes
fields the manager applied before but no longer does (unless someone else owns them), and
refuses with 409 when another manager owns a field the configuration sets to a different
value — unless forced, which moves ownership.
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors
from . import fieldpath as fp
from .fieldpath import Path
from .schema import Node, Schema, list_semantics

Obj = dict[str, Any]

# never tracked: identity and bookkeeping the server owns
_IGNORED: tuple[Path, ...] = tuple(
    (("f", "metadata"), ("f", f),) for f in (
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
        "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName")
) + ((("f", "apiVersion"),), (("f", "kind"),))
MAX_UPDATE_ENTRIES = 10


def _ignored(path: Path, reset: list[Path]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in (*_IGNORED, *reset))


_IGNORED_META = {p[1][1] for p in _IGNORED if len(p) == 2}


def _owned(schema: Schema, node: Node | None, obj: Any, reset: list[Path]) -> set[Path]:
    """The fields a manager can own: without identity, bookkeeping and reset fields.

    They are cut from a shallow copy before walking, rather than filtered path by path."""
    if not isinstance(obj, dict):
        return set()
    trimmed = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = trimmed.get("metadata")
    if isinstance(meta, dict):
        kept = {k: v for k, v in meta.items() if k not in _IGNORED_META}
        if kept:
            trimmed["metadata"] = kept
        else:
            del trimmed["metadata"]
    deep_resets = []
    for r in reset:
        if len(r) == 1:
            trimmed.pop(r[0][1], None)
        else:
            deep_resets.append(r)
    paths = fp.fields_of(schema, node, trimmed)
    if deep_resets:
        paths = {p for p in paths if not _ignored(p, deep_resets)}
    return paths


def _reset_paths(reset_fields: list[tuple[str, ...]] | None) -> list[Path]:
    return [tuple(("f", f) for f in r) for r in reset_fields or []]


def _entries(obj: Obj | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    return [dict(e) for e in (obj.get("metadata") or {}).get("managedFields") or [] if isinstance(e, dict)]


def _same_entry(e: dict[str, Any], manager: str, operation: str, subresource: str) -> bool:
    return (e.get("manager") == manager and e.get("operation") == operation
            and (e.get("subresource") or "") == subresource)


def _finish(obj: Obj, entries: list[dict[str, Any]], sets: list[set[Path]], result: Obj) -> Obj:
    out = []
    for e, s in zip(entries, sets):
        s = {p for p in s if fp.exists(result, p[:-1] if p and p[-1] == fp.SELF else p)}
        if not s:
            continue
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = fp.encode(s)
        out.append(e)
    out = _cap_updates(out)
    meta = dict(result.get("metadata") or {})
    if out:
        meta["managedFields"] = out
    else:
        meta.pop("managedFields", None)
    result["metadata"] = meta
    return result


def _cap_updates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """More than ten Update entries: the oldest fold into one "ancient-changes" entry."""
    updates = [e for e in entries if e.get("operation") == "Update"]
    if len(updates) <= MAX_UPDATE_ENTRIES:
        return entries
    updates.sort(key=lambda e: e.get("time") or "")
    old = updates[: len(updates) - MAX_UPDATE_ENTRIES + 1]
    merged: set[Path] = set()
    for e in old:
        merged |= fp.decode(e.get("fieldsV1"))
    keep = [e for e in entries if not any(e is o for o in old)]
    keep.append({"manager": "ancient-changes", "operation": "Update", "time": old[-1].get("time"),
                 "fieldsType": "FieldsV1", "fieldsV1": fp.encode(merged)})
    return keep


def track_update(
    old: Obj | None, new: Obj, *, manager: str, schema: Schema, node: Node | None, api_version: str,
    now: str, subresource: str = "", operation: str = "Update",
    reset_fields: list[tuple[str, ...]] | None = None,
) -> Obj:
    """`new` with managedFields updated for a non-apply write by `manager`."""
    reset = _reset_paths(reset_fields)
    new_fields = _owned(schema, node, new, reset)
    if old is None:
        changed = new_fields
        removed: set[Path] = set()
    else:
        old_fields = _owned(schema, node, old, reset)
        changed = {p for p in new_fields if fp.get(new, p) != fp.get(old, p) or p not in old_fields}
        removed = old_fields - new_fields
    # entries the client sent are ignored unless they are being reset explicitly
    incoming = (new.get("metadata") or {}).get("managedFields")
    base = old if old is not None else None
    entries = _entries(base)
    if incoming is not None and old is not None and incoming != (old.get("metadata") or {}).get("managedFields"):
        entries = [dict(e) for e in incoming if isinstance(e, dict)] if incoming else []
    sets = [fp.decode(e.get("fieldsV1")) for e in entries]
    for s in sets:
        s -= changed
        s -= removed
    idx = next((i for i, e in enumerate(entries) if _same_entry(e, manager, operation, subresource)), None)
    if changed:
        if idx is None:
            entry: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": api_version,
                                     "time": now}
            if subresource:
                entry["subresource"] = subresource
            entries.append(entry)
            sets.append(set(changed))
        else:
            entries[idx].update({"apiVersion": api_version, "time": now})
            sets[idx] |= changed
    result = dict(new)
    return _finish(new, entries, sets, result)


def _merge(schema: Schema, node: Node | None, live: Any, applied: Any) -> Any:
    n = schema.resolve(node) if node is not None else None
    if isinstance(applied, dict) and isinstance(live, dict) and not (n and n.get("x-kubernetes-map-type") == "atomic"):
        out = dict(live)
        for k, v in applied.items():
            child = schema.child(n, k) if n is not None else None
            out[k] = _merge(schema, child, live.get(k), v) if k in live else copy.deepcopy(v)
        return out
    if isinstance(applied, list) and isinstance(live, list) and n is not None:
        kind, keys = list_semantics(n)
        items = schema.items(n)
        if kind == "map" and keys and all(isinstance(x, dict) for x in applied + live):
            merged = [copy.deepcopy(x) for x in live]
            for item in applied:
                k = fp.key_of(item, keys)
                idx = next((i for i, x in enumerate(merged) if fp.key_of(x, keys) == k), None)
                if idx is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[idx] = _merge(schema, items, merged[idx], item)
            return merged
        if kind == "set":
            return list(live) + [copy.deepcopy(x) for x in applied if x not in live]
    return copy.deepcopy(applied)


def apply(
    live: Obj | None, applied: Obj, *, manager: str, force: bool, schema: Schema, node: Node | None,
    api_version: str, now: str, subresource: str = "",
    reset_fields: list[tuple[str, ...]] | None = None,
) -> Obj:
    """The object after `manager` applies `applied`; raises 409 on conflicts unless forced."""
    reset = _reset_paths(reset_fields)
    applied = copy.deepcopy(applied)
    applied_fields = _owned(schema, node, applied, reset)
    entries = _entries(live)
    sets = [fp.decode(e.get("fieldsV1")) for e in entries]
    mine = next((i for i, e in enumerate(entries) if _same_entry(e, manager, "Apply", subresource)), None)
    base = live if live is not None else {}
    conflicts: list[tuple[Path, dict[str, Any]]] = []
    for i, (e, s) in enumerate(zip(entries, sets)):
        if i == mine:
            continue
        for p in applied_fields & s:
            if p[-1] == fp.SELF:
                continue
            if fp.get(base, p) != fp.get(applied, p):
                conflicts.append((p, e))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    taken = {p for p, _ in conflicts}
    for i, s in enumerate(sets):
        if i != mine:
            s -= taken
    result = _merge(schema, node, copy.deepcopy(base), applied) if live is not None else applied
    if mine is not None:
        others: set[Path] = set()
        for i, s in enumerate(sets):
            if i != mine:
                others |= s
        # whole list items first; what lay inside them is gone with them
        for p in sorted(sets[mine] - applied_fields, key=lambda p: len(p) - (p[-1] == fp.SELF)):
            if p not in others and not _ignored(p, reset):
                fp.remove(result, p)
    entry: dict[str, Any] = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now}
    if subresource:
        entry["subresource"] = subresource
    if mine is None:
        entries.append(entry)
        sets.append(applied_fields)
    else:
        entries[mine] = entry
        sets[mine] = applied_fields
    # identity the apply configuration carries is kept from the live object
    if live is not None:
        meta = dict(result.get("metadata") or {})
        for f in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            if f in (live.get("metadata") or {}):
                meta[f] = live["metadata"][f]
        result["metadata"] = meta
    return _finish(result, entries, sets, result)


def _conflict_error(conflicts: list[tuple[Path, dict[str, Any]]]) -> errors.Conflict:
    causes = []
    lines = []
    for p, e in sorted(conflicts, key=lambda c: (c[1].get("manager", ""), fp.render(c[0]))):
        who = f'conflict with "{e.get("manager")}"'
        if e.get("apiVersion"):
            who += f" using {e['apiVersion']}"
        field = fp.render(p)
        causes.append({"reason": "FieldManagerConflict", "message": who, "field": field})
        lines.append(f"{who}: {field}")
    n = len(conflicts)
    if n == 1:
        message = f"Apply failed with 1 conflict: {lines[0]}"
    else:
        message = f"Apply failed with {n} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, causes=causes)
