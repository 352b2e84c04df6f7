"""PATCH bodies applied as upstream applies them: JSON patch, merge patch, strategic merge patch.

Expected results for the orderings below are what upstream's strategic merge code returns for
the same live object and patch (the cases were checked against it); several are surprising
on purpose, because clients see them.
"""

from __future__ import annotations

import copy
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nanokube.api import errors, schema as schemalib
from nanokube.api.patch import apply_patch, check_media_type, json_patch, merge_patch, strategic_merge
from nanokube.api.gostyle import go_s, go_value, stable_sort
from nanokube.api.strategic import UnprocessablePatch

S = schemalib.load()
DEPLOY = S.for_kind("apps", "v1", "Deployment")
NODE = S.for_kind("", "v1", "Node")
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONP = "application/json-patch+json"

# bodies real kubectl sent (shared/kubectl-traces): client-side apply, set image, cordon, rollout undo
APPLY_BODY = (
    b'{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"apiVersion\\":'
    b'\\"apps/v1\\",\\"kind\\":\\"Deployment\\",\\"metadata\\":{\\"annotations\\":{},\\"labels\\":{\\"app\\":'
    b'\\"web\\"},\\"name\\":\\"web\\",\\"namespace\\":\\"default\\"},\\"spec\\":{\\"replicas\\":2,\\"selector\\":'
    b'{\\"matchLabels\\":{\\"app\\":\\"web\\"}},\\"template\\":{\\"metadata\\":{\\"labels\\":{\\"app\\":\\"web\\"}},'
    b'\\"spec\\":{\\"containers\\":[{\\"image\\":\\"nginx:1.28\\",\\"name\\":\\"nginx\\",\\"ports\\":'
    b'[{\\"containerPort\\":80}]}]}}}}\\n"}},"spec":{"template":{"spec":{"$setElementOrder/containers":'
    b'[{"name":"nginx"}],"containers":[{"image":"nginx:1.28","name":"nginx"}]}}}}'
)
SET_IMAGE_BODY = (b'{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],'
                  b'"containers":[{"image":"nginx:2","name":"c"}]}}}}')
CORDON_BODY = b'{"spec":{"unschedulable":true}}'
UNDO_BODY = (b'[{"op":"replace","path":"/spec/template","value":{"metadata":{"creationTimestamp":null,"labels":'
             b'{"app":"x"}},"spec":{"containers":[{"name":"c","image":"nginx:1.26","ports":[{"containerPort":80,'
             b'"protocol":"TCP"}],"resources":{}}]}}},{"op":"replace","path":"/metadata/annotations","value":'
             b'{"deployment.kubernetes.io/revision":"2"}}]')


def deployment(*containers, **spec):
    pod = {"containers": list(containers) or [{"name": "web", "image": "nginx:1"}]}
    pod.update(spec.pop("pod", {}))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default", "finalizers": ["a", "b"]},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "x"}}, "spec": pod},
                     **spec}}


def names(*ns):
    return [{"name": n} for n in ns]


def smp(obj, patch):
    return strategic_merge(obj, patch, DEPLOY, S)


def pod_patch(**fields):
    return {"spec": {"template": {"spec": fields}}}


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def status_of(call):
    with pytest.raises(errors.ApiError) as info:
        call()
    return info.value.status()


# -- what kubectl sends --------------------------------------------------------------------


