"""OpenAPI documents: /openapi/v3 (per group-version) and /openapi/v2, built from the registry
and upstream's definitions.

kubectl reads them to explain kinds, to decide whether the server validates fields (the
PATCH operation of a kind must list a `fieldValidation` parameter) and, for client-side
apply, to compute strategic merge patches (the PATCH operation must accept that media type;
the schemas carry the patch strategies).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from ..version import KUBE_VERSION
from .registry import Registry, Resource
from .schema import Schema, ref_name

Obj = dict[str, Any]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_SHARED_DEFS = (f"{_META}.Status", f"{_META}.DeleteOptions", f"{_META}.WatchEvent", f"{_META}.Patch",
                f"{_META}.ObjectMeta", f"{_META}.ListMeta", "io.k8s.api.autoscaling.v1.Scale")

_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_PARAM_TYPES = {"limit": "integer", "timeoutSeconds": "integer", "watch": "boolean", "allowWatchBookmarks": "boolean",
                "sendInitialEvents": "boolean", "force": "boolean", "gracePeriodSeconds": "integer",
                "orphanDependents": "boolean"}
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _fingerprint(resources: list[Resource]) -> bytes:
    parts = []
    for r in resources:
        crd_id = ""
        if r.crd is not None:
            m = r.crd.get("metadata") or {}
            crd_id = f"{m.get('uid')}/{m.get('resourceVersion')}"
        parts.append([r.plural, r.kind, r.namespaced, [s.name for s in r.subresources], crd_id])
    return orjson.dumps([KUBE_VERSION, parts])


def v3_hash(doc: Obj) -> str:
    return hashlib.sha512(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest().upper()


def v3_root(registry: Registry, schema: Schema) -> Obj:
    """The discovery document: one URL per group-version, with a hash that changes with it."""
    paths: Obj = {}
    for group, versions in registry.groups():
        for v in versions:
            rs = registry.in_group_version(group, v)
            digest = hashlib.sha512(_fingerprint(rs)).hexdigest().upper()
            p = _gv_path(group, v)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={digest}"}
    return {"paths": paths}


# -- schema conversion -------------------------------------------------------------------------


def _convert(node: Any, ref_prefix: str, v3: bool) -> Any:
    """A packaged JSON-schema node in OpenAPI form: refs re-pointed, `null` dropped from types."""
    if isinstance(node, list):
        return [_convert(x, ref_prefix, v3) for x in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    ref = node.get("$ref")
    for k, v in node.items():
        if k == "$ref":
            continue
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
            continue
        if k == "enum" and isinstance(v, list):
            v = [x for x in v if x is not None]
            if not v:
                continue
        if k in ("properties",) and isinstance(v, dict):
            out[k] = {pk: _convert(pv, ref_prefix, v3) for pk, pv in v.items()}
            continue
        out[k] = _convert(v, ref_prefix, v3)
    if ref is not None:
        target = ref_prefix + ref_name(ref)
        if v3 and out:
            out["allOf"] = [{"$ref": target}]
        elif v3:
            out = {"allOf": [{"$ref": target}]}
        else:
            out = {"$ref": target, **({"description": out["description"]} if "description" in out else {})}
    return out


def _reachable(schema: Schema, roots: list[str]) -> list[str]:
    seen: list[str] = []
    stack = list(roots)
    found = set()
    while stack:
        name = stack.pop()
        if name in found or name not in schema.definitions:
            continue
        found.add(name)
        seen.append(name)
        _refs(schema.definitions[name], stack)
    return sorted(seen)


def _refs(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.append(ref_name(ref))
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def _crd_schema(r: Resource, ref_prefix: str) -> Obj:
    from .crd import version_schema

    assert r.crd is not None
    s = copy.deepcopy(version_schema(r.crd, r.version) or {"type": "object"})
    props = s.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                           "representation of an object."}
    props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                     "this object represents."}
    props["metadata"] = {"allOf" if ref_prefix.startswith("#/components") else "$ref": (
        [{"$ref": f"{ref_prefix}{_META}.ObjectMeta"}] if ref_prefix.startswith("#/components")
        else f"{ref_prefix}{_META}.ObjectMeta"), "description": "Standard object's metadata."}
    s["x-kubernetes-group-version-kind"] = [{"group": r.group, "kind": r.kind, "version": r.version}]
    return s


def _crd_def_name(r: Resource) -> str:
    rev = ".".join(reversed(r.group.split(".")))
    return f"{rev}.{r.version}.{r.kind}"


def _kind_def(schema: Schema, r: Resource) -> str | None:
    if r.crd is not None:
        return _crd_def_name(r)
    return schema.name_for(r.group, r.version, r.kind)


# -- operations --------------------------------------------------------------------------------


def _param(name: str, where: str, v3: bool, required: bool = False) -> Obj:
    typ = _PARAM_TYPES.get(name, "string")
    p: Obj = {"name": name, "in": where, "description": f"{name} parameter", "uniqueItems": True}
    if required:
        p["required"] = True
    if v3:
        p["schema"] = {"type": typ, "uniqueItems": True}
    else:
        p["type"] = typ
    return p


def _gvk(r: Resource, kind: str | None = None, group: str | None = None, version: str | None = None) -> Obj:
    return {"group": r.group if group is None else group, "kind": kind or r.kind,
            "version": r.version if version is None else version}


def _op(r: Resource, action: str, op_id: str, ref: str, v3: bool, params: tuple[str, ...] = (),
        body: tuple[str, ...] | None = None, gvk: Obj | None = None) -> Obj:
    op: Obj = {
        "description": f"{action} {r.kind}",
        "operationId": op_id,
        "tags": [r.group_version.replace("/", "_").replace(".", "")],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk or _gvk(r),
        "parameters": [_param(p, "query", v3) for p in params],
    }
    if v3:
        op["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}},
                           "401": {"description": "Unauthorized"}}
        if body is not None:
            op["requestBody"] = {"content": {ct: {"schema": {"$ref": ref}} for ct in body}, "required": True}
    else:
        op["responses"] = {"200": {"description": "OK", "schema": {"$ref": ref}}, "401": {"description": "Unauthorized"}}
        op["consumes"] = list(body) if body else ["*/*"]
        op["produces"] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
        if body is not None:
            op["parameters"].append({"name": "body", "in": "body", "required": True, "schema": {"$ref": ref}})
    return op


def _paths_for(r: Resource, schema: Schema, ref_prefix: str, v3: bool) -> Obj:
    kind_def = _kind_def(schema, r)
    if kind_def is None:
        return {}
    ref = ref_prefix + kind_def
    list_def = schema.name_for(r.group, r.version, f"{r.kind}List") if r.crd is None else None
    list_ref = ref_prefix + (list_def or kind_def)
    status_ref = ref_prefix + f"{_META}.Status"
    base = f"/{_gv_path(r.group, r.version)}"
    coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    item = f"{coll}/{{name}}"
    op_base = r.kind
    json_body = ("*/*",) if not v3 else ("application/json", "application/yaml")
    patch_types = tuple(t for t in _PATCH_TYPES if r.crd is None or "strategic" not in t)
    path_params = [_param("namespace", "path", v3, True)] if r.namespaced else []
    item_params = [_param("name", "path", v3, True), *path_params]
    out: Obj = {}
    c: Obj = {"parameters": path_params}
    if "list" in r.verbs:
        c["get"] = _op(r, "list", f"list{op_base}", list_ref, v3, _LIST_PARAMS)
    if "create" in r.verbs:
        c["post"] = _op(r, "post", f"create{op_base}", ref, v3, _WRITE_PARAMS, json_body)
    if "deletecollection" in r.verbs:
        c["delete"] = _op(r, "deletecollection", f"deleteCollection{op_base}", status_ref, v3,
                          ("dryRun", "gracePeriodSeconds", "propagationPolicy", *_LIST_PARAMS[:7]))
    out[coll] = c
    i: Obj = {"parameters": item_params}
    if "get" in r.verbs:
        i["get"] = _op(r, "get", f"read{op_base}", ref, v3)
    if "update" in r.verbs:
        i["put"] = _op(r, "put", f"replace{op_base}", ref, v3, _WRITE_PARAMS, json_body)
    if "patch" in r.verbs:
        i["patch"] = _op(r, "patch", f"patch{op_base}", ref, v3, (*_WRITE_PARAMS, "force"), patch_types)
    if "delete" in r.verbs:
        i["delete"] = _op(r, "delete", f"delete{op_base}", status_ref, v3,
                          ("dryRun", "gracePeriodSeconds", "propagationPolicy"))
    out[item] = i
    if r.namespaced and "list" in r.verbs:
        out[f"{base}/{r.plural}"] = {"get": _op(r, "list", f"list{op_base}ForAllNamespaces", list_ref, v3, _LIST_PARAMS)}
    for sub in r.subresources:
        if sub.name not in ("status", "scale"):
            continue
        sref = ref if sub.name == "status" else ref_prefix + "io.k8s.api.autoscaling.v1.Scale"
        gvk = _gvk(r) if sub.name == "status" else _gvk(r, "Scale", "autoscaling", "v1")
        suffix = "Status" if sub.name == "status" else "Scale"
        s: Obj = {"parameters": item_params,
                  "get": _op(r, "get", f"read{op_base}{suffix}", sref, v3, gvk=gvk),
                  "put": _op(r, "put", f"replace{op_base}{suffix}", sref, v3, _WRITE_PARAMS, json_body, gvk=gvk),
                  "patch": _op(r, "patch", f"patch{op_base}{suffix}", sref, v3, (*_WRITE_PARAMS, "force"),
                               patch_types, gvk=gvk)}
        out[f"{item}/{sub.name}"] = s
    return out


def _definitions(resources: list[Resource], schema: Schema, ref_prefix: str, v3: bool) -> Obj:
    roots = list(_SHARED_DEFS)
    for r in resources:
        if r.crd is None:
            for kind in (r.kind, f"{r.kind}List"):
                name = schema.name_for(r.group, r.version, kind)
                if name:
                    roots.append(name)
    defs = {name: _convert(schema.definitions[name], ref_prefix, v3) for name in _reachable(schema, roots)}
    for r in resources:
        if r.crd is not None:
            defs[_crd_def_name(r)] = _crd_schema(r, ref_prefix)
    return defs


def v3_group_version(registry: Registry, schema: Schema, group: str, version: str) -> Obj | None:
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    prefix = "#/components/schemas/"
    paths: Obj = {}
    for r in resources:
        paths.update(_paths_for(r, schema, prefix, True))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": _definitions(resources, schema, prefix, True),
                       "securitySchemes": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}}},
    }


def v2_document(registry: Registry, schema: Schema) -> Obj:
    prefix = "#/definitions/"
    resources = registry.all()
    paths: Obj = {}
    for r in resources:
        paths.update(_paths_for(r, schema, prefix, False))
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "definitions": _definitions(resources, schema, prefix, False),
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }
