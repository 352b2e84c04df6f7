"""Deployment arithmetic, checked against the examples upstream documents."""

import datetime

from nanokube.controllers import deploymentutil as du


def deployment(replicas=10, surge=None, unavailable=None, strategy="RollingUpdate", **status):
    ru = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None}
    return {"metadata": {"name": "web", "generation": 1},
            "spec": {"replicas": replicas, "strategy": {"type": strategy, "rollingUpdate": ru},
                     "progressDeadlineSeconds": 600, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}},
            "status": status}


def rs(name, replicas, available=None, created="2026-01-01T00:00:00Z", **ann):
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas":
                                                        replicas if available is None else available}}


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert du.fenceposts(deployment(3)) == (1, 0)  # 25% of 3: surge rounds up, unavailable down
    assert du.fenceposts(deployment(10)) == (3, 2)
    assert du.fenceposts(deployment(4, surge=0, unavailable=0)) == (0, 1)
    assert du.max_unavailable(deployment(3, unavailable=5)) == 3
    assert du.max_surge(deployment(3, strategy="Recreate")) == 0


def test_new_set_grows_within_max_surge():
    d = deployment(10, surge=3, unavailable=2)
    old, new = rs("old", 10), rs("new", 0)
    assert du.new_set_replicas(d, [old, new], new) == 3
    assert du.new_set_replicas(d, [rs("old", 8), rs("new", 5)], rs("new", 5)) == 5  # at the ceiling


def test_old_sets_shrink_within_max_unavailable_unhealthy_first():
    d = deployment(10, surge=3, unavailable=2)
    old = rs("old", 10)
    new = rs("new", 3, available=0)
    assert du.scale_down_old(d, [old, new], [old]) == {"old": 8}
    sick = rs("sick", 4, available=1, created="2025-01-01T00:00:00Z")
    assert du.cleanup_unhealthy([old, sick], 2) == {"sick": 2}


def test_proportional_scaling_matches_the_documented_example():
    # 10 replicas, maxSurge 3: a stuck rollout has 8 old and 5 new; scaling to 15 adds
    # 3 to the old set and 2 to the new one (kubernetes.io/docs, "Proportional scaling")
    d = deployment(15, surge=3, unavailable=2)
    old = rs("old", 8, created="2026-01-01T00:00:00Z", **{du.MAX_REPLICAS: "13"})
    new = rs("new", 5, available=0, created="2026-01-02T00:00:00Z", **{du.MAX_REPLICAS: "13"})
    assert du.proportional_sizes(d, [old, new]) == {"old": 11, "new": 7}


def test_find_new_ignores_the_hash_label_and_revisions_count_up():
    d = deployment()
    tpl = {"metadata": {"labels": {"app": "web", du.HASH_LABEL: "abc"}}, "spec": d["spec"]["template"]["spec"]}
    other = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    a = dict(rs("a", 1, **{du.REVISION: "1"}), spec={"replicas": 1, "template": other})
    b = dict(rs("b", 1, **{du.REVISION: "2"}), spec={"replicas": 1, "template": tpl})
    assert du.find_new(d, [a, b])["metadata"]["name"] == "b"
    assert du.next_revision([a]) == 2
    ann = du.new_set_annotations(d, b, 3, exists=True)
    assert ann[du.REVISION] == "3" and ann[du.REVISION_HISTORY] == "2"


def test_template_hash_is_stable_and_uses_the_safe_alphabet():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    h = du.template_hash(t)
    assert h == du.template_hash(dict(reversed(list(t.items()))))
    assert h != du.template_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_progress_conditions():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    d = deployment(2)
    d["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}
    new = rs("new", 2)
    status = du.rollout_status(d, [new], new, now)
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == 'ReplicaSet "new" has successfully progressed.'
    assert conds["Available"]["status"] == "True"
    # stuck past the deadline
    d2 = deployment(2)
    d2["status"] = {"replicas": 2, "updatedReplicas": 2, "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                    "lastUpdateTime": "2025-12-31T23:00:00Z", "lastTransitionTime": "2025-12-31T23:00:00Z"}]}
    stuck = rs("new", 2, available=0)
    status = du.rollout_status(d2, [stuck], stuck, now)
    cond = du.condition(status, "Progressing")
    assert cond["status"] == "False" and cond["reason"] == "ProgressDeadlineExceeded"
    assert du.condition(status, "Available")["status"] == "False"


def test_history_cleanup_keeps_the_limit_and_skips_live_sets():
    d = deployment()
    d["spec"]["revisionHistoryLimit"] = 1
    old = [rs(f"r{i}", 0, **{du.REVISION: str(i)}) for i in (1, 2, 3)]
    old[0]["spec"]["replicas"] = 1
    assert [r["metadata"]["name"] for r in du.history_to_delete(d, old)] == ["r2"]
