"""What every handler needs: the registry, schema, objects, watch cache and server options."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api.registry import Registry, Resource
from ..api.schema import Node, Schema
from ..storage.interface import Store
from .objects import Objects
from .watchcache import WatchCache


@dataclass
class ServerOptions:
    bookmark_interval: float = 60.0
    min_request_timeout: float = 1800.0
    max_in_flight: int = 400  # concurrent non-watch requests before 429
    external_address: str = "127.0.0.1:6443"


@dataclass
class Context:
    registry: Registry
    schema: Schema
    objects: Objects
    cache: WatchCache
    options: ServerOptions = field(default_factory=ServerOptions)
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.objects.store

    def schema_node(self, r: Resource) -> Node | None:
        """The OpenAPI schema of a resource's kind: upstream's, or the CRD version's."""
        if r.crd is not None:
            from ..api import crd

            return crd.version_schema(r.crd, r.version)
        return self.schema.for_kind(r.group, r.version, r.kind)
