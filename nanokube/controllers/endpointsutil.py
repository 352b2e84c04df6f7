"""What the Endpoints and EndpointSlice controllers share: which pods back a Service, which
port of a pod a Service port reaches, and the event wiring that turns pod and Service changes
into work for the Services concerned.

Both controllers publish the same facts in two shapes, so the facts are decided here once:
a pod backs a Service when the Service has a selector that matches its labels, the pod has an
IP and has not finished; a Service port reaches the container port its targetPort names (by
number, or by the name of a container port, which may differ from pod to pod).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..api.selectors import label_selector_from_dict
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue, run_worker

Obj = dict[str, Any]

# upstream's annotation on a Service's Endpoints saying when the change that caused them happened
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def service_selector(svc: Obj) -> dict[str, str] | None:
    """The Service's selector, or None when it has none (its endpoints are managed by hand)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    sel = spec.get("selector")
    return dict(sel) if sel else None


def selects(svc: Obj, pod: Obj) -> bool:
    sel = service_selector(svc)
    if sel is None:
        return False
    return label_selector_from_dict({"matchLabels": sel}).matches((pod.get("metadata") or {}).get("labels") or {})


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return str(status.get("podIP") or (ips[0].get("ip") if ips else "") or "")


def pod_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def target_port(svc_port: Obj, pod: Obj) -> int | None:
    """The pod port a Service port sends to: targetPort as a number, the containerPort of
    that name, or (when unset) the Service port itself. None: this pod has no such port."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = svc_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return int(p["containerPort"])
    return None


def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    """The ports of `pod` the Service reaches, in the Service's order, as Endpoints list them."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        port = target_port(sp, pod)
        if port is None:
            continue
        ep: Obj = {"port": port, "protocol": sp.get("protocol", "TCP")}
        if sp.get("name"):
            ep["name"] = sp["name"]
        if sp.get("appProtocol"):
            ep["appProtocol"] = sp["appProtocol"]
        out.append(ep)
    return out


def pod_reference(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta["name"], "uid": meta.get("uid")}


def pod_hostname(svc: Obj, pod: Obj) -> str | None:
    """A pod is known by its hostname in a Service that is its subdomain (StatefulSet pods)."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
        return str(spec["hostname"])
    return None


class ServicePodsController:
    """Event wiring shared by the controllers that publish a Service's pods: a Service change
    queues that Service; a pod change queues every Service in its namespace whose selector
    matches the pod before or after; a change to the published object queues its Service."""

    name = ""

    def __init__(self, services: Informer, pods: Informer, published: Informer,
                 service_of: Callable[[Obj], str | None], log: logging.Logger, workers: int = 5) -> None:
        self.services = services
        self.pods = pods
        self.log = log
        self.workers = workers
        self.queue = WorkQueue()
        self._service_of = service_of
        services.add_handlers(self._queue_service, lambda old, new: self._queue_service(new), self._queue_service)
        pods.add_handlers(self._pod_changed, self._pod_changed, self._pod_changed)
        published.add_handlers(self._published_changed, lambda old, new: self._published_changed(new),
                               self._published_changed)

    def _queue_service(self, svc: Obj) -> None:
        self.queue.add(object_key(svc))

    def _published_changed(self, obj: Obj) -> None:
        key = self._service_of(obj)
        if key is not None:
            self.queue.add(key)

    def _pod_changed(self, pod: Obj, new: Obj | None = None) -> None:
        ns = pod["metadata"].get("namespace")
        versions = [pod] if new is None else [pod, new]
        for svc in self.services.by_index("namespace", ns):
            if any(selects(svc, p) for p in versions):
                self.queue.add(object_key(svc))

    async def run(self) -> None:
        sync: Callable[[Any], Awaitable[float | None]] = lambda key: self.sync(str(key))
        await asyncio.gather(*(run_worker(self.queue, sync, self.log) for _ in range(self.workers)))

    async def sync(self, key: str) -> float | None:
        raise NotImplementedError
