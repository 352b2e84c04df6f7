"""OpenAPI documents carry what kubectl looks for."""

from __future__ import annotations

import time

import orjson

from nanokube.api import openapi, schema
from nanokube.api.registry import Registry

REG = Registry()
S = schema.load()


def _refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.add(node["$ref"])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


def test_root_lists_every_group_version_with_a_hash():
    root = openapi.v3_root(REG, S)
    assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "apis/apps/v1" in root["paths"] and "apis/autoscaling/v2" in root["paths"]


def test_every_kind_patch_has_field_validation_and_smp():
    t = time.perf_counter()
    for group, versions in REG.groups():
        for v in versions:
            doc = openapi.v3_group_version(REG, S, group, v)
            schemas = doc["components"]["schemas"]
            for ref in _refs(doc, set()):
                assert ref.removeprefix("#/components/schemas/") in schemas, ref
            patched = {}
            for path, item in doc["paths"].items():
                p = item.get("patch")
                if p:
                    gvk = p["x-kubernetes-group-version-kind"]
                    names = [x["name"] for x in p["parameters"]]
                    assert "fieldValidation" in names
                    assert "application/strategic-merge-patch+json" in p["requestBody"]["content"]
                    patched[(gvk["group"], gvk["kind"])] = path
            for r in REG.in_group_version(group, v):
                if "patch" in r.verbs:
                    assert (r.group, r.kind) in patched, r
    assert time.perf_counter() - t < 5


def test_explain_needs_gvk_tagged_schemas():
    doc = openapi.v3_group_version(REG, S, "apps", "v1")
    dep = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert dep["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert dep["properties"]["kind"]["type"] == "string"
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"


def test_v2_document_is_self_contained():
    doc = openapi.v2_document(REG, S)
    for ref in _refs(doc, set()):
        assert ref.removeprefix("#/definitions/") in doc["definitions"], ref
    assert orjson.dumps(doc)
