"""Access reviews: `kubectl auth can-i` asks the server with a SelfSubjectAccessReview.

Members of `system:masters` may do everything, as upstream's authorizer decides before any
policy. RBAC objects are stored and served but not yet enforced, so for anyone else the
review says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

from ..api import errors

SUPERUSER_GROUP = "system:masters"


def review(user: str, groups: list[str], body: dict[str, Any]) -> dict[str, Any]:
    """The review with its status filled in (the answer to a create)."""
    spec = body.get("spec")
    if not isinstance(spec, dict) or not (spec.get("resourceAttributes") or spec.get("nonResourceAttributes")):
        raise errors.invalid("SelfSubjectAccessReview", "", [errors.FieldError(
            "invalid", "spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")],
            group="authorization.k8s.io")
    if spec.get("resourceAttributes") and spec.get("nonResourceAttributes"):
        raise errors.invalid("SelfSubjectAccessReview", "", [errors.FieldError(
            "invalid", "spec.nonResourceAttributes", "cannot be specified in combination with resourceAttributes")],
            group="authorization.k8s.io")
    out = dict(body)
    out.setdefault("apiVersion", "authorization.k8s.io/v1")
    out.setdefault("kind", "SelfSubjectAccessReview")
    meta = dict(out.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    out["metadata"] = meta
    if SUPERUSER_GROUP in groups:
        out["status"] = {"allowed": True}
    else:
        out["status"] = {"allowed": False,
                         "reason": "RBAC rules are not enforced by this server yet; only system:masters is authorized"}
    return out
