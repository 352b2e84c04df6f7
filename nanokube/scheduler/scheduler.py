"""`nanokube scheduler`: watch pending pods, place them, bind them (kube-scheduler).

One loop takes pods from the queue in priority order and runs a scheduling cycle against
the cache (framework.py); the chosen node is reserved at once (the pod is assumed in the
cache) and the binding is sent in the background, so the next pod is placed while the
previous binding is in flight. A pod that fits nowhere gets a FailedScheduling event and a
PodScheduled=False condition with upstream's message; if preempting lower-priority pods
would make room, the pod is nominated to that node and the victims are deleted.
Only pods whose schedulerName is `default-scheduler` are ours.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.config import load_kubeconfig
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.leaderelection import LeaderElectionConfig, run_elected
from ..client.rest import Client
from .cache import Cache
from .cyclestate import CycleState
from .framework import Budget, fit_error, filter_nodes, preempt, select_node
from .queue import SchedulingQueue
from ..api import timestamps
from .volumebinding import DEFAULT_BIND_TIMEOUT, PreBindError, VolumeBinding

log = logging.getLogger("nanokube.scheduler")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
NODES = _REG.require("", "v1", "nodes")
PDBS = _REG.require("policy", "v1", "poddisruptionbudgets")
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
VOLUMES = _REG.require("", "v1", "persistentvolumes")
CLASSES = _REG.require("storage.k8s.io", "v1", "storageclasses")
Obj = dict[str, Any]
SCHEDULER_NAME = "default-scheduler"
STRATEGIC = "application/strategic-merge-patch+json"


_KEPT_META = ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "ownerReferences",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_KEPT_CONTAINER = ("name", "image", "resources", "ports", "restartPolicy")
_KEPT_STATUS = ("phase", "conditions", "nominatedNodeName", "startTime")


def _slim(pod: Obj) -> Obj:
    """What scheduling reads of a pod: the cache holds every pod of the cluster, so
    managedFields, annotations, container commands, probes and environment, and the
    kubelet's container statuses are dropped."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    slim_spec = dict(spec)
    for kind in ("containers", "initContainers"):
        if kind in spec:
            slim_spec[kind] = [{k: c[k] for k in _KEPT_CONTAINER if k in c} for c in spec[kind] or []]
    slim_spec.pop("ephemeralContainers", None)
    out = {k: v for k, v in pod.items() if k not in ("metadata", "spec", "status")}
    out["metadata"] = {k: meta[k] for k in _KEPT_META if k in meta}
    out["spec"] = slim_spec
    out["status"] = {k: status[k] for k in _KEPT_STATUS if k in status}
    return out


