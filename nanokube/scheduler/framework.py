"""One scheduling cycle, pure: filter, score, pick a node — or explain why none, and whom
to preempt (upstream's framework and DefaultPreemption, without I/O).

Extension points in upstream's order: PreFilter (CycleState computes requests and
tolerations once), Filter (filters.FILTERS, each seeing only the nodes earlier ones kept),
PostFilter (`preempt`), Score and NormalizeScore (scores.SCORES, weighted), then the caller
reserves (assumes the pod in the cache) and binds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api.selectors import label_selector_from_dict
from .cache import Cache, PodEntry
from .cyclestate import CycleState, Idx
from .filters import FILTERS
from .scores import SCORES

Obj = dict[str, Any]


@dataclass
class Diagnosis:
    total: int
    reasons: dict[int, list[tuple[str, bool]]] = field(default_factory=dict)  # node → (reason, resolvable)
    prefilter: str = ""  # why the pod fits no node at all, when a PreFilter said so


def nodes_to_score(total: int, percentage: int = 0) -> int:
    """Upstream's adaptive percentageOfNodesToScore: all of a small cluster, then 50% minus
    1% per 125 nodes, at least 5% and at least 100 nodes."""
    if total < 100:
        return total
    pct = percentage or max(5, 50 - total // 125)
    return max(100, total * pct // 100)


def filter_nodes(state: CycleState, cache: Cache) -> tuple[Idx, Diagnosis]:
    idx: Idx = np.nonzero(cache.usable[: len(cache.names)])[0].astype(np.int64)
    diag = Diagnosis(total=len(idx))
    for _name, f in FILTERS:
        if not len(idx):
            break
        rejected: set[int] = set()
        for r in f(state, cache, idx):
            if r.pod_level:
                diag.prefilter = r.reason
            for i in r.nodes.tolist():
                diag.reasons.setdefault(i, []).append((r.reason, r.resolvable))
                rejected.add(i)
        if rejected:
            idx = idx[~np.isin(idx, np.fromiter(rejected, dtype=np.int64))]
    return idx, diag


def select_node(state: CycleState, cache: Cache, feasible: Idx, start: int, rng: random.Random) -> int:
    k = nodes_to_score(len(feasible) if len(feasible) < 100 else cache.node_count())
    if len(feasible) > k:  # like upstream, score a window that moves round the cluster
        offset = start % len(feasible)
        feasible = np.roll(feasible, -offset)[:k]
    total = np.zeros(len(feasible))
    for _name, fn, weight in SCORES:
        total += weight * fn(state, cache, feasible)
    best = np.flatnonzero(total == total.max())
    return int(feasible[best[rng.randrange(len(best))]])


def fit_error(diag: Diagnosis, preemption: str = "") -> str:
    """`0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {a: b}.`"""
    counts: dict[str, int] = {}
    for reasons in diag.reasons.values():
        for reason, _ in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    msg = f"0/{diag.total} nodes are available:"
    if diag.prefilter:  # the same for every node: said once, as upstream
        msg += f" {diag.prefilter}."
    elif counts:
        msg += " " + ", ".join(sorted(f"{n} {r}" for r, n in counts.items())) + "."
    if preemption:
        msg += f" {preemption}"
    return msg


@dataclass
class Preemption:
    node: int
    victims: list[PodEntry]


def _fits_without(state: CycleState, cache: Cache, i: int, removed: list[PodEntry]) -> bool:
    r = state.requests
    need = np.array([r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0), 1], dtype=np.int64)
    freed = np.zeros(4, dtype=np.int64)
    for p in removed:
        freed += np.array([p.requests.get("cpu", 0), p.requests.get("memory", 0),
                           p.requests.get("ephemeral-storage", 0), 1], dtype=np.int64)
    free = cache.alloc[i] - cache.requested[i] + freed
    return bool(np.all(free >= need))


@dataclass
class Budget:
    """A PodDisruptionBudget as preemption weighs it: whom it covers and how many of them
    may still go."""
    namespace: str
    selector: Obj | None
    disruptions_allowed: int

    @classmethod
    def of(cls, pdb: Obj) -> Budget:
        return cls((pdb.get("metadata") or {}).get("namespace", ""), (pdb.get("spec") or {}).get("selector"),
                   int((pdb.get("status") or {}).get("disruptionsAllowed") or 0))


def _split_by_budget(pods: list[PodEntry], budgets: list[Budget]) -> tuple[list[PodEntry], list[PodEntry]]:
    """(pods whose eviction would break a budget, the rest), spending the budgets in order."""
    allowed = [b.disruptions_allowed for b in budgets]
    selectors = [label_selector_from_dict(b.selector) if b.selector is not None else None for b in budgets]
    violating: list[PodEntry] = []
    fine: list[PodEntry] = []
    for p in pods:
        breaks = False
        for n, b in enumerate(budgets):
            sel = selectors[n]
            if b.namespace != p.namespace or sel is None or sel.empty or not sel.matches(p.labels):
                continue
            allowed[n] -= 1
            if allowed[n] < 0:
                breaks = True
        (violating if breaks else fine).append(p)
    return violating, fine


def eligible_to_preempt(state: CycleState, cache: Cache) -> str:
    """Why the pod may not preempt now ("" if it may): its policy says Never, or victims it
    chose before are still terminating on its nominated node (upstream waits for them
    rather than evicting more)."""
    if (state.spec.get("preemptionPolicy") or "PreemptLowerPriority") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    nominated = (state.pod.get("status") or {}).get("nominatedNodeName")
    i = cache.index.get(nominated) if nominated else None
    if i is not None and any(p.priority < state.priority and (p.obj.get("metadata") or {}).get("deletionTimestamp")
                             for p in cache.pods_of(i)):
        return "preemption: not eligible due to a terminating pod on the nominated node."
    return ""


def preempt(state: CycleState, cache: Cache, diag: Diagnosis,
            budgets: list[Budget] | None = None) -> tuple[Preemption | None, str]:
    """Which lower-priority pods to evict so the pod fits somewhere, and the message if
    nobody can. On each node every lower-priority pod is a victim at first; then, most
    important first, those whose eviction would break a PodDisruptionBudget and after them
    the rest are spared while the pod still fits. Among nodes, upstream's order: fewest
    budget violations, lowest highest-victim priority, smallest sum of priorities, fewest
    victims, most recently started victims."""
    why_not = eligible_to_preempt(state, cache)
    if why_not:
        return None, why_not
    priority = state.priority
    unhelpful = 0
    candidates: list[tuple[tuple[int, int, int, int, str], Preemption]] = []
    for i, reasons in diag.reasons.items():
        if not all(resolvable for _, resolvable in reasons):
            unhelpful += 1
            continue
        lower = [p for p in cache.pods_of(i) if p.priority < priority and not p.assumed]
        if not lower or not _fits_without(state, cache, i, lower):
            continue
        lower.sort(key=lambda p: (-p.priority, _start(p)))
        violating, fine = _split_by_budget(lower, budgets or [])
        victims = list(lower)
        violations = 0
        for group in (violating, fine):
            for p in group:
                trial = [q for q in victims if q is not p]
                if _fits_without(state, cache, i, trial):
                    victims = trial
                elif group is violating:
                    violations += 1
        rank = (violations, max(p.priority for p in victims), sum(p.priority for p in victims), len(victims),
                _negated(max(_start(p) for p in victims)))
        candidates.append((rank, Preemption(i, victims)))
    if candidates:
        candidates.sort(key=lambda c: c[0])
        return candidates[0][1], ""
    parts = []
    no_victims = len(diag.reasons) - unhelpful
    if no_victims:
        parts.append(f"{no_victims} No preemption victims found for incoming pod")
    if unhelpful:
        parts.append(f"{unhelpful} Preemption is not helpful for scheduling")
    return None, f"preemption: 0/{diag.total} nodes are available: {', '.join(sorted(parts))}."


def _start(p: PodEntry) -> str:
    return str((p.obj.get("status") or {}).get("startTime") or (p.obj.get("metadata") or {}).get("creationTimestamp") or "")


def _negated(text: str) -> str:
    """Sort later times first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)