def test_kubectl_client_side_apply_changes_image_and_keeps_the_rest():
    live = deployment({"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                       "imagePullPolicy": "IfNotPresent", "resources": {}})
    out = apply_patch(SMP, live, APPLY_BODY, DEPLOY, S)
    (c,) = containers(out)
    assert c == {"name": "nginx", "image": "nginx:1.28", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "imagePullPolicy": "IfNotPresent", "resources": {}}
    applied = json.loads(out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    # untouched parts, including the null the template already carried, stay as they were
    assert out["spec"]["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "x"}}
    assert "$setElementOrder/containers" not in out["spec"]["template"]["spec"]


def test_kubectl_set_image_and_cordon():
    live = deployment({"name": "side", "image": "busybox"}, {"name": "c", "image": "nginx:1"})
    out = apply_patch(SMP, live, SET_IMAGE_BODY, DEPLOY, S)
    # the live-only container keeps its place before the one the patch names
    assert containers(out) == [{"name": "side", "image": "busybox"}, {"name": "c", "image": "nginx:2"}]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}}
    out = apply_patch(SMP, node, CORDON_BODY, NODE, S)
    assert out["spec"] == {"podCIDR": "10.0.0.0/24", "unschedulable": True}


def test_kubectl_rollout_undo_json_patch():
    live = deployment()
    live["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "3", "other": "x"}
    out = apply_patch(JSONP, live, UNDO_BODY, DEPLOY, S)
    assert containers(out)[0]["image"] == "nginx:1.26"
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "2"}


# -- strategic merge: lists merged by key --------------------------------------------------


def test_containers_merged_by_name_env_by_name_ports_by_container_port():
    live = deployment({"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                       "ports": [{"containerPort": 80, "name": "http"}]})
    out = smp(live, pod_patch(containers=[{"name": "web", "env": [{"name": "B", "value": "3"}],
                                           "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]}]))
    (c,) = containers(out)
    assert c["image"] == "nginx:1"
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert c["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]


def test_merge_key_values_compare_with_their_json_type():
    live = deployment({"name": "web", "ports": [{"containerPort": 80}]})
    out = smp(live, pod_patch(containers=[{"name": "web", "ports": [{"containerPort": "80", "name": "s"}]}]))
    # "80" is a new item, and a new item goes before the live ones
    assert containers(out)[0]["ports"] == [{"containerPort": "80", "name": "s"}, {"containerPort": 80}]


@pytest.mark.parametrize(("live", "patch", "order", "want"), [
    # a new item without $setElementOrder goes first
    (["a", "b"], names("c"), None, ["c", "a", "b"]),
    # patch order wins for named items; live-only items slot in by their live position
    (["a", "b", "c"], names("c", "a"), None, ["b", "c", "a"]),
    (["a", "b", "c"], names("c", "a", "b"), None, ["c", "a", "b"]),
    # kubectl apply adding a container at the end
    (["a", "b"], names("c"), names("a", "b", "c"), ["a", "b", "c"]),
    # kubectl apply removing x while a sidecar it never applied is live
    (["app", "x", "sidecar"], [{"$patch": "delete", "name": "x"}], names("app"), ["app", "sidecar"]),
    (["sidecar", "app", "x"], [{"name": "y"}, {"$patch": "delete", "name": "x"}], names("app", "y"),
     ["sidecar", "app", "y"]),
    (["x", "app", "sidecar"], [{"name": "y"}, {"$patch": "delete", "name": "x"}], names("app", "y"),
     ["app", "sidecar", "y"]),
    # reorder only
    (["a", "b", "c"], [], names("c", "b", "a"), ["c", "b", "a"]),
])
def test_merged_list_order_is_upstreams(live, patch, order, want):
    fields = {"containers": patch}
    if order is not None:
        fields["$setElementOrder/containers"] = order
    out = smp(deployment(*names(*live)), pod_patch(**fields))
    assert [c["name"] for c in containers(out)] == want


def test_delete_directive_removes_every_match():
    live = deployment(*names("a", "b", "a", "c"))
    out = smp(live, pod_patch(containers=[{"name": "a", "$patch": "delete"}, {"name": "zz", "$patch": "delete"}]))
    assert [c["name"] for c in containers(out)] == ["b", "c"]


def test_replace_directive_in_a_list():
    live = deployment(*names("a", "b"))
    out = smp(live, pod_patch(containers=[{"$patch": "replace"}, {"name": "z", "image": "i"}]))
    assert containers(out) == [{"name": "z", "image": "i"}]
    out = smp(live, pod_patch(containers=[{"$patch": "replace"}]))
    assert containers(out) == []


def test_atomic_lists_are_replaced_and_null_removes_fields():
    live = deployment(pod={"tolerations": [{"key": "x", "operator": "Exists"}], "nodeSelector": {"a": "1", "b": "2"}})
    out = smp(live, pod_patch(tolerations=[{"key": "y", "operator": "Exists"}], nodeSelector={"a": None}))
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]
    assert out["spec"]["template"]["spec"]["nodeSelector"] == {"b": "2"}
    out = smp(live, {"spec": {"replicas": None}})
    assert "replicas" not in out["spec"]


def test_new_values_lose_nulls_and_leftover_directives():
    live = deployment()
    del live["spec"]["strategy"]
    out = smp(live, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None},
                              "template": {"spec": {"containers": [{"name": "new", "image": None, "env": [
                                  {"name": "A", "value": None}]}]}}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert containers(out)[0] == {"name": "new", "env": [{"name": "A"}]}
    # a new map carrying $patch is dropped altogether, as upstream does
    out = smp(live, {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})
    assert "strategy" not in out["spec"]


# -- strategic merge: maps, retainKeys, primitive lists -----------------------------------


def test_retain_keys_for_deployment_strategy():
    out = smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"],
                                                   "rollingUpdate": {"maxSurge": 2}}}})
    assert out["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"}}
    st = status_of(lambda: smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}))
    assert (st["code"], st["reason"], st["message"]) == (400, "BadRequest", "invalid patch format of retainKeys")


def test_map_directives():
    out = smp(deployment(), {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = smp(deployment(), {"spec": {"strategy": {"$patch": "delete"}}})
    assert out["spec"]["strategy"] == {}
    st = status_of(lambda: smp(deployment(), {"spec": {"strategy": {"$patch": "merge"}}}))
    assert st["message"] == "unknown patch type: merge in map: map[$patch:merge]"


def test_primitive_merge_lists_finalizers():
    live = deployment()  # finalizers a, b
    assert smp(live, {"metadata": {"finalizers": ["c", "a"]}})["metadata"]["finalizers"] == ["c", "a", "b"]
    out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}})
    assert out["metadata"]["finalizers"] == ["b"]
    # kubectl's three-way form: additions, deletions and the wanted order
    live["metadata"]["finalizers"] = ["a", "b", "c"]
    out = smp(live, {"metadata": {"$setElementOrder/finalizers": ["c", "d", "a"], "finalizers": ["d"],
                                  "$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert out["metadata"]["finalizers"] == ["c", "d", "a"]
    # duplicates in the live list are folded the way upstream folds them
    live["metadata"]["finalizers"] = ["f5", "f5", "f2", "f5", "f1"]
    assert smp(live, {"metadata": {"finalizers": []}})["metadata"]["finalizers"] == ["f5", "f1", "f2"]


def test_unordered_leftovers_are_sorted_like_upstream():
    """With an empty `$setElementOrder`, upstream's sort meets items it cannot place; the
    result (here: reversed) depends on Go's stable sort, which we reproduce."""
    for n in (4, 25, 45):
        args = [f"x{i:02d}" for i in range(n)]
        live = deployment({"name": "a", "args": ["a"]})
        out = smp(live, pod_patch(containers=[{"name": "a", "args": args, "$setElementOrder/args": []}]))
        assert containers(out)[0]["args"] == args[::-1]


@pytest.mark.parametrize(("patch", "code", "message"), [
    (pod_patch(containers=[{"image": "x"}]), 400, "map: map[image:x] does not contain declared merge key: name"),
    (pod_patch(containers=[{"name": "web", "$patch": "merge"}]), 400, "merging lists cannot yet be specified in the patch"),
    (pod_patch(containers=names("web"), **{"$setElementOrder/containers": names("other")}), 400,
     "The order in patch list:\n[map[name:web]]\n doesn't match $setElementOrder list:\n[map[name:other]]\n"),
    (pod_patch(**{"$setElementOrderX": []}), 400, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}, 400, "invalid patch format of primitive list"),
    ({"metadata": {"finalizers": [["a"]]}}, 400, "list element types are not identical: [[a b] [[a]]]"),
    ({"metadata": {"finalizers": ["a", 1]}}, 400, "list element types are not identical: [[a b] [a 1]]"),
])
def test_malformed_strategic_patches(patch, code, message):
    st = status_of(lambda: smp(deployment(), patch))
    assert (st["code"], st["message"]) == (code, message)


def test_lists_of_lists_are_refused():
    live = deployment()
    live["metadata"]["finalizers"] = []
    st = status_of(lambda: smp(live, {"metadata": {"finalizers": [["a"]]}}))
    assert (st["code"], st["reason"], st["message"], st["details"]) == (
        422, "Invalid", "the server rejected our request due to an error in our request", {})


def test_strategic_merge_does_not_modify_its_inputs():
    live = deployment(*names("a", "b"))
    patch = pod_patch(containers=[{"name": "c", "env": [{"name": "X", "value": None}]}, {"name": "a", "$patch": "delete"}],
                      **{"$setElementOrder/containers": names("b", "c")})
    before = copy.deepcopy((live, patch))
    smp(live, patch)
    assert (live, patch) == before


# -- dispatch and malformed bodies ---------------------------------------------------------


def test_media_types():
    d = deployment()
    out = apply_patch(MERGE + "; charset=utf-8", d, b'{"spec":{"replicas":3}}', DEPLOY, S)
    assert out["spec"]["replicas"] == 3 and d["spec"]["replicas"] == 1
    st = status_of(lambda: apply_patch("text/plain", d, b"{}", DEPLOY, S))
    assert st == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {}, "code": 415}
    # the router trims, the handler does not
    st = status_of(lambda: apply_patch(MERGE + " ; charset=utf-8", d, b"{}", DEPLOY, S))
    assert st["message"] == ("the body of the request was in an unknown format - accepted media types include: "
                             "application/json-patch+json, application/merge-patch+json, "
                             "application/strategic-merge-patch+json, application/apply-patch+yaml")
    # custom resources: no strategic merge patch
    st = status_of(lambda: apply_patch(SMP, d, b"{}", None, S, strategic_allowed=False))
    assert (st["code"], st["message"]) == (415, "the body of the request was in an unknown format - accepted media "
                                           "types include: application/json-patch+json, application/merge-patch+json, "
                                           "application/apply-patch+yaml")
    assert "details" not in st
    assert check_media_type("application/apply-patch+yaml") == "application/apply-patch+yaml"
    with pytest.raises(ValueError):
        apply_patch("application/apply-patch+yaml", d, b"{}", DEPLOY, S)


@pytest.mark.parametrize(("ctype", "body", "code", "message"), [
    (JSONP, b'{"op":"add"}', 400, "error decoding patch: json: cannot unmarshal object into Go value of type "
                                  "[]handlers.jsonPatchOp"),
    (JSONP, b"[1]", 400, "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
    (JSONP, b'[{"op":"add","path":5}]', 400, "error decoding patch: json: cannot unmarshal number into Go struct "
                                             "field jsonPatchOp.path of type string"),
    (JSONP, b'[{"op":"add",', 400, "error decoding patch: unexpected end of JSON input"),
    (JSONP, b"", 400, "error decoding patch: unexpected end of JSON input"),
    (MERGE, b"{nope", 400, "error decoding patch: invalid character 'n' looking for beginning of object key string"),
    (MERGE, b"[1]", 400, "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (MERGE, b"null", 400, "Invalid JSON Patch"),
    (MERGE, b'{"a":1 "b":2}', 400, "error decoding patch: invalid character '\"' after object key:value pair"),
    (MERGE, b'{"a":[1 2]}', 400, "error decoding patch: invalid character '2' after array element"),
    (MERGE, b'{"a":tru}', 400, "error decoding patch: invalid character '}' in literal true (expecting 'e')"),
    (MERGE, b'{} x', 400, "error decoding patch: invalid character 'x' after top-level value"),
    (SMP, b"[]", 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (SMP, b'{"a":}', 400, "invalid character '}' looking for beginning of value"),
    (SMP, b'{"a":NaN}', 400, "invalid character 'N' looking for beginning of value"),
])
def test_malformed_bodies(ctype, body, code, message):
    st = status_of(lambda: apply_patch(ctype, deployment(), body, DEPLOY, S))
    assert (st["code"], st["message"]) == (code, message)


def test_null_bodies():
    d = deployment()
    assert apply_patch(JSONP, d, b"null", DEPLOY, S) == d
    assert apply_patch(SMP, d, b"null", DEPLOY, S) == d


def test_big_integers_decode_like_upstream():
    out = apply_patch(MERGE, deployment(), b'{"spec":{"x":123456789012345678901234567890}}', DEPLOY, S)
    assert out["spec"]["x"] == pytest.approx(1.2345678901234568e29)


# -- JSON patch ----------------------------------------------------------------------------


def body(*ops):
    return orjson.dumps(list(ops))


def test_json_patch_operations():
    d = deployment(*names("a", "b"))
    out = apply_patch(JSONP, d, body(
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "c"}},
        {"op": "add", "path": "/spec/template/spec/containers/0", "value": {"name": "z"}},
        {"op": "remove", "path": "/spec/template/spec/containers/-1"},
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels"},
        {"op": "move", "from": "/metadata/labels", "path": "/metadata/generateName"},
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/a~1b~0c", "value": "v"},
    ), DEPLOY, S)
    assert out["spec"]["replicas"] == 3
    assert [c["name"] for c in containers(out)] == ["z", "a", "b"]
    assert out["metadata"]["generateName"] == "d" and "labels" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"a/b~c": "v"}
    assert d["spec"]["replicas"] == 1


def test_json_patch_upstream_quirks():
    d = deployment()
    # replace of a missing object key adds it; a test against null passes for a missing key
    out = json_patch(d, [{"op": "test", "path": "/spec/paused", "value": None},
                         {"op": "replace", "path": "/spec/paused", "value": True}])
    assert out["spec"]["paused"] is True
    # a path without its leading slash names a key of the root
    assert json_patch(d, [{"op": "add", "path": "spec/replicas", "value": 7}])["replicas"] == 7
    # negative indices count from the end
    out = json_patch(d, [{"op": "replace", "path": "/metadata/finalizers/-1", "value": "z"}])
    assert out["metadata"]["finalizers"] == ["a", "z"]
    # numbers compare by value
    json_patch(d, [{"op": "test", "path": "/spec/replicas", "value": 1.0}])


@pytest.mark.parametrize("op", [
    {"op": "test", "path": "/spec/replicas", "value": 9},
    {"op": "test", "path": "/spec/replicas"},
    {"op": "test", "path": "/spec/replicas", "value": "1"},
    {"op": "remove", "path": "/spec/nothing"},
    {"op": "add", "path": "/spec/nothing/deeper", "value": 1},
    {"op": "add", "path": "/metadata/finalizers/5", "value": "x"},
    {"op": "replace", "path": "/metadata/finalizers/2", "value": "x"},
    {"op": "add", "path": "/metadata/finalizers/x", "value": "x"},
    {"op": "move", "from": "/spec/nothing", "path": "/spec/x"},
    {"op": "copy", "from": "/spec/nothing/x", "path": "/spec/x"},
    {"op": "add", "value": 1},
    {"op": "frobnicate", "path": "/spec"},
    {"path": "/spec"},
    {"op": "add", "path": "", "value": {}},
])
def test_json_patch_failures_are_generic_422s(op):
    with pytest.raises(UnprocessablePatch) as info:
        apply_patch(JSONP, deployment(), body(op), DEPLOY, S)
    assert info.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "the server rejected our request due to an error in our request",
                                   "reason": "Invalid", "details": {}, "code": 422}
    assert info.value.detail


