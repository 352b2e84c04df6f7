"""Strategic merge patch, applied the way the API server applies it to built-in kinds.

A strategic merge patch is a JSON merge patch whose lists can be merged instead of
replaced. The kind's OpenAPI schema says which: a field with `x-kubernetes-patch-strategy:
merge` is merged item by item on its `x-kubernetes-patch-merge-key` (lists of objects) or as
a set (lists of scalars); every other list is replaced. The patch can also carry directives:

- `$patch: replace` / `$patch: delete` in a map (replace it wholesale / empty it);
- `{<key>: v, $patch: delete}` in a merged list (drop that item), `{$patch: replace}` in a
  merged list (the list becomes the other items of the patch list);
- `$retainKeys: [...]` (drop every key of the live map not listed);
- `$deleteFromPrimitiveList/<field>: [...]` (remove those scalars from a merged list);
- `$setElementOrder/<field>: [...]` (the order kubectl wants the merged list in).

kubectl's client-side apply, `kubectl set image`, `kubectl edit` and friends all send such
patches, so the details matter: the order of merged lists in particular follows upstream's
rules exactly (items named in the patch keep the patch's order, live-only items keep theirs,
the two interleaved by their positions in the live list).

Where the schema says nothing (unknown fields, `x-kubernetes-preserve-unknown-fields`
areas, `node=None`), maps merge and lists are replaced, as in a JSON merge patch.

Values that come from the patch and land in the result unmerged may still carry `null`s and
directive keys; upstream drops those when it decodes the result into the kind's Go type, and
so do we, at the end, for patch-born values only (nulls the live object already held stay).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .jsoncopy import json_copy
from .gostyle import go_s, go_type, go_value, stable_sort
from .schema import Node, Schema, patch_strategy

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# upstream's messages for malformed patches
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
NO_LIST_OF_LISTS = "lists of lists are not supported"
UNPROCESSABLE = "the server rejected our request due to an error in our request"


class UnprocessablePatch(errors.Invalid):
    """422 with upstream's generic text: the patch is well-formed but cannot be applied.

    Upstream answers these with a bare Status (no causes, an empty `details`) whose message
    does not say what went wrong; `detail` keeps the reason for logs and tests.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(UNPROCESSABLE)
        self.detail = detail

    def status(self) -> dict[str, Any]:
        out = super().status()
        code = out.pop("code")
        out["details"] = {}
        out["code"] = code
        return out


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], node: Node | None,
                    schema: Schema) -> dict[str, Any]:
    """`original` with the strategic merge patch applied; neither input is modified.

    `node` is the schema of the kind (or of whatever map `original` is); None means no
    schema, where the patch behaves as a JSON merge patch with directives.
    """
    result, born = _merge_raw(original, patch, node, schema)
    _settle(result, born)
    return result


def _merge_raw(original: dict[str, Any], patch: dict[str, Any], node: Node | None,
               schema: Schema) -> tuple[dict[str, Any], dict[int, Any]]:
    """Upstream's result before decoding, plus the containers that came from the patch."""
    live: dict[str, Any] = json_copy(original)
    work: dict[str, Any] = json_copy(patch)
    born: dict[int, Any] = {}
    _mark(work, born)
    return _Merger(schema).merge_map(live, work, node), born


# -- the merge -----------------------------------------------------------------------------


