"""An asyncio REST client for the Kubernetes API (client-go's RESTClient and dynamic client).

Objects are plain dicts; failures arrive as the same `ApiError` subclasses the server raises,
rebuilt from the Status the server answered, so callers handle NotFound or Conflict by type.
"""

from __future__ import annotations

import builtins

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from ..api import errors
from ..api.registry import Resource
from .config import ClientConfig

_BY_REASON: dict[str, type[errors.ApiError]] = {
    cls.reason: cls for cls in (
        errors.BadRequest, errors.Unauthorized, errors.Forbidden, errors.NotFound, errors.MethodNotAllowed,
        errors.AlreadyExists, errors.Conflict, errors.Gone, errors.RequestEntityTooLarge,
        errors.UnsupportedMediaType, errors.Invalid, errors.TooManyRequests, errors.InternalError,
        errors.ServiceUnavailable,
    )
}
_BY_CODE: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest, 401: errors.Unauthorized, 403: errors.Forbidden, 404: errors.NotFound,
    405: errors.MethodNotAllowed, 409: errors.Conflict, 410: errors.Gone, 413: errors.RequestEntityTooLarge,
    415: errors.UnsupportedMediaType, 422: errors.Invalid, 429: errors.TooManyRequests, 503: errors.ServiceUnavailable,
}


def error_from_status(code: int, status: Any) -> errors.ApiError:
    """The ApiError a Status (or a bare HTTP code) stands for."""
    if not isinstance(status, dict):
        status = {}
    cls = _BY_REASON.get(status.get("reason", "")) or _BY_CODE.get(code, errors.InternalError)
    details = status.get("details") or {}
    err = cls(status.get("message") or f"HTTP {code}", name=details.get("name"), group=details.get("group"),
              kind=details.get("kind"), causes=details.get("causes"), retry_after=details.get("retryAfterSeconds"))
    err.code = code
    return err


def path_for(r: Resource, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    if r.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{r.plural}"
    if name:
        base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
    return base


class Client:
    """One connection pool to the API server; use as `async with Client(cfg) as c`."""

    def __init__(self, config: ClientConfig, *, user_agent: str = "nanokube", connections: int = 100) -> None:
        self.config = config
        self.user_agent = user_agent
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def open(self) -> None:
        if self._session is None:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token}"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.config.ssl_context, limit=self._connections),
                headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        self.open()
        assert self._session is not None
        return self._session

    # -- plumbing ----------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Any:
        url = self.config.server + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None and v != ""}, doseq=True)
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        async with self.session.request(method, url, data=data, headers=headers) as resp:
            raw = await resp.read()
            parsed = orjson.loads(raw) if raw and resp.content_type.endswith("json") else raw
            if resp.status >= 400:
                raise error_from_status(resp.status, parsed)
            return parsed

    # -- verbs --------------------------------------------------------------------------------

    async def get(self, r: Resource, name: str, namespace: str | None = None, subresource: str = "") -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", path_for(r, namespace, name, subresource))
        return result

    async def list(self, r: Resource, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_: str = "",
                   resource_version: str = "") -> dict[str, Any]:
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit or None,
                  "continue": continue_, "resourceVersion": resource_version}
        result: dict[str, Any] = await self.request("GET", path_for(r, namespace), params=params)
        return result

    async def list_all(self, r: Resource, namespace: str | None = None, *, label_selector: str = "",
                       field_selector: str = "", page: int = 500) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every object (following continue tokens) and the list's resourceVersion."""
        items: builtins.list[dict[str, Any]] = []
        token = ""
        while True:
            result = await self.list(r, namespace, label_selector=label_selector, field_selector=field_selector,
                                     limit=page, continue_=token)
            items.extend(result.get("items") or [])
            token = (result.get("metadata") or {}).get("continue") or ""
            if not token:
                return items, (result.get("metadata") or {}).get("resourceVersion", "")

    async def create(self, r: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                     field_manager: str = "", dry_run: bool = False, subresource: str = "",
                     name: str | None = None) -> dict[str, Any]:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        path = path_for(r, ns, name, subresource) if subresource else path_for(r, ns)
        result: dict[str, Any] = await self.request(
            "POST", path, params={"fieldManager": field_manager, "dryRun": "All" if dry_run else None}, body=obj)
        return result

    async def update(self, r: Resource, obj: dict[str, Any], *, subresource: str = "",
                     field_manager: str = "") -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        result: dict[str, Any] = await self.request(
            "PUT", path_for(r, meta.get("namespace"), meta["name"], subresource),
            params={"fieldManager": field_manager}, body=obj)
        return result

    async def patch(self, r: Resource, name: str, patch: Any, namespace: str | None = None, *,
                    content_type: str = "application/merge-patch+json", subresource: str = "",
                    field_manager: str = "", force: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"fieldManager": field_manager}
        if content_type == "application/apply-patch+yaml":
            params["force"] = "true" if force else "false"
        result: dict[str, Any] = await self.request(
            "PATCH", path_for(r, namespace, name, subresource), params=params, body=patch, content_type=content_type)
        return result

    async def apply(self, r: Resource, obj: dict[str, Any], *, field_manager: str, force: bool = False,
                    subresource: str = "") -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        return await self.patch(r, meta["name"], obj, meta.get("namespace"), subresource=subresource,
                                content_type="application/apply-patch+yaml", field_manager=field_manager, force=force)

    async def delete(self, r: Resource, name: str, namespace: str | None = None, *,
                     propagation: str | None = None, grace_period: int | None = None,
                     preconditions: dict[str, str] | None = None) -> Any:
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if preconditions:
            body["preconditions"] = preconditions
        return await self.request("DELETE", path_for(r, namespace, name), body=body)

    async def watch(self, r: Resource, namespace: str | None = None, *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int | None = None,
                    bookmarks: bool = True) -> AsyncIterator[dict[str, Any]]:
        """The watch stream's events as dicts (`type`, `object`); ERROR events raise."""
        params = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                  "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                  "allowWatchBookmarks": "true" if bookmarks else None}
        url = self.config.server + path_for(r, namespace) + "?" + urlencode(
            {k: v for k, v in params.items() if v not in (None, "")})
        async with self.session.get(url) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                raise error_from_status(resp.status, json.loads(raw) if raw else None)
            async for line in resp.content:
                if not line.strip():
                    continue
                ev = orjson.loads(line)
                if ev.get("type") == "ERROR":
                    status = ev.get("object") or {}
                    raise error_from_status(int(status.get("code") or 500), status)
                yield ev
