"""CRDs: validation of the definition, and of the objects it defines."""

from __future__ import annotations

import copy

from nanokube.api import crd

CRONTAB = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {"group": "stable.example.com", "scope": "Namespaced",
             "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
             "versions": [
                 {"name": "v1", "served": True, "storage": True,
                  "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                           "statusReplicasPath": ".status.replicas"}},
                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                      "spec": {"type": "object", "required": ["cronSpec"], "properties": {
                          "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
                          "image": {"type": "string"},
                          "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                          "mode": {"type": "string", "enum": ["a", "b"]}}},
                      "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}},
                 {"name": "v1beta1", "served": True, "storage": False,
                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_valid_crd_and_resources():
    c = crd.default_crd(CRONTAB)
    assert crd.validate_crd(c) == []
    assert c["spec"]["names"]["listKind"] == "CronTabList"
    rs = crd.resources_for_crd(c)
    assert [(r.version, r.kind, r.namespaced) for r in rs] == [("v1", "CronTab", True), ("v1beta1", "CronTab", True)]
    assert [s.name for s in rs[0].subresources] == ["status", "scale"]
    assert rs[1].storage_version == "stable.example.com/v1"
    status = crd.crd_status(c, [], now="t")
    assert [(x["type"], x["status"]) for x in status["conditions"]] == [("NamesAccepted", "True"), ("Established", "True")]
    assert status["storedVersions"] == ["v1"]
    assert crd.crd_status(c, ["crontabs"], now="t")["conditions"][1]["status"] == "False"


def test_invalid_crds():
    bad = copy.deepcopy(CRONTAB)
    bad["metadata"]["name"] = "wrong.name.com"
    bad["spec"]["versions"][1]["storage"] = True
    del bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["image"]["type"]
    fields = [e.field for e in crd.validate_crd(crd.default_crd(bad))]
    assert "metadata.name" in fields and "spec.versions" in fields
    assert "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[image].type" in fields


def test_objects_pruned_defaulted_validated():
    schema = crd.version_schema(CRONTAB, "v1")
    obj = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "x", "namespace": "d"},
           "spec": {"cronSpec": "* * * * */5", "unknown": 1}, "extra": True}
    pruned = crd.apply_schema_defaults(schema, crd.prune(schema, obj))
    assert pruned["spec"] == {"cronSpec": "* * * * */5", "replicas": 1} and "extra" not in pruned
    assert crd.validate_custom_object(CRONTAB, "v1", pruned) == []
    bad = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "x", "namespace": "d"},
           "spec": {"cronSpec": "nope", "replicas": 50, "mode": "c"}}
    errs = {e.field: e.message() for e in crd.validate_custom_object(CRONTAB, "v1", bad)}
    assert set(errs) == {"spec.cronSpec", "spec.replicas", "spec.mode"}
    assert errs["spec.replicas"] == "spec.replicas: Invalid value: 50: spec.replicas in body should be less than or equal to 10"
    missing = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "x", "namespace": "d"}, "spec": {}}
    assert [e.message() for e in crd.validate_custom_object(CRONTAB, "v1", missing)] == ["spec.cronSpec: Required value"]


def test_scale():
    obj = {"metadata": {"name": "x"}, "spec": {"replicas": 3}, "status": {"replicas": 2}}
    s = crd.scale_of(CRONTAB, "v1", obj)
    assert s["spec"] == {"replicas": 3} and s["status"]["replicas"] == 2
    assert crd.apply_scale(CRONTAB, "v1", obj, 5)["spec"]["replicas"] == 5
