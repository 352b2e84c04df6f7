"""ControllerRevision history: naming, numbering, rollback reuse and trimming."""

from nanokube.controllers import history as h


def owner(image="nginx:1", name="web", annotations=None):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "default", "uid": "u1", "annotations": annotations or {}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def rev(name, number, data, created="2026-01-01T00:00:00Z"):
    return {"metadata": {"name": name, "namespace": "default", "uid": name, "creationTimestamp": created},
            "data": data, "revision": number}


def test_revision_data_replaces_the_template_and_leaves_the_owner_alone():
    o = owner()
    data = h.template_patch(o)
    assert data == {"spec": {"template": {**o["spec"]["template"], "$patch": "replace"}}}
    assert "$patch" not in o["spec"]["template"]


def test_names_hash_the_data_and_the_collision_count():
    data = h.template_patch(owner())
    a = h.revision_hash(data, 0)
    assert a == h.revision_hash(h.template_patch(owner()), 0)
    assert a != h.revision_hash(data, 1)
    assert a != h.revision_hash(h.template_patch(owner("nginx:2")), 0)
    assert set(a) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert h.revision_name("web", a) == f"web-{a}"
    assert h.revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_new_revision_carries_template_labels_owner_annotations_and_a_controller_reference():
    o = owner(annotations={"kubernetes.io/change-cause": "bump"})
    data = h.template_patch(o)
    r = h.new_revision(o, "StatefulSet", "apps/v1", data, 4, "abc", {h.HASH_LABEL: "abc"})
    assert r["metadata"]["name"] == "web-abc"
    assert r["metadata"]["labels"] == {"app": "web", h.HASH_LABEL: "abc"}
    assert r["metadata"]["annotations"] == {"kubernetes.io/change-cause": "bump"}
    ref = r["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("StatefulSet", "u1", True)
    assert r["revision"] == 4 and r["data"] == data and r["data"] is not data


def test_update_revision_is_reused_renumbered_or_created():
    one, two = h.template_patch(owner("a")), h.template_patch(owner("b"))
    revisions = [rev("web-2", 2, two), rev("web-1", 1, one)]
    assert h.choose_update_revision(revisions, two)[0:2] == ("reuse", revisions[0])
    # an older template back (a rollback): its revision gets the next number
    kind, found, n = h.choose_update_revision(revisions, one)
    assert (kind, found["metadata"]["name"], n) == ("renumber", "web-1", 3)
    assert h.choose_update_revision(revisions, h.template_patch(owner("c"))) == ("create", None, 3)
    assert h.choose_update_revision([], one) == ("create", None, 1)


def test_revisions_sort_by_number_then_age_and_collisions_are_different_data():
    a = rev("a", 2, {}, "2026-01-02T00:00:00Z")
    b = rev("b", 2, {}, "2026-01-01T00:00:00Z")
    c = rev("c", 1, {})
    assert [r["metadata"]["name"] for r in h.sort_revisions([a, b, c])] == ["c", "b", "a"]
    assert h.next_number([a, b, c]) == 3
    wanted = {"data": {"x": 1}}
    assert h.is_collision(rev("n", 1, {"x": 2}), wanted)
    assert not h.is_collision(rev("n", 1, {"x": 1}), wanted)


def test_trim_keeps_the_limit_and_every_live_revision():
    revs = [rev(f"r{i}", i, {"i": i}) for i in range(1, 8)]
    # StatefulSet: the limit counts idle revisions only
    assert [r["metadata"]["name"] for r in h.history_to_trim(revs, {"r1", "r7"}, 3)] == ["r2", "r3"]
    assert h.history_to_trim(revs, set(), None) == []  # default limit 10
    assert [r["metadata"]["name"] for r in h.history_to_trim(revs, set(), 0)] == [f"r{i}" for i in range(1, 8)]
    # DaemonSet: the limit counts every old revision, live ones are still never deleted
    assert [r["metadata"]["name"] for r in h.history_to_trim(revs, {"r1"}, 3, count_live=True)] == \
        ["r2", "r3", "r4", "r5"]


def test_apply_revision_puts_the_old_template_back_whole():
    o = owner("new")
    o["spec"]["template"]["metadata"]["annotations"] = {"added": "later"}
    old = rev("web-1", 1, h.template_patch(owner("old")))
    restored = h.apply_revision(o, old)
    assert restored["spec"]["template"] == owner("old")["spec"]["template"]  # no "added" annotation kept
    assert restored["spec"]["replicas"] == 3 and o["spec"]["template"]["spec"]["containers"][0]["image"] == "new"
