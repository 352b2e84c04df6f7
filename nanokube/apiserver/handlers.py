"""The REST verbs on resources: get, list, watch, create, update, patch, delete,
deletecollection, and the status, scale, binding, eviction and finalize subresources.

Handlers parse and check the request, call `Objects` for the write path and the watch
cache for reads, and render the answer as JSON, a Table or PartialObjectMetadata.
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

import orjson
from aiohttp import web

from ..api import errors, strategy
from ..api.registry import Resource
from . import negotiation, paths, watch
from .context import Context
from .negotiation import Rendering
from .objects import DeleteOptions, WriteOptions

JSON_CT = "application/json"


# -- responses -----------------------------------------------------------------------------


def respond(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {}
    resp = web.Response(body=orjson.dumps(obj), status=status, content_type=JSON_CT, headers=headers)
    for w in warnings or ():
        resp.headers.add("Warning", f'299 - "{_quote(w)}"')
    return resp


def respond_raw(raw: bytes, status: int = 200) -> web.Response:
    return web.Response(body=raw, status=status, content_type=JSON_CT)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def list_kind(r: Resource) -> str:
    if r.crd is not None:
        return (r.crd.get("spec", {}).get("names", {}) or {}).get("listKind") or f"{r.kind}List"
    return f"{r.kind}List"


def with_type(r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == r.kind and obj.get("apiVersion") == r.group_version:
        return obj
    obj = dict(obj)
    obj["apiVersion"] = r.group_version
    obj["kind"] = r.kind
    return obj


# -- query parameters ----------------------------------------------------------------------


def _int_param(q: Any, name: str) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.BadRequest(f"invalid value for {name}: {v!r}: must be an integer") from None


def _bool_param(q: Any, name: str) -> bool:
    v = q.get(name)
    if v is None:
        return False
    return v.lower() in ("true", "1", "")


def _dry_run(q: Any) -> bool:
    values = q.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.BadRequest(f'Invalid dryRun value: "{v}" (supported values: "All")')
    return bool(values)


def _field_validation(q: Any) -> str:
    v = q.get("fieldValidation", "")
    if v == "":
        return "Warn"
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.BadRequest(
            f'fieldValidation parameter "{v}" is not a valid value: must be one of Ignore, Warn, Strict'
        )
    return v


def _field_manager(q: Any, request: web.Request, default: str = "") -> str:
    m = q.get("fieldManager")
    if m is None:
        ua = request.headers.get("User-Agent", "")
        m = default or (ua.split("/", 1)[0] if ua else "unknown")
    if len(m) > 128:
        raise errors.BadRequest(f"fieldManager is too long: {len(m)} characters (must be 128 or fewer)")
    return m


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > negotiation.MAX_BODY_BYTES:
        raise errors.RequestEntityTooLarge("the request body is too large")
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > negotiation.MAX_BODY_BYTES:
            raise errors.RequestEntityTooLarge("the request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the handler ---------------------------------------------------------------------------


class ResourceHandler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def handle(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        t = paths.parse(self.ctx.registry, group, version, rest)
        m = request.method
        q = request.query
        if t.legacy_watch and m == "GET":
            return await watch.serve(self.ctx, request, t, negotiation.negotiate(request.headers.get("Accept")))
        if t.subresource:
            return await self._subresource(request, t)
        r = t.resource
        if t.name is None:
            if m == "GET":
                self._require_verb(r, "watch" if _bool_param(q, "watch") else "list")
                rendering = negotiation.negotiate(request.headers.get("Accept"))
                if _bool_param(q, "watch"):
                    return await watch.serve(self.ctx, request, t, rendering)
                return await self.list(request, t, rendering)
            if m == "POST":
                self._require_verb(r, "create")
                if t.namespace is None and r.namespaced:
                    raise errors.MethodNotAllowed(
                        'the server does not allow this method on the requested resource')
                return await self.create(request, t)
            if m == "DELETE":
                self._require_verb(r, "deletecollection")
                return await self.delete_collection(request, t)
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if m == "GET":
            self._require_verb(r, "get")
            return await self.get(request, t)
        if m == "PUT":
            self._require_verb(r, "update")
            return await self.update(request, t)
        if m == "PATCH":
            self._require_verb(r, "patch")
            return await self.patch(request, t)
        if m == "DELETE":
            self._require_verb(r, "delete")
            return await self.delete(request, t)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    @staticmethod
    def _require_verb(r: Resource, verb: str) -> None:
        if verb not in r.verbs:
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    # -- reads ---------------------------------------------------------------------------

    async def get(self, request: web.Request, t: paths.Target) -> web.StreamResponse:
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        assert t.name is not None
        o = await self.ctx.objects.get(t.resource, t.namespace, t.name)
        return self.render_one(t.resource, o.obj, rendering, request, raw=o.raw)

    def render_one(
        self, r: Resource, obj: dict[str, Any], rendering: Rendering, request: web.Request,
        raw: bytes | None = None, status: int = 200, warnings: list[str] | None = None,
    ) -> web.Response:
        obj = self.present(r, obj)
        if rendering.as_kind == "Table":
            from ..api import printers

            table = printers.build_table(
                r, [obj], now=self.ctx.clock(),
                include_object=request.query.get("includeObject", "Metadata") or "Metadata",
            )
            table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
            table.setdefault("metadata", {})["resourceVersion"] = obj["metadata"].get("resourceVersion", "")
            return respond(table, status, warnings)
        if rendering.as_kind == "PartialObjectMetadata":
            return respond(negotiation.partial_metadata(obj, rendering.version), status, warnings)
        if rendering.as_kind == "PartialObjectMetadataList":
            raise errors.NotAcceptable("PartialObjectMetadataList is only available for lists")
        if raw is not None and r.storage_version in ("", r.group_version):
            return respond_raw(raw, status)
        return respond(obj, status, warnings)

    def present(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as this group-version serves it."""
        if r.storage_version and r.storage_version != r.group_version:
            from ..api import conversion

            return conversion.convert(obj, r.group_version, r.kind)
        if r.crd is not None and obj.get("apiVersion") != r.group_version:
            obj = dict(obj)
            obj["apiVersion"] = r.group_version
        return obj

    async def list(self, request: web.Request, t: paths.Target, rendering: Rendering) -> web.StreamResponse:
        from . import listing

        return await listing.serve_list(self, request, t, rendering)

    # -- writes --------------------------------------------------------------------------

    def _check_type(self, r: Resource, obj: dict[str, Any], expect_kind: str | None = None) -> None:
        kind = expect_kind or r.kind
        api_version = obj.get("apiVersion")
        if obj.get("kind") not in (None, "", kind):
            raise errors.BadRequest(
                f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({kind})"
            )
        if api_version not in (None, "", r.group_version) and not (
            r.storage_version and api_version == r.storage_version
        ):
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API version ({r.group_version})"
            )

    def _to_storage(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        if r.storage_version and r.storage_version != r.group_version and obj.get("apiVersion") != r.storage_version:
            from ..api import conversion

            return conversion.convert(with_type(r, obj), r.storage_version, r.kind)
        return with_type(r, obj) if not r.storage_version or r.storage_version == r.group_version else obj

    def _field_checks(self, request: web.Request, r: Resource, raw: bytes, obj: dict[str, Any]) -> list[str]:
        """fieldValidation: unknown and duplicate fields fail (Strict) or warn (Warn)."""
        mode = _field_validation(request.query)
        if mode == "Ignore":
            return []
        from ..api import validation

        problems = []
        if negotiation.media_type(request.headers.get("Content-Type")) in ("", negotiation.JSON):
            problems += [f'duplicate field "{p}"' for p in validation.duplicate_fields(raw)]
        node = self.ctx.schema_node(r)
        if node is not None:
            problems += [f'unknown field "{p}"' for p in validation.unknown_fields(self.ctx.schema, node, obj)]
        if problems and mode == "Strict":
            raise errors.BadRequest("strict decoding error: " + ", ".join(problems))
        return problems

    def _namespace_of(self, t: paths.Target, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata: must be an object")
        if t.resource.namespaced:
            ns = meta.get("namespace")
            if ns and ns != t.namespace:
                raise errors.BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )

    async def create(self, request: web.Request, t: paths.Target) -> web.StreamResponse:
        r = t.resource
        raw = await read_body(request)
        obj = negotiation.decode_body(request.headers.get("Content-Type"), raw)
        self._check_type(r, obj)
        if r.group == "authorization.k8s.io":
            from . import authorization

            user, groups = request.get("user") or ("", [])
            return respond(authorization.review(user, groups, obj), 201)
        warnings = self._field_checks(request, r, raw, obj)
        self._namespace_of(t, obj)
        opts = WriteOptions(
            manager=_field_manager(request.query, request), dry_run=_dry_run(request.query),
            warnings=warnings,
        )
        created = await self.ctx.objects.create(r, t.namespace, self._to_storage(r, obj), opts)
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        return self.render_one(r, created, rendering, request, status=201, warnings=warnings)

    async def update(self, request: web.Request, t: paths.Target, subresource: str = "") -> web.StreamResponse:
        r = t.resource
        assert t.name is not None
        raw = await read_body(request)
        obj = negotiation.decode_body(request.headers.get("Content-Type"), raw)
        self._check_type(r, obj)
        warnings = self._field_checks(request, r, raw, obj) if not subresource else []
        self._namespace_of(t, obj)
        opts = WriteOptions(
            manager=_field_manager(request.query, request), dry_run=_dry_run(request.query),
            subresource=subresource, warnings=warnings,
        )
        desired = self._to_storage(r, obj)
        rv = (desired.get("metadata") or {}).get("resourceVersion") or None
        create_missing = subresource == "" and _allows_create_on_update(r)
        if rv is None and subresource == "" and not create_missing and not _allows_unconditional_update(r):
            raise errors.invalid(r.kind, t.name, [errors.FieldError(
                "invalid", "metadata.resourceVersion", "must be specified for an update", 0)], group=r.group)
        result, created = await self.ctx.objects.update(
            r, t.namespace, t.name, lambda cur: desired, opts,
            pinned_rv=lambda o: (o.get("metadata") or {}).get("resourceVersion") or None,
            create_missing=create_missing,
        )
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        return self.render_one(r, result, rendering, request, status=201 if created else 200, warnings=warnings)

    async def patch(self, request: web.Request, t: paths.Target, subresource: str = "") -> web.StreamResponse:
        r = t.resource
        assert t.name is not None
        from ..api import patch as patching

        ct = patching.check_media_type(request.headers.get("Content-Type") or "", strategic_allowed=r.crd is None)
        raw = await read_body(request)
        q = request.query
        dry_run = _dry_run(q)
        mode = _field_validation(q)
        warnings: list[str] = []
        node = self.ctx.schema_node(r)
        if ct == "application/apply-patch+yaml":
            return await self._apply(request, t, raw, subresource, dry_run)
        if "force" in q:
            raise errors.BadRequest("force is only allowed for apply patches (application/apply-patch+yaml)")
        opts = WriteOptions(manager=_field_manager(q, request), dry_run=dry_run, subresource=subresource)

        def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
            assert cur is not None
            base = self.present(r, cur)
            patched = patching.apply_patch(
                ct, base, raw, node, self.ctx.schema, strategic_allowed=r.crd is None
            )
            if not isinstance(patched, dict):
                raise errors.BadRequest("the patched object is not an object")
            self._check_type(r, patched)
            if mode != "Ignore" and node is not None:
                from ..api import validation

                unknown = [f'unknown field "{p}"' for p in validation.unknown_fields(self.ctx.schema, node, patched)]
                if unknown and mode == "Strict":
                    raise errors.BadRequest("strict decoding error: " + ", ".join(unknown))
                warnings[:] = unknown
            meta = patched.get("metadata") or {}
            if not isinstance(meta, dict):
                raise errors.BadRequest("metadata: must be an object")
            return self._to_storage(r, patched)

        result, _ = await self.ctx.objects.update(
            r, t.namespace, t.name, mutate, opts,
            pinned_rv=lambda o: _patch_rv(raw, ct),
        )
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        return self.render_one(r, result, rendering, request, warnings=warnings)

    async def _apply(
        self, request: web.Request, t: paths.Target, raw: bytes, subresource: str, dry_run: bool
    ) -> web.StreamResponse:
        r = t.resource
        assert t.name is not None
        q = request.query
        manager = q.get("fieldManager")
        if not manager:
            raise errors.BadRequest("PATCH /apply requests require fieldManager")
        force = _bool_param(q, "force")
        applied = negotiation.parse_yaml(raw)
        if not isinstance(applied, dict):
            raise errors.BadRequest("the apply configuration must be an object")
        self._check_type(r, applied)
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise errors.BadRequest("apiVersion and kind must be set in an apply configuration")
        ameta = applied.get("metadata")
        if not isinstance(ameta, dict):
            raise errors.BadRequest("metadata: must be an object")
        if ameta.get("name") not in (None, t.name):
            raise errors.BadRequest(
                f"the name of the object ({ameta.get('name')}) does not match the name on the URL ({t.name})")
        if ameta.get("managedFields"):
            raise errors.BadRequest("metadata.managedFields must be nil")
        warnings = self._field_checks(request, r, b"", applied)
        node = self.ctx.schema_node(r)
        opts = WriteOptions(manager=manager, dry_run=dry_run, subresource=subresource, force=force)
        from ..api import apply as ssa

        def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
            live = self.present(r, cur) if cur is not None else None
            target = copy.deepcopy(applied)
            target.setdefault("metadata", {})["name"] = t.name
            if r.namespaced:
                target["metadata"]["namespace"] = t.namespace
            result = ssa.apply(
                live, target, manager=manager, force=force, schema=self.ctx.schema, node=node,
                api_version=r.group_version, now=self.ctx.objects.now(), subresource=subresource,
                reset_fields=strategy.reset_fields(r, subresource),
            )
            return self._to_storage(r, result)

        result, created = await self.ctx.objects.update(
            r, t.namespace, t.name, mutate, opts, create_missing=subresource == "", operation="Apply",
            pinned_rv=lambda o: (applied.get("metadata") or {}).get("resourceVersion") or None,
        )
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        return self.render_one(r, result, rendering, request, status=201 if created else 200, warnings=warnings)

    # -- deletes -------------------------------------------------------------------------

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        q = request.query
        opts = DeleteOptions(dry_run=_dry_run(q))
        raw = await read_body(request)
        body: dict[str, Any] = {}
        if raw.strip():
            body = negotiation.decode_body(request.headers.get("Content-Type"), raw)
            if body.get("dryRun"):
                for v in body["dryRun"]:
                    if v != "All":
                        raise errors.BadRequest(f'Invalid dryRun value: "{v}" (supported values: "All")')
                opts.dry_run = True
        grace = body.get("gracePeriodSeconds")
        if grace is None:
            grace = _int_param(q, "gracePeriodSeconds")
        opts.grace_period = grace
        policy = body.get("propagationPolicy") or q.get("propagationPolicy")
        orphan = body.get("orphanDependents")
        if orphan is None and "orphanDependents" in q:
            orphan = _bool_param(q, "orphanDependents")
        if policy and orphan is not None:
            raise errors.Invalid(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"\": "
                "orphanDependents and deletionPropagation cannot be both set")
        if orphan is not None:
            policy = "Orphan" if orphan else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.Invalid(
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan", "nil"',
                causes=[{"reason": "FieldValueNotSupported", "field": "propagationPolicy",
                         "message": f'Unsupported value: "{policy}"'}],
            )
        opts.propagation = policy
        pre = body.get("preconditions") or {}
        opts.precondition_uid = pre.get("uid")
        opts.precondition_rv = pre.get("resourceVersion")
        return opts

    async def delete(self, request: web.Request, t: paths.Target) -> web.StreamResponse:
        r = t.resource
        assert t.name is not None
        opts = await self._delete_options(request)
        if r.group == "" and r.kind == "Namespace" and t.name in ("default", "kube-system", "kube-public"):
            raise errors.Forbidden(
                f'namespaces "{t.name}" is forbidden: this namespace may not be deleted',
                name=t.name, kind="namespaces")
        if r.crd is None and r.group == "apiextensions.k8s.io" and r.kind == "CustomResourceDefinition":
            obj, gone = await self.ctx.extra["crds"].delete(t.name, opts)
        else:
            obj, gone = await self.ctx.objects.delete(r, t.namespace, t.name, opts)
        rendering = negotiation.negotiate(request.headers.get("Accept"))
        if gone and not _returns_deleted_object(r):
            meta = obj.get("metadata") or {}
            details: dict[str, Any] = {"name": t.name, "kind": r.plural, "uid": meta.get("uid")}
            if r.group:
                details = {"name": t.name, "group": r.group, "kind": r.plural, "uid": meta.get("uid")}
            return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": details})
        return self.render_one(r, obj, rendering, request, status=200 if gone else 202)

    async def delete_collection(self, request: web.Request, t: paths.Target) -> web.StreamResponse:
        from . import listing

        r = t.resource
        opts = await self._delete_options(request)
        matches = await listing.select(self, request, t)
        deleted = []
        for o in matches:
            meta = o.obj["metadata"]
            try:
                obj, _ = await self.ctx.objects.delete(r, meta.get("namespace"), meta["name"], opts)
            except errors.NotFound:
                continue
            deleted.append(self.present(r, obj))
        return respond({
            "kind": list_kind(r), "apiVersion": r.group_version,
            "metadata": {"resourceVersion": str(self.ctx.cache.rev)}, "items": deleted,
        })

    # -- subresources --------------------------------------------------------------------

    async def _subresource(self, request: web.Request, t: paths.Target) -> web.StreamResponse:
        from . import subresources

        return await subresources.handle(self, request, t)


def _returns_deleted_object(r: Resource) -> bool:
    """Upstream answers a finished delete with the object for these, a Status for the rest."""
    return (r.group, r.kind) in {("", "Pod"), ("", "Namespace"), ("", "Service")} or r.crd is not None


def _allows_create_on_update(r: Resource) -> bool:
    """PUT of a missing object creates it for these kinds, as upstream's strategies allow."""
    if r.crd is not None:
        return False
    return (r.group, r.kind) in {
        ("", "Endpoints"), ("", "LimitRange"), ("", "Event"), ("events.k8s.io", "Event"),
        ("coordination.k8s.io", "Lease"), ("discovery.k8s.io", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "IngressClass"), ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
    }


def _allows_unconditional_update(r: Resource) -> bool:
    """A PUT without resourceVersion overwrites built-ins; custom resources refuse it."""
    return r.crd is None


def _patch_rv(raw: bytes, ct: str) -> str | None:
    """A resourceVersion inside a merge/strategic patch pins the write (optimistic lock)."""
    if ct == "application/json-patch+json":
        try:
            ops = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if isinstance(ops, list):
            for op in ops:
                if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" and op.get("op") in ("add", "replace"):
                    v = op.get("value")
                    return v if isinstance(v, str) and v else None
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        v = body["metadata"].get("resourceVersion")
        return v if isinstance(v, str) and v else None
    return None


def encode_continue(rev: int, last_key: str, prefix: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": rev, "start": last_key[len(prefix):] + "\x00"}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")


def decode_continue(token: str, prefix: str) -> tuple[int, str]:
    """(revision, key to start after) from a continue token."""
    try:
        pad = "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(token + pad))
        rev = int(data["rv"])
        start = str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or rev <= 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise errors.BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None
    start = start.removesuffix("\x00")
    if start.startswith("/") or ".." in start:
        raise errors.BadRequest("continue key is not valid: key is not a valid path")
    return rev, prefix + start

