"""PATCH bodies: JSON patch (RFC 6902), merge patch (RFC 7386) and strategic merge patch.

Strategic merge patch is upstream's: lists whose schema says `x-kubernetes-patch-strategy:
merge` are merged item by item on their `x-kubernetes-patch-merge-key` (or as sets, for
primitive lists); `retainKeys` fields drop keys the patch does not retain; the directives
`$patch` (replace, merge, delete), `$retainKeys`, `$deleteFromPrimitiveList/<f>` and
`$setElementOrder/<f>` do what kubectl's three-way patches expect. Where the schema says
nothing (or `preserve-unknown-fields` areas), it behaves like a merge patch.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import orjson

from . import errors
from .schema import Node, Schema, patch_strategy

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, "application/apply-patch+yaml")

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


def apply_patch(
    content_type: str,
    original: dict[str, Any],
    body: bytes,
    schema_node: Node | None,
    schema: Schema,
    *,
    strategic_allowed: bool = True,
) -> dict[str, Any]:
    """The patched object; the original is not modified."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        ops = _parse(body)
        if not isinstance(ops, list):
            raise errors.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return json_patch(original, ops)
    if media == MERGE_PATCH:
        patch = _parse(body)
        if not isinstance(patch, dict):
            raise errors.BadRequest("the patch must be a JSON object for merge patches")
        merged: dict[str, Any] = merge_patch(original, patch)
        return merged
    if media == STRATEGIC_PATCH:
        if not strategic_allowed:
            raise errors.UnsupportedMediaType(
                "strategic merge patch is not supported for custom resources; use "
                "application/merge-patch+json or application/json-patch+json")
        patch = _parse(body)
        if not isinstance(patch, dict):
            raise errors.BadRequest("the patch must be a JSON object for strategic merge patches")
        return strategic_merge(original, patch, schema_node, schema)
    raise errors.UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(SUPPORTED)}")


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"error decoding patch: {e}") from None


def json_patch(original: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    try:
        patch = jsonpatch.JsonPatch(ops)
        result = patch.apply(copy.deepcopy(original))
    except (jsonpatch.InvalidJsonPatch, TypeError, AttributeError) as e:
        raise errors.BadRequest(f"invalid JSON patch: {e}") from None
    except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPointerException) as e:
        raise errors.Invalid(f"the server rejected our request due to an error in our request: {e}") from None
    if not isinstance(result, dict):
        raise errors.Invalid("the JSON patch replaced the object with a value that is not an object")
    return result


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(original) if isinstance(original, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], node: Node | None, schema: Schema) -> dict[str, Any]:
    result = _merge_map(original, patch, node, schema)
    return result if isinstance(result, dict) else {}


def _merge_map(original: Any, patch: dict[str, Any], node: Node | None, schema: Schema) -> Any:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive not in (None, "merge"):
        raise errors.BadRequest(f"unknown patch type: {directive}")
    out = dict(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k in (_DIRECTIVE, _RETAIN):
            continue
        if k.startswith(_ORDER):
            orders[k[len(_ORDER):]] = v if isinstance(v, list) else []
            continue
        if k.startswith(_DELETE_FROM):
            field = k[len(_DELETE_FROM):]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        child = schema.child(node, k) if node is not None else None
        cur = out.get(k)
        if isinstance(v, dict):
            merged = _merge_map(cur, v, child, schema)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            strategies, key = patch_strategy(schema.resolve(child) if child else None)
            if "merge" in strategies:
                out[k] = _merge_list(cur if isinstance(cur, list) else [], v, schema.items(child), key, schema)
            else:
                out[k] = [_strip(x) for x in v]
        else:
            out[k] = copy.deepcopy(v)
    for field, order in orders.items():
        child = schema.child(node, field) if node is not None else None
        _, key = patch_strategy(schema.resolve(child) if child else None)
        if isinstance(out.get(field), list):
            out[field] = _order(out[field], order, key)
    retain = patch.get(_RETAIN)
    if isinstance(retain, list):
        keep = set(retain)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _strip(value: Any) -> Any:
    """Directives never reach the stored object."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if k not in (_DIRECTIVE, _RETAIN) and not k.startswith((_ORDER, _DELETE_FROM))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _merge_list(original: list[Any], patch: list[Any], item_node: Node | None, key: str | None, schema: Schema) -> list[Any]:
    if any(isinstance(x, dict) and x.get(_DIRECTIVE) == "replace" and len(x) == 1 for x in patch):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and x.get(_DIRECTIVE) == "replace")]
    if key is None or not all(isinstance(x, dict) for x in patch):
        # a list of primitives merged as a set: keep the original order, add what is new
        out = list(original)
        for x in patch:
            if isinstance(x, dict) and x.get(_DIRECTIVE) == "delete":
                continue
            if x not in out:
                out.append(copy.deepcopy(x))
        return out
    out = [copy.deepcopy(x) for x in original]
    for item in patch:
        k = item.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == k), None)
        if item.get(_DIRECTIVE) == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip(item))
        else:
            merged = _merge_map(out[idx], item, item_node, schema)
            if merged is None:
                out.pop(idx)
            else:
                out[idx] = merged
    return out


def _order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """`$setElementOrder`: listed items first in the given order, the rest after as they were."""
    def ident(x: Any) -> Any:
        if key is not None and isinstance(x, dict):
            return x.get(key)
        return orjson.dumps(x, option=orjson.OPT_SORT_KEYS)

    wanted = [ident(o) for o in order]
    rank = {w: i for i, w in enumerate(wanted)}
    listed = sorted((x for x in items if ident(x) in rank), key=lambda x: rank[ident(x)])
    rest = [x for x in items if ident(x) not in rank]
    return listed + rest