def test_json_patch_limits_and_non_object_results():
    st = status_of(lambda: apply_patch(JSONP, deployment(), body(*[{"op": "test", "path": "/kind", "value": "Deployment"}] * 10001), DEPLOY, S))
    assert (st["code"], st["reason"], st["message"]) == (
        413, "RequestEntityTooLarge", "The allowed maximum operations in a JSON patch is 10000, got 10001")
    st = status_of(lambda: json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]))
    assert st["code"] == 422 and st["message"].startswith(' "" is invalid: patch: Invalid value: "[1]": ')
    assert st["details"]["causes"][0]["field"] == "patch"
    big = {"s": "x" * (2 * 1024 * 1024)}
    with pytest.raises(UnprocessablePatch):
        json_patch(big, [{"op": "copy", "from": "/s", "path": "/t"}, {"op": "copy", "from": "/s", "path": "/u"}])


# -- merge patch ---------------------------------------------------------------------------


def test_merge_patch_semantics():
    live = {"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x", "n": None}
    out = merge_patch(live, {"a": {"b": None, "d": {"e": None, "f": 1}}, "l": [{"x": None}], "s": {"y": None, "z": 1},
                             "n": {"k": None}})
    # new values lose their nulls (also inside arrays), whatever they replace unless it is an object
    assert out == {"a": {"c": 2, "d": {"f": 1}}, "l": [{}], "s": {"z": 1}, "n": {}}
    # an array replacing an object is taken as sent
    assert merge_patch({"a": {"b": 1}}, {"a": [{"x": None}]}) == {"a": [{"x": None}]}
    assert live == {"a": {"b": 1, "c": 2}, "l": [1, 2], "s": "x", "n": None}
    pod = {"metadata": {"name": "x", "labels": {"a": "1"}}}
    assert apply_patch(MERGE, pod, b'{"metadata":{"labels":{"env":"prod"}}}', None, S)["metadata"]["labels"] == {
        "a": "1", "env": "prod"}


