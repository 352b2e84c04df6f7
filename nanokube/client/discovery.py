"""Which resources the server serves, read from its discovery documents (built-ins and CRDs)."""

from __future__ import annotations

from typing import Any

from ..api.registry import Resource
from .rest import Client


async def server_resources(client: Client) -> list[Resource]:
    """Every top-level resource of every group's preferred version."""
    docs: list[tuple[str, str]] = [("", "v1")]
    groups: dict[str, Any] = await client.request("GET", "/apis")
    for g in groups.get("groups") or []:
        pref = (g.get("preferredVersion") or {}).get("version") or (g.get("versions") or [{}])[0].get("version")
        if pref:
            docs.append((g["name"], pref))
    out: list[Resource] = []
    for group, version in docs:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        doc: dict[str, Any] = await client.request("GET", path)
        for entry in doc.get("resources") or []:
            if "/" in entry.get("name", ""):
                continue  # subresources
            out.append(Resource(group=group, version=version, plural=entry["name"], kind=entry.get("kind", ""),
                                namespaced=bool(entry.get("namespaced")), verbs=tuple(entry.get("verbs") or ())))
    return out
