"""LIST: selectors, pagination and resourceVersion semantics, served from the watch cache.

resourceVersion "" reads the latest state (the cache first catches up with storage);
"0" takes the cache as it is; N (NotOlderThan) waits for the cache to reach N; N with
resourceVersionMatch=Exact, and continue tokens whose revision the cache has moved past,
read storage at that revision (410 Expired once compacted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..api import errors
from ..api.registry import Resource
from ..storage.interface import CompactedError, FutureRevisionError
from . import paths
from .negotiation import Rendering, partial_metadata
from .watchcache import CachedObject, decode_kv

if TYPE_CHECKING:
    from .handlers import ResourceHandler


def predicate_for(r: Resource, request: web.Request, name: str | None = None) -> Callable[[CachedObject], bool] | None:
    """A filter from labelSelector and fieldSelector (None when nothing is selected), reading
    what the cache keeps beside each object's JSON rather than decoding it."""
    from ..api import selectors

    q = request.query
    label = selectors.parse_label_selector(q.get("labelSelector", "") or "")
    field = selectors.parse_field_selector(q.get("fieldSelector", "") or "")
    selectors.check_field_selector(r, field)
    if label.empty and field.empty and name is None:
        return None

    def field_set(obj: dict[str, Any]) -> dict[str, str]:
        return selectors.field_set(r, obj)

    def matches(o: CachedObject) -> bool:
        if name is not None and o.name != name:
            return False
        if not label.empty and not label.matches(o.labels):
            return False
        if not field.empty and not field.matches(o.fields(r, field_set)):
            return False
        return True

    return matches


def parse_limit(request: web.Request) -> int:
    v = request.query.get("limit")
    if not v:
        return 0
    try:
        n = int(v)
    except ValueError:
        raise errors.BadRequest(f"invalid value for limit: {v!r}") from None
    return max(n, 0)


async def _objects(
    h: ResourceHandler, request: web.Request, t: paths.Target
) -> tuple[Iterable[CachedObject], int, str]:
    """The candidate objects in key order, the revision they are at, and the key prefix."""
    from .handlers import decode_continue

    ctx = h.ctx
    r = t.resource
    q = request.query
    prefix = r.key(None)
    ns_prefix = r.key(t.namespace) if t.namespace else prefix
    rv = q.get("resourceVersion", "")
    match = q.get("resourceVersionMatch", "")
    token = q.get("continue", "")
    if match and match not in ("Exact", "NotOlderThan"):
        raise errors.BadRequest(f'resourceVersionMatch: Unsupported value: "{match}"')
    if match and not rv:
        raise errors.BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if token and rv:
        raise errors.BadRequest("specifying resource version is not allowed when using continue")
    start_after = ""
    exact: int | None = None
    if token:
        exact, start_after = decode_continue(token, ns_prefix)
    elif rv:
        try:
            n = int(rv)
        except ValueError:
            raise errors.BadRequest(f'resourceVersion: Invalid value: "{rv}": must be an integer') from None
        if match == "Exact":
            if n == 0:
                raise errors.BadRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            exact = n
        elif n > 0:
            try:
                await ctx.cache.wait_fresh(n)
            except TimeoutError:
                raise errors.ApiError(f"Too large resource version: {n}, current: {ctx.cache.rev}") from None
    else:
        await ctx.cache.wait_fresh()
    if exact is not None and exact != ctx.cache.rev:
        try:
            result = await ctx.store.list(ns_prefix, revision=exact, start_after=start_after)
        except CompactedError:
            raise errors.Gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
                if token else f"too old resource version: {exact} ({ctx.store.compacted_revision()})"
            ) from None
        except FutureRevisionError:
            raise errors.ApiError(f"Too large resource version: {exact}, current: {ctx.cache.rev}") from None
        return (decode_kv(kv.key, kv.value, kv.mod_revision) for kv in result.kvs), exact, ns_prefix
    return ctx.cache.list(prefix, t.namespace, start_after), ctx.cache.rev, ns_prefix


async def select(h: ResourceHandler, request: web.Request, t: paths.Target) -> list[CachedObject]:
    """Every object the request's selectors pick (deletecollection)."""
    pred = predicate_for(t.resource, request)
    objs, _, _ = await _objects(h, request, t)
    return [o for o in objs if pred is None or pred(o)]


async def serve_list(
    h: ResourceHandler, request: web.Request, t: paths.Target, rendering: Rendering
) -> web.StreamResponse:
    from .handlers import encode_continue, list_kind, respond

    r = t.resource
    pred = predicate_for(r, request)
    limit = parse_limit(request)
    objs, rev, prefix = await _objects(h, request, t)
    picked: list[CachedObject] = []
    cont = ""
    remaining: int | None = None
    it = iter(objs)
    for o in it:
        if pred is not None and not pred(o):
            continue
        picked.append(o)
        if limit and len(picked) >= limit:
            rest = list(it)
            more = any(pred is None or pred(x) for x in rest) if pred is not None else bool(rest)
            if more:
                cont = encode_continue(rev, o.key, prefix)
                if pred is None:
                    remaining = len(rest)
            break
    meta: dict[str, Any] = {"resourceVersion": str(rev)}
    if cont:
        meta["continue"] = cont
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    if rendering.as_kind == "Table":
        from ..api import printers

        include = request.query.get("includeObject", "Metadata") or "Metadata"
        table = printers.build_table(
            r, [h.present(r, o.obj) for o in picked], now=h.ctx.clock(), include_object=include,
        )
        table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
        table["metadata"] = meta
        return respond(table)
    if rendering.as_kind in ("PartialObjectMetadataList", "PartialObjectMetadata"):
        return respond({
            "kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rendering.version}",
            "metadata": meta,
            "items": [partial_metadata(o.obj, rendering.version) for o in picked],
        })
    head = (
        b'{"kind":"' + list_kind(r).encode() + b'","apiVersion":"' + r.group_version.encode()
        + b'","metadata":' + _dumps(meta) + b',"items":['
    )
    if r.storage_version and r.storage_version != r.group_version:
        body = b",".join(_dumps(h.present(r, o.obj)) for o in picked)
    elif r.crd is not None:
        body = b",".join(_dumps(h.present(r, o.obj)) if o.api_version != r.group_version else o.raw for o in picked)
    else:
        body = b",".join(o.raw for o in picked)
    return web.Response(body=head + body + b"]}", content_type="application/json")


def _dumps(x: Any) -> bytes:
    import orjson

    return orjson.dumps(x)
