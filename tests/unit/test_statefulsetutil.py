"""StatefulSet decisions: identities, ordering, scale-down, rolling updates, claims, status."""

import datetime

from nanokube.controllers import statefulsetutil as su
from nanokube.controllers.history import REVISION_LABEL

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
REF = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "set-uid", "controller": True,
       "blockOwnerDeletion": True}


def sts(replicas=3, policy="OrderedReady", strategy=None, start=None, claims=True, retention=None, **spec):
    s = {"metadata": {"name": "web", "namespace": "ns", "uid": "set-uid", "generation": 2},
         "spec": {"replicas": replicas, "serviceName": "svc", "podManagementPolicy": policy,
                  "selector": {"matchLabels": {"app": "web"}},
                  "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": "a"}]}}, **spec},
         "status": {}}
    if claims:
        s["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "www", "labels": {"tier": "data"}},
                                              "spec": {"accessModes": ["ReadWriteOnce"]}}]
    if start is not None:
        s["spec"]["ordinals"] = {"start": start}
    if retention:
        s["spec"]["persistentVolumeClaimRetentionPolicy"] = retention
    return s


def pod(n, revision="rev-1", phase="Running", ready=True, deleting=False, since="2026-01-01T11:00:00Z", set_=None):
    p = su.new_pod(set_ or sts(), n, revision, REF)
    p["metadata"]["uid"] = f"pod-{n}"
    p["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                   "lastTransitionTime": since}]}
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    return p


def plan(s, pods, current="rev-1", update="rev-1", claims=None, current_set=None):
    return su.plan(s, pods, current_set or s, s, current, update, claims or {}, REF, NOW)


def summary(steps):
    return [(st.action, st.pod["metadata"]["name"]) for st in steps]


def test_pod_names_parse_into_set_and_ordinal():
    assert su.parent_and_ordinal("web-0") == ("web", 0)
    assert su.parent_and_ordinal("my-web-12") == ("my-web", 12)
    assert su.parent_and_ordinal("web") == ("", -1)
    assert su.parent_and_ordinal("web-99999999999") == ("web", -1)


def test_new_pod_has_identity_labels_hostname_and_claim_volumes():
    p = su.new_pod(sts(), 1, "web-abc", REF)
    meta, spec = p["metadata"], p["spec"]
    assert meta["name"] == "web-1" and meta["namespace"] == "ns"
    assert meta["labels"] == {"app": "web", REVISION_LABEL: "web-abc", su.POD_NAME_LABEL: "web-1",
                              su.POD_INDEX_LABEL: "1"}
    assert meta["ownerReferences"] == [REF]
    assert (spec["hostname"], spec["subdomain"]) == ("web-1", "svc")
    assert spec["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}]
    assert su.identity_matches(sts(), p) and su.storage_matches(sts(), p)


def test_claims_are_named_for_the_pod_and_labelled_with_the_selector():
    claims = su.claims_for(sts(), 2)
    c = claims["www"]
    assert c["metadata"]["name"] == "www-web-2" and c["metadata"]["namespace"] == "ns"
    assert c["metadata"]["labels"] == {"tier": "data", "app": "web"}
    assert c["spec"] == {"accessModes": ["ReadWriteOnce"]}


def test_ordered_ready_creates_one_pod_at_a_time_after_its_predecessor_is_ready():
    s = sts()
    assert summary(plan(s, [])) == [("create", "web-0")]
    assert summary(plan(s, [pod(0, phase="Pending", ready=False)])) == [("claims", "web-0")]
    assert summary(plan(s, [pod(0, ready=False)])) == []
    assert summary(plan(s, [pod(0)])) == [("create", "web-1")]
    assert summary(plan(s, [pod(0), pod(1)])) == [("create", "web-2")]
    assert summary(plan(s, [pod(0), pod(1), pod(2)])) == []


def test_min_ready_seconds_holds_the_next_pod_until_available():
    s = sts(minReadySeconds=120)
    assert summary(plan(s, [pod(0, since="2026-01-01T11:59:00Z")])) == []
    assert summary(plan(s, [pod(0, since="2026-01-01T11:57:00Z")])) == [("create", "web-1")]


def test_parallel_creates_every_missing_pod_at_once():
    assert summary(plan(sts(policy="Parallel"), [pod(1, ready=False)])) == [("create", "web-0"), ("create", "web-2")]


def test_ordinals_start_shifts_the_range():
    s = sts(replicas=2, start=5)
    steps = plan(s, [pod(0, set_=s)])
    # web-5 is made first; web-0 is outside the range, but OrderedReady waits for web-5
    assert summary(steps) == [("create", "web-5")]
    assert summary(plan(s, [pod(5, set_=s), pod(6, set_=s), pod(0, set_=s)])) == [("delete", "web-0")]


def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time():
    s = sts(replicas=1)
    pods = [pod(0), pod(1), pod(2)]
    assert summary(plan(s, pods)) == [("delete", "web-2")]
    # web-2 terminating: wait for it before web-1
    assert summary(plan(s, [pod(0), pod(1), pod(2, deleting=True)])) == []
    assert summary(plan(s, [pod(0), pod(1)])) == [("delete", "web-1")]
    # an unhealthy pod in range blocks scale-down; in Parallel it does not
    assert summary(plan(s, [pod(0, ready=False), pod(1), pod(2)])) == []
    assert summary(plan(sts(replicas=1, policy="Parallel"), pods)) == [("delete", "web-2"), ("delete", "web-1")]


def test_failed_pods_are_deleted_and_made_again_once_gone():
    s = sts()
    assert summary(plan(s, [pod(0, phase="Failed", ready=False)])) == [("delete", "web-0")]
    assert summary(plan(s, [pod(0, phase="Failed", ready=False, deleting=True)])) == []
    assert plan(s, [pod(0, phase="Failed", ready=False)])[0].why == "failed"


def test_rolling_update_goes_from_the_highest_ordinal_down_waiting_for_health():
    s = sts()
    old = [pod(0), pod(1), pod(2)]
    steps = plan(s, old, update="rev-2")
    assert summary(steps) == [("delete", "web-2")] and steps[0].why == "update"
    # web-2 was replaced but is not ready yet: wait
    assert summary(plan(s, [pod(0), pod(1), pod(2, "rev-2", ready=False)], update="rev-2")) == []
    assert summary(plan(s, [pod(0), pod(1), pod(2, "rev-2")], update="rev-2")) == [("delete", "web-1")]
    assert summary(plan(s, [pod(0, "rev-2"), pod(1, "rev-2"), pod(2, "rev-2")], update="rev-2")) == []


def test_partition_holds_lower_ordinals_at_the_current_revision():
    s = sts(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    assert summary(plan(s, [pod(0), pod(1), pod(2)], update="rev-2")) == [("delete", "web-2")]
    assert summary(plan(s, [pod(0), pod(1), pod(2, "rev-2")], update="rev-2")) == []
    # a pod below the partition that must be made again is made at the current revision
    current_set = sts(strategy=s["spec"]["updateStrategy"])
    current_set["spec"]["template"]["spec"]["containers"][0]["image"] = "old"
    steps = su.plan(s, [], current_set, s, "rev-1", "rev-2", {}, REF, NOW)
    made = steps[0].pod
    assert made["metadata"]["labels"][REVISION_LABEL] == "rev-1"
    assert made["spec"]["containers"][0]["image"] == "old"
    top = su.versioned_pod(current_set, s, "rev-1", "rev-2", 2, REF)
    assert top["metadata"]["labels"][REVISION_LABEL] == "rev-2" and top["spec"]["containers"][0]["image"] == "a"


def test_max_unavailable_replaces_several_pods_at_once():
    s = sts(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}})
    pods = [pod(0), pod(1), pod(2)]
    assert summary(plan(s, pods, update="rev-2")) == [("delete", "web-2"), ("delete", "web-1")]
    # one already unavailable: only one more may go
    assert summary(plan(s, [pod(0), pod(1), pod(2, "rev-2", ready=False)], update="rev-2",
                        current_set=s)) == []  # OrderedReady: web-2 not ready blocks before the update
    par = sts(policy="Parallel", strategy=s["spec"]["updateStrategy"])
    assert summary(plan(par, [pod(0), pod(1), pod(2, "rev-2", ready=False)], update="rev-2")) == \
        [("delete", "web-1")]
    assert su.max_unavailable(sts(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%"}})) == 1
    assert su.max_unavailable(sts(replicas=10, strategy={"type": "RollingUpdate",
                                                         "rollingUpdate": {"maxUnavailable": "50%"}})) == 5


def test_on_delete_leaves_outdated_pods_alone():
    s = sts(strategy={"type": "OnDelete"})
    assert summary(plan(s, [pod(0), pod(1), pod(2)], update="rev-2")) == []


def test_a_claim_still_being_deleted_holds_its_pod_back():
    s = sts()
    claims = {"www-web-0": {"metadata": {"name": "www-web-0", "deletionTimestamp": "2026-01-01T00:00:00Z"}}}
    assert summary(plan(s, [], claims=claims)) == []


def test_deleted_set_does_nothing():
    s = sts()
    s["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert plan(s, []) == []


def test_identity_drift_is_repaired_by_an_update():
    p = pod(0)
    del p["metadata"]["labels"][su.POD_NAME_LABEL]
    assert summary(plan(sts(), [p])) == [("update", "web-0"), ("create", "web-1")]
    fixed = su.fix_pod(sts(), p)
    assert fixed["metadata"]["labels"][su.POD_NAME_LABEL] == "web-0"


def claim(owners=()):
    return {"metadata": {"name": "www-web-2", "ownerReferences": list(owners)}}


def uids(refs):
    return sorted(r["uid"] for r in refs)


def test_retention_policy_sets_claim_owners():
    in_range = pod(1)
    scaled = pod(2)
    retain = sts(replicas=2, retention={"whenDeleted": "Retain", "whenScaled": "Retain"})
    assert su.claim_owner_refs(retain, scaled, claim()) is None
    assert su.claim_owner_refs(retain, scaled, claim([{"uid": "set-uid"}])) == []
    on_delete = sts(replicas=2, retention={"whenDeleted": "Delete", "whenScaled": "Retain"})
    refs = su.claim_owner_refs(on_delete, in_range, claim())
    assert uids(refs) == ["set-uid"] and refs[0]["controller"] is True
    on_scale = sts(replicas=2, retention={"whenDeleted": "Retain", "whenScaled": "Delete"})
    assert su.claim_owner_refs(on_scale, in_range, claim()) is None
    refs = su.claim_owner_refs(on_scale, scaled, claim())
    assert uids(refs) == ["pod-2"] and refs[0]["kind"] == "Pod" and not refs[0].get("controller")
    both = sts(replicas=2, retention={"whenDeleted": "Delete", "whenScaled": "Delete"})
    assert uids(su.claim_owner_refs(both, in_range, claim())) == ["set-uid"]
    assert uids(su.claim_owner_refs(both, scaled, claim([{"uid": "set-uid"}]))) == ["pod-2"]
    # a claim someone else controls is not touched
    foreign = claim([{"uid": "other", "controller": True}])
    assert su.claim_owner_refs(both, scaled, foreign) is None


def test_scaled_down_pods_claims_are_given_to_the_pod_before_it_goes():
    s = sts(replicas=1, retention={"whenDeleted": "Retain", "whenScaled": "Delete"})
    claims = {"www-web-2": {"metadata": {"name": "www-web-2"}}, "www-web-1": {"metadata": {"name": "www-web-1"}}}
    steps = plan(s, [pod(0), pod(1), pod(2)], claims=claims)
    assert summary(steps) == [("fix-claims", "web-2"), ("fix-claims", "web-1"), ("delete", "web-2")]


def test_status_counts_and_completes_the_rolling_update():
    s = sts()
    pods = [pod(0, "rev-1"), pod(1, "rev-2"), pod(2, "rev-2", ready=False)]
    status = su.compute_status(s, pods, "rev-1", "rev-2", 0, NOW)
    assert {k: status[k] for k in ("replicas", "readyReplicas", "availableReplicas", "currentReplicas",
                                   "updatedReplicas", "currentRevision", "updateRevision", "observedGeneration")} == \
        {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "currentReplicas": 1, "updatedReplicas": 2,
         "currentRevision": "rev-1", "updateRevision": "rev-2", "observedGeneration": 2}
    done = su.compute_status(s, [pod(n, "rev-2") for n in range(3)], "rev-1", "rev-2", 0, NOW)
    assert (done["currentRevision"], done["currentReplicas"]) == ("rev-2", 3)
    # OnDelete never moves the current revision (as upstream)
    ondelete = su.compute_status(sts(strategy={"type": "OnDelete"}), [pod(n, "rev-2") for n in range(3)],
                                 "rev-1", "rev-2", 0, NOW)
    assert ondelete["currentRevision"] == "rev-1"
    # terminating pods count as replicas but not as current or updated ones
    gone = su.compute_status(s, [pod(0, "rev-1", deleting=True)], "rev-1", "rev-1", 0, NOW)
    assert (gone["replicas"], gone["currentReplicas"]) == (1, 0)


def test_available_needs_min_ready_seconds():
    s = sts(minReadySeconds=600)
    status = su.compute_status(s, [pod(0, since="2026-01-01T11:59:00Z")], "r", "r", 0, NOW)
    assert (status["readyReplicas"], status["availableReplicas"]) == (1, 0)
    assert su.requeue_for_availability(s, status) == 600.0
