"""Server-side apply and managed fields behave as upstream's."""

from __future__ import annotations

import pytest

from nanokube.api import apply as ssa, errors, fieldpath, schema

S = schema.load()
NODE = S.for_kind("apps", "v1", "Deployment")
NOW = "2026-01-01T00:00:00Z"


def dep(replicas=2, image="nginx:1", extra_containers=(), labels=None):
    containers = [{"name": "web", "image": image}] + list(extra_containers)
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                  "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}}
    if labels:
        d["metadata"]["labels"] = labels
    return d


def do_apply(live, applied, manager, force=False):
    return ssa.apply(live, applied, manager=manager, force=force, schema=S, node=NODE, api_version="apps/v1", now=NOW)


def owned(obj, manager):
    for e in obj["metadata"]["managedFields"]:
        if e["manager"] == manager:
            return fieldpath.decode(e["fieldsV1"])
    return set()


def test_create_by_apply_owns_every_field():
    out = do_apply(None, dep(), "a")
    e = out["metadata"]["managedFields"][0]
    assert e["manager"] == "a" and e["operation"] == "Apply" and e["fieldsType"] == "FieldsV1"
    f = e["fieldsV1"]
    assert f["f:spec"]["f:replicas"] == {}
    assert f["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}'] == {".": {}, "f:image": {}, "f:name": {}}
    assert "f:name" not in f.get("f:metadata", {})


def test_conflict_with_another_manager_then_force():
    live = do_apply(None, dep(), "a")
    live = ssa.track_update(live, dict(live, spec=dict(live["spec"], replicas=5)), manager="kubectl-scale",
                            schema=S, node=NODE, api_version="apps/v1", now=NOW)
    with pytest.raises(errors.Conflict) as err:
        do_apply(live, dep(), "a")
    assert err.value.causes == [{"reason": "FieldManagerConflict",
                                 "message": 'conflict with "kubectl-scale" using apps/v1', "field": ".spec.replicas"}]
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    out = do_apply(live, dep(), "a", force=True)
    assert out["spec"]["replicas"] == 2
    assert (("f", "spec"), ("f", "replicas")) in owned(out, "a")
    assert not owned(out, "kubectl-scale")


def test_same_value_is_shared_without_conflict():
    live = do_apply(None, dep(), "a")
    out = do_apply(live, dep(), "b")
    assert (("f", "spec"), ("f", "replicas")) in owned(out, "a") & owned(out, "b")


def test_field_no_longer_applied_is_removed_unless_shared():
    live = do_apply(None, dep(labels={"x": "1", "y": "2"}, extra_containers=[{"name": "side", "image": "b"}]), "a")
    out = do_apply(live, dep(labels={"x": "1"}), "a")
    assert out["metadata"]["labels"] == {"x": "1"}
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]
    live = do_apply(do_apply(None, dep(labels={"x": "1"}), "a"), dep(labels={"x": "1"}), "b")
    out = do_apply(live, dep(), "a")
    assert out["metadata"]["labels"] == {"x": "1"}  # still owned by b


def test_map_lists_merge_by_key():
    live = do_apply(None, dep(), "a")
    out = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                          "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}, "b")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web", "side"]


def test_track_update_moves_ownership():
    created = ssa.track_update(None, dep(), manager="kubectl-create", schema=S, node=NODE, api_version="apps/v1", now=NOW)
    assert owned(created, "kubectl-create")
    changed = dep(image="nginx:2")
    changed["metadata"]["managedFields"] = created["metadata"]["managedFields"]
    out = ssa.track_update(created, changed, manager="kubectl-edit", schema=S, node=NODE, api_version="apps/v1", now=NOW)
    img = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"), ("k", '{"name":"web"}'), ("f", "image"))
    assert img in owned(out, "kubectl-edit") and img not in owned(out, "kubectl-create")


def test_status_is_reset_for_main_resource_writes():
    obj = dict(dep(), status={"replicas": 3})
    out = ssa.track_update(None, obj, manager="m", schema=S, node=NODE, api_version="apps/v1", now=NOW,
                           reset_fields=[("status",)])
    assert "f:status" not in out["metadata"]["managedFields"][0]["fieldsV1"]


def test_fieldsv1_round_trip():
    f = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}
    assert fieldpath.encode(fieldpath.decode(f)) == f
