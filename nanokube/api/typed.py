"""Objects seen through their schema, the way server-side apply sees them.

Server-side apply needs five operations on an object and its OpenAPI schema: the set of
fields it sets, a comparison of two versions (added, modified, removed fields), a merge of an
applied configuration into a live object, removal of a set of fields, and "which struct
fields lie on the way to these paths". All of them depend on how the schema says a list or
map combines:

- lists are atomic (replaced whole), sets (``x-kubernetes-list-type: set``, items by value)
  or maps (``x-kubernetes-list-type: map``, items by ``x-kubernetes-list-map-keys``; older
  types say the same with ``x-kubernetes-patch-merge-key``);
- maps and structs are granular unless ``x-kubernetes-map-type: atomic``;
- where the schema says nothing (no schema, ``x-kubernetes-preserve-unknown-fields``, raw
  JSON) the shape is deduced from the value: maps granular, lists atomic.

The rules, including their corner cases (empty containers compare as leaves, a removal that
empties a map leaves null behind), follow upstream's structured-merge-diff so that field
ownership and merge results are the same as a real API server's.
"""

from __future__ import annotations

from typing import Any

from . import fieldpath as fp
from .fieldpath import Element, FieldSet, Path, Tree
from .schema import Node, Schema, list_semantics, node_types, ref_name