def test_go_formatting_in_messages():
    floats = [1e6, 123456.0, 100000.0, 1.5, 0.0001, 0.00001, 1e21, 123456789.0, 1.25e-7, -2.5, 0.0]
    assert "|".join(go_value(f) for f in floats) == "1e+06|123456|100000|1.5|0.0001|1e-05|1e+21|1.23456789e+08|1.25e-07|-2.5|0"
    assert go_value({"b": 1, "a": ["x", 2.5, None, True], "c": {"z": "q"}}) == "map[a:[x 2.5 <nil> true] b:1 c:map[z:q]]"
    assert (go_s(5), go_s(None), go_s(True), go_s("x")) == ("%!s(int64=5)", "%!s(<nil>)", "%!s(bool=true)", "x")


# -- properties ----------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c", "d", "metadata", "spec"])
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=3)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                           max_leaves=8)
documents = st.dictionaries(keys, json_values, max_size=4)
# generating nested documents is slow on a busy machine; that is not what these tests check
roomy = settings(suppress_health_check=[HealthCheck.too_slow])


def _no_nulls(value):
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _diff(old, new):
    """A merge patch that turns `old` into `new`."""
    patch = {k: None for k in old if k not in new}
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(old.get(k), dict):
            sub = _diff(old[k], v)
            if sub:
                patch[k] = sub
        elif k not in old or old[k] != v or type(old[k]) is not type(v):
            patch[k] = v
    return patch


