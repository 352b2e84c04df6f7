"""Subresources: status, scale, pods/binding, pods/eviction, namespaces/finalize."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..api import errors
from ..api.registry import Resource
from . import eviction, negotiation, paths
from .objects import WriteOptions
from ..api import timestamps

if TYPE_CHECKING:
    from .handlers import ResourceHandler


async def handle(h: ResourceHandler, request: web.Request, t: paths.Target) -> web.StreamResponse:
    sub = t.subresource
    m = request.method
    info = t.resource.subresource(sub)
    assert info is not None
    verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create"}.get(m)
    if verb is None or verb not in info.verbs:
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    if sub == "status":
        if m == "GET":
            return await h.get(request, t)
        if m == "PUT":
            return await h.update(request, t, subresource="status")
        return await h.patch(request, t, subresource="status")
    if sub == "scale":
        return await _scale(h, request, t)
    if sub == "binding":
        return await bind(h, request, t.resource, t.namespace, t.name)
    if sub == "eviction":
        return await eviction.evict(h, request, t)
    if sub == "finalize":
        return await _finalize(h, request, t)
    raise errors.NotFound("the server could not find the requested resource")


# -- scale ---------------------------------------------------------------------------------


def _selector_string(sel: dict[str, Any] | None) -> str:
    from ..api import selectors

    return str(selectors.label_selector_from_dict(sel)) if sel else ""


def scale_of(r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if r.crd is not None:
        from ..api import crd

        return crd.scale_of(r.crd, r.version, obj)
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if r.kind == "ReplicationController":
        sel = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    else:
        sel = _selector_string(spec.get("selector"))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": int(spec.get("replicas", 0) or 0)},
        "status": {"replicas": int(status.get("replicas", 0) or 0), "selector": sel},
    }


def _with_replicas(r: Resource, obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    if r.crd is not None:
        from ..api import crd

        return crd.apply_scale(r.crd, r.version, obj, replicas)
    obj = copy.deepcopy(obj)
    obj.setdefault("spec", {})["replicas"] = replicas
    return obj


async def _scale(h: ResourceHandler, request: web.Request, t: paths.Target) -> web.StreamResponse:
    from .handlers import _dry_run, _field_manager, read_body, respond

    r = t.resource
    assert t.name is not None
    if request.method == "GET":
        o = await h.ctx.objects.get(r, t.namespace, t.name)
        return respond(scale_of(r, h.present(r, o.obj)))
    raw = await read_body(request)
    ct = negotiation.media_type(request.headers.get("Content-Type"))
    pinned: list[str | None] = [None]

    def desired_scale(current: dict[str, Any]) -> dict[str, Any]:
        scale = scale_of(r, current)
        if request.method == "PUT":
            body = negotiation.decode_body(ct, raw)
            if body.get("kind") not in (None, "", "Scale"):
                raise errors.BadRequest(f"the kind in the data ({body.get('kind')}) does not match the expected kind (Scale)")
            pinned[0] = (body.get("metadata") or {}).get("resourceVersion") or None
            return body
        if ct == "application/apply-patch+yaml":
            raise errors.UnsupportedMediaType("apply patches are not supported on the scale subresource")
        from ..api import patch as patching

        return patching.apply_patch(ct, scale, raw, None, h.ctx.schema, strategic_allowed=r.crd is None)

    def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
        assert cur is not None
        scale = desired_scale(cur)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", t.name or "", [
                errors.FieldError("invalid", "spec.replicas", "must be greater than or equal to 0", replicas)
            ], group="autoscaling")
        return _with_replicas(r, cur, replicas)

    opts = WriteOptions(manager=_field_manager(request.query, request), dry_run=_dry_run(request.query),
                        subresource="scale")
    result, _ = await h.ctx.objects.update(
        r, t.namespace, t.name, mutate, opts, pinned_rv=lambda o: pinned[0]
    )
    return respond(scale_of(r, h.present(r, result)))


# -- binding -------------------------------------------------------------------------------


async def bind(
    h: ResourceHandler, request: web.Request, r: Resource, namespace: str | None, name: str | None
) -> web.StreamResponse:
    """Assign a pod to a node (pods/binding, or the bindings collection)."""
    from .handlers import _dry_run, read_body, respond

    raw = await read_body(request)
    body = negotiation.decode_body(request.headers.get("Content-Type"), raw)
    bmeta = body.get("metadata") or {}
    name = name or bmeta.get("name")
    if not name:
        raise errors.invalid("Binding", "", [errors.FieldError("required", "metadata.name")])
    if bmeta.get("name") not in (None, name):
        raise errors.BadRequest(f"the name of the object ({bmeta.get('name')}) does not match the name on the URL ({name})")
    target = body.get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", name, [errors.FieldError("required", "target.name")])
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid("Binding", name, [
            errors.FieldError("not_supported", "target.kind", 'supported values: "Node"', target.get("kind"))])
    pods = h.ctx.registry.get("", "v1", "pods")
    assert pods is not None

    def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
        assert cur is not None
        meta = cur["metadata"]
        if meta.get("deletionTimestamp"):
            raise errors.conflict("pods", name, "", f"pod {name} is being deleted, cannot be assigned to a host")
        spec = cur.setdefault("spec", {})
        if spec.get("nodeName"):
            raise errors.conflict("pods", name, "", f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
        spec["nodeName"] = node
        status = cur.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": timestamps.format_time(h.ctx.clock())})
        status["conditions"] = conditions
        ann = bmeta.get("annotations") or {}
        if ann:
            meta.setdefault("annotations", {}).update(ann)
        if bmeta.get("uid") and bmeta["uid"] != meta.get("uid"):
            raise errors.conflict("pods", name, "", "the UID in the binding does not match the pod")
        return cur

    # like upstream, a binding writes storage directly: no managedFields entry (no manager)
    opts = WriteOptions(manager="", dry_run=_dry_run(request.query), subresource="binding")
    await h.ctx.objects.update(pods, namespace, name, mutate, opts)
    return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)


# -- namespace finalize --------------------------------------------------------------------


async def _finalize(h: ResourceHandler, request: web.Request, t: paths.Target) -> web.StreamResponse:
    from .handlers import _dry_run, read_body

    assert t.name is not None
    raw = await read_body(request)
    body = negotiation.decode_body(request.headers.get("Content-Type"), raw)
    finalizers = (body.get("spec") or {}).get("finalizers") or []

    def mutate(cur: dict[str, Any] | None) -> dict[str, Any]:
        assert cur is not None
        cur.setdefault("spec", {})["finalizers"] = finalizers
        if not finalizers:
            cur["spec"].pop("finalizers")
        return cur

    opts = WriteOptions(manager="finalize", dry_run=_dry_run(request.query), subresource="finalize")
    result, _ = await h.ctx.objects.update(t.resource, None, t.name, mutate, opts)
    return h.render_one(t.resource, result, negotiation.negotiate(request.headers.get("Accept")), request)
