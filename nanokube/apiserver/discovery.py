"""Discovery: /api, /apis (plain and aggregated v2/v2beta1), per group-version resource lists.

kubectl 1.30+ asks for aggregated discovery v2 and 1.27–1.29 for v2beta1; it treats the
answer as aggregated only if the Content-Type names the exact format, so the format is
chosen from the Accept header and echoed precisely.
"""

from __future__ import annotations

from typing import Any

from ..api.registry import Registry, Resource

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


def aggregated_version(accept: str | None) -> str | None:
    """v2 or v2beta1 when the first acceptable alternative is aggregated discovery."""
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
            continue
        if fields[0] in ("application/json", "*/*", "application/*"):
            return None
    return None


def _scope(r: Resource) -> str:
    return "Namespaced" if r.namespaced else "Cluster"


def _resource_entry(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": _scope(r),
        "singularResource": r.singular_name,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {
                    "group": s.group if s.version else r.group,
                    "version": s.version or r.version,
                    "kind": s.kind,
                },
                "verbs": sorted(s.verbs),
            }
            for s in r.subresources
        ]
    return entry


def aggregated(registry: Registry, legacy: bool, version: str) -> dict[str, Any]:
    items = []
    for group, versions in registry.groups():
        if (group == "") != legacy:
            continue
        item: dict[str, Any] = {"metadata": {"creationTimestamp": None}, "versions": []}
        if group:
            item["metadata"]["name"] = group
        for v in versions:
            item["versions"].append({
                "version": v,
                "resources": [_resource_entry(r) for r in registry.in_group_version(group, v)],
                "freshness": "Current",
            })
        items.append(item)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(g, vs) for g, vs in registry.groups() if g],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    for g, vs in registry.groups():
        if g == group and g:
            out = _group(g, vs)
            out.update({"kind": "APIGroup", "apiVersion": "v1"})
            return out
    return None


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    out = []
    for r in resources:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular_name,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": sorted(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for s in r.subresources:
            sub: dict[str, Any] = {
                "name": f"{r.plural}/{s.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": sorted(s.verbs),
            }
            if s.version:
                sub["group"] = s.group
                sub["version"] = s.version
            out.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