@roomy
@given(documents, documents)
def test_merge_patch_of_a_diff_gives_the_target(old, new):
    new = _no_nulls(new)
    assert merge_patch(old, _diff(old, new)) == new


@roomy
@given(documents)
def test_merge_patch_with_the_document_itself_is_identity(doc):
    doc = _no_nulls(doc)
    assert merge_patch(doc, doc) == doc


def _no_nulls_in_lists(value):
    """Arrays of objects with null members are where upstream's two appliers part ways."""
    if isinstance(value, dict):
        return {k: _no_nulls_in_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


@roomy
@given(documents, documents)
def test_strategic_merge_without_schema_is_merge_patch(live, patch):
    patch = _no_nulls_in_lists(patch)
    assert strategic_merge(live, patch, None, S) == merge_patch(live, patch)


container_names = st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=6)


@given(container_names, container_names, st.booleans())
def test_containers_merge_keeps_every_name_in_upstream_order(live, named, ordered):
    patch = [{"name": n, "image": "new"} for n in named]
    fields = {"containers": patch}
    if ordered:
        fields["$setElementOrder/containers"] = names(*named, *[n for n in live if n not in named])
    d = deployment()
    d["spec"]["template"]["spec"]["containers"] = [{"name": n, "image": "old"} for n in live]
    if ordered and not live and not named:
        # upstream cannot tell the element type of two empty lists and refuses
        with pytest.raises(errors.BadRequest):
            smp(d, pod_patch(**fields))
        return
    out = smp(d, pod_patch(**fields))
    got = [c["name"] for c in containers(out)]
    assert sorted(got) == sorted(set(live) | set(named))
    assert [n for n in got if n in named] == named  # the patch's order for what it names
    assert [n for n in got if n not in named] == [n for n in live if n not in named]
    assert all(c["image"] == ("new" if c["name"] in named else "old") for c in containers(out))
    if ordered:
        assert got == named + [n for n in live if n not in named]


