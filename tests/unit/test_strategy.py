"""What the server does to every object it writes, as upstream's strategies do."""

from __future__ import annotations

from nanokube.api import strategy
from nanokube.api.registry import Registry

PODS = Registry().require("", "v1", "pods")


def test_removing_the_last_finalizer_or_owner_leaves_no_empty_list():
    old = {"metadata": {"name": "p", "uid": "u", "creationTimestamp": "t", "finalizers": ["f"],
                        "ownerReferences": [{"uid": "o"}]}, "spec": {}, "status": {}}
    new = {"metadata": {"name": "p", "finalizers": [], "ownerReferences": []}, "spec": {}}
    out = strategy.prepare_update(PODS, new, old)
    assert "finalizers" not in out["metadata"] and "ownerReferences" not in out["metadata"]
    created = strategy.prepare_create(PODS, {"metadata": {"name": "p", "finalizers": []}, "spec": {}}, uid="u", now="t")
    assert "finalizers" not in created["metadata"]
