"""Resource URLs: `/api/v1/namespaces/ns/pods/x/status` → what the request is about."""

from __future__ import annotations

from dataclasses import dataclass

from ..api import errors
from ..api.registry import Registry, Resource


@dataclass
class Target:
    resource: Resource
    namespace: str | None  # None: cluster-scoped, or a list across all namespaces
    name: str | None  # None: the collection
    subresource: str = ""
    legacy_watch: bool = False  # the deprecated /watch/ path prefix


def parse(registry: Registry, group: str, version: str, parts: list[str]) -> Target:
    """`parts` is the path after /api/v1 or /apis/<group>/<version>."""
    legacy_watch = False
    if parts and parts[0] == "watch":
        legacy_watch = True
        parts = parts[1:]
    if not parts:
        raise errors.NotFound("the server could not find the requested resource")
    namespace: str | None = None
    if parts[0] == "namespaces" and len(parts) >= 3:
        # /namespaces/<ns>/<resource>... ; /namespaces/<name>/status|finalize is the namespace
        ns_resource = registry.get(group, version, "namespaces")
        if ns_resource is not None and group == "" and len(parts) == 3 and ns_resource.subresource(parts[2]):
            return Target(ns_resource, None, parts[1], parts[2], legacy_watch)
        namespace = parts[1]
        parts = parts[2:]
    plural = parts[0]
    r = registry.get(group, version, plural)
    if r is None:
        raise errors.NotFound("the server could not find the requested resource")
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else ""
    if len(parts) > 3 or (sub and r.subresource(sub) is None):
        raise errors.NotFound("the server could not find the requested resource")
    if namespace is not None and not r.namespaced:
        raise errors.NotFound("the server could not find the requested resource")
    if r.namespaced and name is not None and namespace is None:
        raise errors.NotFound("the server could not find the requested resource")
    if name == "":
        raise errors.NotFound("the server could not find the requested resource")
    return Target(r, namespace, name, sub, legacy_watch)
