"""Server-side apply and managedFields behave as upstream's field manager."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanokube.api import apply as ssa
from nanokube.api import errors, fieldpath, schema

S = schema.load()
DEPLOY = S.for_kind("apps", "v1", "Deployment")
CM = S.for_kind("", "v1", "ConfigMap")
T0, T1, T2, T3 = (f"2026-01-01T00:00:0{i}Z" for i in range(4))


def dep(
    replicas: int | None = 2,
    image: str = "nginx:1",
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": containers or [{"name": "web", "image": image}]},
            },
        },
    }
    if replicas is not None:
        d["spec"]["replicas"] = replicas
    if labels is not None:
        d["metadata"]["labels"] = labels
    d["spec"].update(spec)
    return d


def apply(
    live: dict[str, Any] | None,
    cfg: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    now: str = T0,
    node: dict[str, Any] | None = DEPLOY,
    api_version: str = "apps/v1",
    **kw: Any,
) -> dict[str, Any]:
    return ssa.apply(
        live, cfg, manager=manager, force=force, schema=S, node=node, api_version=api_version, now=now, **kw
    )


def update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    now: str = T1,
    node: dict[str, Any] | None = DEPLOY,
    api_version: str = "apps/v1",
    **kw: Any,
) -> dict[str, Any]:
    return ssa.track_update(old, new, manager=manager, schema=S, node=node, api_version=api_version, now=now, **kw)


def entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["metadata"].get("managedFields") or [])


def entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    found = [e for e in entries(obj) if e["manager"] == manager]
    assert len(found) == 1, entries(obj)
    return found[0]


def owned(obj: dict[str, Any], manager: str) -> set[fieldpath.Path]:
    found = [e for e in entries(obj) if e["manager"] == manager]
    return fieldpath.decode(found[0]["fieldsV1"]) if found else set()


def path(*names: str) -> fieldpath.Path:
    return tuple(("f", n) for n in names)


REPLICAS = path("spec", "replicas")
WEB = (*path("spec", "template", "spec", "containers"), fieldpath.key({"name": "web"}))


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return out


def with_replicas(obj: dict[str, Any], n: int) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["spec"]["replicas"] = n
    return out


# --- apply: ownership and the FieldsV1 it writes ---------------------------------------------


def test_create_by_apply_records_exactly_the_applied_fields() -> None:
    out = apply(
        None,
        dep(labels={"app": "d"}, containers=[{"name": "web", "image": "i", "ports": [{"containerPort": 80}]}]),
        "kubectl",
    )
    [e] = entries(out)
    assert e == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                # the key carries the protocol's default although the port was sent without it
                                "f:ports": {
                                    'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                                },
                            }
                        }
                    },
                },
            },
        },
    }
    assert out["spec"]["replicas"] == 2


def test_applying_only_identity_leaves_no_entry() -> None:
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    out = apply(None, cfg, "m", node=CM, api_version="v1")
    assert "managedFields" not in out["metadata"]
    again = apply(out, cfg, "m", node=CM, api_version="v1")
    assert "managedFields" not in again["metadata"]


def test_apply_then_merge_patches_by_another_manager() -> None:
    # upstream's integration test TestApplyManagedFields, step for step
    cfg = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "value"},
    }
    live = apply(None, cfg, "apply_test", node=CM, api_version="v1")
    patched = copy.deepcopy(live)
    patched["data"]["new-key"] = "value"
    live = update(live, patched, "updater", node=CM, api_version="v1", now=T1)
    patched = copy.deepcopy(live)
    patched["data"]["key"] = "new value"
    live = update(live, patched, "updater", node=CM, api_version="v1", now=T2)
    assert entries(live) == [
        {
            "manager": "apply_test",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}},
        },
        {
            "manager": "updater",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T2,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}, "f:new-key": {}}},
        },
    ]


# --- conflicts and force --------------------------------------------------------------------


def scaled() -> dict[str, Any]:
    live = apply(None, dep(), "a")
    return update(live, with_replicas(live, 5), "kubectl-scale")


def test_conflict_with_an_update_manager_names_its_version() -> None:
    with pytest.raises(errors.Conflict) as err:
        apply(scaled(), dep(), "a")
    assert err.value.code == 409
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert err.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-scale" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_conflict_with_an_apply_manager_and_several_fields() -> None:
    live = apply(None, dep(labels={"x": "1"}), "a")
    cfg = dep(replicas=3, image="other", labels={"x": "2"})
    with pytest.raises(errors.Conflict) as err:
        apply(live, cfg, "b")
    assert err.value.message == (
        'Apply failed with 3 conflicts: conflicts with "a":\n'
        "- .metadata.labels.x\n- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image'
    )
    assert [c["field"] for c in err.value.causes] == [
        ".metadata.labels.x",
        ".spec.replicas",
        '.spec.template.spec.containers[name="web"].image',
    ]
    assert {c["message"] for c in err.value.causes} == {'conflict with "a"'}


def test_conflicts_are_grouped_by_manager_and_name_subresources() -> None:
    live = apply(None, dep(labels={"x": "1"}), "z-applier")
    live = update(live, with_replicas(live, 7), "scaler", subresource="scale")
    with pytest.raises(errors.Conflict) as err:
        apply(live, dep(replicas=1, labels={"x": "2"}), "b")
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "scaler" with subresource "scale" using apps/v1:\n'
        "- .spec.replicas\n"
        'conflicts with "z-applier":\n'
        "- .metadata.labels.x"
    )


def test_force_takes_ownership_and_drops_an_emptied_entry() -> None:
    out = apply(scaled(), dep(), "a", force=True, now=T2)
    assert out["spec"]["replicas"] == 2
    assert REPLICAS in owned(out, "a")
    assert [e["manager"] for e in entries(out)] == ["a"]
    assert entry(out, "a")["time"] == T2


def test_same_value_is_shared_without_conflict() -> None:
    live = apply(None, dep(), "a")
    out = apply(live, dep(), "b", now=T1)
    assert REPLICAS in owned(out, "a") & owned(out, "b")
    # one of them giving the field up leaves it to the other, value unchanged
    out = apply(out, dep(replicas=None), "a", now=T2)
    assert out["spec"]["replicas"] == 2
    assert REPLICAS not in owned(out, "a") and REPLICAS in owned(out, "b")


# --- removal of what is no longer applied ---------------------------------------------------


def test_fields_no_longer_applied_are_removed() -> None:
    side = {"name": "side", "image": "busybox"}
    live = apply(
        None, dep(labels={"x": "1", "y": "2"}, containers=[{"name": "web", "image": "i"}, side], paused=True), "a"
    )
    out = apply(live, dep(labels={"x": "1"}, containers=[{"name": "web", "image": "i"}]), "a", now=T1)
    assert out["metadata"]["labels"] == {"x": "1"}
    assert [c["name"] for c in containers(out)] == ["web"]
    assert "paused" not in out["spec"]


def test_a_field_someone_else_owns_stays() -> None:
    live = apply(None, dep(labels={"x": "1"}), "a")
    live = apply(live, dep(labels={"x": "1"}), "b", now=T1)
    out = apply(live, dep(), "a", now=T2)
    assert out["metadata"]["labels"] == {"x": "1"}
    assert path("metadata", "labels", "x") in owned(out, "b")


def test_a_field_an_update_manager_set_is_not_removed_by_apply() -> None:
    live = apply(None, dep(), "a")
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["args"] = ["--v=2"]
    live = update(live, edited, "kubectl-edit")
    out = apply(live, dep(), "a", now=T2)
    assert containers(out)[0]["args"] == ["--v=2"]


def test_removing_the_last_field_of_a_builtin_struct_drops_it() -> None:
    live = apply(None, dep(strategy={"rollingUpdate": {"maxSurge": 1}}), "a")
    out = apply(live, dep(), "a", now=T1)
    assert "strategy" not in out["spec"]


def test_an_empty_marker_struct_is_a_field_of_its_own() -> None:
    vol = {"name": "cache", "emptyDir": {}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [vol]},
    }
    node = S.for_kind("", "v1", "Pod")
    live = apply(None, pod, "a", node=node, api_version="v1")
    cache = (*path("spec", "volumes"), fieldpath.key({"name": "cache"}))
    assert (*cache, ("f", "emptyDir")) in owned(live, "a")
    without = copy.deepcopy(pod)
    without["spec"]["volumes"] = [{"name": "cache"}]
    out = apply(live, without, "a", node=node, api_version="v1", now=T1)
    assert out["spec"]["volumes"] == [{"name": "cache"}]


def test_removal_that_empties_a_custom_resource_struct_leaves_null() -> None:
    crd = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}}
    cr = {"apiVersion": "example.com/v1", "kind": "Test", "metadata": {"name": "t"}, "spec": {"x": "1"}}
    live = apply(None, cr, "a", node=crd, api_version="example.com/v1")
    out = apply(live, {**cr, "spec": {}}, "a", node=crd, api_version="example.com/v1", now=T1)
    assert out["spec"] is None  # as upstream: the validation that follows refuses it


def test_nulls_a_builtin_object_already_had_survive_a_no_op() -> None:
    live = apply(None, dep(), "a")
    live["spec"]["template"]["metadata"]["creationTimestamp"] = None
    assert apply(live, dep(), "a", now=T3) == live
    changed = apply(live, dep(replicas=5), "a", now=T3)
    assert changed["spec"]["template"]["metadata"]["creationTimestamp"] is None


# --- list and map semantics -----------------------------------------------------------------


def test_map_list_items_merge_by_key_and_keep_live_order() -> None:
    live = apply(None, dep(containers=[{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]), "m1")
    cfg = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "2"}, {"name": "b", "env": [{"name": "E", "value": "v"}]}]
                }
            }
        },
    }
    out = apply(live, cfg, "m2", now=T1)
    assert [c["name"] for c in containers(out)] == ["a", "c", "b"]
    assert containers(out)[2] == {"name": "b", "image": "1", "env": [{"name": "E", "value": "v"}]}
    b_env = (*path("spec", "template", "spec", "containers"), fieldpath.key({"name": "b"}), ("f", "env"))
    assert b_env in owned(out, "m2") or any(p[: len(b_env)] == b_env for p in owned(out, "m2"))


def test_ports_are_keyed_by_port_and_protocol() -> None:
    tcp = {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}
    live = apply(None, dep(containers=[{"name": "web", "image": "i", "ports": [tcp]}]), "a")
    cfg = dep(
        containers=[
            {"name": "web", "image": "i", "ports": [{"containerPort": 53}, {"containerPort": 53, "protocol": "UDP"}]}
        ]
    )
    out = apply(live, cfg, "b", now=T1)
    ports = containers(out)[0]["ports"]
    assert ports == [
        {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
        {"containerPort": 53, "protocol": "UDP"},
    ]


def test_sets_are_unioned_and_members_owned_by_value() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a/x", "a/y"]}}
    live = apply(None, cm, "a", node=CM, api_version="v1")
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["b/z", "a/y"]}}
    out = apply(live, other, "b", node=CM, api_version="v1", now=T1)
    assert out["metadata"]["finalizers"] == ["a/x", "b/z", "a/y"]  # new members go where b puts them
    assert entry(out, "b")["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"a/y"': {}, 'v:"b/z"': {}}}}
    out = apply(out, {**cm, "metadata": {"name": "c"}}, "a", node=CM, api_version="v1", now=T2)
    assert out["metadata"]["finalizers"] == ["b/z", "a/y"]  # a/y stays: b applies it too


def test_atomic_lists_and_maps_are_replaced_whole_and_owned_as_one_field() -> None:
    live = apply(None, dep(containers=[{"name": "web", "image": "i", "args": ["a", "b"]}]), "a")
    cfg = dep(containers=[{"name": "web", "image": "i", "args": ["c"]}])
    cfg["spec"]["selector"] = {"matchLabels": {"app": "d"}, "matchExpressions": []}
    out = apply(live, cfg, "a", now=T1)
    assert containers(out)[0]["args"] == ["c"]
    assert (*WEB, ("f", "args")) in owned(out, "a")
    assert path("spec", "selector") in owned(out, "a")
    assert not any(len(p) > 2 and p[:2] == path("spec", "selector") for p in owned(out, "a"))
    with pytest.raises(errors.Conflict):
        apply(out, dep(containers=[{"name": "web", "image": "i", "args": ["c", "d"]}]), "b")


def test_duplicate_keys_in_a_configuration_are_refused() -> None:
    cfg = dep(containers=[{"name": "web", "image": "a"}, {"name": "web", "image": "b"}])
    with pytest.raises(errors.InternalError) as err:
        apply(None, cfg, "a")
    assert err.value.message == (
        "failed to create typed patch object (ns/d; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers: duplicate entries for key [name="web"]'
    )


# --- no-op applies ---------------------------------------------------------------------------


def test_reapplying_the_same_configuration_changes_nothing() -> None:
    live = apply(None, dep(labels={"a": "b"}), "a")
    again = apply(live, dep(labels={"a": "b"}), "a", now=T3)
    assert again == live


def test_a_new_manager_sharing_everything_gets_an_entry_without_time() -> None:
    live = apply(None, dep(), "a")
    out = apply(live, dep(), "b", now=T3)
    assert {k: v for k, v in out.items() if k != "metadata"} == {k: v for k, v in live.items() if k != "metadata"}
    assert "time" not in entry(out, "b") and entry(out, "a")["time"] == T0


# --- updates ------------------------------------------------------------------------------


def test_create_records_what_the_go_struct_did_not_already_hold() -> None:
    # a StatefulSet as `kubectl create` sends it once defaulted; upstream's record of it
    sts = {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx",
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "Always",
                        }
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
            "serviceName": "web",
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
        },
        "status": {"replicas": 0},
    }
    out = update(None, sts, "kubectl-create", node=S.for_kind("apps", "v1", "StatefulSet"), reset_fields=[("status",)])
    assert json.dumps(entry(out, "kubectl-create")["fieldsV1"], separators=(",", ":")) == (
        '{"f:spec":{"f:podManagementPolicy":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},'
        '"f:serviceName":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":'
        '{"k:{\\"name\\":\\"web\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},'
        '"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{},"f:name":{},'
        '"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},'
        '"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},'
        '"f:terminationGracePeriodSeconds":{}}},"f:updateStrategy":{"f:rollingUpdate":{".":{},"f:partition":{}},'
        '"f:type":{}}}}'
    )


def test_create_of_a_service_owns_ports_by_port_and_protocol() -> None:
    svc = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }
    node = S.for_kind("", "v1", "Service")
    out = update(None, svc, "kubectl", node=node, api_version="v1", reset_fields=[("status",)])
    assert entry(out, "kubectl")["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:internalTrafficPolicy": {},
            "f:ipFamilies": {},
            "f:ipFamilyPolicy": {},
            "f:ports": {
                ".": {},
                'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}},
            },
            "f:selector": {},
            "f:sessionAffinity": {},
            "f:type": {},
        },
    }
    # an apply naming the port without its protocol shares that very item
    cfg = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": 80}]},
    }
    shared = apply(out, cfg, "ssa", node=node, api_version="v1", now=T2)
    assert shared["spec"]["ports"] == svc["spec"]["ports"]


def test_custom_resources_own_every_node_they_add() -> None:
    crd_schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "dnsNames": {"type": "array", "items": {"type": "string"}},
                    "issuerRef": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    cr = {
        "apiVersion": "example.com/v1",
        "kind": "Cert",
        "metadata": {
            "name": "c",
            "namespace": "default",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-1", "controller": True}
            ],
        },
        "spec": {"dnsNames": ["a.example"], "issuerRef": {"name": "i"}},
    }
    out = update(None, cr, "shim", node=crd_schema, api_version="example.com/v1", reset_fields=[("status",)])
    assert entry(out, "shim")["fieldsV1"] == {
        "f:metadata": {"f:ownerReferences": {".": {}, 'k:{"uid":"u-1"}': {}}},
        "f:spec": {".": {}, "f:dnsNames": {}, "f:issuerRef": {".": {}, "f:name": {}}},
    }


def test_an_update_moves_the_fields_it_changes() -> None:
    created = update(None, dep(), "kubectl-create", now=T0)
    changed = copy.deepcopy(created)
    containers(changed)[0]["image"] = "nginx:2"
    out = update(created, changed, "kubectl-edit", now=T1)
    img = (*WEB, ("f", "image"))
    assert img in owned(out, "kubectl-edit") and img not in owned(out, "kubectl-create")
    assert [e["manager"] for e in entries(out)] == ["kubectl-create", "kubectl-edit"]


def test_removed_fields_leave_every_set() -> None:
    live = apply(None, dep(labels={"x": "1"}), "a")
    removed = copy.deepcopy(live)
    del removed["metadata"]["labels"]
    out = update(live, removed, "editor")
    assert path("metadata", "labels", "x") not in owned(out, "a")
    assert not owned(out, "editor")


def test_a_no_op_update_keeps_the_time() -> None:
    live = update(None, dep(), "m", now=T0)
    assert update(live, copy.deepcopy(live), "m", now=T3) == live


def test_update_entries_are_per_manager_version_and_subresource() -> None:
    live = update(None, dep(), "m", now=T0)
    labelled = copy.deepcopy(live)
    labelled["metadata"]["labels"] = {"x": "1"}
    live = update(live, labelled, "m", now=T1, api_version="apps/v1beta2")
    live = update(live, with_replicas(live, 4), "m", now=T2, subresource="scale")
    got = [(e["manager"], e["apiVersion"], e.get("subresource")) for e in entries(live)]
    assert got == [("m", "apps/v1", None), ("m", "apps/v1beta2", None), ("m", "apps/v1", "scale")]
    assert fieldpath.decode(entries(live)[2]["fieldsV1"]) == {REPLICAS}
    assert REPLICAS not in fieldpath.decode(entries(live)[0]["fieldsV1"])
    # the entry that loses its last field goes
    live = update(live, with_replicas(live, 5), "other", now=T3)
    assert [(e["manager"], e.get("subresource")) for e in entries(live)] == [("m", None), ("m", None), ("other", None)]


def test_reset_fields_are_never_owned_nor_taken_away() -> None:
    live = update(
        None,
        dict(dep(), status={"replicas": 1}),
        "controller",
        subresource="status",
        reset_fields=[("spec",), ("metadata",)],
    )
    # a Deployment's status is a Go struct that always exists: only its field is new
    assert entry(live, "controller")["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    new = dict(copy.deepcopy(live), status={"replicas": 9})
    new["spec"]["replicas"] = 3
    out = update(live, new, "user", reset_fields=[("status",)])
    assert entry(out, "user")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert path("status", "replicas") in owned(out, "controller")


def test_an_object_without_a_record_is_not_tracked_by_updates() -> None:
    live = dep()
    live["metadata"]["uid"] = "u"
    assert "managedFields" not in update(live, with_replicas(live, 3), "user")["metadata"]


def test_apply_entries_are_per_subresource() -> None:
    live = apply(None, dep(), "a")
    cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "status": {"replicas": 1}}
    out = apply(live, cfg, "a", now=T1, subresource="status", reset_fields=[("spec",), ("metadata",)])
    assert [(e["manager"], e["operation"], e.get("subresource")) for e in entries(out)] == [
        ("a", "Apply", None),
        ("a", "Apply", "status"),
    ]
    assert entries(out)[1]["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_clearing_managed_fields_stops_tracking_until_the_next_apply() -> None:
    live = apply(None, dep(), "a")
    for cleared in ([], [{}]):
        new = copy.deepcopy(live)
        new["metadata"]["managedFields"] = cleared
        out = update(live, new, "user")
        assert "managedFields" not in out["metadata"]
        again = update(out, with_replicas(out, 9), "user")
        assert "managedFields" not in again["metadata"]


def test_subresource_writes_cannot_rewrite_the_record() -> None:
    live = apply(None, dep(), "a")
    new = with_replicas(live, 4)
    new["metadata"]["managedFields"] = []
    out = update(live, new, "scaler", subresource="scale")
    assert {e["manager"] for e in entries(out)} == {"a", "scaler"}


def test_a_valid_record_sent_by_the_writer_replaces_the_live_one() -> None:
    live = apply(None, dep(), "a")
    sent = copy.deepcopy(live)
    sent["metadata"]["managedFields"] = [
        {
            "manager": "imported",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    out = update(live, sent, "user")
    assert [e["manager"] for e in entries(out)] == ["imported"]
    # an invalid one is ignored
    sent["metadata"]["managedFields"] = [{"manager": "x", "operation": "Delete", "apiVersion": "apps/v1"}]
    assert [e["manager"] for e in entries(update(live, sent, "user"))] == ["a"]


def test_more_than_ten_update_managers_fold_into_ancient_changes() -> None:
    live = update(None, dep(replicas=0), "creator", now="2026-01-01T00:00:00Z")
    for i in range(1, 12):
        new = copy.deepcopy(live)
        new["metadata"].setdefault("labels", {})[f"l{i}"] = "v"
        live = update(live, new, f"m{i:02d}", now=f"2026-01-01T00:00:{i:02d}Z")
    managers = [e["manager"] for e in entries(live)]
    assert len(managers) == 10 and managers[0] == "ancient-changes"
    ancient = entries(live)[0]
    assert ancient["time"] == "2026-01-01T00:00:02Z"
    assert managers[1:] == [f"m{i:02d}" for i in range(3, 12)]
    assert REPLICAS in fieldpath.decode(ancient["fieldsV1"])


# --- before-first-apply and client-side apply -----------------------------------------------


def test_fields_of_an_untracked_object_belong_to_before_first_apply() -> None:
    live = dep(labels={"app": "my"})
    with pytest.raises(errors.Conflict) as err:
        apply(live, dep(labels={"app": "other"}), "applier")
    assert err.value.causes[0]["message"] == 'conflict with "before-first-apply" using apps/v1'
    out = apply(live, dep(labels={"app": "other"}), "applier", force=True, now=T1)
    assert [e["manager"] for e in entries(out)] == ["applier", "before-first-apply"]
    assert entry(out, "before-first-apply")["time"] == T1


def test_kubectl_takes_over_fields_its_last_applied_configuration_describes() -> None:
    last = dep(replicas=3)
    created = dict(copy.deepcopy(last))
    created["metadata"]["annotations"] = {ssa.LAST_APPLIED: json.dumps(last)}
    live = update(None, created, "kubectl-client-side-apply")
    cfg = dep(replicas=4)
    with pytest.raises(errors.Conflict):
        apply(live, cfg, "someone-else")
    out = apply(live, cfg, "kubectl", now=T2)
    assert out["spec"]["replicas"] == 4
    assert REPLICAS in owned(out, "kubectl")
    assert json.loads(out["metadata"]["annotations"][ssa.LAST_APPLIED]) == cfg
    assert out["metadata"]["annotations"][ssa.LAST_APPLIED].endswith("}\n")


def test_kubectl_still_conflicts_where_the_live_value_drifted() -> None:
    last = dep(replicas=3)
    created = copy.deepcopy(last)
    created["metadata"]["annotations"] = {ssa.LAST_APPLIED: json.dumps(last)}
    live = update(None, created, "kubectl-client-side-apply")
    live = update(live, with_replicas(live, 7), "hpa", now=T1)
    with pytest.raises(errors.Conflict) as err:
        apply(live, dep(replicas=4), "kubectl", now=T2)
    assert [c["field"] for c in err.value.causes] == [".spec.replicas"]
    assert err.value.causes[0]["message"] == 'conflict with "hpa" using apps/v1'


# --- refused configurations -----------------------------------------------------------------


def test_managed_fields_in_the_configuration_are_refused() -> None:
    cfg = dep()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(errors.BadRequest, match=r"metadata\.managedFields must be nil"):
        apply(None, cfg, "a")
    cfg["metadata"]["managedFields"] = None
    assert apply(None, cfg, "a")["spec"]["replicas"] == 2


def test_a_configuration_of_another_version_is_refused() -> None:
    cfg = dict(dep(), apiVersion="apps/v1beta1")
    with pytest.raises(errors.BadRequest, match=r"invalid object type: apps/v1beta1, Kind=Deployment"):
        apply(apply(None, dep(), "a"), cfg, "a")


# --- FieldsV1 -------------------------------------------------------------------------------

REAL = {  # the shape real clusters write: members, ".", keyed items, set members
    "f:metadata": {
        "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}},
        "f:finalizers": {".": {}, 'v:"foregroundDeletion"': {}},
        "f:ownerReferences": {".": {}, 'k:{"uid":"9f6c7d1e"}': {}},
    },
    "f:spec": {
        "f:ports": {
            ".": {},
            'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}},
        },
        "f:selector": {},
    },
    "f:status": {"f:conditions": {'k:{"type":"Available"}': {".": {}, "f:status": {}, "f:type": {}}}},
}


def test_fieldsv1_round_trip_keeps_real_records_byte_for_byte() -> None:
    assert fieldpath.encode(fieldpath.decode(REAL)) == REAL
    text = json.dumps(REAL, separators=(",", ":"))
    assert json.dumps(fieldpath.encode(fieldpath.decode(json.loads(text))), separators=(",", ":")) == text


def test_fieldsv1_orders_keys_as_upstream_and_escapes_like_go() -> None:
    paths = {
        (("f", "b"),),
        (("f", "a"),),
        (("v", fieldpath.go_json(2)),),
        (("v", '"x"'),),
        (fieldpath.key({"name": "<c>"}),),
        (("i", 1),),
    }
    assert list(fieldpath.encode(paths)) == ["f:a", "f:b", 'k:{"name":"\\u003cc\\u003e"}', "v:2", 'v:"x"', "i:1"]


def test_fieldsv1_reads_float_keys_as_the_integers_they_are() -> None:
    [p] = fieldpath.decode({"f:ports": {'k:{"port":443.0,"protocol":"TCP"}': {}}})
    assert p[1] == fieldpath.key({"port": 443, "protocol": "TCP"})
    assert fieldpath.path_string(p) == '.ports[port=443,protocol="TCP"]'


def test_fieldsv1_refuses_malformed_keys() -> None:
    with pytest.raises(ValueError):
        fieldpath.decode({"x": {}})
    with pytest.raises(ValueError):
        fieldpath.decode({"k:{nope": {}})
    assert fieldpath.decode({"z:unknown": {}, "f:a": {}}) == {(("f", "a"),)}


def test_decoding_refuses_entries_upstream_refuses() -> None:
    ok = {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}
    assert list(ssa.decode_managed([ok])) == ['{"manager":"m","operation":"Update","apiVersion":"v1"}']
    for bad, why in (
        ({"operation": "Patch"}, "operation must be"),
        ({"apiVersion": ""}, "apiVersion must not"),
        ({"fieldsType": ""}, "missing fieldsType"),
        ({"fieldsType": "FieldsV2"}, "invalid fieldsType"),
    ):
        with pytest.raises(ValueError, match=why):
            ssa.decode_managed([{**ok, **bad}])


# --- properties ---------------------------------------------------------------------------

names = st.text(alphabet="abcxyz-./<&é", min_size=1, max_size=6)
scalars = st.one_of(st.integers(-5, 5), names, st.booleans())
elements = st.one_of(
    st.builds(fieldpath.field, names),
    st.builds(lambda d: fieldpath.key(d), st.dictionaries(names, scalars, min_size=1, max_size=2)),
    st.builds(fieldpath.value, scalars),
)
path_sets = st.sets(st.lists(elements, min_size=1, max_size=4).map(tuple), max_size=12)


@given(path_sets)
def test_any_field_set_survives_the_wire(paths: set[fieldpath.Path]) -> None:
    wire = json.loads(json.dumps(fieldpath.encode(paths)))
    assert fieldpath.decode(wire) == paths


labels = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["1", "2"]), max_size=4)
images = st.lists(st.sampled_from(["w", "x", "y", "z"]), unique=True, min_size=1, max_size=3)


def cfg_of(lbl: dict[str, str], names_: list[str], replicas: int | None) -> dict[str, Any]:
    return dep(replicas=replicas, labels=lbl or None, containers=[{"name": n, "image": n} for n in names_])


@settings(max_examples=60, deadline=None)
@given(labels, images, st.sampled_from([None, 0, 4]))
def test_an_object_merged_with_itself_is_unchanged(lbl: dict[str, str], names_: list[str], r: int | None) -> None:
    from nanokube.api.typed import Typed

    t = Typed(S, DEPLOY)
    obj = cfg_of(lbl, names_, r)
    assert t.merge(obj, copy.deepcopy(obj)) == obj
    assert t.compare(obj, copy.deepcopy(obj)) == (set(), set(), set())
    assert t.remove(obj, set()) == obj
    # removing every leaf leaves the containers that held them, emptied to null
    assert _only_nulls(t.remove(obj, t.field_set(obj)))
    assert t.remove(obj, t.with_named_parents(t.field_set(obj))) is None


def _only_nulls(v: Any) -> bool:
    if isinstance(v, dict):
        return all(_only_nulls(x) for x in v.values())
    return v is None


@settings(max_examples=60, deadline=None)
@given(labels, images, labels, images, st.sampled_from([None, 1, 2]), st.booleans())
def test_two_appliers_never_lose_what_each_applies(
    l1: dict[str, str], c1: list[str], l2: dict[str, str], c2: list[str], replicas: int | None, force: bool
) -> None:
    live = apply(None, cfg_of(l1, c1, 1), "one")
    try:
        live = apply(live, cfg_of(l2, c2, replicas), "two", force=force, now=T1)
    except errors.Conflict as e:
        assert not force and e.causes
        return
    # the second configuration holds; the first one's fields hold where nobody changed them
    assert {c["name"] for c in containers(live)} >= set(c1) | set(c2)
    for k, v in l2.items():
        assert live["metadata"]["labels"][k] == v
    # re-applying either configuration unchanged is a no-op once forced through
    again = apply(live, cfg_of(l2, c2, replicas), "two", force=True, now=T3)
    assert again == live
    # every owned field exists
    for e in entries(live):
        for p in fieldpath.decode(e["fieldsV1"]):
            assert _exists(live, p), (e["manager"], p)


def _exists(obj: Any, p: fieldpath.Path) -> bool:
    cur = obj
    for kind, payload in p:
        if kind == "f":
            if not isinstance(cur, dict) or payload not in cur:
                return False
            cur = cur[payload]
        elif kind == "k":
            want = fieldpath.key_fields((kind, payload))
            found = [x for x in cur or [] if all(x.get(k) == v for k, v in want.items())]
            if not found:
                return False
            cur = found[0]
        else:
            return kind == "v" and json.loads(payload) in (cur or [])
    return True


@settings(max_examples=60, deadline=None)
@given(labels, images, st.sampled_from([None, 1, 3]), labels, images)
def test_an_applier_alone_gets_exactly_its_configuration(
    l1: dict[str, str], c1: list[str], r: int | None, l2: dict[str, str], c2: list[str]
) -> None:
    live = apply(None, cfg_of(l1, c1, r), "solo")
    out = apply(live, cfg_of(l2, c2, r), "solo", now=T1)
    assert out["metadata"].get("labels", {}) == l2
    got = [c["name"] for c in containers(out)]
    assert sorted(got) == sorted(c2)
    if set(c1).isdisjoint(c2):
        assert got == c2
