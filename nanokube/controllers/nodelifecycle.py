"""The node lifecycle controller: notices nodes that stopped reporting and says so.

A node is alive while its kubelet renews its Lease in kube-node-lease (or posts status).
When neither changed for `grace_period` (node-monitor-grace-period, 50 s) the controller sets
the node's Ready and pressure conditions to Unknown, marks its pods not ready, and taints it
`node.kubernetes.io/unreachable` (NoSchedule, and NoExecute so the taint eviction controller
removes pods that do not tolerate it). A node whose kubelet reports Ready=False is tainted
`node.kubernetes.io/not-ready` instead. Condition taints (NoSchedule) follow the conditions at
once; NoExecute taints are added at `eviction_rate` nodes per second per zone, slower or not at
all when a large part of a zone is down, and not at all when every zone is down (then the
problem is more likely the control plane's own connectivity), as upstream does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer
from ..client.rest import Client
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.nodelifecycle")

_REG = Registry()
NODES = _REG.require("", "v1", "nodes")
PODS = _REG.require("", "v1", "pods")
Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
# node conditions the kubelet owns; all go Unknown when it stops reporting
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# condition → the NoSchedule taint it puts on the node while it holds (TaintNodeByCondition)
CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINT_KEYS = frozenset(CONDITION_TAINTS.values()) | {UNSCHEDULABLE}


@dataclass
class NodeLifecycleSettings:
    """Upstream's kube-controller-manager flags of the same names (in seconds)."""

    monitor_period: float = 5.0
    grace_period: float = 50.0
    startup_grace_period: float = 60.0
    eviction_rate: float = 0.1
    secondary_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55


def ready_status(node: Obj) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status", "Unknown"))
    return "Unknown"


def zone_of(node: Obj) -> str:
    labels = node["metadata"].get("labels") or {}
    return f"{labels.get(REGION_LABEL, '')}:\x00:{labels.get(ZONE_LABEL, '')}"


def conditions_unknown(node: Obj, now: datetime.datetime) -> list[Obj] | None:
    """The node's conditions with every kubelet-owned one set to Unknown, or None when they
    all already are."""
    conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    changed = False
    for kind in KUBELET_CONDITIONS:
        cur = next((c for c in conds if c.get("type") == kind), None)
        if cur is None:
            conds.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.",
                          "lastHeartbeatTime": timestamps.format_time(now), "lastTransitionTime": timestamps.format_time(now)})
            changed = True
        elif cur.get("status") != "Unknown":
            cur.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                       lastTransitionTime=timestamps.format_time(now))
            changed = True
    return conds if changed else None


def condition_taints(node: Obj) -> set[str]:
    """Keys of the NoSchedule taints the node's conditions (and spec.unschedulable) call for."""
    want = {CONDITION_TAINTS[(c.get("type", ""), c.get("status", ""))]
            for c in (node.get("status") or {}).get("conditions") or []
            if (c.get("type", ""), c.get("status", "")) in CONDITION_TAINTS}
    if (node.get("spec") or {}).get("unschedulable"):
        want.add(UNSCHEDULABLE)
    return want


def no_execute_taint(node: Obj) -> str | None:
    """The NoExecute taint key the node's readiness calls for, if any."""
    return {"False": NOT_READY, "Unknown": UNREACHABLE}.get(ready_status(node))


def desired_taints(node: Obj, no_execute: str | None, now: datetime.datetime) -> list[Obj]:
    """The node's taints with the condition taints and the NoExecute readiness taint as
    wanted; other taints (the user's) untouched, timeAdded kept where a taint stays."""
    current = list((node.get("spec") or {}).get("taints") or [])
    keep = [t for t in current if not (
        (t.get("effect") == "NoSchedule" and t.get("key") in CONDITION_TAINT_KEYS)
        or (t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE)))]
    for key in sorted(condition_taints(node)):
        old = next((t for t in current if t.get("key") == key and t.get("effect") == "NoSchedule"), None)
        keep.append(old or {"key": key, "effect": "NoSchedule"})
    if no_execute:
        old = next((t for t in current if t.get("key") == no_execute and t.get("effect") == "NoExecute"), None)
        keep.append(old or {"key": no_execute, "effect": "NoExecute", "timeAdded": timestamps.format_time(now)})
    return keep


def zone_state(ready: int, not_ready: int, threshold: float) -> str:
    """Normal, PartialDisruption (more than 2 and at least `threshold` of the zone down) or
    FullDisruption (no node ready)."""
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return "PartialDisruption"
    return "Normal"


def zone_rate(state: str, size: int, s: NodeLifecycleSettings) -> float:
    if state == "PartialDisruption":
        return s.secondary_eviction_rate if size > s.large_cluster_size_threshold else 0.0
    return s.eviction_rate


