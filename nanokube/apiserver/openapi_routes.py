"""/openapi/v2 and /openapi/v3: documents built from the registry, cached per registry change.

kubectl 1.27/1.28 must get a 200 for /openapi/v2 before apply or explain; its protobuf form is
not produced here, and an empty protobuf message is a valid (empty) document, which is what
a protobuf-only Accept gets. JSON clients get the full swagger document.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from ..api import errors
from .context import Context

V2_PROTOBUF_CT = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


class _Docs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.generation = -1
        self.root: bytes = b""
        self.gv: dict[str, tuple[str, bytes]] = {}
        self.v2: bytes | None = None

    def refresh(self) -> None:
        reg = self.ctx.registry
        if self.generation == reg.generation:
            return
        from ..api import openapi

        self.gv = {}
        self.v2 = None
        root = openapi.v3_root(reg, self.ctx.schema)
        self.root = orjson.dumps(root)
        self.generation = reg.generation

    def group_version(self, path: str) -> tuple[str, bytes] | None:
        self.refresh()
        hit = self.gv.get(path)
        if hit is not None:
            return hit
        from ..api import openapi

        if path == "api/v1":
            group, version = "", "v1"
        elif path.startswith("apis/") and path.count("/") == 2:
            _, group, version = path.split("/")
        else:
            return None
        doc = openapi.v3_group_version(self.ctx.registry, self.ctx.schema, group, version)
        if doc is None:
            return None
        raw = orjson.dumps(doc)
        hit = (openapi.v3_hash(doc), raw)
        self.gv[path] = hit
        return hit

    def swagger(self) -> bytes:
        self.refresh()
        if self.v2 is None:
            from ..api import openapi

            self.v2 = orjson.dumps(openapi.v2_document(self.ctx.registry, self.ctx.schema))
        return self.v2


def add(app: web.Application, ctx: Context) -> None:
    docs = _Docs(ctx)

    async def v2(request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        wants_json = any(
            a.split(";")[0].strip() in ("application/json", "*/*") for a in accept.split(",")
        ) or not accept
        if "protobuf" in accept.split(",")[0] or not wants_json:
            return web.Response(body=b"", headers={"Content-Type": V2_PROTOBUF_CT})
        return web.Response(body=docs.swagger(), content_type="application/json")

    async def v3_root(request: web.Request) -> web.StreamResponse:
        docs.refresh()
        return web.Response(body=docs.root, content_type="application/json")

    async def v3_gv(request: web.Request) -> web.StreamResponse:
        hit = docs.group_version(request.match_info["path"])
        if hit is None:
            raise errors.NotFound("the server could not find the requested resource")
        digest, raw = hit
        resp = web.Response(body=raw, content_type="application/json")
        if request.query.get("hash") == digest:
            resp.headers["Cache-Control"] = "public, immutable"
        else:
            resp.headers["Cache-Control"] = "no-cache, private"
        resp.headers["Etag"] = f'"{digest}"'
        return resp

    app.router.add_get("/openapi/v2", v2)
    app.router.add_get("/swagger-2.0.0.pb-v1", v2)
    app.router.add_get("/openapi/v3", v3_root)
    app.router.add_get("/openapi/v3/", v3_root)
    app.router.add_get("/openapi/v3/{path:.+}", v3_gv)


