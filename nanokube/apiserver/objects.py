"""Object lifecycle against storage: create, update, patch, delete (upstream's generic store).

Every write follows the same path: decode → default → admit → validate → write with
compare-and-swap. Reads of the current object come from the watch cache; a write that loses
a race re-reads what won and tries again (unless the client pinned a resourceVersion).
Dry runs take the whole path except the storage write.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..api import errors, strategy
from ..api.jsoncopy import json_copy
from ..api.registry import Registry, Resource
from ..api.schema import Schema
from ..storage.interface import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionMismatchError,
    Store,
)
from .watchcache import CachedObject, WatchCache, decode_kv
from ..api import timestamps

log = logging.getLogger("nanokube.apiserver")

MAX_OBJECT_BYTES = 1536 * 1024  # etcd's default request limit, 1.5 MiB
_RETRIES = 16


_last_second: list[Any] = [None, ""]


def now_rfc3339(clock: Callable[[], datetime.datetime] | None = None) -> str:
    """The current time as API timestamps show it (whole seconds, UTC), formatted once a second."""
    if clock is not None:
        return timestamps.format_time(clock())
    second = int(time.time())
    if _last_second[0] != second:
        _last_second[0] = second
        _last_second[1] = datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(_last_second[1])


@dataclass
class WriteOptions:
    manager: str = ""
    dry_run: bool = False
    subresource: str = ""
    force: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Orphan, Background, Foreground
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


# A hook run before an object is written: (resource, new, old, options) → new; may raise.
Mutator = Callable[[Resource, dict[str, Any], "dict[str, Any] | None", WriteOptions], Awaitable[dict[str, Any]]]


class Objects:
    """The write and read paths for every resource; HTTP handlers call nothing else."""

    def __init__(
        self,
        store: Store,
        cache: WatchCache,
        registry: Registry,
        schema: Schema,
        *,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.registry = registry
        self.schema = schema
        self.clock = clock
        # admission: run in order on create and update (after defaulting, before validation)
        self.admit: list[Mutator] = []
        # run after defaults and admission on every write; raise errors.Invalid
        self.validators: list[Callable[[Resource, dict[str, Any], dict[str, Any] | None, str], None]] = []
        self.defaulters: list[Callable[[Resource, dict[str, Any]], dict[str, Any]]] = []
        # validating admission: run in order after validation, so only valid objects are
        # charged (e.g. to a ResourceQuota); may raise, must not change the object
        self.validating_admit: list[Mutator] = []
        # managed-fields tracking: (resource, old, new, options, operation) → new
        self.track_fields: Callable[..., dict[str, Any]] | None = None
        # run after a successful (non-dry-run) delete, e.g. to release allocations
        self.after_delete: list[Callable[[Resource, dict[str, Any]], Awaitable[None]]] = []

    # -- helpers ---------------------------------------------------------------------------

    def now(self) -> str:
        return now_rfc3339(self.clock)

    @staticmethod
    def _encode(obj: dict[str, Any]) -> bytes:
        meta = obj.get("metadata") or {}
        if "resourceVersion" in meta:
            obj = dict(obj)
            obj["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
        raw = orjson.dumps(obj)
        if len(raw) > MAX_OBJECT_BYTES:
            raise errors.RequestEntityTooLarge("etcdserver: request is too large")
        return raw

    async def current(self, r: Resource, namespace: str | None, name: str) -> CachedObject | None:
        await self.cache.wait_fresh()
        return self.cache.get(r.key(namespace, name))

    async def get(self, r: Resource, namespace: str | None, name: str) -> CachedObject:
        o = await self.current(r, namespace, name)
        if o is None:
            raise errors.not_found(r.plural, name, r.group)
        return o

    def _finish(self, r: Resource, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions) -> dict[str, Any]:
        for v in self.validators:
            v(r, obj, old, opts.subresource)
        return obj

    async def _prepare(
        self, r: Resource, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions
    ) -> dict[str, Any]:
        if opts.subresource == "":
            for d in self.defaulters:
                obj = d(r, obj)
        for hook in self.admit:
            obj = await hook(r, obj, old, opts)
        obj = self._finish(r, obj, old, opts)
        for hook in self.validating_admit:
            await hook(r, obj, old, opts)
        return obj

    # -- create ----------------------------------------------------------------------------

    async def create(
        self, r: Resource, namespace: str | None, obj: dict[str, Any], opts: WriteOptions,
        operation: str = "Update",
    ) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")
        name = meta.get("name") or ""
        gen = meta.get("generateName") or ""
        attempts = 8 if (gen and not name) else 1
        for attempt in range(attempts):
            # the body is ours (decoded for this request); copies only matter when names are retried
            candidate = json_copy(obj) if attempts > 1 else dict(obj, metadata=dict(obj["metadata"]))
            cmeta = candidate["metadata"]
            if gen and not name:
                cmeta["name"] = strategy.generate_name(gen)
            if r.namespaced:
                cmeta["namespace"] = namespace
            else:
                cmeta.pop("namespace", None)
            candidate = strategy.prepare_create(r, candidate, uid=str(uuid.uuid4()), now=self.now())
            candidate = await self._prepare(r, candidate, None, opts)
            if self.track_fields:
                candidate = self.track_fields(r, None, candidate, opts, operation)
            cname = candidate["metadata"].get("name") or ""
            key = r.key(namespace, cname)
            if opts.dry_run:
                if self.cache.get(key) is not None:
                    raise errors.already_exists(r.plural, cname, r.group)
                return candidate
            try:
                kv = await self._write(key, candidate, 0, create=True)
            except KeyExistsError:
                if gen and not name and attempt + 1 < attempts:
                    continue
                raise errors.already_exists(r.plural, cname, r.group) from None
            return self._written(key, kv.mod_revision, candidate)
        raise errors.ServiceUnavailable("could not generate a unique name")  # pragma: no cover

    # -- update ----------------------------------------------------------------------------

    async def update(
        self,
        r: Resource,
        namespace: str | None,
        name: str,
        mutate: Callable[[dict[str, Any] | None], dict[str, Any] | Awaitable[dict[str, Any]]],
        opts: WriteOptions,
        *,
        pinned_rv: Callable[[dict[str, Any]], str | None] = lambda o: None,
        create_missing: bool = False,
        operation: str = "Update",
    ) -> tuple[dict[str, Any], bool]:
        """Read-modify-write with compare-and-swap; returns (object, created).

        `mutate` gets the current object (None when absent) and returns the desired one.
        When the desired object names a resourceVersion (`pinned_rv`) it must be current,
        otherwise the write is retried against whatever won a race.
        """
        key = r.key(namespace, name)
        cur = await self.current(r, namespace, name)
        for _ in range(_RETRIES):
            old = cur.obj if cur is not None else None
            if old is None and not create_missing:
                raise errors.not_found(r.plural, name, r.group)
            # each read of a cached object decodes a fresh copy: this one is mutate's own
            desired = mutate(cur.obj if cur is not None else None)
            if asyncio.iscoroutine(desired):
                desired = await desired
            assert isinstance(desired, dict)
            want_rv = pinned_rv(desired)
            if old is None:
                if want_rv:
                    raise errors.not_found(r.plural, name, r.group)
                created = await self.create(r, namespace, desired, opts, operation)
                return created, True
            old_meta = old["metadata"]
            if want_rv and want_rv != old_meta.get("resourceVersion"):
                raise errors.conflict(r.plural, name, r.group)
            dmeta = desired.setdefault("metadata", {})
            if dmeta.get("name") not in (None, name):
                raise errors.BadRequest(
                    f"the name of the object ({dmeta.get('name')}) does not match the name on the URL ({name})"
                )
            dmeta["name"] = name
            if r.namespaced:
                dmeta["namespace"] = namespace
            else:
                dmeta.pop("namespace", None)
            if dmeta.get("uid") and dmeta["uid"] != old_meta.get("uid"):
                raise errors.conflict(
                    r.plural, name, r.group,
                    f"Precondition failed: UID in precondition: {dmeta['uid']}, UID in object meta: {old_meta.get('uid')}",
                )
            new = strategy.prepare_update(r, desired, old, opts.subresource)
            new = await self._prepare(r, new, old, opts)
            if self.track_fields:
                new = self.track_fields(r, old, new, opts, operation)
            if _same_object(new, old):
                return old, False
            # an object being deleted whose last finalizer went away is deleted now
            new_meta = new["metadata"]
            if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers") and not _graceful_pending(r, new):
                if opts.dry_run:
                    return new, False
                try:
                    kv = await self.store.delete(key, cur.rev)
                except RevisionMismatchError as e:
                    cur = self._from_kv(key, e.current)
                    continue
                gone = decode_kv(key, kv.value, kv.mod_revision).obj
                await self._after_delete(r, gone)
                return gone, False
            if opts.dry_run:
                new_meta["resourceVersion"] = old_meta.get("resourceVersion")
                return new, False
            try:
                kv = await self._write(key, new, cur.rev)
            except RevisionMismatchError as e:
                if want_rv:
                    raise errors.conflict(r.plural, name, r.group) from None
                cur = self._from_kv(key, e.current)
                continue
            except KeyNotFoundError:
                cur = None
                continue
            return self._written(key, kv.mod_revision, new), False
        raise errors.conflict(r.plural, name, r.group, "too many concurrent writes; try again")

    async def _write(self, key: str, obj: dict[str, Any], expected: int, create: bool = False) -> Any:
        """Store `obj`, telling the watch cache which dict the stored bytes came from."""
        raw = self._encode(obj)
        self.cache.hint(key, raw, obj)
        try:
            if create:
                return await self.store.create(key, raw)
            return await self.store.update(key, raw, expected)
        except BaseException:
            self.cache.unhint(key, raw)
            raise

    @staticmethod
    def _written(key: str, revision: int, obj: dict[str, Any]) -> dict[str, Any]:
        """The object just stored, as served."""
        obj["metadata"] = dict(obj.get("metadata") or {}, resourceVersion=str(revision))
        return obj

    @staticmethod
    def _from_kv(key: str, kv: Any) -> CachedObject | None:
        return decode_kv(key, kv.value, kv.mod_revision) if kv is not None else None

    # -- delete ----------------------------------------------------------------------------

    async def delete(
        self, r: Resource, namespace: str | None, name: str, options: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Delete now, or mark for deletion; returns (object, deleted_now)."""
        key = r.key(namespace, name)
        cur = await self.current(r, namespace, name)
        for _ in range(_RETRIES):
            if cur is None:
                raise errors.not_found(r.plural, name, r.group)
            obj = cur.obj
            meta = obj["metadata"]
            if options.precondition_uid and options.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    r.plural, name, r.group,
                    f"Precondition failed: UID in precondition: {options.precondition_uid}, UID in object meta: {meta.get('uid')}",
                )
            if options.precondition_rv and options.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    r.plural, name, r.group,
                    f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            marked = self._mark_for_deletion(r, obj, options)
            if marked is not None:
                if options.dry_run:
                    return marked, False
                if _same_object(marked, obj):
                    return obj, False
                try:
                    kv = await self._write(key, marked, cur.rev)
                except RevisionMismatchError as e:
                    cur = self._from_kv(key, e.current)
                    continue
                return self._written(key, kv.mod_revision, marked), False
            if options.dry_run:
                return obj, True
            try:
                kv = await self.store.delete(key, cur.rev)
            except RevisionMismatchError as e:
                cur = self._from_kv(key, e.current)
                continue
            except KeyNotFoundError:
                raise errors.not_found(r.plural, name, r.group) from None
            gone = decode_kv(key, kv.value, kv.mod_revision).obj
            await self._after_delete(r, gone)
            return gone, True
        raise errors.conflict(r.plural, name, r.group, "too many concurrent writes; try again")

    async def _after_delete(self, r: Resource, obj: dict[str, Any]) -> None:
        for hook in self.after_delete:
            await hook(r, obj)

    def _mark_for_deletion(
        self, r: Resource, obj: dict[str, Any], options: DeleteOptions
    ) -> dict[str, Any] | None:
        """The object marked as terminating, or None when it may go at once.

        Finalizers (including the ones a propagation policy adds) and graceful pod
        termination keep an object around with a deletionTimestamp; namespaces always wait
        for their `kubernetes` finalizer in spec.
        """
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        policy = options.propagation
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if policy in ("Background", "Foreground"):
            finalizers = [f for f in finalizers if f != "orphan" or policy != "Background"]
        grace = 0
        if r.group == "" and r.kind == "Pod":
            grace = _pod_grace(obj, options.grace_period)
        if r.group == "" and r.kind == "Namespace":
            if obj.get("status", {}).get("phase") != "Terminating" or not meta.get("deletionTimestamp"):
                marked = json_copy(obj)
                marked["metadata"]["deletionTimestamp"] = meta.get("deletionTimestamp") or self.now()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                marked.setdefault("status", {})["phase"] = "Terminating"
                return marked
            if (obj.get("spec") or {}).get("finalizers") or finalizers:
                return obj
            return None
        if not finalizers and grace <= 0:
            return None
        marked = json_copy(obj)
        mm = marked["metadata"]
        if finalizers:
            mm["finalizers"] = finalizers
        if not mm.get("deletionTimestamp"):
            when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
            mm["deletionTimestamp"] = timestamps.format_time(when)
            mm["deletionGracePeriodSeconds"] = grace
        elif grace < int(mm.get("deletionGracePeriodSeconds") or 0):
            # a shorter grace period may replace a longer one
            when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
            mm["deletionTimestamp"] = timestamps.format_time(when)
            mm["deletionGracePeriodSeconds"] = grace
            if grace == 0 and not finalizers:
                return None
        return marked