class TokenBucket:
    """At most `rate` acquisitions per second, a burst of one."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = 1.0
        self.at = clock()

    def try_acquire(self, rate: float) -> bool:
        now = self.clock()
        self.tokens = min(1.0, self.tokens + (now - self.at) * self.rate)
        self.at, self.rate = now, rate
        if rate > 0 and self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Health:
    probe: float  # local monotonic time the node was last heard from
    heartbeat: str  # Ready condition's lastHeartbeatTime as last seen
    renew: str  # its Lease's renewTime as last seen


class NodeLifecycleController:
    name = "nodelifecycle"

    def __init__(self, client: Client, nodes: Informer, leases: Informer, pods: Informer,
                 settings: NodeLifecycleSettings | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        self.client = client
        self.nodes = nodes
        self.leases = leases
        self.pods = pods
        self.settings = settings or NodeLifecycleSettings()
        self.clock = clock
        self.wall_clock = wall_clock
        self.events = EventRecorder(client, "node-controller")
        self._health: dict[str, _Health] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._wake = asyncio.Event()
        nodes.add_handlers(lambda n: self._wake.set(), self._on_update, self._forget)

    def _forget(self, node: Obj) -> None:
        self._health.pop(node["metadata"]["name"], None)

    def _on_update(self, old: Obj, new: Obj) -> None:
        # conditions or unschedulable changed: retaint now rather than at the next period
        if condition_taints(old) != condition_taints(new) or no_execute_taint(old) != no_execute_taint(new):
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.monitor()
            except Exception as e:  # one failed pass must not stop monitoring
                log.warning("node monitor pass failed error=%s", e)
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.monitor_period)
            except TimeoutError:
                pass
            self._wake.clear()

    def _observe(self, node: Obj) -> _Health:
        name = node["metadata"]["name"]
        heartbeat = next((c.get("lastHeartbeatTime", "") for c in (node.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), "")
        lease = self.leases.get(f"kube-node-lease/{name}")
        renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
        now = self.clock()
        h = self._health.get(name)
        if h is None:
            h = self._health[name] = _Health(now, heartbeat, renew)
        elif h.heartbeat != heartbeat or h.renew != renew:
            h.probe, h.heartbeat, h.renew = now, heartbeat, renew
        return h

    async def monitor(self) -> None:
        """One pass: conditions of silent nodes to Unknown, then every node's taints."""
        s = self.settings
        now = self.wall_clock()
        nodes = self.nodes.list()
        for node in nodes:
            h = self._observe(node)
            never_reported = not any(c.get("type") == "Ready" for c in (node.get("status") or {}).get("conditions") or [])
            grace = s.startup_grace_period if never_reported else s.grace_period
            if self.clock() - h.probe > grace:
                conds = conditions_unknown(node, now)
                if conds is not None:
                    await self._node_unreachable(node, conds)
        nodes = self.nodes.list()
        zones: dict[str, list[Obj]] = {}
        for node in nodes:
            zones.setdefault(zone_of(node), []).append(node)
        states = {z: zone_state(sum(ready_status(n) == "True" for n in ns), sum(ready_status(n) != "True" for n in ns),
                                s.unhealthy_zone_threshold) for z, ns in zones.items()}
        all_down = bool(states) and all(st == "FullDisruption" for st in states.values())
        for zone, members in zones.items():
            rate = zone_rate(states[zone], len(members), s)
            bucket = self._buckets.setdefault(zone, TokenBucket(rate, self.clock))
            for node in sorted(members, key=lambda n: n["metadata"]["name"]):
                await self._retaint(node, None if all_down else no_execute_taint(node), bucket, rate, now)

    async def _node_unreachable(self, node: Obj, conds: list[Obj]) -> None:
        name = node["metadata"]["name"]
        log.info("node stopped reporting node=%s", name)
        body = dict(node, status=dict(node.get("status") or {}, conditions=conds))
        try:
            await self.client.update(NODES, body, subresource="status", field_manager="node-controller")
        except (errors.Conflict, errors.NotFound):
            return  # it changed meanwhile (perhaps it reported again): the next pass decides
        self.events.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        for pod in self.pods.by_index("node", name):
            await self._mark_pod_not_ready(pod)

    async def _mark_pod_not_ready(self, pod: Obj) -> None:
        conds = [dict(c) for c in (pod.get("status") or {}).get("conditions") or []]
        ready = next((c for c in conds if c.get("type") == "Ready"), None)
        if ready is None or ready.get("status") == "False" or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        ready.update(status="False", lastTransitionTime=timestamps.format_time(self.wall_clock()))
        body = dict(pod, status=dict(pod.get("status") or {}, conditions=conds))
        try:
            await self.client.update(PODS, body, subresource="status", field_manager="node-controller")
        except (errors.Conflict, errors.NotFound):
            pass

    async def _retaint(self, node: Obj, no_execute: str | None, bucket: TokenBucket, rate: float,
                       now: datetime.datetime) -> None:
        current = (node.get("spec") or {}).get("taints") or []
        has_no_execute = next((t.get("key") for t in current if t.get("effect") == "NoExecute"
                               and t.get("key") in (NOT_READY, UNREACHABLE)), None)
        if no_execute is not None and has_no_execute != no_execute and not bucket.try_acquire(rate):
            no_execute = has_no_execute  # the zone's eviction rate says: not yet
        want = desired_taints(node, no_execute, now)
        if want == list(current):
            return
        patch = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "spec": {"taints": want or None}}
        try:
            await self.client.patch(NODES, node["metadata"]["name"], patch, field_manager="node-controller")
        except (errors.Conflict, errors.NotFound):
            self._wake.set()  # look again with the node as it is now
