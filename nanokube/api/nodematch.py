"""Does a pod fit a node's labels, name and taints? (upstream's component-helpers).

The scheduler, the DaemonSet controller and the node lifecycle controller all ask the same
questions, and must answer them the same way, or a DaemonSet would place a pod the
scheduler then refuses:
- `node_selector_matches`: `spec.nodeSelector` (every key equal);
- `node_selector_terms_match`: a NodeSelector (`requiredDuringScheduling...`): any term
  matches, a term matches when all its matchExpressions (labels) and matchFields
  (`metadata.name` only) do; an empty term matches nothing;
- `tolerates`: one toleration against one taint; `untolerated_taints` lists the taints of a
  node (with the given effects) that no toleration covers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]


def requirement_matches(req: Obj, values_of: dict[str, str]) -> bool:
    """One NodeSelectorRequirement against a map of label (or field) values."""
    key, op = req.get("key", ""), req.get("operator", "")
    values = req.get("values") or []
    present = key in values_of
    value = values_of.get(key, "")
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    node_fields = {"metadata.name": meta.get("name", "")}
    return all(requirement_matches(r, labels) for r in exprs) and \
        all(r.get("key") == "metadata.name" and requirement_matches(r, node_fields) for r in fields)


def node_selector_terms_match(selector: Obj | None, node: Obj) -> bool:
    """A NodeSelector: true when any of its terms matches (no selector: everything)."""
    if selector is None:
        return True
    return any(term_matches(t, node) for t in selector.get("nodeSelectorTerms") or [])


def node_selector_matches(node_selector: dict[str, str] | None, node: Obj) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (node_selector or {}).items())


def required_affinity_matches(pod: Obj, node: Obj) -> bool:
    """nodeSelector and required node affinity together, as the scheduler's NodeAffinity filter
    and the DaemonSet controller evaluate them."""
    spec = pod.get("spec") or {}
    if not node_selector_matches(spec.get("nodeSelector"), node):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return node_selector_terms_match(required, node)


def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    op = toleration.get("operator") or "Equal"
    key = toleration.get("key") or ""
    if not key:
        return op == "Exists"  # an empty key with Exists tolerates every taint
    if key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(node: Obj, tolerations: Iterable[Obj],
                       effects: tuple[str, ...] = ("NoSchedule", "NoExecute")) -> list[Obj]:
    tols = list(tolerations)
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in effects and not any(tolerates(tol, t) for tol in tols)]