class _Absent:
    """A field that is not there at all (as opposed to one that is null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

SCALAR, LIST, MAP = "scalar", "list", "map"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_META_REF: Node = {"$ref": "#/$defs/" + OBJECT_META}
_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
# key fields whose Go types carry a `+default` the packaged definitions leave out; upstream's
# schema has them, so `k:{"containerPort":80,"protocol":"TCP"}` names a port sent without one
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}


class ValidationErrors(ValueError):
    """A value the schema cannot hold (a duplicate key, an item without its keys).

    `errors` are (path, message) pairs; `str()` renders them as upstream does."""

    def __init__(self, errors: list[tuple[Path, str]]) -> None:
        self.errors = errors
        lines = [f"{fp.path_string(p)}: {m}" if p else m for p, m in errors]
        super().__init__(lines[0] if len(lines) == 1 else "errors:\n  " + "\n  ".join(lines))


class Shape:
    """What the schema says about one node: scalar, list (how its items combine) or map."""

    __slots__ = ("atomic", "elem", "item", "keys", "kind", "props")

    def __init__(
        self,
        kind: str,
        atomic: bool = False,
        keys: tuple[str, ...] | None = None,
        item: Node | None = None,
        props: dict[str, Node] | None = None,
        elem: Node | None = None,
    ) -> None:
        self.kind = kind
        self.atomic = atomic
        self.keys = keys  # a list's key fields; None for a set
        self.item = item
        self.props = props or {}
        self.elem = elem  # the node of a map's values (None: deduced)


_SCALAR = Shape(SCALAR)
_DEDUCED_LIST = Shape(LIST, atomic=True)
_DEDUCED_MAP = Shape(MAP)


# shapes by (schema, node): the walks visit the same few hundred nodes over and over
_SHAPES: dict[tuple[int, int], tuple[Node, Shape | None]] = {}
_SHAPES_MAX = 50_000
# kinds' root nodes with metadata typed, by (schema, node)
_ROOTS: dict[tuple[int, int], tuple[Node, Node]] = {}
_ROOTS_MAX = 1_000
_UNTYPED_ROOT: Node = {"type": "object", "properties": {"metadata": _META_REF}}


def _deduced(value: Any) -> Shape:
    if isinstance(value, dict):
        return _DEDUCED_MAP
    if isinstance(value, list):
        return _DEDUCED_LIST
    return _SCALAR


def _same(a: Shape, b: Shape) -> bool:
    return a is b or (a.kind == b.kind and a.atomic == b.atomic and a.keys == b.keys)


class Typed:
    """The operations, for one schema; `root` is the kind's node (None: no schema)."""

    def __init__(self, schema: Schema, root: Node | None) -> None:
        self.schema = schema
        self.root = self._with_meta(root)

    def _with_meta(self, node: Node | None) -> Node:
        """The root node with `metadata` as ObjectMeta, as upstream types every object's."""
        if node is None:
            return _UNTYPED_ROOT
        key = (id(self.schema), id(node))
        hit = _ROOTS.get(key)
        if hit is None:
            n = self.schema.resolve(node)
            props = (n or {}).get("properties") or {}
            if n is None:
                root = _UNTYPED_ROOT
            elif (props.get("metadata") or {}).get("$ref"):
                root = n
            else:
                root = {**n, "properties": {**props, "metadata": _META_REF}}
            if len(_ROOTS) > _ROOTS_MAX:
                _ROOTS.clear()
            hit = _ROOTS[key] = (node, root)
        return hit[1]

    # --- the schema ---------------------------------------------------------------------

    def shape(self, node: Node | None, value: Any) -> Shape:
        if node is None:
            return _deduced(value)
        key = (id(self.schema), id(node))
        hit = _SHAPES.get(key)
        if hit is None:
            if len(_SHAPES) > _SHAPES_MAX:
                _SHAPES.clear()
            # the node is kept with its shape so that its id cannot be reused while cached
            hit = _SHAPES[key] = (node, self._shape(node))
        return hit[1] or _deduced(value)

    def _shape(self, node: Node) -> Shape | None:
        """The node's shape; None when only the value can tell (no schema to speak of)."""
        n = self.schema.resolve(node)
        if n is None:
            return None
        types = node_types(n)
        if n.get("x-kubernetes-int-or-string") or (not types and ("oneOf" in n or "anyOf" in n)):
            return _SCALAR
        if "array" in types or (not types and "items" in n):
            kind, keys = list_semantics(node if "x-kubernetes-list-type" in node else n)
            item = self.schema.items(n)
            if kind == "map":
                return Shape(LIST, keys=tuple(keys) or None, item=item)
            if kind == "set":
                return Shape(LIST, item=item)
            return Shape(LIST, atomic=True, item=item)
        if "object" in types or "properties" in n or "additionalProperties" in n:
            props = n.get("properties") or {}
            if n.get("x-kubernetes-embedded-resource"):
                props = {**props, "metadata": _META_REF}
            extra = n.get("additionalProperties")
            map_type = node.get("x-kubernetes-map-type") or n.get("x-kubernetes-map-type")
            return Shape(MAP, atomic=map_type == "atomic", props=props, elem=extra if isinstance(extra, dict) else None)
        if types & _SCALAR_TYPES:
            return _SCALAR
        return None

    @staticmethod
    def child(sh: Shape, name: str) -> tuple[Node | None, bool]:
        """(node of a map's entry, whether it is a declared struct field)."""
        node = sh.props.get(name)
        if node is not None:
            return node, True
        return sh.elem, False

    def _key_default(self, item: Node | None, name: str) -> Any:
        if item is None:
            return None
        ref = item.get("$ref")
        if ref:
            d = _KEY_DEFAULTS.get((ref_name(ref), name))
            if d is not None:
                return d
        n = self.schema.resolve(item) or {}
        return ((n.get("properties") or {}).get(name) or {}).get("default")

    def item_element(self, sh: Shape, item: Any) -> Element:
        """The path element of a list item; ValueError when the item cannot have one."""
        if sh.keys:
            if item is None:
                raise ValueError("associative list with keys may not have a null element")
            if not isinstance(item, dict):
                raise ValueError("associative list with keys may not have non-map elements")
            fields: dict[str, Any] = {}
            for k in sh.keys:
                if k in item:
                    fields[k] = item[k]
                else:
                    d = self._key_default(sh.item, k)
                    if d is not None:
                        fields[k] = d
            if not fields:
                quoted = "[" + " ".join(fp.go_json(k) for k in sh.keys) + "]"
                raise ValueError(
                    f"associative list with keys has an element that omits all key fields {quoted} "
                    "(and doesn't have default values for any key fields)"
                )
            return fp.key(fields)
        if isinstance(item, dict):
            raise ValueError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise ValueError("not supported: associative list with lists as elements")
        if item is None:
            raise ValueError("associative list without keys has an element that's an explicit null")
        return fp.value(item)

    def _elements(self, sh: Shape, items: list[Any]) -> list[Element] | None:
        try:
            return [self.item_element(sh, it) for it in items]
        except ValueError:
            return None

    # --- validation ---------------------------------------------------------------------

    def validate(self, value: Any) -> None:
        """Raise ValidationErrors for duplicate or key-less items, as upstream refuses such a configuration."""
        errs: list[tuple[Path, str]] = []
        self._validate(self.root, value, (), errs)
        if errs:
            raise ValidationErrors(errs)

    def _validate(self, node: Node | None, v: Any, path: Path, errs: list[tuple[Path, str]]) -> None:
        sh = self.shape(node, v)
        if sh.kind == LIST and isinstance(v, list) and not sh.atomic:
            seen: set[Element] = set()
            for i, item in enumerate(v):
                try:
                    el = self.item_element(sh, item)
                except ValueError as e:
                    errs.append((path, f"element {i}: {e}"))
                    return
                if el in seen:
                    errs.append((path, f"duplicate entries for key {fp.element_string(el)}"))
                seen.add(el)
                self._validate(sh.item, item, (*path, el), errs)
        elif sh.kind == MAP and isinstance(v, dict):
            for k, cv in v.items():
                self._validate(self.child(sh, k)[0], cv, (*path, ("f", k)), errs)

    # --- the fields a value sets --------------------------------------------------------

    def field_set(self, value: Any) -> FieldSet:
        """Every field `value` sets: leaves, list items, null or empty maps, map entries."""
        out: FieldSet = set()
        self._fields(self.root, value, (), out)
        return out

    def _fields(self, node: Node | None, v: Any, path: Path, out: FieldSet) -> None:
        sh = self.shape(node, v)
        if sh.kind == SCALAR:
            out.add(path)
        elif sh.kind == LIST:
            if sh.atomic:
                out.add(path)
                return
            if not isinstance(v, list):
                return
            els = self._elements(sh, v)
            if els is None:
                out.add(path)
                return
            seen: set[Element] = set()
            dups: set[Element] = set()
            for el in els:
                if el in seen and el not in dups:
                    dups.add(el)
                    out.add((*path, el))
                seen.add(el)
            for el, item in zip(els, v):
                if el in dups:
                    continue
                p = (*path, el)
                self._fields(sh.item, item, p, out)
                out.add(p)
        else:
            if sh.atomic:
                out.add(path)
                return
            if not isinstance(v, dict):
                return
            for k, cv in v.items():
                cnode, declared = self.child(sh, k)
                p = (*path, ("f", k))
                self._fields(cnode, cv, p, out)
                if cv is None or cv == {} or not declared:
                    out.add(p)

    # --- comparison ---------------------------------------------------------------------

    def compare(self, lhs: Any, rhs: Any) -> tuple[FieldSet, FieldSet, FieldSet]:
        """(added, modified, removed) from `lhs` to `rhs`; new or gone non-leaf nodes count too."""
        added: FieldSet = set()
        modified: FieldSet = set()
        removed: FieldSet = set()
        self._cmp(self.root, lhs, rhs, (), (added, modified, removed))
        return added, modified, removed

    def _cmp(self, node: Node | None, l: Any, r: Any, path: Path, res: tuple[FieldSet, FieldSet, FieldSet]) -> None:
        if r is ABSENT:
            leaf = self._cmp_as(self.shape(node, l), l, r, path, res)
        else:
            ar = self.shape(node, r)
            if l is ABSENT:
                leaf = self._cmp_as(ar, l, r, path, res)
            else:
                al = self.shape(node, l)
                if not _same(al, ar):
                    self._cmp_as(al, l, r, path, res)
                leaf = self._cmp_as(ar, l, r, path, res)
        if not leaf:
            if l is ABSENT:
                res[0].add(path)
            elif r is ABSENT:
                res[2].add(path)

    @staticmethod
    def _leaf(l: Any, r: Any, path: Path, res: tuple[FieldSet, FieldSet, FieldSet]) -> None:
        if l is ABSENT:
            res[0].add(path)
        elif r is ABSENT:
            res[2].add(path)
        elif l != r:
            res[1].add(path)

    def _cmp_as(self, sh: Shape, l: Any, r: Any, path: Path, res: tuple[FieldSet, FieldSet, FieldSet]) -> bool:
        """Compare as this shape; True when the node was a leaf."""
        if sh.kind == SCALAR:
            self._leaf(l, r, path, res)
            return True
        if sh.kind == LIST:
            ll = l if isinstance(l, list) else None
            rl = r if isinstance(r, list) else None
            if sh.atomic or (not ll and not rl):
                self._leaf(l, r, path, res)
                return True
            if not self._cmp_list(sh, ll or [], rl or [], path, res):
                self._leaf(l, r, path, res)
                return True
            return False
        lm = l if isinstance(l, dict) else None
        rm = r if isinstance(r, dict) else None
        if sh.atomic or (not lm and not rm):
            self._leaf(l, r, path, res)
            return True
        lm = lm or {}
        rm = rm or {}
        for k, lv in lm.items():
            self._cmp(self.child(sh, k)[0], lv, rm.get(k, ABSENT), (*path, ("f", k)), res)
        for k, rv in rm.items():
            if k not in lm:
                self._cmp(self.child(sh, k)[0], ABSENT, rv, (*path, ("f", k)), res)
        return False

    def _cmp_list(
        self, sh: Shape, ll: list[Any], rl: list[Any], path: Path, res: tuple[FieldSet, FieldSet, FieldSet]
    ) -> bool:
        lels = self._elements(sh, ll)
        rels = self._elements(sh, rl)
        if lels is None or rels is None:
            return False  # items without a key: compared whole
        lvals: dict[Element, list[Any]] = {}
        rvals: dict[Element, list[Any]] = {}
        order: list[Element] = []
        for el, item in zip(lels, ll):
            if el not in lvals:
                lvals[el] = []
                order.append(el)
            lvals[el].append(item)
        for el, item in zip(rels, rl):
            if el not in rvals:
                rvals[el] = []
                if el not in lvals:
                    order.append(el)
            rvals[el].append(item)
        for el in order:
            lv = lvals.get(el, [])
            rv = rvals.get(el, [])
            p = (*path, el)
            if len(lv) <= 1 and len(rv) <= 1:
                self._cmp(sh.item, lv[0] if lv else ABSENT, rv[0] if rv else ABSENT, p, res)
            elif len(lv) >= 2 and len(rv) >= 2:
                if lv != rv:
                    res[1].add(p)
            elif len(lv) >= 2:
                if rv:
                    self._cmp(sh.item, ABSENT, rv[0], p, res)
                res[2].add(p)
            else:
                if lv:
                    self._cmp(sh.item, lv[0], ABSENT, p, res)
                res[0].add(p)
        return True

    # --- merge --------------------------------------------------------------------------

    def merge(self, lhs: Any, rhs: Any) -> Any:
        """`rhs` (an applied configuration) merged into `lhs`; ABSENT only when both are."""
        return self._merge(self.root, lhs, rhs, ())

    def _merge(self, node: Node | None, l: Any, r: Any, path: Path) -> Any:
        sh = self.shape(node, l if r is ABSENT else r)
        keep = r if r is not ABSENT else l
        if sh.kind == SCALAR:
            return keep
        if sh.kind == LIST:
            ll = l if isinstance(l, list) else None
            rl = r if isinstance(r, list) else None
            if sh.atomic or (not ll and not rl):
                return keep
            return self._merge_list(sh, ll or [], rl or [], path, keep)
        lm = l if isinstance(l, dict) else None
        rm = r if isinstance(r, dict) else None
        if sh.atomic or (not lm and not rm):
            return keep
        lm = lm or {}
        rm = rm or {}
        out: dict[str, Any] = {}
        for k, lv in lm.items():
            v = self._merge(self.child(sh, k)[0], lv, rm.get(k, ABSENT), (*path, ("f", k)))
            if v is not ABSENT:
                out[k] = v
        for k, rv in rm.items():
            if k not in lm:
                v = self._merge(self.child(sh, k)[0], ABSENT, rv, (*path, ("f", k)))
                if v is not ABSENT:
                    out[k] = v
        return out if out else ABSENT

    def _merge_list(self, sh: Shape, ll: list[Any], rl: list[Any], path: Path, keep: Any) -> Any:
        """Items merged by key: live order kept, new items placed where the configuration puts them."""
        rels = self._elements(sh, rl)
        if rels is None or len(set(rels)) != len(rels):
            errs: list[tuple[Path, str]] = []
            self._validate_list(sh, rl, path, errs)
            raise ValidationErrors(errs)
        lels = self._elements(sh, ll)
        if lels is None:
            return keep  # a live list whose items have no keys: replaced whole
        robs = dict(zip(rels, rl))
        lobs: dict[Element, Any] = {}
        for el, item in zip(lels, ll):
            lobs[el] = None if el in lobs else item  # a duplicated live item merges as null
        shared = [el for el in rels if el in lobs]
        nxt = 0
        next_shared = shared[nxt] if shared else None
        merged_r: set[Element] = set()
        out: list[Any] = []

        def add(el: Element, lv: Any, rv: Any) -> None:
            v = self._merge(sh.item, lv, rv, (*path, el))
            if v is not ABSENT:
                out.append(v)

        li = ri = 0
        while li < len(lels) or ri < len(rels):
            if li < len(lels) and ri < len(rels):
                el = lels[li]
                if el == rels[ri]:
                    merged_r.add(el)
                    add(el, lobs.get(el, ABSENT), robs[el])
                    li += 1
                    ri += 1
                    nxt += 1
                    next_shared = shared[nxt] if nxt < len(shared) else None
                    continue
                if el in robs and next_shared is not None and next_shared != el:
                    li += 1
                    continue
            if li < len(lels):
                el = lels[li]
                if el not in robs:
                    add(el, ll[li], ABSENT)
                    li += 1
                    continue
                if el in merged_r:
                    li += 1
            if ri < len(rels):
                el = rels[ri]
                merged_r.add(el)
                add(el, lobs.get(el, ABSENT), robs[el])
                ri += 1
                if next_shared is not None and next_shared == el:
                    nxt += 1
                    next_shared = shared[nxt] if nxt < len(shared) else None
        return out if out else ABSENT

    def _validate_list(self, sh: Shape, items: list[Any], path: Path, errs: list[tuple[Path, str]]) -> None:
        seen: set[Element] = set()
        for i, item in enumerate(items):
            try:
                el = self.item_element(sh, item)
            except ValueError as e:
                errs.append((path, f"element {i}: {e}"))
                return
            if el in seen:
                errs.append((path, f"duplicate entries for key {fp.element_string(el)}"))
            seen.add(el)

    # --- removal ------------------------------------------------------------------------

    def remove(self, value: Any, paths: FieldSet) -> Any:
        """`value` without the fields in `paths` (and what lies under them).

        A list or map that loses everything it held becomes null, as upstream leaves it."""
        if not paths:
            return value
        return self._remove(self.root, value, fp.tree(paths))

    def _remove(self, node: Node | None, v: Any, t: Tree) -> Any:
        sh = self.shape(node, v)
        if sh.kind == SCALAR:
            return v
        if sh.kind == LIST:
            if not isinstance(v, list) or not v or sh.atomic:
                return None
            items: list[Any] = []
            for item in v:
                try:
                    sub = t.child(self.item_element(sh, item))
                except ValueError:
                    sub = None
                if sub is not None and sub.member:
                    continue
                if sub is not None and sub.children:
                    item = self._remove(sh.item, item, sub)
                items.append(item)
            return items if items else None
        if not isinstance(v, dict) or not v or sh.atomic:
            return None
        out: dict[str, Any] = {}
        for k, cv in v.items():
            sub = t.child(("f", k))
            if sub is not None and sub.member:
                continue
            if sub is not None and sub.children:
                cv = self._remove(self.child(sh, k)[0], cv, sub)
            out[k] = cv
        return out if out else None

    # --- named fields -------------------------------------------------------------------

    def with_named_parents(self, paths: FieldSet) -> FieldSet:
        """`paths` plus every struct field on the way to them (not map keys, not list items)."""
        out = set(paths)

        def walk(node: Node | None, t: Tree, prefix: Path) -> None:
            sh = self.shape(node, {})
            for el, sub in t.children.items():
                if not sub.children:
                    continue
                p = (*prefix, el)
                if el[0] == "f" and sh.kind == MAP:
                    below, declared = self.child(sh, el[1])
                    if declared:
                        out.add(p)
                elif el[0] == "k" and sh.kind == LIST:
                    below = sh.item
                else:
                    continue
                walk(below, sub, p)

        walk(self.root, fp.tree(paths), ())
        return out

    # --- builtin objects drop what Go cannot hold ---------------------------------------

    def drop_new_nulls(self, value: Any, before: Any) -> Any:
        """Struct fields that became null vanish, as they do when Go decodes a built-in object.

        Nulls the object already held are left alone: they are how Go writes some empty
        fields (`creationTimestamp: null`), and a no-op must stay one."""
        return self._drop(self.root, value, before)

    def _drop(self, node: Node | None, v: Any, old: Any) -> Any:
        if node is None:
            return v
        sh = self.shape(node, v)
        if sh.kind == MAP and isinstance(v, dict) and sh.props:
            was = old if isinstance(old, dict) else {}
            out = {}
            for k, cv in v.items():
                cnode, declared = self.child(sh, k)
                ov = was.get(k, ABSENT)
                if cv is None and declared and ov is not None:
                    continue
                out[k] = self._drop(cnode, cv, ov)
            return out
        if sh.kind == LIST and isinstance(v, list) and sh.item is not None:
            prev = old if isinstance(old, list) else []
            if sh.keys:
                mine, theirs = self._elements(sh, v), self._elements(sh, prev)
                if mine is None:
                    return v
                by_key = dict(zip(theirs, prev)) if theirs is not None else {}
                return [self._drop(sh.item, x, by_key.get(el, ABSENT)) for el, x in zip(mine, v)]
            return [self._drop(sh.item, x, prev[i] if i < len(prev) else ABSENT) for i, x in enumerate(v)]
        return v