class Scheduler:
    def __init__(self, client: Client, *, bind_concurrency: int = 64, seed: int | None = None,
                 bind_timeout: float = DEFAULT_BIND_TIMEOUT) -> None:
        self.client = client
        self.cache = Cache()
        self.queue = SchedulingQueue()
        self.events = EventRecorder(client, SCHEDULER_NAME)
        self.pods = Informer(client, PODS, transform=_slim)
        self.nodes = Informer(client, NODES)
        self.budgets = Informer(client, PDBS)
        self.claims = Informer(client, CLAIMS)
        self.volumes = Informer(client, VOLUMES)
        self.classes = Informer(client, CLASSES)
        self.cache.volumes = VolumeBinding(client, self.cache, self.claims, self.volumes, self.classes, pods=self.pods,
                                           events=self.events, bind_timeout=bind_timeout,
                                           on_change=self.queue.cluster_changed)
        self.pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_handlers(self._node_changed, lambda old, new: self._node_changed(new), self._node_deleted)
        self.rng = random.Random(seed)
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_start = 0
        self.scheduled = 0

    # -- informer events -----------------------------------------------------------------------

    @staticmethod
    def _ours(pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME

    @staticmethod
    def _pending(pod: Obj) -> bool:
        return not (pod.get("spec") or {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp") and \
            (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")

    def _pod_added(self, pod: Obj) -> None:
        key = object_key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                self.cache.remove_pod(key)
            else:
                self.cache.add_pod(key, pod, node)
        elif self._ours(pod) and self._pending(pod):
            self.cache.nominate(key, pod)
            self.queue.add(key, int((pod.get("spec") or {}).get("priority") or 0))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("nodeName") and (new.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self.cache.remove_pod(object_key(new))
            self.queue.cluster_changed()
            return
        if not (new.get("spec") or {}).get("nodeName") and not self._pending(new):
            self.queue.remove(object_key(new))
            self.cache.nominated.pop(object_key(new), None)
            return
        self._pod_added(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = object_key(pod)
        self.queue.remove(key)
        self.cache.nominated.pop(key, None)
        if self.cache.remove_pod(key) is not None:
            self.queue.cluster_changed()

    def _node_changed(self, node: Obj) -> None:
        self.cache.upsert_node(node)
        self.queue.cluster_changed()

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        informers = (self.nodes, self.pods, self.budgets, self.claims, self.volumes, self.classes)
        for informer in informers:
            informer.start()
        await asyncio.gather(*(informer.wait_synced(120) for informer in informers))
        log.info("scheduler running nodes=%d pending=%d", self.cache.node_count(), len(self.queue))
        flusher = asyncio.create_task(self.queue.run_flusher())
        try:
            while True:
                key = await self.queue.pop()
                pod = self.pods.get(key)
                if pod is None or not self._pending(pod) or not self._ours(pod) or key in self.cache.pods:
                    self.queue.remove(key)
                    continue
                try:
                    await self.schedule_one(key, pod)
                except Exception as e:  # an unexpected failure must not stop scheduling
                    log.exception("scheduling failed pod=%s error=%s", key, e)
                    self.queue.failed(key, unschedulable=False)
                await asyncio.sleep(0)
        finally:
            flusher.cancel()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*(informer.stop() for informer in informers))

    async def schedule_one(self, key: str, pod: Obj) -> None:
        state = CycleState(pod, key)
        feasible, diag = filter_nodes(state, self.cache)
        if not len(feasible):
            choice, message = preempt(state, self.cache, diag, [Budget.of(b) for b in self.budgets.list()])
            text = fit_error(diag, message)
            if choice is not None:
                await self._preempt(pod, choice.node, choice.victims)
            await self._unschedulable(key, pod, text)
            return
        i = select_node(state, self.cache, feasible, self._next_start, self.rng)
        self._next_start += 1
        node = self.cache.names[i]
        self.cache.add_pod(key, pod, node, assumed=True, requests=state.requests, nonzero=state.nonzero)  # Reserve
        self.queue.done(key)
        task = asyncio.create_task(self._bind(key, pod, node))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, key: str, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            if self.cache.volumes is not None:  # PreBind: the pod's claims bound for this node first
                await self.cache.volumes.pre_bind(pod, node)
            async with self._bind_slots:
                await self.client.create(PODS, body, meta["namespace"], subresource="binding", name=meta["name"])
        except (errors.ApiError, PreBindError) as e:
            log.info("binding failed pod=%s node=%s error=%s", key, node, e)
            entry = self.cache.pods.get(key)
            if entry is not None and entry.assumed:
                self.cache.remove_pod(key)
            if not isinstance(e, errors.NotFound):
                self.queue.add(key, int((pod.get("spec") or {}).get("priority") or 0))
                self.queue.failed(key, unschedulable=False)
            return
        self.scheduled += 1
        self.events.event(pod, "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}")

    async def _unschedulable(self, key: str, pod: Obj, message: str) -> None:
        log.info("unschedulable pod=%s reason=%s", key, message)
        self.queue.failed(key, unschedulable=True)
        self.events.event(pod, "Warning", "FailedScheduling", message)
        conds = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if current and current.get("status") == "False" and current.get("message") == message:
            return
        patch = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                            "message": message, "lastProbeTime": None,
                                            "lastTransitionTime": timestamps.now()}]}}
        try:
            await self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"],
                                    subresource="status", content_type=STRATEGIC)
        except errors.NotFound:
            pass

    async def _preempt(self, pod: Obj, i: int, victims: list[Any]) -> None:
        node = self.cache.names[i]
        meta = pod["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"status": {"nominatedNodeName": node}}, meta["namespace"],
                                    subresource="status", content_type=STRATEGIC)
        except errors.NotFound:
            return
        for v in victims:
            vmeta = v.obj["metadata"]
            reason = f"{SCHEDULER_NAME}: preempting to accommodate a higher priority pod"
            cond = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                    "message": reason, "lastProbeTime": None, "lastTransitionTime": timestamps.now()}
            try:
                await self.client.patch(PODS, vmeta["name"], {"status": {"conditions": [cond]}}, vmeta["namespace"],
                                        subresource="status", content_type=STRATEGIC)
                await self.client.delete(PODS, vmeta["name"], vmeta["namespace"], preconditions={"uid": vmeta["uid"]})
            except (errors.NotFound, errors.Conflict):
                continue
            self.events.event(v.obj, "Normal", "Preempted",
                              f"Preempted by pod {meta.get('uid')} on node {node}")


@dataclass
class SchedulerConfig:
    kubeconfig: str
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{uuid.uuid4()}")


async def run(config: SchedulerConfig) -> None:
    async with Client(load_kubeconfig(config.kubeconfig), user_agent="nanokube-scheduler") as client:
        async def lead() -> None:
            await Scheduler(client).run()

        election = LeaderElectionConfig("kube-system", "kube-scheduler", config.identity,
                                        config.lease_duration, config.renew_deadline, config.retry_period)
        await run_elected(client, election if config.leader_elect else None, lead)


def main(config: SchedulerConfig) -> None:
    asyncio.run(run(config))