def _pod_grace(pod: dict[str, Any], requested: int | None) -> int:
    """Pods that never reached a node, or that finished, go at once; others get their grace."""
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, requested)
    g = spec.get("terminationGracePeriodSeconds")
    return int(g) if g is not None else 30


def _graceful_pending(r: Resource, obj: dict[str, Any]) -> bool:
    """A pod on a node stays until its kubelet confirms termination (grace period 0)."""
    if r.group == "" and r.kind == "Pod":
        return int(obj["metadata"].get("deletionGracePeriodSeconds") or 0) > 0
    if r.group == "" and r.kind == "Namespace":
        return bool((obj.get("spec") or {}).get("finalizers"))
    return False


def _same_object(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal apart from resourceVersion (and managedFields timestamps the write alone changed)."""
    if new.keys() != old.keys():
        return False
    for k in new:
        if k == "metadata":
            continue
        if new[k] != old[k]:
            return False
    nm, om = dict(new["metadata"]), dict(old["metadata"])
    for m in (nm, om):
        m.pop("resourceVersion", None)
    nmf, omf = nm.pop("managedFields", None), om.pop("managedFields", None)
    if nm != om:
        return False
    return _strip_times(nmf) == _strip_times(omf)


def _strip_times(mf: Any) -> Any:
    if not isinstance(mf, list):
        return mf
    return [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e for e in mf]
