"""Score plugins: how much each feasible node suits the pod, 0..100, with upstream's
default weights (NodeResourcesFit 1, BalancedAllocation 1, ImageLocality 1,
InterPodAffinity 2, NodeAffinity 2, PodTopologySpread 2, TaintToleration 3).

Each scorer takes the node indexes being scored and returns one normalised score per node.
Resource scores are NumPy over the whole window; the others return zeros at once when the
pod and the cluster give them nothing to say (no preferences, no images, no controller).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..api.nodematch import term_matches, tolerates
from ..api.selectors import LabelSelector as Selector
from ..api.selectors import label_selector_from_dict
from .cache import Cache
from .cyclestate import CycleState, Idx, Scores
from .cyclestate import labels as node_labels
from .cyclestate import node as node_obj
from .filters import domain_counts, matching_pods, spread_selector, term_namespaces

Obj = dict[str, Any]

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
# upstream's system default spreading for pods that state no constraints of their own
SYSTEM_DEFAULT_SPREAD = ((HOSTNAME, 3), (ZONE, 5))
HARD_POD_AFFINITY_WEIGHT = 1  # what another pod's required affinity adds to its domain
MB = 1024 * 1024
IMAGE_MIN_THRESHOLD = 23 * MB
IMAGE_MAX_THRESHOLD_PER_CONTAINER = 1000 * MB


def _fractions(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    """Requested fraction of cpu and memory on each node if the pod went there, counting
    containers without requests as asking for a little (cache.pod_nonzero_requests)."""
    alloc = cache.alloc[idx][:, :2].astype(np.float64)
    used = cache.nonzero_requested[idx].astype(np.float64) + np.array(state.nonzero, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(alloc > 0, used / alloc, 1.0)
    return np.asarray(np.minimum(frac, 1.0), dtype=np.float64)


def least_allocated(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    return np.asarray(((1.0 - _fractions(state, cache, idx)) * 100).mean(axis=1), dtype=np.float64)


def balanced_allocation(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    frac = _fractions(state, cache, idx)
    std = np.abs(frac[:, 0] - frac[:, 1]) / 2
    return np.asarray((1.0 - std) * 100, dtype=np.float64)


def _normalize(raw: Scores, reverse: bool = False) -> Scores:
    top = raw.max() if len(raw) else 0
    if top == 0:
        return np.full(len(raw), 0.0 if not reverse else 100.0)
    scaled = raw * 100.0 / top
    return 100.0 - scaled if reverse else scaled


def preferred_node_affinity(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    prefs = (((state.spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    if not prefs:
        return np.zeros(len(idx))
    raw = np.array([sum(int(p.get("weight") or 0) for p in prefs
                        if term_matches(p.get("preference") or {}, node_obj(cache, i)))
                    for i in idx.tolist()], dtype=np.float64)
    return _normalize(raw)


def prefer_no_schedule(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    raw = np.zeros(len(idx))
    tols = [t for t in state.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
    for n in np.flatnonzero(cache.soft_tainted[idx]).tolist():
        i = int(idx[n])
        taints = (node_obj(cache, i).get("spec") or {}).get("taints") or []
        raw[n] = sum(1 for t in taints if t.get("effect") == "PreferNoSchedule" and not any(tolerates(x, t) for x in tols))
    return _normalize(raw, reverse=True)


# -- PodTopologySpread ---------------------------------------------------------------------------


def _spread_terms(state: CycleState) -> tuple[list[tuple[str, int, Selector | None]], bool]:
    """The constraints that score: the pod's ScheduleAnyway ones, or — when it states none at
    all — the system defaults over the pods of its own controller (selector None). The flag
    says whether nodes lacking a topology key are left out (explicit constraints only)."""
    own = state.spec.get("topologySpreadConstraints") or []
    if own:
        return [(c.get("topologyKey", ""), int(c.get("maxSkew") or 1), spread_selector(state, c))
                for c in own if c.get("whenUnsatisfiable") == "ScheduleAnyway"], True
    if not state.owner:
        return [], False
    return [(key, skew, None) for key, skew in SYSTEM_DEFAULT_SPREAD], False


def _owner_counts(state: CycleState, cache: Cache, key: str, eligible: Idx) -> dict[str, int]:
    """domain_counts for the system defaults: the pods of the same controller, from the
    cache's per-controller index instead of a walk over every pod."""
    column = cache.label_column(key)
    counts: dict[str, int] = {}
    for i in eligible.tolist():
        if column[i] is not None:
            counts.setdefault(column[i], 0)
    for i, n in cache.owned.get(state.owner, {}).items():
        value = column[i] if i < len(column) else None
        if value in counts:
            counts[value] += n
    return counts


