"""The scheduler's view of the cluster: nodes as NumPy columns, pods by node.

Allocatable and requested cpu (millicores), memory and ephemeral storage (bytes) and pod
counts are arrays indexed by node, so the resource filter and the resource scores run over
every node in a few vector operations. A pod counts against its node as soon as the
scheduler decides (`assume`), before the binding comes back through the watch; if the
binding fails it is forgotten again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..api import quantity
from ..api.resources import NONZERO_DEFAULTS, pod_resources

if TYPE_CHECKING:
    from .volumebinding import VolumeBinding

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


def pod_nonzero_requests(pod: Obj) -> tuple[int, int]:
    """Cpu (millicores) and memory (bytes) as the scores count them: a container that asks
    for none is counted as asking for a little, so best-effort pods spread out."""
    r = pod_resources(pod, "requests", NONZERO_DEFAULTS)
    return int(r.get("cpu", 0) * 1000), int(r.get("memory", 0))


def _same_footprint(a: Obj, b: Obj) -> bool:
    """Whether two versions of a pod ask the same of their node (containers, overhead,
    priority, affinity — everything the cache derives from the spec)."""
    sa, sb = a.get("spec") or {}, b.get("spec") or {}
    return all(sa.get(k) == sb.get(k) for k in ("containers", "initContainers", "overhead", "priority", "affinity"))


def controller_uid(pod: Obj) -> str:
    """The uid of the pod's managing controller, "" for a bare pod."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


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
    nonzero: tuple[int, int] = (0, 0)
    owner: str = ""


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
        self.nonzero_requested = np.zeros((0, 2), dtype=np.int64)  # cpu, memory as scores count them
        self.usable = np.zeros(0, dtype=bool)  # exists (deleted slots are reused)
        self.unschedulable = np.zeros(0, dtype=bool)
        self.tainted = np.zeros(0, dtype=bool)  # has NoSchedule/NoExecute taints
        self.soft_tainted = np.zeros(0, dtype=bool)  # has PreferNoSchedule taints
        self.extended: list[dict[str, int]] = []  # allocatable extended resources per node
        self.extended_used: list[dict[str, int]] = []
        self.pods_on: list[set[str]] = []
        self.pods: dict[str, PodEntry] = {}
        self.with_anti_affinity: set[str] = set()  # pods whose required anti-affinity binds others
        self.with_affinity_terms: set[str] = set()  # pods with any pod (anti-)affinity: they score others
        self.owned: dict[str, dict[int, int]] = {}  # controller uid → node index → pods placed there
        self.nominated: dict[str, tuple[str, int, dict[str, int]]] = {}  # pending pod → node, priority, requests
        self.images: dict[str, tuple[set[int], int]] = {}  # image name → nodes holding it, size
        self.generation = 0  # bumped on every node set change
        self.label_generation = 0  # bumped when a node comes, goes or changes its labels
        self._columns: dict[str, tuple[int, list[str | None]]] = {}
        self.volumes: VolumeBinding | None = None  # claims, volumes and classes (the VolumeBinding plugin)

    # -- nodes ---------------------------------------------------------------------------------

    def _grow(self) -> int:
        i = len(self.names)
        cap = max(16, 2 * len(self.usable))
        if i >= len(self.usable):
            for attr, width in (("alloc", 4), ("requested", 4), ("nonzero_requested", 2)):
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
        self.label_generation += 1
        return i

    def upsert_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        i = self.index.get(name)
        if i is None:
            i = self._grow()
            self.index[name] = i
            self.names[i] = name
            self.generation += 1
        old = self.nodes[i]
        if old is None or (old.get("metadata") or {}).get("labels") != (node.get("metadata") or {}).get("labels"):
            self.label_generation += 1
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
        images = (node.get("status") or {}).get("images") or []
        if old is None or ((old.get("status") or {}).get("images") or []) != images:
            self._index_images(i, images)

    def _index_images(self, i: int, images: list[Obj]) -> None:
        for name in [n for n, (holders, _) in self.images.items() if i in holders]:
            self._drop_image(name, i)
        for image in images:
            size = int(image.get("sizeBytes") or 0)
            for name in image.get("names") or []:
                holders, _ = self.images.get(name, (set(), size))
                holders.add(i)
                self.images[name] = (holders, size)

    def _drop_image(self, name: str, i: int) -> None:
        holders, _ = self.images[name]
        holders.discard(i)
        if not holders:
            del self.images[name]

    def remove_node(self, name: str) -> None:
        i = self.index.get(name)
        if i is None:
            return
        self.usable[i] = False
        self.nodes[i] = None
        self._index_images(i, [])
        self.generation += 1
        self.label_generation += 1

    def label_column(self, key: str) -> list[str | None]:
        """Each node's value of one label (None where unset or the node is gone), kept until
        some node's labels change: spreading reads it for every pod."""
        cached = self._columns.get(key)
        if cached is not None and cached[0] == self.label_generation:
            return cached[1]
        column: list[str | None] = [((n.get("metadata") or {}).get("labels") or {}).get(key) if n else None
                                    for n in self.nodes]
        self._columns[key] = (self.label_generation, column)
        return column

    def node_count(self) -> int:
        return int(self.usable[: len(self.names)].sum())

    # -- pods ----------------------------------------------------------------------------------

    def add_pod(self, key: str, pod: Obj, node: str, assumed: bool = False,
                requests: dict[str, int] | None = None, nonzero: tuple[int, int] | None = None) -> None:
        spec = pod.get("spec") or {}
        known = self.pods.get(key)
        if known is not None and known.node == node and _same_footprint(known.obj, pod) \
                and known.owner == controller_uid(pod):
            # the binding of an assumed pod coming back, or a status change: what it holds
            # on the node is the same, only the object is newer
            known.obj, known.assumed = pod, assumed
            known.labels = dict((pod.get("metadata") or {}).get("labels") or {})
            return
        self.remove_pod(key)
        entry = PodEntry(key, node, requests if requests is not None else pod_requests(pod),
                         int(spec.get("priority") or 0),
                         dict((pod.get("metadata") or {}).get("labels") or {}),
                         (pod.get("metadata") or {}).get("namespace", ""), pod, host_ports(pod), assumed,
                         nonzero if nonzero is not None else pod_nonzero_requests(pod), controller_uid(pod))
        self.pods[key] = entry
        self.nominated.pop(key, None)
        affinity = spec.get("affinity") or {}
        if (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
            self.with_anti_affinity.add(key)
        if affinity.get("podAffinity") or affinity.get("podAntiAffinity"):
            self.with_affinity_terms.add(key)
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
        self.with_affinity_terms.discard(key)
        i = self.index.get(entry.node)
        if i is not None:
            self._charge(i, entry, -1)
            self.pods_on[i].discard(key)
        return entry

    def _charge(self, i: int, entry: PodEntry, sign: int) -> None:
        r = entry.requests
        self.requested[i] += sign * np.array([r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0), 1],
                                             dtype=np.int64)
        self.nonzero_requested[i] += sign * np.array(entry.nonzero, dtype=np.int64)
        for k, v in r.items():
            if k not in RESOURCES:
                self.extended_used[i][k] = self.extended_used[i].get(k, 0) + sign * v
        if entry.owner:
            per_node = self.owned.setdefault(entry.owner, {})
            per_node[i] = per_node.get(i, 0) + sign
            if not per_node[i]:
                del per_node[i]
                if not per_node:
                    del self.owned[entry.owner]

    # -- nominated pods ------------------------------------------------------------------------

    def nominate(self, key: str, pod: Obj, requests: dict[str, int] | None = None) -> None:
        """A pending pod that preemption made room for on a node (status.nominatedNodeName):
        pods of lower priority must not take that room while the victims go."""
        node = (pod.get("status") or {}).get("nominatedNodeName")
        if not node or key in self.pods:
            self.nominated.pop(key, None)
            return
        self.nominated[key] = (node, int((pod.get("spec") or {}).get("priority") or 0),
                               requests if requests is not None else pod_requests(pod))

    def nominated_requests(self, priority: int, exclude: str) -> dict[int, np.ndarray[Any, np.dtype[np.int64]]]:
        """Per node, what pods nominated there with at least `priority` hold in reserve."""
        out: dict[int, np.ndarray[Any, np.dtype[np.int64]]] = {}
        for key, (node, prio, r) in self.nominated.items():
            i = self.index.get(node)
            if key == exclude or prio < priority or i is None:
                continue
            held = np.array([r.get("cpu", 0), r.get("memory", 0), r.get("ephemeral-storage", 0), 1], dtype=np.int64)
            out[i] = out[i] + held if i in out else held
        return out

    def pods_of(self, i: int) -> list[PodEntry]:
        return [self.pods[k] for k in self.pods_on[i] if k in self.pods]
