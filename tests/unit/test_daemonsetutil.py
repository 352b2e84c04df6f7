"""DaemonSet decisions: eligibility, placement, the create/delete loop, rolling updates, status."""

import datetime

from nanokube.controllers import daemonsetutil as dsu
from nanokube.controllers.history import REVISION_LABEL

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
REF = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "ds-uid", "controller": True}


def ds(unavailable=None, surge=None, strategy="RollingUpdate", generation=2, **podspec):
    ru = {k: v for k, v in (("maxUnavailable", unavailable), ("maxSurge", surge)) if v is not None}
    return {"metadata": {"name": "agent", "namespace": "ns", "uid": "ds-uid", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": strategy, "rollingUpdate": ru},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "c", "image": "a"}], **podspec}}},
            "status": {}}


def node(name, labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def pod(name, node_name, hash_="new", ready=True, phase="Running", created="2026-01-01T10:00:00Z",
        since="2026-01-01T11:00:00Z", deleting=False, bound=True):
    p = {"metadata": {"name": name, "uid": name, "creationTimestamp": created,
                      "labels": {"app": "agent", REVISION_LABEL: hash_}},
         "spec": {"affinity": dsu.pinned_affinity(None, node_name)},
         "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                    "lastTransitionTime": since}]}}
    if bound:
        p["spec"]["nodeName"] = node_name
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    return p


def names(pods):
    return sorted(p["metadata"]["name"] for p in pods)


def test_default_tolerations_are_added_and_replace_equal_ones():
    spec = dsu.with_daemon_tolerations({"tolerations": [
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule",
         "tolerationSeconds": 5}, {"key": "mine", "operator": "Exists"}]})
    keys = [(t.get("key"), t.get("effect")) for t in spec["tolerations"]]
    assert keys == [("node.kubernetes.io/unschedulable", "NoSchedule"), ("mine", None),
                    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                    ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                    ("node.kubernetes.io/pid-pressure", "NoSchedule")]
    assert "tolerationSeconds" not in spec["tolerations"][0]
    host = dsu.with_daemon_tolerations({"hostNetwork": True})
    assert {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"} in \
        host["tolerations"]


def test_pods_are_pinned_by_node_affinity_keeping_preferences():
    affinity = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}
    pinned = dsu.pinned_affinity(affinity, "n1")
    assert pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}
    assert pinned["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchFields"][0]["values"] == ["other"]
    assert dsu.target_node(pod("p", "n1", bound=False)) == "n1"
    assert dsu.target_node(pod("p", "n2")) == "n2"
    assert dsu.target_node({"spec": {}}) is None


def test_new_pod_from_the_template():
    d = ds()
    template = dsu.pod_template(d, "h1")
    assert template["metadata"]["labels"] == {"app": "agent", dsu.TEMPLATE_GENERATION_LABEL: "2", REVISION_LABEL: "h1"}
    p = dsu.new_pod(d, template, "n1", REF)
    assert p["metadata"]["generateName"] == "agent-" and p["metadata"]["ownerReferences"] == [REF]
    assert dsu.target_node(p) == "n1" and "nodeName" not in p["spec"]
    assert len(p["spec"]["tolerations"]) == 6


def test_eligibility_follows_selector_affinity_and_taints():
    assert dsu.should_run(ds(), node("n")) == (True, True)
    assert dsu.should_run(ds(nodeSelector={"disk": "ssd"}), node("n")) == (False, False)
    assert dsu.should_run(ds(nodeSelector={"disk": "ssd"}), node("n", {"disk": "ssd"})) == (True, True)
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    assert dsu.should_run(ds(affinity=affinity), node("n", {"zone": "b"})) == (False, False)
    # an untolerated NoSchedule taint: no new pod, but a running one may stay
    assert dsu.should_run(ds(), node("n", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])) == \
        (False, True)
    assert dsu.should_run(ds(), node("n", taints=[{"key": "k", "effect": "NoExecute"}])) == (False, False)
    assert dsu.should_run(ds(), node("n", taints=[{"key": "k", "effect": "PreferNoSchedule"}])) == (True, True)
    assert dsu.should_run(ds(tolerations=[{"key": "k", "operator": "Exists"}]),
                          node("n", taints=[{"key": "k", "effect": "NoExecute"}])) == (True, True)
    # cordoned and not-ready nodes still run daemon pods (default tolerations)
    cordoned = node("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                                 {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    assert dsu.should_run(ds(), cordoned) == (True, True)
    assert dsu.should_run(ds(nodeName="other"), node("n")) == (False, False)


def test_manage_creates_missing_deletes_misplaced_and_duplicate_pods():
    nodes = [node("a"), node("b"), node("c", {"x": "y"}, [{"key": "k", "effect": "NoExecute"}])]
    by_node = dsu.pods_by_node([
        pod("b-old", "b", created="2026-01-01T09:00:00Z"), pod("b-dup", "b"),
        pod("c-1", "c"), pod("gone-1", "gone"), pod("gone-2", "gone2", deleting=True)])
    plan = dsu.manage(ds(), nodes, by_node, "new", dsu.Backoff(), NOW)
    assert plan.create_on == ["a"]
    assert names(plan.delete) == ["b-dup", "c-1"]
    assert names(plan.gone) == ["gone-1"]


def test_failed_pods_are_deleted_with_back_off():
    backoff = dsu.Backoff()
    by_node = dsu.pods_by_node([pod("f1", "a", phase="Failed", ready=False)])
    first = dsu.manage(ds(), [node("a")], by_node, "new", backoff, NOW)
    assert names(first.delete) == ["f1"] and [n for _, n in first.failed] == ["a"]
    # the replacement failed too, right away: wait out the back-off
    again = dsu.manage(ds(), [node("a")], dsu.pods_by_node([pod("f2", "a", phase="Failed", ready=False)]),
                       "new", backoff, NOW + datetime.timedelta(seconds=0.5))
    assert again.delete == [] and again.requeue == 1.0 and again.create_on == []
    later = dsu.manage(ds(), [node("a")], dsu.pods_by_node([pod("f2", "a", phase="Failed", ready=False)]),
                       "new", backoff, NOW + datetime.timedelta(seconds=2))
    assert names(later.delete) == ["f2"] and backoff.delay("ds-uid/a") == 2.0
    # finished and deleted pods are not counted: the node gets a new pod
    done = dsu.pods_by_node([pod("f3", "a", phase="Failed", ready=False, deleting=True)])
    assert dsu.manage(ds(), [node("a")], done, "new", backoff, NOW).create_on == ["a"]


def test_backoff_doubles_up_to_the_cap_and_resets():
    b = dsu.Backoff(base=1, cap=4)
    for expected in (1, 2, 4, 4):
        b.next("k", 0.0)
        assert b.delay("k") == expected
    assert b.in_backoff("k", 3.0) and not b.in_backoff("k", 4.5)
    b.next("k", 100.0)  # quiet for longer than twice the cap
    assert b.delay("k") == 1


def test_rolling_update_without_surge_stays_within_max_unavailable():
    nodes = [node("a"), node("b"), node("c")]
    old = [pod("pa", "a", "old"), pod("pb", "b", "old"), pod("pc", "c", "old")]
    deletes, creates = dsu.rolling_update(ds(unavailable=1), nodes, dsu.pods_by_node(old), "new", NOW)
    assert names(deletes) == ["pa"] and creates == []
    deletes, _ = dsu.rolling_update(ds(unavailable=2), nodes, dsu.pods_by_node(old), "new", NOW)
    assert names(deletes) == ["pa", "pb"]
    # a new pod not yet available uses the budget
    mid = [pod("pa2", "a", "new", ready=False), pod("pb", "b", "old"), pod("pc", "c", "old")]
    assert dsu.rolling_update(ds(unavailable=1), nodes, dsu.pods_by_node(mid), "new", NOW) == ([], [])
    # an old pod that is unavailable anyway is replaced regardless
    sick = [pod("pa2", "a", "new", ready=False), pod("pb", "b", "old", ready=False), pod("pc", "c", "old")]
    assert names(dsu.rolling_update(ds(unavailable=1), nodes, dsu.pods_by_node(sick), "new", NOW)[0]) == ["pb"]
    # percentages round up; pods of the current template generation count as updated
    assert dsu.unavailable_count(ds(unavailable="10%"), 3) == 1
    legacy = pod("g", "a", "other")
    legacy["metadata"]["labels"][dsu.TEMPLATE_GENERATION_LABEL] = "2"
    assert dsu.is_updated(legacy, "new", 2) and not dsu.is_updated(legacy, "new", 3)


def test_rolling_update_with_surge_starts_new_pods_beside_old_ones():
    nodes = [node("a"), node("b")]
    d = ds(unavailable=0, surge=1)
    old = [pod("pa", "a", "old"), pod("pb", "b", "old")]
    assert dsu.rolling_update(d, nodes, dsu.pods_by_node(old), "new", NOW) == ([], ["a"])
    surging = [*old, pod("pa2", "a", "new", ready=False)]
    assert dsu.rolling_update(d, nodes, dsu.pods_by_node(surging), "new", NOW) == ([], [])
    ready = [*old, pod("pa2", "a", "new")]
    deletes, creates = dsu.rolling_update(d, nodes, dsu.pods_by_node(ready), "new", NOW)
    assert names(deletes) == ["pa"] and creates == ["b"]
    # in the create/delete loop, with surge, an old and a new pod may share a node
    plan = dsu.manage(d, nodes, dsu.pods_by_node(surging), "new", dsu.Backoff(), NOW)
    assert plan.delete == [] and plan.create_on == []
    plan = dsu.manage(d, nodes, dsu.pods_by_node(ready), "new", dsu.Backoff(), NOW)
    assert names(plan.delete) == ["pa"]


def test_status_counts_nodes_by_their_oldest_pod():
    nodes = [node("a"), node("b"), node("c"), node("t", taints=[{"key": "k", "effect": "NoSchedule"}])]
    pods = [pod("pa", "a", "new"), pod("pb", "b", "old", ready=False), pod("pt", "t", "new")]
    status = dsu.compute_status(ds(), nodes, dsu.pods_by_node(pods), "new", NOW, observed=True)
    assert status == {"currentNumberScheduled": 2, "numberMisscheduled": 1, "desiredNumberScheduled": 3,
                      "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberUnavailable": 2,
                      "observedGeneration": 2}
    not_observed = dsu.compute_status(ds(), nodes, {}, "new", NOW, observed=False)
    assert "observedGeneration" not in not_observed
