"""Claims meet volumes: matching, binding, the controller's decisions and the local-path
provisioner's volumes, over plain dicts."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from nanokube.controllers import pvutil

Obj = dict[str, Any]
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def claim(name: str = "data", size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str | None = "",
          **spec: Any) -> Obj:
    s: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec}
    if cls is not None:
        s["storageClassName"] = cls
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "5"},
            "spec": s, "status": {"phase": "Pending"}}


def volume(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str = "",
           phase: str = "Available", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}, "resourceVersion": "7"},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                     "hostPath": {"path": f"/srv/{name}"}, **spec},
            "status": {"phase": phase}}


def by_name(*vols: Obj) -> dict[str, Obj]:
    return {v["metadata"]["name"]: v for v in vols}


WFC = {"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path",
       "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}


def test_smallest_fitting_volume_of_the_claims_class():
    vols = [volume("big", "10Gi"), volume("small", "500Mi"), volume("fits", "2Gi"), volume("fast", "1Gi", cls="fast"),
            volume("block", "1Gi", volumeMode="Block"), volume("busy", "1Gi", phase="Bound")]
    assert pvutil.find_best_match(claim(size="1Gi"), vols, False)["metadata"]["name"] == "fits"
    assert pvutil.find_best_match(claim(cls="fast"), vols, False)["metadata"]["name"] == "fast"
    assert pvutil.find_best_match(claim(size="20Gi"), vols, False) is None
    assert pvutil.find_best_match(claim(volumeMode="Block"), vols, False)["metadata"]["name"] == "block"


def test_fewest_access_modes_first_then_size():
    vols = [volume("rwo-rox", "2Gi", modes=("ReadWriteOnce", "ReadOnlyMany")), volume("rwo", "10Gi")]
    assert pvutil.find_best_match(claim(), vols, False)["metadata"]["name"] == "rwo"
    assert pvutil.find_best_match(claim(modes=("ReadOnlyMany",)), vols, False)["metadata"]["name"] == "rwo-rox"
    assert pvutil.find_best_match(claim(modes=("ReadWriteMany",)), vols, False) is None


def test_selector_and_pre_binding():
    vols = [volume("a", labels={"tier": "gold"}), volume("b", "1Gi")]
    assert pvutil.find_best_match(claim(selector={"matchLabels": {"tier": "gold"}}), vols, False)["metadata"]["name"] == "a"
    # a volume pre-bound to the claim by name wins, even over a better fit, even when binding waits
    reserved = volume("reserved", "50Gi", claimRef={"namespace": "default", "name": "data"})
    other = volume("other", claimRef={"namespace": "default", "name": "someone-else"})
    assert pvutil.find_best_match(claim(), [*vols, reserved, other], False)["metadata"]["name"] == "reserved"
    assert pvutil.find_best_match(claim(), [*vols, reserved], True)["metadata"]["name"] == "reserved"
    assert pvutil.find_best_match(claim(), vols, True) is None  # WaitForFirstConsumer: the scheduler picks
    stale = volume("stale", claimRef={"namespace": "default", "name": "data", "uid": "an-older-claim"})
    assert pvutil.find_best_match(claim(), [stale], False) is None


def test_scheduler_path_checks_node_affinity_and_access_modes():
    pinned = volume("pinned", nodeAffinity={"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}})
    node_a = {"metadata": {"name": "a", "labels": {"kubernetes.io/hostname": "a"}}}
    node_b = {"metadata": {"name": "b", "labels": {"kubernetes.io/hostname": "b"}}}
    assert pvutil.find_matching_volume(claim(), [pinned], node=node_a, delay=True) is None
    assert pvutil.find_matching_volume(claim(), [pinned], node=node_b, delay=True) is pinned
    assert pvutil.find_matching_volume(claim(modes=("ReadWriteMany",)), [pinned], node=node_b, delay=True) is None
    assert pvutil.find_matching_volume(claim(), [pinned], node=node_b, excluded=["pinned"], delay=True) is None


def test_binding_both_sides_and_undoing_it():
    pvc, pv = claim(), volume("pv1")
    bound = pvutil.bind_volume_to_claim(pv, pvc)
    assert bound is not None
    assert bound["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data",
                                         "uid": "uid-data", "apiVersion": "v1", "resourceVersion": "5"}
    assert bound["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert pvutil.bind_volume_to_claim(bound, pvc) is None
    assert "claimRef" not in pv["spec"]  # inputs are never changed
    # a user's pre-binding gets the uid, not the bound-by-controller mark
    user = pvutil.bind_volume_to_claim(volume("pv2", claimRef={"namespace": "default", "name": "data"}), pvc)
    assert user is not None and user["spec"]["claimRef"]["uid"] == "uid-data" and "annotations" not in user["metadata"]
    claimed = pvutil.bind_claim_to_volume(pvc, bound)
    assert claimed is not None and claimed["spec"]["volumeName"] == "pv1"
    assert claimed["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes",
                                                  "pv.kubernetes.io/bind-completed": "yes"}
    assert pvutil.bind_claim_to_volume(claimed, bound) is None
    freed = pvutil.unbind_volume(bound)
    assert "claimRef" not in freed["spec"] and "annotations" not in freed["metadata"]
    assert pvutil.unbind_volume(user)["spec"]["claimRef"] == {
        "kind": "PersistentVolumeClaim", "namespace": "default", "name": "data", "apiVersion": "v1", "resourceVersion": "5"}


def test_claim_status_copies_capacity_once():
    pv = volume("pv1", "2Gi", modes=("ReadWriteOnce", "ReadOnlyMany"))
    status = pvutil.claim_status(claim(), "Bound", pv)
    assert status == {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "2Gi"}}
    resized = dict(claim(), status=dict(status, capacity={"storage": "3Gi"}))
    assert pvutil.claim_status(resized, "Bound", pv) is None  # a bound claim's capacity is not clobbered
    assert pvutil.claim_status(resized, "Lost", None) == {"phase": "Lost"}
    assert pvutil.volume_status(pv, "Available", "", NOW) is None
    assert pvutil.volume_status(pv, "Released", "", NOW) == {"phase": "Released",
                                                            "lastPhaseTransitionTime": "2024-05-01T12:00:00Z"}


def test_default_class_is_the_newest_marked_one():
    def sc(name: str, created: str, default: bool) -> Obj:
        ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": ann}}
    classes = [sc("old", "2024-01-01T00:00:00Z", True), sc("new", "2024-02-01T00:00:00Z", True),
               sc("newest", "2024-03-01T00:00:00Z", False)]
    assert pvutil.default_class(classes)["metadata"]["name"] == "new"
    assert pvutil.default_class(classes[2:]) is None


@pytest.mark.parametrize(("pvc", "vols", "action", "event"), [
    (claim(cls=""), (), "pending", ("Normal", "FailedBinding", pvutil.NO_CLASS_MESSAGE)),
    (claim(cls="local-path"), (), "wait-consumer", None),
    (claim(cls="local-path") | {"metadata": claim()["metadata"] | {
        "annotations": {"volume.kubernetes.io/selected-node": "a"}}}, (), "provision", None),
    (claim(cls="fast"), (), "provision", None),  # a class that does not exist (yet): the event says so
    (claim(cls=None), (), "assign-class", None),
    (claim(cls=""), (volume("pv1"),), "bind", None),
    (claim(cls="", volumeName="missing"), (), "pending", None),
    (claim(cls="", volumeName="pv1", size="5Gi"), (volume("pv1"),), "pending",
     ("Warning", "VolumeMismatch", 'Cannot bind to requested volume "pv1": requested PV is too small')),
    (claim(cls="", volumeName="pv1"), (volume("pv1", claimRef={"namespace": "x", "name": "y", "uid": "z"}),), "pending",
     ("Warning", "FailedBinding", 'volume "pv1" already bound to a different claim.')),
])
def test_unbound_claim_decisions(pvc, vols, action, event):
    classes = {"local-path": WFC | {"metadata": {"name": "local-path", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}}}
    plan = pvutil.plan_claim(pvc, by_name(*vols), classes)
    assert (plan.action, plan.event) == (action, event)
    if action == "assign-class":
        assert plan.storage_class == "local-path"


def test_bound_claim_decisions():
    done = {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}
    bound = claim(volumeName="pv1") | {"metadata": claim()["metadata"] | done}
    ok = volume("pv1", claimRef={"namespace": "default", "name": "data", "uid": "uid-data"})
    assert pvutil.plan_claim(bound, by_name(ok), {}).action == "bind"
    lost = pvutil.plan_claim(bound, {}, {})
    assert (lost.action, lost.event) == ("lost", ("Warning", "ClaimLost", pvutil.CLAIM_LOST_VOLUME))
    misbound = volume("pv1", claimRef={"namespace": "default", "name": "data", "uid": "another"})
    assert pvutil.plan_claim(bound, by_name(misbound), {}).event == ("Warning", "ClaimMisbound", pvutil.CLAIM_MISBOUND)
    unnamed = claim() | {"metadata": claim()["metadata"] | done}
    assert pvutil.plan_claim(unnamed, {}, {}).event == ("Warning", "ClaimLost", pvutil.CLAIM_LOST_REFERENCE)


def test_volume_decisions():
    ref = {"namespace": "default", "name": "data", "uid": "uid-data"}
    assert pvutil.plan_volume(volume("free", phase="Pending"), None) == pvutil.VolumePlan("phase", "Available")
    assert pvutil.plan_volume(volume("held", claimRef={"namespace": "default", "name": "data"}), None).phase == "Available"
    assert pvutil.plan_volume(volume("gone", claimRef=ref), None).action == "release"
    assert pvutil.plan_volume(volume("half", claimRef=ref), claim()).action == "enqueue-claim"
    assert pvutil.plan_volume(volume("half", claimRef=ref), claim(volumeMode="Block")).action == "mismatch"
    assert pvutil.plan_volume(volume("pv1", claimRef=ref), claim(volumeName="pv1")) == pvutil.VolumePlan("phase", "Bound")
    elsewhere = claim(volumeName="other")
    mine = volume("pv1", claimRef=ref) | {"metadata": {"name": "pv1", "annotations": {
        "pv.kubernetes.io/bound-by-controller": "yes"}}}
    assert pvutil.plan_volume(mine, elsewhere).action == "unbind"
    made = volume("pv1", claimRef=ref, persistentVolumeReclaimPolicy="Delete") | {"metadata": {"name": "pv1", "annotations": {
        "pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}}}
    assert pvutil.plan_volume(made, elsewhere).action == "release"
    assert pvutil.deleter_refusal(made) is None
    assert pvutil.deleter_refusal(volume("static")) == (
        'error getting deleter volume plugin for volume "static": no deletable volume plugin matched')


def test_local_path_volume_is_a_host_directory_pinned_to_the_node():
    pvc = claim(cls="local-path", size="3Gi", modes=("ReadWriteOncePod",))
    node = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "host-1"}}}
    pv = pvutil.local_path_volume(pvc, WFC, node, "/var/lib/nanokube/storage/")
    assert pv["metadata"] == {"name": "pvc-uid-data", "annotations": {
        "pv.kubernetes.io/provisioned-by": "rancher.io/local-path", "local.path.provisioner/selected-node": "n1"}}
    spec = pv["spec"]
    assert spec["hostPath"] == {"path": "/var/lib/nanokube/storage/pvc-uid-data_default_data", "type": "DirectoryOrCreate"}
    assert spec["capacity"] == {"storage": "3Gi"} and spec["accessModes"] == ["ReadWriteOncePod"]
    assert spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-1"]}]
    assert (spec["persistentVolumeReclaimPolicy"], spec["storageClassName"], spec["claimRef"]["uid"]) == \
        ("Delete", "local-path", "uid-data")
    assert pvutil.local_path_refusal(pvc, node) == ""
    assert pvutil.local_path_refusal(claim(modes=("ReadWriteMany",)), node) == \
        "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes"
    assert pvutil.local_path_refusal(claim(selector={}), node) == "claim.Spec.Selector is not supported"
    assert pvutil.local_path_refusal(pvc, None) == "configuration error, no node was specified"


def test_which_pods_hold_a_claim():
    pvc = claim("web-data")
    scheduled = {"metadata": {"name": "web", "uid": "u1"}, "spec": {"nodeName": "a", "volumes": [
        {"name": "d", "persistentVolumeClaim": {"claimName": "web-data"}}]}}
    assert pvutil.pod_uses_claim(scheduled, pvc)
    assert not pvutil.pod_uses_claim(scheduled | {"spec": scheduled["spec"] | {"nodeName": ""}}, pvc)
    eph = {"metadata": {"name": "web", "uid": "u1"}, "spec": {"nodeName": "a", "volumes": [
        {"name": "data", "ephemeral": {"volumeClaimTemplate": {}}}]}}
    assert pvutil.pod_claims(eph) == [("web-data", True)]
    assert not pvutil.pod_uses_claim(eph, pvc)  # not made for this pod
    owned = pvc | {"metadata": pvc["metadata"] | {"ownerReferences": [{"kind": "Pod", "uid": "u1", "controller": True}]}}
    assert pvutil.pod_uses_claim(eph, owned)
    shut = eph | {"metadata": eph["metadata"] | {"deletionTimestamp": "x", "deletionGracePeriodSeconds": 0}}
    assert not pvutil.pod_uses_claim(shut, owned)
