"""Upstream's OpenAPI definitions, loaded at run time from the kubernetes-validate package.

They carry what the API needs beyond shapes: `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key` for strategic merge patch, `x-kubernetes-list-type` and
`x-kubernetes-list-map-keys` for server-side apply, `x-kubernetes-group-version-kind` to find
a kind's definition, and the descriptions `kubectl explain` prints.

A schema *node* is a plain dict from the definitions; `resolve` follows `$ref`/`allOf`.
Custom resources bring their own (already resolved) OpenAPI v3 schema, which the same
navigation functions understand.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

import orjson

from ..version import SCHEMA_RELEASE

Node = dict[str, Any]
_REF_PREFIXES = ("#/$defs/", "#/definitions/", "#/components/schemas/")


class Schema:
    def __init__(self, definitions: dict[str, Node]) -> None:
        self.definitions = definitions
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, node in definitions.items():
            for gvk in node.get("x-kubernetes-group-version-kind", ()):
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                # meta types (DeleteOptions, WatchEvent) are tagged with every group; the
                # first definition found for a GVK wins, which is the kind's own.
                self._by_gvk.setdefault(key, name)

    def name_for(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get((group, version, kind))

    def for_kind(self, group: str, version: str, kind: str) -> Node | None:
        name = self.name_for(group, version, kind)
        return self.definitions.get(name) if name else None

    def resolve(self, node: Node | None) -> Node | None:
        """Follow `$ref` (also inside a one-element `allOf`) to the definition it names."""
        seen = 0
        while node is not None and seen < 32:
            seen += 1
            ref = node.get("$ref")
            if ref is None and len(node.get("allOf", ())) == 1 and "properties" not in node:
                ref = node["allOf"][0].get("$ref")
            if ref is None:
                return node
            node = self.definitions.get(ref_name(ref))
        return node

    def child(self, node: Node | None, field: str) -> Node | None:
        """The schema of `field` inside an object node (a property or the map's values)."""
        node = self.resolve(node)
        if node is None:
            return None
        props = node.get("properties")
        if props and field in props:
            child: Node = props[field]
            return child
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        return None

    def items(self, node: Node | None) -> Node | None:
        node = self.resolve(node)
        if node is None:
            return None
        items = node.get("items")
        return items if isinstance(items, dict) else None


def ref_name(ref: str) -> str:
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def node_types(node: Node | None) -> set[str]:
    """The JSON types a node allows, without the `null` the packaged schemas add."""
    if not node:
        return set()
    t = node.get("type")
    if t is None:
        return set()
    if isinstance(t, str):
        return {t}
    return {x for x in t if x != "null"}


def patch_strategy(node: Node | None) -> tuple[list[str], str | None]:
    """(strategies, merge key) of a field for strategic merge patch."""
    if not node:
        return [], None
    raw = node.get("x-kubernetes-patch-strategy") or ""
    return [s for s in raw.split(",") if s], node.get("x-kubernetes-patch-merge-key")


def list_semantics(node: Node | None) -> tuple[str, list[str]]:
    """(list type, map keys) for server-side apply: "atomic" unless the schema says otherwise."""
    if not node:
        return "atomic", []
    kind = node.get("x-kubernetes-list-type")
    keys = list(node.get("x-kubernetes-list-map-keys") or ())
    if kind is None:
        # upstream treats patch-strategy merge with a merge key as an associative list
        strategies, key = patch_strategy(node)
        if "merge" in strategies and key:
            return "map", [key]
        if "merge" in strategies:
            return "set", []
        return "atomic", []
    return kind, keys


def _definitions_path(release: str) -> str:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    base = os.path.join(list(spec.submodule_search_locations)[0], "kubernetes-json-schema")
    return os.path.join(base, f"v{release}-local", "_definitions.json")


@functools.cache
def load(release: str = SCHEMA_RELEASE) -> Schema:
    """The definitions of one Kubernetes release (about 10 ms, done once per process)."""
    with open(_definitions_path(release), "rb") as f:
        doc = orjson.loads(f.read())
    return Schema(doc.get("$defs") or doc.get("definitions") or {})