@given(st.lists(st.sampled_from("abcdef"), unique=True, max_size=6), st.lists(st.sampled_from("abcdefgh"), max_size=6))
def test_primitive_merge_list_is_a_set_union(live, added):
    d = deployment()
    d["metadata"]["finalizers"] = live
    got = smp(d, {"metadata": {"finalizers": added}})["metadata"]["finalizers"]
    assert sorted(got) == sorted(set(live) | set(added))
    assert [f for f in got if f not in added] == [f for f in live if f not in added]


@settings(max_examples=200)
@given(st.lists(st.integers(0, 30), max_size=120))
def test_stable_sort_matches_sorted_for_a_proper_order(items):
    tagged = list(enumerate(items))
    data = list(tagged)
    stable_sort(data, lambda x, y: x[1] < y[1])
    assert data == sorted(tagged, key=lambda t: t[1])


@roomy
@given(documents, st.sampled_from(["a", "b", "zz"]), json_values)
def test_json_patch_add_then_remove_is_identity(doc, key, value):
    assume_new = key not in doc
    out = json_patch(doc, [{"op": "add", "path": f"/{key}", "value": value},
                           {"op": "test", "path": f"/{key}", "value": value}])
    assert out[key] == value
    if assume_new:
        assert json_patch(out, [{"op": "remove", "path": f"/{key}"}]) == doc
