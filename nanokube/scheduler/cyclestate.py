"""What one scheduling attempt of one pod computes once and shares between plugins
(upstream's CycleState and PreFilter results), and the node lookups plugins share."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api.nodematch import required_affinity_matches
from .cache import Cache, controller_uid, pod_nonzero_requests, pod_requests

Obj = dict[str, Any]
Idx = np.ndarray[Any, np.dtype[np.int64]]
Scores = np.ndarray[Any, np.dtype[np.float64]]


class CycleState:
    def __init__(self, pod: Obj, key: str = "") -> None:
        self.pod = pod
        self.key = key
        meta = pod.get("metadata") or {}
        self.namespace: str = meta.get("namespace", "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.spec: Obj = pod.get("spec") or {}
        self.priority = int(self.spec.get("priority") or 0)
        self.requests = pod_requests(pod)
        self.nonzero = pod_nonzero_requests(pod)
        self.owner = controller_uid(pod)
        self.tolerations: list[Obj] = self.spec.get("tolerations") or []
        self.has_node_affinity = bool(self.spec.get("nodeSelector")) or bool(
            ((self.spec.get("affinity") or {}).get("nodeAffinity") or {})
            .get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.data: dict[str, Any] = {}

    def eligible_nodes(self, cache: Cache) -> Idx:
        """Every node whose labels the pod's nodeSelector and required node affinity accept
        (the domains topology spreading counts in)."""
        idx: Idx = np.nonzero(cache.usable[: len(cache.names)])[0].astype(np.int64)
        if not self.has_node_affinity:
            return idx
        return np.array([i for i in idx.tolist() if required_affinity_matches(self.pod, node(cache, i))],
                        dtype=np.int64)


def node(cache: Cache, i: int) -> Obj:
    return cache.nodes[i] or {}


def labels(cache: Cache, i: int) -> dict[str, str]:
    return (node(cache, i).get("metadata") or {}).get("labels") or {}