class _Merger:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def field_meta(self, node: Node | None, key: str) -> tuple[Node | None, str, str]:
        """(schema of the field, its strategy other than retainKeys, its merge key)."""
        child = self.schema.child(node, key) if node is not None else None
        strategies, merge_key = patch_strategy(child)
        return child, _main_strategy(strategies), merge_key or ""

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> dict[str, Any]:
        if PATCH in patch:
            return _map_directive(patch)
        _retain_keys(original, patch)
        self.ordered_lists(original, patch, node)
        for key, value in list(patch.items()):
            field, deleting = key, False
            if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
                field, deleting = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST, BAD_PRIMITIVE_LIST), True
            if value is None:
                original.pop(field, None)
                continue
            if field not in original:
                if not deleting:
                    _put_new(original, field, value)
                continue
            current = original[field]
            if type(current) is not type(value):
                if not deleting:
                    _put_new(original, field, value)
                continue
            if isinstance(current, dict):
                child, strategy, _ = self.field_meta(node, field)
                original[field] = value if strategy == "replace" else self.merge_map(current, value, child)
            elif isinstance(current, list):
                child, strategy, merge_key = self.field_meta(node, field)
                if strategy == "merge" or deleting:
                    original[field] = self.merge_list(current, value, self.schema.items(child), merge_key, deleting)
                else:
                    original[field] = value
            else:
                original[field] = value
        return original

    def ordered_lists(self, original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> None:
        """`$setElementOrder/<field>`: merge that field's list now and put it in order."""
        for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
            order = patch.pop(key)
            if not isinstance(order, list):
                raise _arg_type([], order)
            field = _extract_key(key, SET_ELEMENT_ORDER, BAD_ELEMENT_ORDER)
            in_live, in_patch = field in original, field in patch
            live: Any = original.get(field)
            patch_list: Any = patch.get(field)
            if in_live and not isinstance(live, list):
                raise _arg_type([], live)
            if in_patch and not isinstance(patch_list, list):
                raise _arg_type([], patch_list)
            child, strategy, merge_key = self.field_meta(node, field)
            _check_order(patch_list or [], order, merge_key)
            live_items: list[Any] = list(live) if in_live else []
            view = list(live_items)
            if in_live and not in_patch:
                merged: list[Any] = live_items
            elif in_patch and not in_live:
                merged, _ = _strip_directives(patch_list)
            elif in_live and in_patch:
                if strategy == "merge":
                    merged = self.merge_list(live_items, patch_list, self.schema.items(child), merge_key, False, view)
                else:
                    merged = patch_list
            else:
                continue
            if merge_key:
                named, live_only = _partition_maps(merged, order, merge_key)
            else:
                named, live_only = _partition_scalars(merged, order)
            kind = _element_kind(view, patch_list or [])
            original[field] = _arrange(named, live_only, order, view, merge_key, kind)
            patch.pop(field, None)

    def merge_list(self, original: list[Any], patch: list[Any], item_node: Node | None, merge_key: str,
                   deleting: bool, view: list[Any] | None = None) -> list[Any]:
        """Merge a list field. `view`, when given, is the live list as the caller will see it
        afterwards: upstream edits the live list's storage in place (see `_list_directives`)."""
        if not original and not patch:
            return original
        kind = _element_kind(original, patch)
        if kind is not dict:
            if deleting:
                gone = _ScalarSet(patch)
                return [x for x in original if x not in gone]
            if patch:
                merged = _dedupe(original + patch)
            else:
                # appending nothing hands back the live list itself, which the de-duplication
                # then rewrites in place: later ordering sees the rewritten live list
                storage = view if view is not None else list(original)
                merged = _dedupe(storage)
                original = storage
        else:
            if not merge_key:
                raise errors.BadRequest("cannot merge lists without merge key for struct")
            storage = view if view is not None else list(original)
            original, patch, replaced = _list_directives(storage, patch, merge_key)
            merged = list(original)
            for item in patch:
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
                at = _find_by_key(merged, merge_key, item[merge_key])
                if at is None:
                    merged.append(item)
                    at = len(merged) - 1
                else:
                    merged[at] = self.merge_map(merged[at], item, item_node)
                if not replaced and at < len(storage):
                    storage[at] = merged[at]
        if merge_key:
            named, live_only = _partition_maps(merged, patch, merge_key)
        else:
            named, live_only = _partition_scalars(merged, patch)
        return _arrange(named, live_only, patch, original, merge_key, kind)


def _main_strategy(strategies: list[str]) -> str:
    """The strategy besides `retainKeys` (which only matters for building patches)."""
    rest = [s for s in strategies if s != "retainKeys"]
    if len(strategies) > 2 or (len(strategies) == 2 and len(rest) != 1):
        raise errors.BadRequest(f"unexpected patch strategy: {go_value(strategies)}")
    return rest[0] if rest else ""


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[PATCH]
    if directive == "replace":
        del patch[PATCH]
        return patch
    if directive == "delete":
        return {}
    raise errors.BadRequest(f"unknown patch type: {go_s(directive)} in map: {go_value(patch)}")


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys`: every non-null key of the patch must be listed; unlisted live keys go."""
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise errors.BadRequest(BAD_RETAIN_KEYS)
    names = {k for k in keep if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in names:
            raise errors.BadRequest(BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in names]:
        del original[key]


def _put_new(original: dict[str, Any], key: str, value: Any) -> None:
    """A patch value with nothing (or something of another type) to merge into."""
    _drop_nulls(value)
    value, keep = _strip_directives(value)
    if keep:
        original[key] = value
    else:
        original.pop(key, None)


def _list_directives(storage: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any], bool]:
    """Apply the `$patch` items of a merged list: (live items left, plain patch items, replaced).

    Deletions shift the live list's storage left in place, as Go's slice append does, leaving
    stale items at the end that later appends overwrite; the caller's `$setElementOrder`
    ordering looks at that storage afterwards, so `storage` is edited the same way here.
    """
    length = len(storage)
    plain: list[Any] = []
    replace = False
    for item in patch:
        if PATCH not in item:
            plain.append(item)
            continue
        directive = item[PATCH]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            while (at := _find_by_key(storage[:length], merge_key, item[merge_key])) is not None:
                storage[at:length - 1] = storage[at + 1:length]
                length -= 1
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise errors.BadRequest("merging lists cannot yet be specified in the patch")
        else:
            raise errors.BadRequest(f"unknown patch type: {go_s(directive)} in map: {go_value(item)}")
    if replace:
        return plain, [], True
    return storage[:length], plain, False


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's items must appear in `$setElementOrder` and in the same relative order."""
    if not order or not patch_list:
        return
    if merge_key:
        items, _ = _split_deletes(patch_list)
    else:
        items = patch_list
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and PATCH in items[i]:
            i += 1
            continue
        if _same_key(items[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(items) and j >= len(order):
        raise errors.BadRequest(f"The order in patch list:\n{go_value(patch_list)}\n doesn't match "
                                f"{SET_ELEMENT_ORDER} list:\n{go_value(order)}\n")


def _same_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _arg_type({}, item)
    for item in (left, right):
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return _same(left[merge_key], right[merge_key])


def _split_deletes(items: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    gone: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise _arg_type({}, item)
        (gone if item.get(PATCH) == "delete" else keep).append(item)
    return keep, gone


# -- ordering of merged lists --------------------------------------------------------------


def _partition_scalars(merged: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    present = _ScalarSet(by)
    return [x for x in merged if x in present], [x for x in merged if x not in present]


def _partition_maps(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    named: list[Any] = []
    live_only: list[Any] = []
    for item in merged:
        if not isinstance(item, dict):
            raise _arg_type({}, item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        (named if _find_by_key(by, merge_key, item[merge_key]) is not None else live_only).append(item)
    return named, live_only


def _arrange(named: list[Any], live_only: list[Any], named_order: list[Any], live_order: list[Any],
             merge_key: str, kind: type) -> list[Any]:
    """Patch-named items in the patch's order, live-only items in the live order, interleaved.

    The two sorted runs are merged like this: a live-only item goes before the next named
    item when both appear in the live list and the live-only one comes first there;
    otherwise the named item goes first.
    """
    named = _sort_by(named, named_order, merge_key, kind)
    live_only = _sort_by(live_only, live_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(live_only) or j < len(named):
        if i >= len(live_only):
            out.append(named[j])
            j += 1
        elif j >= len(named):
            out.append(live_only[i])
            i += 1
        else:
            li = _index(live_order, live_only[i], merge_key, kind)
            ri = _index(live_order, named[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(live_only[i])
                i += 1
            else:
                out.append(named[j])
                j += 1
    return out


def _sort_by(items: list[Any], order: list[Any], merge_key: str, kind: type) -> list[Any]:
    """Stable sort of `items` by their position in `order` (deletion markers last)."""
    gone: list[Any] = []
    if kind is dict:
        for item in [*items, *order]:
            if not isinstance(item, dict):
                raise _arg_type({}, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        items, gone = _split_deletes(items)
    items = list(items)

    def less(a: Any, b: Any) -> bool:
        # upstream's comparison: items missing from `order` compare as "less" either way
        ia = _index(order, a, merge_key, kind)
        if ia >= 0:
            ib = _index(order, b, merge_key, kind)
            if ib >= 0:
                return ia < ib
        return True

    stable_sort(items, less)
    return items + gone


def _index(items: list[Any], value: Any, merge_key: str, kind: type) -> int:
    if kind is dict:
        def ident(x: Any) -> Any:
            return x.get(merge_key) if isinstance(x, dict) else None
    else:
        def ident(x: Any) -> Any:
            return x
    wanted = ident(value)
    for i, item in enumerate(items):
        if _same(wanted, ident(item)):
            return i
    return -1


def _dedupe(s: list[Any]) -> list[Any]:
    """Drop repeated scalars the way upstream does: in place, a duplicate is overwritten by
    the current last item and the list shortened; returns the shortened list."""
    last = len(s) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _same(s[i], s[j]):
                s[j] = s[last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    return s[:last + 1]


# -- values --------------------------------------------------------------------------------


def _element_kind(*lists: list[Any]) -> type:
    """The one type every item of the lists has (lists of lists and mixtures are refused)."""
    seen: type | None = None
    for items in lists:
        for item in items:
            t = _json_type(item)
            if seen is None:
                if t is list:
                    raise UnprocessablePatch(NO_LIST_OF_LISTS)
                seen = t
            elif t is not seen:
                raise errors.BadRequest(f"list element types are not identical: {go_value(list(lists))}")
    if seen is None:
        raise errors.BadRequest("no elements in any of the given slices")
    return seen


def _json_type(value: Any) -> type:
    return type(value)


def _same(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values that tells 1 from 1.0 and from true, as Go does."""
    return type(a) is type(b) and bool(a == b)


class _ScalarSet:
    """Membership by `_same`, hashed where the values allow."""

    def __init__(self, items: list[Any]) -> None:
        self.hashed: set[tuple[type, Any]] = set()
        self.other: list[Any] = []
        for x in items:
            if isinstance(x, dict | list):
                self.other.append(x)
            else:
                self.hashed.add((type(x), x))

    def __contains__(self, x: Any) -> bool:
        if isinstance(x, dict | list):
            return any(_same(x, o) for o in self.other)
        return (type(x), x) in self.hashed


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise errors.BadRequest(f"value for key {i} is not a map")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return None


def _drop_nulls(value: Any) -> None:
    """Remove null-valued keys everywhere inside `value` (in place)."""
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _drop_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _drop_nulls(v)


def _strip_directives(value: Any) -> tuple[Any, bool]:
    """Remove maps carrying `$patch` (in place); False when `value` itself is one."""
    if isinstance(value, dict):
        if PATCH in value:
            return None, False
        for k in list(value):
            v, keep = _strip_directives(value[k])
            if keep:
                value[k] = v
            else:
                del value[k]
        return value, True
    if isinstance(value, list):
        out = []
        for v in value:
            v, keep = _strip_directives(v)
            if keep:
                out.append(v)
        return out, True
    return value, True


def _extract_key(key: str, prefix: str, bad: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise errors.BadRequest(bad)
    return rest


def _is_directive(key: str) -> bool:
    return key in (PATCH, RETAIN_KEYS) or key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))


def _mark(value: Any, born: dict[int, Any]) -> None:
    """Remember every container of the patch (kept alive here so ids stay unique)."""
    if isinstance(value, dict):
        born[id(value)] = value
        for v in value.values():
            _mark(v, born)
    elif isinstance(value, list):
        born[id(value)] = value
        for v in value:
            _mark(v, born)


def _settle(value: Any, born: dict[int, Any]) -> Any:
    """Decode-time cleanup: patch-born maps lose null values and leftover directive keys."""
    if isinstance(value, dict):
        if id(value) in born:
            for k in [k for k, v in value.items() if v is None or _is_directive(k)]:
                del value[k]
        for k, v in value.items():
            value[k] = _settle(v, born)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            value[i] = _settle(v, born)
    return value


# -- upstream's error texts ----------------------------------------------------------------


def _no_merge_key(item: Any, merge_key: str) -> errors.BadRequest:
    return errors.BadRequest(f"map: {go_value(item)} does not contain declared merge key: {merge_key}")


def _arg_type(expected: Any, actual: Any) -> errors.BadRequest:
    return errors.BadRequest(f"expected a {go_type(expected)}, but received a {go_type(actual)}")


