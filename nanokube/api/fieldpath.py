"""Field paths and sets: which fields of an object a manager owns (managedFields' FieldsV1).

A path is a tuple of elements: ("f", name) for a field, ("k", '{"name":"c"}') for the item
of an associative list, ("v", '"x"') for a member of a set, (".", "") for "the node itself".
The wire form nests them: `{"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}}}}}`.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

import orjson

from .schema import Node, Schema, list_semantics, node_types

Path = tuple[tuple[str, str], ...]
SELF = (".", "")
_MISSING = object()


def _json(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def key_of(item: dict[str, Any], keys: list[str]) -> str:
    return _json({k: item.get(k) for k in keys if k in item})


def _atomic_map(n: Node | None) -> bool:
    return bool(n and n.get("x-kubernetes-map-type") == "atomic")


def _is_map(n: Node | None) -> bool:
    return bool(n and not n.get("properties") and isinstance(n.get("additionalProperties"), dict))


def fields_of(schema: Schema, node: Node | None, value: Any, path: Path = ()) -> set[Path]:
    """Every leaf path of `value` (plus node markers for list items and maps)."""
    out: set[Path] = set()
    _collect(schema, node, value, path, out, in_item=False)
    return out


def _collect(schema: Schema, node: Node | None, value: Any, path: Path, out: set[Path], in_item: bool) -> None:
    n = schema.resolve(node) if node is not None else None
    if isinstance(value, dict) and value and not _atomic_map(n) and not (n and "string" in node_types(n) and not n.get("properties")):
        if path and (_is_map(n) or in_item):
            out.add((*path, SELF))
        for k, v in value.items():
            child = schema.child(n, k) if n is not None else None
            _collect(schema, child, v, (*path, ("f", k)), out, False)
        return
    if isinstance(value, list) and value and n is not None:
        kind, keys = list_semantics(n)
        items = schema.items(n)
        if kind == "map" and keys and all(isinstance(x, dict) for x in value):
            for item in value:
                ip = (*path, ("k", key_of(item, keys)))
                out.add((*ip, SELF))
                for k, v in item.items():
                    _collect(schema, schema.child(items, k) if items is not None else None, v, (*ip, ("f", k)), out, False)
            return
        if kind == "set":
            for item in value:
                out.add((*path, ("v", _json(item))))
            return
    if path:
        out.add(path)


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 JSON of a set of paths."""
    root: dict[str, Any] = {}
    for p in sorted(paths):
        cur = root
        for kind, name in p:
            token = "." if kind == "." else f"{kind}:{name}"
            cur = cur.setdefault(token, {})
    return root


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for token, sub in fields.items():
        if token == ".":
            out.add((*prefix, SELF))
            continue
        kind, _, name = token.partition(":")
        p = (*prefix, (kind, name))
        if isinstance(sub, dict) and sub:
            out |= decode(sub, p)
        else:
            out.add(p)
    return out


def get(obj: Any, path: Path) -> Any:
    """The value at `path`, or the `MISSING` sentinel."""
    cur = obj
    for kind, name in path:
        if kind == ".":
            return cur
        if kind == "f":
            if not isinstance(cur, dict) or name not in cur:
                return _MISSING
            cur = cur[name]
        elif kind == "k":
            if not isinstance(cur, list):
                return _MISSING
            want = orjson.loads(name)
            cur = next((x for x in cur if isinstance(x, dict) and all(x.get(k) == v for k, v in want.items())), _MISSING)
            if cur is _MISSING:
                return cur
        elif kind == "v":
            if not isinstance(cur, list):
                return _MISSING
            want = orjson.loads(name)
            return want if want in cur else _MISSING
        else:
            return _MISSING
    return cur


def exists(obj: Any, path: Path) -> bool:
    return get(obj, path) is not _MISSING


def remove(obj: Any, path: Path) -> None:
    """Delete what `path` names from `obj` in place (a list item for `k`/`v` with a node marker)."""
    if not path:
        return
    if path[-1] == SELF:
        path = path[:-1]
    if not path:
        return
    parent = get(obj, path[:-1])
    kind, name = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif kind == "k" and isinstance(parent, list):
        want = orjson.loads(name)
        parent[:] = [x for x in parent if not (isinstance(x, dict) and all(x.get(k) == v for k, v in want.items()))]
    elif kind == "v" and isinstance(parent, list):
        want = orjson.loads(name)
        parent[:] = [x for x in parent if x != want]


def render(path: Path) -> str:
    """`.spec.containers[name="c"].image`, as conflict messages name fields."""
    out = []
    for kind, name in path:
        if kind == "f":
            out.append(f".{name}")
        elif kind == "k":
            kv = orjson.loads(name)
            out.append("[" + ",".join(f"{k}={_json(v)}" for k, v in kv.items()) + "]")
        elif kind == "v":
            out.append(f"[={name}]")
    return "".join(out)

