"""The HTTP surface: routing, authentication, errors as Status, metrics, overload control."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..api import errors
from ..version import GIT_VERSION, KUBE_MAJOR, KUBE_MINOR
from . import certs, discovery
from .context import Context
from .handlers import ResourceHandler, respond
from .metrics import Metrics

log = logging.getLogger("nanokube.apiserver")

# paths anyone may read, as upstream's system:public-info-viewer role allows
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz", "/version/"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def version_info() -> dict[str, str]:
    import platform
    import sys

    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{_arch()}",
    }


def _arch() -> str:
    import platform

    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def status_response(err: errors.ApiError) -> web.Response:
    resp = web.Response(body=orjson.dumps(err.status()), status=err.code, content_type="application/json")
    if err.retry_after is not None:
        resp.headers["Retry-After"] = str(err.retry_after)
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def build_app(ctx: Context, *, require_auth: bool = True) -> web.Application:
    metrics: Metrics = ctx.extra.setdefault("metrics", Metrics())
    resources = ResourceHandler(ctx)
    in_flight = {"n": 0}
    ready = ctx.extra.setdefault("ready", asyncio.Event())

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        code = 500
        is_watch = request.query.get("watch") in ("true", "1") or "/watch/" in request.path
        # node heartbeats are never refused for load, as upstream's flow control gives them a
        # priority level of their own: a busy server must not make healthy nodes look lost
        counted = not is_watch and not request.path.startswith(NODE_LEASES)
        try:
            if require_auth and request.path not in PUBLIC_PATHS:
                ident = _identity(request)
                if ident is None:
                    raise errors.Unauthorized("Unauthorized")
                request["user"] = ident
            if counted:
                if in_flight["n"] >= ctx.options.max_in_flight:
                    raise errors.TooManyRequests(
                        "Too many requests, please try again later.", retry_after=1)
                in_flight["n"] += 1
            try:
                resp = await handler(request)
            finally:
                if counted:
                    in_flight["n"] -= 1
            code = resp.status
            return resp
        except errors.ApiError as e:
            code = e.code
            return status_response(e)
        except web.HTTPException as e:
            code = e.status
            if e.status == 404:
                return status_response(errors.NotFound("the server could not find the requested resource"))
            if e.status == 405:
                return status_response(errors.MethodNotAllowed("the server does not allow this method on the requested resource"))
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug: report it as upstream does, keep serving
            log.exception("internal error path=%s", request.path)
            return status_response(errors.InternalError(f"Internal error occurred: {e}"))
        finally:
            verb, group, resource = _request_labels(request, is_watch)
            metrics.request(verb, group, resource, code, time.perf_counter() - start)

    app = web.Application(middlewares=[middleware], client_max_size=4 * 1024 * 1024)

    async def version(request: web.Request) -> web.StreamResponse:
        return respond(version_info())

    async def health(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/readyz") and not ready.is_set():
            return web.Response(text="[-]informer-sync failed: not ready\nreadyz check failed", status=500)
        return web.Response(text="ok", content_type="text/plain")

    async def metrics_handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8")

    async def api_root(request: web.Request) -> web.StreamResponse:
        v = discovery.aggregated_version(request.headers.get("Accept"))
        if v:
            return _aggregated(discovery.aggregated(ctx.registry, True, v), v)
        return respond(discovery.api_versions(ctx.options.external_address))

    async def apis_root(request: web.Request) -> web.StreamResponse:
        v = discovery.aggregated_version(request.headers.get("Accept"))
        if v:
            return _aggregated(discovery.aggregated(ctx.registry, False, v), v)
        return respond(discovery.api_group_list(ctx.registry))

    async def core(request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        if tail == "":
            doc = discovery.resource_list(ctx.registry, "", "v1")
            return respond(doc)
        return await resources.handle(request, "", "v1", tail.split("/"))

    async def grouped(request: web.Request) -> web.StreamResponse:
        group = request.match_info["group"]
        rest = request.match_info.get("tail", "")
        parts = [p for p in rest.split("/")] if rest else []
        if not parts or parts == [""]:
            doc = discovery.api_group(ctx.registry, group)
            if doc is None:
                raise errors.NotFound("the server could not find the requested resource")
            return respond(doc)
        version = parts[0]
        if len(parts) == 1 or parts[1:] == [""]:
            doc = discovery.resource_list(ctx.registry, group, version)
            if doc is None:
                raise errors.NotFound("the server could not find the requested resource")
            return respond(doc)
        return await resources.handle(request, group, version, parts[1:])

    from . import openapi_routes

    app.router.add_get("/version", version)
    app.router.add_get("/version/", version)
    for p in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(p, health)
        app.router.add_get(p + "/{tail:.*}", health)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/api", api_root)
    app.router.add_get("/api/", api_root)
    app.router.add_get("/apis", apis_root)
    app.router.add_get("/apis/", apis_root)
    openapi_routes.add(app, ctx)
    app.router.add_route("*", "/api/v1", core)
    app.router.add_route("*", "/api/v1/{tail:.*}", core)
    app.router.add_route("*", "/apis/{group}", grouped)
    app.router.add_route("*", "/apis/{group}/{tail:.*}", grouped)
    return app


def _aggregated(doc: dict[str, Any], version: str) -> web.Response:
    resp = web.Response(body=orjson.dumps(doc))
    resp.headers["Content-Type"] = discovery.AGGREGATED_CT.format(v=version)
    return resp


_PEERS: weakref.WeakKeyDictionary[Any, tuple[str, list[str]] | None] = weakref.WeakKeyDictionary()


NODE_LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/"


def _identity(request: web.Request) -> tuple[str, list[str]] | None:
    """The client certificate's user and groups, read once per TLS connection (a client
    keeps its connection for thousands of requests, and the certificate cannot change)."""
    transport = request.transport
    if transport is None:
        return None
    ssl_obj = transport.get_extra_info("ssl_object")
    if ssl_obj is None:
        return None
    try:
        return _PEERS[ssl_obj]
    except KeyError:
        who = _PEERS[ssl_obj] = certs.client_identity(ssl_obj.getpeercert())
        return who


def _request_labels(request: web.Request, is_watch: bool) -> tuple[str, str, str]:
    parts = [p for p in request.path.split("/") if p]
    group = ""
    resource = ""
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif parts and parts[0] == "apis" and len(parts) >= 3:
        group = parts[1]
        rest = parts[3:]
    else:
        return request.method, "", request.path if len(parts) <= 1 else "/" + parts[0]
    if rest and rest[0] == "watch":
        rest = rest[1:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = rest[0] if rest else ""
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource += "/" + rest[2]
    m = request.method
    verb = {"POST": "POST", "PUT": "PUT", "PATCH": "PATCH"}.get(m, "")
    if m == "GET":
        verb = "WATCH" if is_watch else ("GET" if named else "LIST")
    elif m == "DELETE":
        verb = "DELETE" if named else "DELETECOLLECTION"
    return verb, group, resource
