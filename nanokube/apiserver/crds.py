"""CustomResourceDefinitions come alive: serving their resources, their status, their deletion.

Level-triggered from the watch cache: every CRD event (and every CRD found at start-up)
re-registers the CRD's resources and, when its status is not what it should be, writes the
NamesAccepted/Established conditions (upstream's apiextensions controllers). Deleting a CRD
deletes its custom objects first, as upstream's `customresourcecleanup` finalizer does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api import crd as crdlib
from ..api import errors
from ..api.registry import Registry, Resource
from .objects import DeleteOptions, Objects, WriteOptions
from .watchcache import CacheEvent

log = logging.getLogger("nanokube.apiserver.crds")

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CRDs:
    def __init__(self, objects: Objects, registry: Registry) -> None:
        self.objects = objects
        self.registry = registry
        crd_resource = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crd_resource is not None
        self.resource: Resource = crd_resource
        self.prefix = crd_resource.key(None)
        self.served: dict[str, tuple[str, str]] = {}  # CRD name → (group, plural)
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for o in self.objects.cache.list(self.prefix, None):
            self._sync(o.obj)
        self.objects.cache.on_event.append(self._on_event)
        self.objects.validators.append(self._validate)
        self.objects.defaulters.append(self._default)

    # -- hooks -----------------------------------------------------------------------------

    def _default(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        if r is self.resource:
            return crdlib.default_crd(obj)
        if r.crd is not None:
            schema = crdlib.version_schema(r.crd, r.version)
            if schema is not None:
                obj = crdlib.prune(schema, obj)
                obj = crdlib.apply_schema_defaults(schema, obj)
        return obj

    def _validate(self, r: Resource, obj: dict[str, Any], old: dict[str, Any] | None, sub: str) -> None:
        if r is self.resource:
            errs = crdlib.validate_crd(obj, old) if sub != "status" else []
            if errs:
                raise errors.invalid(r.qualified, obj["metadata"].get("name", ""), errs)
        elif r.crd is not None:
            errs = crdlib.validate_custom_object(r.crd, r.version, obj, old)
            if errs:
                raise errors.invalid(r.kind, obj["metadata"].get("name", ""), errs, group=r.group)

    def _on_event(self, ev: CacheEvent) -> None:
        if not ev.key.startswith(self.prefix):
            return
        if ev.type == "DELETED":
            self._unserve(ev.obj.obj["metadata"]["name"])
            return
        self._sync(ev.obj.obj)

    # -- serving ---------------------------------------------------------------------------

    def _unserve(self, name: str) -> None:
        gp = self.served.pop(name, None)
        if gp:
            self.registry.remove_group_resource(*gp)

    def _sync(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        conflicts = self._conflicts(name, group, crd)
        status = crdlib.crd_status(crd, conflicts)
        established = any(
            c.get("type") == "Established" and c.get("status") == "True" for c in status.get("conditions", [])
        )
        if crd["metadata"].get("deletionTimestamp") is None and established:
            self._unserve(name)
            for r in crdlib.resources_for_crd(crd):
                self.registry.add(r)
            self.served[name] = (group, plural)
        if _status_differs(crd.get("status") or {}, status) and name not in self._pending:
            self._pending.add(name)
            task = asyncio.ensure_future(self._write_status(name, status))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _conflicts(self, name: str, group: str, crd: dict[str, Any]) -> list[str]:
        """Names another resource of the same group already uses."""
        names = (crd.get("spec") or {}).get("names") or {}
        wanted = {names.get("plural"), names.get("singular"), *(names.get("shortNames") or [])} - {None, ""}
        taken: list[str] = []
        for r in self.registry.all():
            if r.group != group or (r.crd is not None and r.crd["metadata"]["name"] == name):
                continue
            for n in (r.plural, r.singular_name, *r.short_names):
                if n in wanted:
                    taken.append(n)
        return taken

    async def _write_status(self, name: str, status: dict[str, Any]) -> None:
        try:
            def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
                assert cur is not None
                fresh = crdlib.crd_status(cur, self._conflicts(name, cur["spec"].get("group", ""), cur), now=self.objects.now())
                cur["status"] = fresh
                return cur

            await self.objects.update(
                self.resource, None, name, mutate,
                WriteOptions(manager="kube-apiserver", subresource="status"),
            )
        except errors.NotFound:
            pass
        except Exception:
            log.exception("writing CRD status failed crd=%s", name)
        finally:
            self._pending.discard(name)

    # -- deletion --------------------------------------------------------------------------

    async def delete(self, name: str, options: DeleteOptions) -> tuple[dict[str, Any], bool]:
        """Delete every custom object of the CRD, then the CRD."""
        cur = await self.objects.get(self.resource, None, name)
        if not options.dry_run:
            for r in crdlib.resources_for_crd(cur.obj):
                for o in list(self.objects.cache.list(r.key(None), None)):
                    meta = o.obj["metadata"]
                    try:
                        await self.objects.delete(r, meta.get("namespace"), meta["name"], DeleteOptions())
                    except errors.NotFound:
                        pass
                    # objects with finalizers stay until their controllers remove them
                break
        return await self.objects.delete(self.resource, None, name, options)


def _status_differs(have: dict[str, Any], want: dict[str, Any]) -> bool:
    def strip(s: dict[str, Any]) -> dict[str, Any]:
        s = dict(s)
        s["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []
        ]
        return s

    return strip(have) != strip(want)
