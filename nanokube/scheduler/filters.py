"""Filter plugins, over all nodes at once where the question allows it.

Each filter gets the indexes of the nodes still in the running and returns, for the ones it
rejects, why (upstream's reason strings, which end up in FailedScheduling events) and
whether preemption could help. The common case — a pod without affinity, spread
constraints or host ports on untainted nodes — is pure NumPy; the rest is Python over the
nodes that need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api.nodematch import required_affinity_matches, tolerates
from ..api.selectors import LabelSelector as Selector
from ..api.selectors import label_selector_from_dict
from .cache import Cache, PodEntry, host_ports
from .cyclestate import CycleState, Idx
from .cyclestate import labels as _labels
from .cyclestate import node as _node
from .volumebinding import volume_binding, volume_binding_prefilter

Obj = dict[str, Any]


@dataclass
class Rejection:
    nodes: Idx  # node indexes rejected
    reason: str
    resolvable: bool  # could evicting pods help (preemption)?
    pod_level: bool = False  # a PreFilter verdict: the pod fits no node, whichever


# -- filters -------------------------------------------------------------------------------------


def node_unschedulable(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    bad = idx[cache.unschedulable[idx]]
    if len(bad) and any(tolerates(t, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
                        for t in state.tolerations):
        return []
    return [Rejection(bad, "node(s) were unschedulable", False)] if len(bad) else []


def taint_toleration(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    tainted = idx[cache.tainted[idx]]
    by_reason: dict[str, list[int]] = {}
    for i in tainted.tolist():
        for taint in (_node(cache, i).get("spec") or {}).get("taints") or []:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(tolerates(t, taint) for t in state.tolerations):
                reason = f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
                by_reason.setdefault(reason, []).append(i)
                break
    return [Rejection(np.array(v, dtype=np.int64), r, False) for r, v in by_reason.items()]


def node_affinity(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    spec = state.spec
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not spec.get("nodeSelector") and required is None:
        return []
    bad = [i for i in idx.tolist() if not required_affinity_matches(state.pod, _node(cache, i))]
    return [Rejection(np.array(bad, dtype=np.int64), "node(s) didn't match Pod's node affinity/selector", False)] \
        if bad else []


def node_ports(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    wanted = host_ports(state.pod)
    if not wanted:
        return []
    bad = []
    for i in idx.tolist():
        used = set().union(*(p.host_ports for p in cache.pods_of(i))) if cache.pods_on[i] else set()
        if any(_port_conflict(w, used) for w in wanted):
            bad.append(i)
    return [Rejection(np.array(bad, dtype=np.int64), "node(s) didn't have free ports for the requested pod ports",
                      True)] if bad else []


def _port_conflict(want: tuple[str, str, int], used: set[tuple[str, str, int]]) -> bool:
    ip, proto, port = want
    return any(p == port and pr == proto and (ip == u or "0.0.0.0" in (ip, u)) for u, pr, p in used)


def node_resources_fit(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    r = state.requests
    need = np.array([r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0), 1], dtype=np.int64)
    n = len(cache.names)
    free = (cache.alloc[:n] - cache.requested[:n])[idx]
    if cache.nominated:  # room that preemption made for pods at least as important is taken
        held = cache.nominated_requests(state.priority, state.key)
        if held:
            where = {int(i): row for row, i in enumerate(idx.tolist())}
            for i, reserved in held.items():
                if i in where:
                    free[where[i]] -= reserved
    out = []
    for col, reason in ((3, "Too many pods"), (0, "Insufficient cpu"), (1, "Insufficient memory"),
                        (2, "Insufficient ephemeral-storage")):
        if col != 3 and need[col] == 0:
            continue
        short = idx[free[:, col] < need[col]]
        if len(short):
            out.append(Rejection(short, reason, True))
    for name, amount in r.items():
        if name in ("cpu", "memory", "ephemeral-storage", "pods") or amount == 0:
            continue
        short = [i for i in idx.tolist()
                 if cache.extended[i].get(name, 0) - cache.extended_used[i].get(name, 0) < amount]
        if short:
            out.append(Rejection(np.array(short, dtype=np.int64), f"Insufficient {name}", True))
    return out


def matching_pods(cache: Cache, namespaces: set[str], selector: Obj | None) -> Iterable[PodEntry]:
    sel = label_selector_from_dict(selector)
    return (p for p in cache.pods.values() if p.namespace in namespaces and sel.matches(p.labels))


def term_namespaces(term: Obj, own: str) -> set[str]:
    """The namespaces a pod affinity term looks in: its own list, else the pod's namespace."""
    return set(term.get("namespaces") or []) or {own}


def spread_selector(state: CycleState, constraint: Obj) -> Selector:
    """The constraint's labelSelector, narrowed by matchLabelKeys to the incoming pod's values."""
    selector = dict(constraint.get("labelSelector") or {})
    keys = [k for k in constraint.get("matchLabelKeys") or [] if k in state.labels]
    if keys:
        selector["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
            {"key": k, "operator": "In", "values": [state.labels[k]]} for k in keys]
    return label_selector_from_dict(selector)


