"""WATCH: a chunked stream of `{"type": ..., "object": ...}` lines from the watch cache.

Start points follow upstream: no resourceVersion (or "0") first replays the current state
as ADDED events; N streams events after N (410 Expired, as an ERROR event, when N is older
than the retained history); `sendInitialEvents=true` replays the state and then marks its
end with a bookmark. Bookmarks go out on an interval when asked for; the stream ends after
`timeoutSeconds` (default: a random 30 to 60 minutes, like upstream).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson
from aiohttp import web

from ..api import errors
from ..api.registry import Resource
from ..storage.interface import CompactedError
from . import paths
from .context import Context
from .negotiation import Rendering, partial_metadata
from .watchcache import CachedObject, CacheEvent


def _event_line(type_: str, obj_bytes: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + obj_bytes + b"}\n"


class _Encoder:
    """Turns cache events into stream lines in the format the client negotiated."""

    def __init__(self, ctx: Context, r: Resource, rendering: Rendering, include: str) -> None:
        self.ctx = ctx
        self.r = r
        self.rendering = rendering
        self.include = include
        self.convert = bool(r.storage_version and r.storage_version != r.group_version) or r.crd is not None

    def object_bytes(self, o: CachedObject) -> bytes:
        obj = o.obj
        if self.convert:
            from .handlers import ResourceHandler

            obj = ResourceHandler(self.ctx).present(self.r, obj)
        if self.rendering.as_kind == "Table":
            from ..api import printers

            table = printers.build_table(self.r, [obj], now=self.ctx.clock(), include_object=self.include)
            table["apiVersion"] = f"meta.k8s.io/{self.rendering.version}"
            table.pop("columnDefinitions", None)
            table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return orjson.dumps(table)
        if self.rendering.as_kind:
            return orjson.dumps(partial_metadata(obj, self.rendering.version))
        if self.convert:
            return orjson.dumps(obj)
        return o.raw

    def line(self, ev: CacheEvent) -> bytes:
        return _event_line(ev.type, self.object_bytes(ev.obj))

    def bookmark(self, rev: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rev)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        if self.rendering.as_kind == "Table":
            obj: dict[str, Any] = {"kind": "Table", "apiVersion": f"meta.k8s.io/{self.rendering.version}",
                                   "metadata": meta, "columnDefinitions": None, "rows": None}
        elif self.rendering.as_kind:
            obj = {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{self.rendering.version}",
                   "metadata": meta}
        else:
            obj = {"kind": self.r.kind, "apiVersion": self.r.group_version, "metadata": meta}
        return _event_line("BOOKMARK", orjson.dumps(obj))


def _error_line(err: errors.ApiError) -> bytes:
    return _event_line("ERROR", orjson.dumps(err.status()))


async def serve(ctx: Context, request: web.Request, t: paths.Target, rendering: Rendering) -> web.StreamResponse:
    from .listing import predicate_for

    r = t.resource
    q = request.query
    if "watch" not in r.verbs:
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    pred = predicate_for(r, request, name=t.name)
    rv = q.get("resourceVersion", "")
    send_initial = q.get("sendInitialEvents", "").lower() == "true"
    bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
    if send_initial and not bookmarks:
        raise errors.Invalid(
            'ListOptions.meta.k8s.io "" is invalid: allowWatchBookmarks: Required value: '
            "allowWatchBookmarks must be set to true when sendInitialEvents is true")
    timeout_s = q.get("timeoutSeconds")
    if timeout_s:
        try:
            timeout = float(int(timeout_s))
        except ValueError:
            raise errors.BadRequest(f"invalid value for timeoutSeconds: {timeout_s!r}") from None
    else:
        timeout = ctx.options.min_request_timeout * (1 + random.random())
    if rv not in ("", "0"):
        try:
            after = int(rv)
        except ValueError:
            raise errors.BadRequest(f'resourceVersion: Invalid value: "{rv}": must be an integer') from None
    else:
        after = -1
    if rv == "" and not send_initial:
        await ctx.cache.wait_fresh()
    enc = _Encoder(ctx, r, rendering, q.get("includeObject", "Metadata") or "Metadata")
    prefix = r.key(None)
    initial: list[CachedObject] = []
    start = after
    if after < 0 or send_initial:
        if after > 0:
            try:
                await ctx.cache.wait_fresh(after)
            except TimeoutError:
                pass
        start = ctx.cache.rev
        initial = [o for o in ctx.cache.list(prefix, t.namespace) if pred is None or pred(o)]
    elif after > ctx.cache.rev:
        try:
            await ctx.cache.wait_fresh(after)
        except TimeoutError:
            raise errors.ApiError(f"Too large resource version: {after}, current: {ctx.cache.rev}") from None

    resp = web.StreamResponse(status=200)
    ctype = "application/json"
    if rendering.as_kind:
        ctype += f";as={rendering.as_kind};g=meta.k8s.io;v={rendering.version}"
    resp.headers["Content-Type"] = ctype
    resp.headers["Cache-Control"] = "no-cache, private"
    resp.enable_chunked_encoding()
    try:
        watcher, backlog = await ctx.cache.watch(prefix, t.namespace, start, pred)
    except CompactedError as e:
        await resp.prepare(request)
        await resp.write(_error_line(errors.Gone(f"too old resource version: {after} ({e.compacted})")))
        await resp.write_eof()
        return resp
    metrics = ctx.extra.get("metrics")
    if metrics:
        metrics.watchers(r, +1)
    try:
        await resp.prepare(request)
        chunk = []
        for o in initial:
            chunk.append(_event_line("ADDED", enc.object_bytes(o)))
            if len(chunk) >= 256:
                await resp.write(b"".join(chunk))
                chunk = []
        if send_initial:
            chunk.append(enc.bookmark(start, initial_end=True))
        for ev in backlog:
            chunk.append(enc.line(ev))
        if chunk:
            await resp.write(b"".join(chunk))
        deadline = time.monotonic() + timeout
        last_rev = start
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(remaining, ctx.options.bookmark_interval) if bookmarks else remaining
            try:
                # a timeout scope, not wait_for: no extra task per event and watcher
                async with asyncio.timeout(wait):
                    ev = await watcher.queue.get()
            except TimeoutError:
                if bookmarks and deadline - time.monotonic() > 0:
                    await resp.write(enc.bookmark(max(ctx.cache.rev, last_rev)))
                continue
            if ev is None:
                if watcher.overflowed:
                    await resp.write(_error_line(errors.Gone("watch closed: the client is too slow; start a new watch")))
                break
            lines = [enc.line(ev)]
            last_rev = ev.rev
            ended = False
            while not watcher.queue.empty():
                nxt = watcher.queue.get_nowait()
                if nxt is None:
                    ended = True
                    break
                lines.append(enc.line(nxt))
                last_rev = nxt.rev
            await resp.write(b"".join(lines))
            if ended:
                break
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.close()
        if metrics:
            metrics.watchers(r, -1)
    return resp
