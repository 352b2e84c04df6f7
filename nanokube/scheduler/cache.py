"""The scheduler's view of the cluster: nodes as NumPy columns, pods by node.

Allocatable and requested cpu (millicores), memory and ephemeral storage (bytes) and pod
counts are arrays indexed by node, so the resource filter and the resource scores run over
every node in a few vector operations. A pod counts against its node as soon as the
scheduler decides (`assume`), before the binding comes back through the watch; if the
binding fails it is forgotten again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api import quantity
from ..api.resources import pod_resources

Obj = dict[str, Any]
RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")


def _amount(name: str, text: Any) -> int:
    if not quantity.is_valid(text):
        return 0
    value = quantity.parse(text)
    return int(value * 1000) if name == "cpu" else int(value)


def pod_requests(pod: Obj) -> dict[str, int]:
    """What a pod asks for (api.resources), cpu in millicores and the rest in whole units."""
    return {k: int(v * 1000) if k == "cpu" else int(v) for k, v in pod_resources(pod, "requests").items()}


@dataclass
class PodEntry:
    key: str
    node: str
    requests: dict[str, int]
    priority: int
    labels: dict[str, str]
    namespace: str
    obj: Obj
    host_ports: set[tuple[str, str, int]] = field(default_factory=set)
    assumed: bool = False


def host_ports(pod: Obj) -> set[tuple[str, str, int]]:
    ports = set()
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                ports.add((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])))
    return ports


class Cache:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.nodes: list[Obj | None] = []
        self.alloc = np.zeros((0, 4), dtype=np.int64)  # cpu, memory, ephemeral-storage, pods
        self.requested = np.zeros((0, 4), dtype=np.int64)
        self.usable = np.zeros(0, dtype=bool)  # exists (deleted slots are reused)
        self.unschedulable = np.zeros(0, dtype=bool)
        self.tainted = np.zeros(0, dtype=bool)  # has NoSchedule/NoExecute taints
        self.soft_tainted = np.zeros(0, dtype=bool)  # has PreferNoSchedule taints
        self.extended: list[dict[str, int]] = []  # allocatable extended resources per node
        self.extended_used: list[dict[str, int]] = []
        self.pods_on: list[set[str]] = []
        self.pods: dict[str, PodEntry] = {}
        self.with_anti_affinity: set[str] = set()  # pods whose required anti-affinity binds others
        self.generation = 0  # bumped on every node set change

    # -- nodes ---------------------------------------------------------------------------------

    def _grow(self) -> int:
        i = len(self.names)
        cap = max(16, 2 * len(self.usable))
        if i >= len(self.usable):
            for attr, width in (("alloc", 4), ("requested", 4)):
                old = getattr(self, attr)
                new = np.zeros((cap, width), dtype=np.int64)
                new[: len(old)] = old
                setattr(self, attr, new)
            for attr in ("usable", "unschedulable", "tainted", "soft_tainted"):
                old = getattr(self, attr)
                new_b = np.zeros(cap, dtype=bool)
                new_b[: len(old)] = old
                setattr(self, attr, new_b)
        self.names.append("")
        self.nodes.append(None)
        self.extended.append({})
        self.extended_used.append({})
        self.pods_on.append(set())
        return i

    def upsert_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        i = self.index.get(name)
        if i is None:
            i = self._grow()
            self.index[name] = i
            self.names[i] = name
            self.generation += 1
        self.nodes[i] = node
        alloc = (node.get("status") or {}).get("allocatable") or {}
        self.alloc[i] = [_amount(r, alloc.get(r, 0)) for r in RESOURCES]
        self.extended[i] = {k: _amount(k, v) for k, v in alloc.items()
                            if k not in RESOURCES and not k.startswith("hugepages-")}
        spec = node.get("spec") or {}
        self.unschedulable[i] = bool(spec.get("unschedulable"))
        self.tainted[i] = any(t.get("effect") in ("NoSchedule", "NoExecute") for t in spec.get("taints") or [])
        self.soft_tainted[i] = any(t.get("effect") == "PreferNoSchedule" for t in spec.get("taints") or [])
        self.usable[i] = True

    def remove_node(self, name: str) -> None:
        i = self.index.get(name)
        if i is None:
            return
        self.usable[i] = False
        self.nodes[i] = None
        self.generation += 1

    def node_count(self) -> int:
        return int(self.usable[: len(self.names)].sum())

    # -- pods ----------------------------------------------------------------------------------

    def add_pod(self, key: str, pod: Obj, node: str, assumed: bool = False,
                requests: dict[str, int] | None = None) -> None:
        self.remove_pod(key)
        spec = pod.get("spec") or {}
        entry = PodEntry(key, node, requests if requests is not None else pod_requests(pod),
                         int(spec.get("priority") or 0),
                         dict((pod.get("metadata") or {}).get("labels") or {}),
                         (pod.get("metadata") or {}).get("namespace", ""), pod, host_ports(pod), assumed)
        self.pods[key] = entry
        if ((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"):
            self.with_anti_affinity.add(key)
        i = self.index.get(node)
        if i is None:  # bound to a node we have not seen yet
            i = self._grow()
            self.index[node] = i
            self.names[i] = node
        self._charge(i, entry, 1)
        self.pods_on[i].add(key)

    def remove_pod(self, key: str) -> PodEntry | None:
        entry = self.pods.pop(key, None)
        if entry is None:
            return None
        self.with_anti_affinity.discard(key)
        i = self.index.get(entry.node)
        if i is not None:
            self._charge(i, entry, -1)
            self.pods_on[i].discard(key)
        return entry

    def _charge(self, i: int, entry: PodEntry, sign: int) -> None:
        r = entry.requests
        self.requested[i] += sign * np.array([r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0), 1],
                                             dtype=np.int64)
        for k, v in r.items():
            if k not in RESOURCES:
                self.extended_used[i][k] = self.extended_used[i].get(k, 0) + sign * v

    def pods_of(self, i: int) -> list[PodEntry]:
        return [self.pods[k] for k in self.pods_on[i] if k in self.pods]
