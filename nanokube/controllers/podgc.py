"""The pod garbage collector: removes pods nobody else will.

Every `period` seconds it force-deletes (grace 0):
- finished pods (Succeeded/Failed) beyond `terminated_pod_gc_threshold`, oldest first;
- pods bound to a node that no longer exists (confirmed by a fresh GET after a quarantine,
  since a node may be seen by the pod informer before the node informer);
- terminating pods that were never scheduled (no kubelet will finish them);
- terminating pods on a node that is not ready and tainted node.kubernetes.io/out-of-service
  (the administrator declared the node gone).
Pods it fails on a node's absence first get phase Failed and the DisruptionTarget condition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer
from ..client.rest import Client
from .nodelifecycle import ready_status
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.podgc")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
NODES = _REG.require("", "v1", "nodes")
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
Obj = dict[str, Any]


@dataclass
class PodGCSettings:
    period: float = 20.0
    terminated_pod_gc_threshold: int = 12500  # upstream's flag; 0 turns this part off
    quarantine: float = 40.0


def finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def terminated_to_delete(pods: list[Obj], threshold: int) -> list[Obj]:
    """The oldest finished pods beyond the threshold."""
    done = [p for p in pods if finished(p) and not p["metadata"].get("deletionTimestamp")]
    if threshold <= 0 or len(done) <= threshold:
        return []
    done.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
    return done[:len(done) - threshold]


def out_of_service(node: Obj) -> bool:
    return ready_status(node) != "True" and any(
        t.get("key") == OUT_OF_SERVICE and t.get("effect") == "NoExecute"
        for t in (node.get("spec") or {}).get("taints") or [])


class PodGCController:
    name = "podgc"

    def __init__(self, client: Client, pods: Informer, nodes: Informer, settings: PodGCSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.pods = pods
        self.nodes = nodes
        self.settings = settings or PodGCSettings()
        self.clock = clock
        self._missing_since: dict[str, float] = {}  # node name → when first seen missing

    async def run(self) -> None:
        while True:
            try:
                await self.collect()
            except Exception as e:
                log.warning("pod GC pass failed error=%s", e)
            await asyncio.sleep(self.settings.period)

    async def collect(self) -> None:
        pods = self.pods.list()
        for pod in terminated_to_delete(pods, self.settings.terminated_pod_gc_threshold):
            await self._force_delete(pod, "terminated pod over the threshold")
        await self._orphans(pods)
        for pod in pods:
            meta, spec = pod["metadata"], pod.get("spec") or {}
            if not meta.get("deletionTimestamp"):
                continue
            node = self.nodes.get(spec.get("nodeName") or "")
            if not spec.get("nodeName"):
                await self._force_delete(pod, "unscheduled terminating pod")
            elif node is not None and out_of_service(node):
                await self._fail_and_delete(pod, "PodGC: node is out of service")

    async def _orphans(self, pods: list[Obj]) -> None:
        now = self.clock()
        missing: dict[str, list[Obj]] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and self.nodes.get(node) is None:
                missing.setdefault(node, []).append(pod)
        for node in list(self._missing_since):
            if node not in missing:
                del self._missing_since[node]
        for node, orphans in missing.items():
            since = self._missing_since.setdefault(node, now)
            if now - since < self.settings.quarantine:
                continue
            try:
                await self.client.get(NODES, node)
                continue  # it exists after all: the node informer is behind
            except errors.NotFound:
                pass
            for pod in orphans:
                await self._fail_and_delete(pod, "PodGC: node no longer exists")

    async def _fail_and_delete(self, pod: Obj, message: str) -> None:
        status = dict(pod.get("status") or {})
        if not finished(pod):
            stamp = timestamps.now()
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
            conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                          "message": message, "lastTransitionTime": stamp})
            status.update(phase="Failed", conditions=conds)
            try:
                await self.client.update(PODS, dict(pod, status=status), subresource="status", field_manager="pod-gc")
            except errors.Conflict:
                pass  # deleted regardless below
            except errors.NotFound:
                return
        await self._force_delete(pod, message)

    async def _force_delete(self, pod: Obj, why: str) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period=0,
                                     preconditions={"uid": meta["uid"]})
            log.info("pod deleted pod=%s/%s reason=%r", meta["namespace"], meta["name"], why)
        except (errors.NotFound, errors.Conflict):
            pass
