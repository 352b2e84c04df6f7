"""The taint eviction controller: pods leave nodes with NoExecute taints they do not tolerate.

A pod that does not tolerate a NoExecute taint of its node is deleted at once; one that
tolerates it for `tolerationSeconds` is deleted that long after the taint was added (the
DefaultTolerationSeconds admission gives every pod 300 s for not-ready and unreachable); one
that tolerates it without a limit stays. Before deleting, the pod gets the DisruptionTarget
condition saying why, as upstream's controller does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.nodematch import tolerates
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.tainteviction")

PODS = Registry().require("", "v1", "pods")
Obj = dict[str, Any]


def _parse(ts: str | None, default: datetime.datetime) -> datetime.datetime:
    if not ts:
        return default
    return timestamps.parse_time(ts)


def eviction_time(pod: Obj, node: Obj, now: datetime.datetime) -> datetime.datetime | None:
    """When the pod must leave the node because of its NoExecute taints (now, or later for
    tolerations with tolerationSeconds), or None when it may stay."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    when: datetime.datetime | None = None
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return now
        limits = [t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None]
        if not limits or any(t.get("tolerationSeconds") is None for t in matching):
            continue  # tolerated for ever by at least one toleration
        due = _parse(taint.get("timeAdded"), now) + datetime.timedelta(seconds=max(0, min(limits)))
        when = due if when is None else min(when, due)
    return when


class TaintEvictionController:
    name = "taint-eviction-controller"

    def __init__(self, client: Client, nodes: Informer, pods: Informer, workers: int = 4,
                 clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        self.client = client
        self.nodes = nodes
        self.pods = pods
        self.clock = clock
        self.workers = workers
        self.queue = WorkQueue()
        self.events = EventRecorder(client, "taint-eviction-controller")
        nodes.add_handlers(self._node_changed, lambda old, new: self._node_changed(new, old), None)
        pods.add_handlers(self._pod_changed, lambda old, new: self._pod_changed(new), None)

    def _node_changed(self, node: Obj, old: Obj | None = None) -> None:
        def no_execute(n: Obj | None) -> list[Obj]:
            return [t for t in ((n or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]

        if old is not None and no_execute(old) == no_execute(node):
            return
        for pod in self.pods.by_index("node", node["metadata"]["name"]):
            self.queue.add(object_key(pod))

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp"):
            self.queue.add(object_key(pod))

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log) for _ in range(self.workers)))

    async def sync(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return None
        node = self.nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        if node is None:
            return None
        now = self.clock()
        when = eviction_time(pod, node, now)
        if when is None:
            return None
        if when > now:
            return (when - now).total_seconds()
        await self._evict(pod)
        return None

    async def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        stamp = timestamps.format_time(self.clock())
        conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                      "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": stamp})
        try:
            await self.client.update(PODS, dict(pod, status=dict(pod.get("status") or {}, conditions=conds)),
                                     subresource="status", field_manager="taint-eviction-controller")
            self.events.event(pod, "Normal", "TaintManagerEviction",
                              f"Marking for deletion Pod {meta['namespace']}/{meta['name']}")
            await self.client.delete(PODS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
            log.info("evicted pod=%s/%s node=%s", meta["namespace"], meta["name"], pod["spec"].get("nodeName"))
        except errors.NotFound:
            pass