def pod_topology_spread_score(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    """Fewer matching pods in a node's domains scores higher: each constraint adds the
    domain's count weighted by log(number of domains + 2), plus maxSkew - 1; then the range
    is flipped so the emptiest node gets 100 (upstream's scoring and normalisation)."""
    terms, require_all = _spread_terms(state)
    if not terms:
        return np.zeros(len(idx))
    columns = [cache.label_column(key) for key, _, _ in terms]
    ignored = np.zeros(len(idx), dtype=bool)
    if require_all:
        for column in columns:
            ignored |= np.array([column[i] is None for i in idx.tolist()], dtype=bool)
    eligible = state.eligible_nodes(cache)
    raw = np.zeros(len(idx))
    for (key, skew, sel), column in zip(terms, columns):
        counts = (_owner_counts(state, cache, key, eligible) if sel is None
                  else domain_counts(state, cache, key, sel, eligible))
        values = [column[i] for i in idx.tolist()]
        if key == HOSTNAME:
            size = int((~ignored).sum())
        else:
            size = len({v for v, skip in zip(values, ignored.tolist()) if v is not None and not skip})
        weight = math.log(size + 2)
        raw += np.array([counts.get(v, 0) * weight + (skew - 1) if v is not None else 0.0 for v in values])
    raw = np.round(raw)
    kept = raw[~ignored]
    if not len(kept):
        return np.zeros(len(idx))
    low, high = kept.min(), kept.max()
    out = np.full(len(idx), 100.0) if high == 0 else 100.0 * (high + low - raw) / high
    out[ignored] = 0.0
    return np.asarray(out, dtype=np.float64)


# -- InterPodAffinity ----------------------------------------------------------------------------


def _weighted_terms(affinity: Obj, kind: str) -> list[tuple[Obj, int]]:
    """(term, weight) of one kind's preferred terms; anti-affinity weighs negatively."""
    sign = -1 if kind == "podAntiAffinity" else 1
    return [(p.get("podAffinityTerm") or {}, sign * int(p.get("weight") or 0))
            for p in (affinity.get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def inter_pod_affinity_score(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    """Preferred pod (anti-)affinity, both ways: the pod's own preferred terms count the
    existing pods they match, and existing pods' preferred terms (and their required
    affinity, at weight 1) that match the pod count for their domains."""
    affinity = state.spec.get("affinity") or {}
    own = _weighted_terms(affinity, "podAffinity") + _weighted_terms(affinity, "podAntiAffinity")
    if not own and not cache.with_affinity_terms:
        return np.zeros(len(idx))
    domains: dict[tuple[str, str], float] = {}

    def add(term: Obj, weight: int, node_name: str) -> None:
        i = cache.index.get(node_name)
        key = term.get("topologyKey", "")
        if i is not None and key in node_labels(cache, i):
            pair = (key, node_labels(cache, i)[key])
            domains[pair] = domains.get(pair, 0.0) + weight

    for term, weight in own:
        for p in matching_pods(cache, term_namespaces(term, state.namespace), term.get("labelSelector")):
            add(term, weight, p.node)
    for key in cache.with_affinity_terms:
        other = cache.pods.get(key)
        if other is None:
            continue
        theirs = (other.obj.get("spec") or {}).get("affinity") or {}
        terms = _weighted_terms(theirs, "podAffinity") + _weighted_terms(theirs, "podAntiAffinity")
        terms += [(t, HARD_POD_AFFINITY_WEIGHT) for t in
                  (theirs.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []]
        for term, weight in terms:
            if state.namespace in term_namespaces(term, other.namespace) and \
                    label_selector_from_dict(term.get("labelSelector")).matches(state.labels):
                add(term, weight, other.node)
    if not domains:
        return np.zeros(len(idx))
    raw = np.array([sum(w for (k, v), w in domains.items() if node_labels(cache, i).get(k) == v)
                    for i in idx.tolist()], dtype=np.float64)
    low, high = raw.min(), raw.max()
    if high == low:
        return np.zeros(len(idx))
    return np.asarray(100.0 * (raw - low) / (high - low), dtype=np.float64)


# -- ImageLocality -------------------------------------------------------------------------------


def _image_names(image: str) -> tuple[str, ...]:
    """The names a node may list an image under: as written with `:latest` added when it has
    no tag or digest, and its fully qualified Docker Hub form."""
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and ":" not in last:
        image += ":latest"
    first = image.split("/", 1)[0]
    if "/" not in image or ("." not in first and ":" not in first and first != "localhost"):
        qualified = ("docker.io/library/" + image) if "/" not in image else ("docker.io/" + image)
        return image, qualified
    return (image,)


def image_locality(state: CycleState, cache: Cache, idx: Idx) -> Scores:
    """Nodes that already hold the pod's images score higher, by image size scaled by how
    few nodes have it (so one popular image does not pull every pod to the same nodes)."""
    if not cache.images:
        return np.zeros(len(idx))
    containers = (state.spec.get("initContainers") or []) + (state.spec.get("containers") or [])
    total_nodes = max(1, cache.node_count())
    raw = np.zeros(len(idx))
    position = {i: n for n, i in enumerate(idx.tolist())}
    for c in containers:
        for name in _image_names(str(c.get("image") or "")):
            found = cache.images.get(name)
            if found is None:
                continue
            holders, size = found
            for i in holders:
                if i in position:
                    raw[position[i]] += size * len(holders) / total_nodes
            break
    high = IMAGE_MAX_THRESHOLD_PER_CONTAINER * max(1, len(containers))
    clamped = np.clip(raw, IMAGE_MIN_THRESHOLD, high)
    return np.asarray(100.0 * (clamped - IMAGE_MIN_THRESHOLD) / (high - IMAGE_MIN_THRESHOLD), dtype=np.float64)


SCORES = (
    ("NodeResourcesFit", least_allocated, 1),
    ("NodeResourcesBalancedAllocation", balanced_allocation, 1),
    ("ImageLocality", image_locality, 1),
    ("InterPodAffinity", inter_pod_affinity_score, 2),
    ("NodeAffinity", preferred_node_affinity, 2),
    ("PodTopologySpread", pod_topology_spread_score, 2),
    ("TaintToleration", prefer_no_schedule, 3),
)