def domain_counts(state: CycleState, cache: Cache, key: str, sel: Selector, eligible: Idx) -> dict[str, int]:
    """Pods of the pod's namespace matching `sel` in each value of topology key `key`, over
    the nodes the pod could go to by node affinity (every such value appears, maybe with 0)."""
    column = cache.label_column(key)
    counts: dict[str, int] = {}
    for i in eligible.tolist():
        value = column[i]
        if value is None:
            continue
        counts[value] = counts.get(value, 0) + sum(
            1 for p in cache.pods_of(i) if p.namespace == state.namespace and sel.matches(p.labels))
    return counts


def pod_topology_spread(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    constraints = [c for c in state.spec.get("topologySpreadConstraints") or []
                   if (c.get("whenUnsatisfiable") or "DoNotSchedule") == "DoNotSchedule"]
    if not constraints:
        return []
    missing: list[int] = []
    skewed: list[int] = []
    eligible = state.eligible_nodes(cache)
    for c in constraints:
        key = c.get("topologyKey", "")
        sel = spread_selector(state, c)
        counts = domain_counts(state, cache, key, sel, eligible)
        lowest = min(counts.values(), default=0)
        if c.get("minDomains") and len(counts) < int(c["minDomains"]):
            lowest = 0  # fewer domains than required: the missing ones count as empty
        self_match = 1 if sel.matches(state.labels) else 0
        column = cache.label_column(key)
        for i in idx.tolist():
            value = column[i]
            if value is None:
                missing.append(i)
            elif counts.get(value, 0) + self_match - lowest > int(c.get("maxSkew") or 1):
                skewed.append(i)
    out = []
    if missing:
        out.append(Rejection(np.array(sorted(set(missing)), dtype=np.int64),
                             "node(s) didn't match pod topology spread constraints (missing required label)", False))
    rest = sorted(set(skewed) - set(missing))
    if rest:
        out.append(Rejection(np.array(rest, dtype=np.int64), "node(s) didn't match pod topology spread constraints",
                             True))
    return out


def inter_pod_affinity(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    ns, labels = state.namespace, state.labels
    aff = state.spec.get("affinity") or {}
    need = (aff.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
    avoid = (aff.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []
    existing = [cache.pods[k] for k in cache.with_anti_affinity if k in cache.pods]
    if not need and not avoid and not existing:
        return []

    def domains(term: Obj) -> set[str]:
        key = term.get("topologyKey", "")
        out = set()
        for p in matching_pods(cache, term_namespaces(term, ns), term.get("labelSelector")):
            i = cache.index.get(p.node)
            if i is not None and key in _labels(cache, i):
                out.add(_labels(cache, i)[key])
        return out

    failed: dict[str, list[int]] = {}
    need_domains = [(t, domains(t)) for t in need]
    avoid_domains = [(t, domains(t)) for t in avoid]
    blocked: list[tuple[str, str]] = []  # (topology key, value) where an existing pod forbids us
    for p in existing:
        for t in (p.obj["spec"]["affinity"]["podAntiAffinity"].get("requiredDuringSchedulingIgnoredDuringExecution")
                  or []):
            if ns in term_namespaces(t, p.namespace) and label_selector_from_dict(t.get("labelSelector")).matches(labels):
                i = cache.index.get(p.node)
                key = t.get("topologyKey", "")
                if i is not None and key in _labels(cache, i):
                    blocked.append((key, _labels(cache, i)[key]))
    for i in idx.tolist():
        node_labels = _labels(cache, i)
        ok = True
        for t, ds in need_domains:
            key = t.get("topologyKey", "")
            if node_labels.get(key) in ds:
                continue
            # the first pod of a group that matches its own affinity may go anywhere
            if not ds and ns in term_namespaces(t, ns) and \
                    label_selector_from_dict(t.get("labelSelector")).matches(labels) and key in node_labels:
                continue
            ok = False
        if not ok:
            failed.setdefault("node(s) didn't match pod affinity rules", []).append(i)
            continue
        if any(node_labels.get(t.get("topologyKey", "")) in ds for t, ds in avoid_domains if ds):
            failed.setdefault("node(s) didn't match pod anti-affinity rules", []).append(i)
        elif any(node_labels.get(k) == v for k, v in blocked):
            failed.setdefault("node(s) didn't satisfy existing pods anti-affinity rules", []).append(i)
    return [Rejection(np.array(v, dtype=np.int64), r, r != "node(s) didn't match pod affinity rules")
            for r, v in failed.items()]


FILTERS = (
    # PreFilter first: a missing or unbound claim rules out every node, whatever else fits
    ("VolumeBinding", volume_binding_prefilter),
    ("NodeUnschedulable", node_unschedulable),
    ("TaintToleration", taint_toleration),
    ("NodeAffinity", node_affinity),
    ("NodePorts", node_ports),
    ("NodeResourcesFit", node_resources_fit),
    ("VolumeBinding", volume_binding),
    ("PodTopologySpread", pod_topology_spread),
    ("InterPodAffinity", inter_pod_affinity),
)
