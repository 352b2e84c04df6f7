"""JSON, merge and strategic merge patches as upstream applies them."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, strategies as st

from nanokube.api import errors, schema as schemalib
from nanokube.api.patch import apply_patch, merge_patch, strategic_merge

S = schemalib.load()
DEPLOY = S.for_kind("apps", "v1", "Deployment")


def deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "finalizers": ["a", "b"]},
            "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                     "template": {"spec": {
                         "containers": [{"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
                                         "ports": [{"containerPort": 80}]},
                                        {"name": "side", "image": "busybox"}],
                         "tolerations": [{"key": "x", "operator": "Exists"}]}}}}


def smp(obj, patch):
    return strategic_merge(obj, patch, DEPLOY, S)


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def test_containers_merge_by_name():
    out = smp(deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}})
    assert [c["name"] for c in containers(out)] == ["web", "side"]
    assert containers(out)[0]["image"] == "nginx:2" and containers(out)[0]["env"] == [{"name": "A", "value": "1"}]


def test_kubectl_three_way_patch_with_set_element_order():
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
        "containers": [{"image": "nginx:3", "name": "web"}]}}}}
    out = smp(deployment(), patch)
    assert [c["name"] for c in containers(out)] == ["side", "web"]
    assert containers(out)[1]["image"] == "nginx:3"
    assert "$setElementOrder/containers" not in out["spec"]["template"]["spec"]


def test_patch_delete_directive_and_env_merge():
    out = smp(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "$patch": "delete"},
        {"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}})
    assert [c["name"] for c in containers(out)] == ["web"]
    assert containers(out)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


def test_atomic_lists_are_replaced():
    out = smp(deployment(), {"spec": {"template": {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}]}}}})
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]


def test_retain_keys_and_null_deletes():
    out = smp(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = smp(deployment(), {"spec": {"replicas": None}})
    assert "replicas" not in out["spec"]


def test_delete_from_primitive_list_and_set_union():
    out = smp(deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]
    out = smp(deployment(), {"metadata": {"finalizers": ["c", "a"]}})
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]


def test_map_replace_directive():
    out = smp(deployment(), {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_dispatch_and_errors():
    d = deployment()
    out = apply_patch("application/json-patch+json", d, b'[{"op":"replace","path":"/spec/replicas","value":3}]', DEPLOY, S)
    assert out["spec"]["replicas"] == 3 and d["spec"]["replicas"] == 1
    with pytest.raises(errors.Invalid):
        apply_patch("application/json-patch+json", d, b'[{"op":"test","path":"/spec/replicas","value":9}]', DEPLOY, S)
    with pytest.raises(errors.BadRequest):
        apply_patch("application/merge-patch+json", d, b"{nope", DEPLOY, S)
    with pytest.raises(errors.UnsupportedMediaType):
        apply_patch("application/strategic-merge-patch+json", d, b"{}", None, S, strategic_allowed=False)
    with pytest.raises(errors.UnsupportedMediaType):
        apply_patch("text/plain", d, b"{}", DEPLOY, S)
    out = apply_patch("application/merge-patch+json; charset=utf-8", d, b'{"spec":{"template":{"spec":{"containers":[]}}}}', DEPLOY, S)
    assert containers(out) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10,
)
objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


@given(objects, objects)
def test_smp_without_schema_is_merge_patch(original, patch):
    patch = orjson.loads(orjson.dumps(patch).replace(b'"$', b'"x'))  # no directives
    original = orjson.loads(orjson.dumps(original).replace(b'"$', b'"x'))
    assert strategic_merge(original, patch, None, S) == merge_patch(original, patch)


@given(objects)
def test_merge_patch_with_itself_is_identity_when_no_nulls(obj):
    obj = orjson.loads(orjson.dumps(obj).replace(b"null", b"1"))
    assert merge_patch(obj, obj) == obj
