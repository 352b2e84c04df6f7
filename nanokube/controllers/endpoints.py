"""The Endpoints controller: for every Service with a selector, an Endpoints object of the
same name listing the IPs and ports of the pods it selects.

Ready pods go to `addresses`, the others to `notReadyAddresses` (all to `addresses` when
the Service sets publishNotReadyAddresses); terminating and finished pods are left out.
Pods that resolve the Service's ports to the same container ports share a subset. Like
upstream's, the object is rewritten only when what it lists changes, and holds at most 1,000
addresses (then it says it was truncated); EndpointSlices carry the rest.
"""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer, object_key
from ..client.rest import Client
from .endpointsutil import (
    TRIGGER_TIME_ANNOTATION,
    ServicePodsController,
    endpoint_ports,
    pod_finished,
    pod_hostname,
    pod_ip,
    pod_ready,
    pod_reference,
    selects,
    service_selector,
)
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.endpoints")

ENDPOINTS = Registry().require("", "v1", "endpoints")
MAX_ADDRESSES = 1000
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
Obj = dict[str, Any]


def _port_key(ports: list[Obj]) -> tuple[tuple[str, int, str, str], ...]:
    return tuple(sorted((p.get("name", ""), p["port"], p["protocol"], p.get("appProtocol", "")) for p in ports))


def endpoints_subsets(svc: Obj, pods: list[Obj]) -> tuple[list[Obj], bool]:
    """The subsets of the Service's Endpoints, and whether addresses were dropped to keep
    under MAX_ADDRESSES (ready ones are kept first)."""
    spec = svc.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    groups: dict[tuple[tuple[str, int, str, str], ...], tuple[list[Obj], list[Obj], list[Obj]]] = {}
    for pod in pods:
        ip = pod_ip(pod)
        if not ip or pod_finished(pod) or not selects(svc, pod):
            continue
        if pod["metadata"].get("deletionTimestamp") and not tolerate_unready:
            continue
        ports = endpoint_ports(svc, pod)
        if not ports and not (headless and not spec.get("ports")):
            continue
        address: Obj = {"ip": ip, "targetRef": pod_reference(pod)}
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            address["nodeName"] = node
        hostname = pod_hostname(svc, pod)
        if hostname:
            address["hostname"] = hostname
        key = _port_key(ports)
        ready, not_ready, _ = groups.setdefault(key, ([], [], ports))
        (ready if tolerate_unready or pod_ready(pod) else not_ready).append(address)
    subsets: list[Obj] = []
    budget = MAX_ADDRESSES
    truncated = False
    for key in sorted(groups):
        ready, not_ready, ports = groups[key]
        ready.sort(key=lambda a: (a["ip"], a["targetRef"]["name"]))
        not_ready.sort(key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if len(ready) + len(not_ready) > budget:
            truncated = True
            ready = ready[:budget]
            not_ready = not_ready[:max(budget - len(ready), 0)]
        budget -= len(ready) + len(not_ready)
        if not ready and not not_ready:
            continue
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"]))
        subsets.append(subset)
    return subsets, truncated


def endpoints_labels(svc: Obj) -> dict[str, str]:
    labels = dict(svc["metadata"].get("labels") or {})
    labels[SKIP_MIRROR_LABEL] = "true"
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


class EndpointsController(ServicePodsController):
    name = "endpoints"

    def __init__(self, client: Client, services: Informer, pods: Informer, endpoints: Informer,
                 workers: int = 5) -> None:
        super().__init__(services, pods, endpoints, object_key, log, workers)
        self.client = client
        self.endpoints = endpoints

    async def sync(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        svc = self.services.get(key)
        current = self.endpoints.get(key)
        if svc is None:
            # the Service is gone: so are the Endpoints this controller kept for it
            if current is not None and (current["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true":
                try:
                    await self.client.delete(ENDPOINTS, name, ns)
                except errors.NotFound:
                    pass
            return None
        if service_selector(svc) is None or svc["metadata"].get("deletionTimestamp"):
            return None  # endpoints of a Service without a selector are the user's
        subsets, truncated = endpoints_subsets(svc, self.pods.by_index("namespace", ns))
        labels = endpoints_labels(svc)
        annotations = dict((current or {}).get("metadata", {}).get("annotations") or {})
        if truncated:
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        if current is not None and (current.get("subsets") or []) == subsets and \
                (current["metadata"].get("labels") or {}) == labels and \
                (current["metadata"].get("annotations") or {}) == annotations:
            return None
        annotations[TRIGGER_TIME_ANNOTATION] = timestamps.now()
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
                     "subsets": subsets}
        if current is None:
            try:
                await self.client.create(ENDPOINTS, body, ns, field_manager="endpoint-controller")
            except errors.AlreadyExists:
                self.queue.add_after(key, 0.1)  # seen through the informer soon: update then
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await self.client.update(ENDPOINTS, body, field_manager="endpoint-controller")
        return None
