"""The EndpointSlice controller: a Service's pods as discovery.k8s.io/v1 EndpointSlices of at
most 100 endpoints each, owned by the Service.

Unlike Endpoints, slices keep terminating pods (conditions ready/serving/terminating say what
state each is in), so proxies can drain them. Reconciling keeps every endpoint in the slice
it is already in and fills free room before making a new slice, as upstream does, so one pod
coming or going rewrites one slice, not all of them. A Service with no endpoints keeps one
empty placeholder slice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer
from ..client.rest import Client
from .endpoints import HEADLESS_LABEL
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
from .podutil import controller_ref
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.endpointslice")

ENDPOINTSLICES = Registry().require("discovery.k8s.io", "v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
Obj = dict[str, Any]
PortsKey = tuple[tuple[str, int, str, str], ...]


def _ports_key(ports: list[Obj]) -> PortsKey:
    return tuple(sorted((p.get("name", ""), p["port"], p["protocol"], p.get("appProtocol", "")) for p in ports))


def slice_ports(ports: list[Obj]) -> list[Obj]:
    """Slice ports always carry a name, "" when the Service port has none (clients such as
    kubectl describe read it without checking)."""
    return sorted(({"name": "", **p} for p in ports), key=lambda p: (p["name"], p["port"]))


def address_type(svc: Obj) -> str:
    families = (svc.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    return "IPv6" if families[0] == "IPv6" else "IPv4"


def desired_endpoints(svc: Obj, pods: list[Obj], zones: dict[str, str]) -> dict[PortsKey, tuple[list[Obj], list[Obj]]]:
    """Port set → (its slice ports, the endpoints of the pods that resolve to it)."""
    spec = svc.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    want_v6 = address_type(svc) == "IPv6"
    out: dict[PortsKey, tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        ip = pod_ip(pod)
        if not ip or (":" in ip) != want_v6 or pod_finished(pod) or not selects(svc, pod):
            continue
        ports = endpoint_ports(svc, pod)
        if spec.get("ports") and not ports:
            continue
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        ready = pod_ready(pod)
        ep: Obj = {"addresses": [ip],
                   "conditions": {"ready": publish_not_ready or (ready and not terminating),
                                  "serving": publish_not_ready or ready,
                                  "terminating": terminating},
                   "targetRef": pod_reference(pod)}
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            ep["nodeName"] = node
            if zones.get(node):
                ep["zone"] = zones[node]
        hostname = pod_hostname(svc, pod)
        if hostname:
            ep["hostname"] = hostname
        key = _ports_key(ports)
        out.setdefault(key, (slice_ports(ports), []))[1].append(ep)
    return out


def _uid(ep: Obj) -> str:
    return str(ep.get("targetRef", {}).get("uid") or ep["addresses"][0])


def plan_slices(existing: list[Obj], desired: dict[PortsKey, tuple[list[Obj], list[Obj]]],
                max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> tuple[list[Obj], list[tuple[list[Obj], list[Obj]]], list[Obj]]:
    """Given the Service's slices and what they should hold, decide (slices to update, with
    their new `endpoints` and `ports`; new slices as (ports, endpoints); slices to delete).
    Endpoints stay in the slice that holds them; new ones fill free room first."""
    to_update: list[Obj] = []
    to_create: list[tuple[list[Obj], list[Obj]]] = []
    to_delete: list[Obj] = []
    by_key: dict[PortsKey, list[Obj]] = {}
    for s in existing:
        key = _ports_key(s.get("ports") or [])
        if key in desired:
            by_key.setdefault(key, []).append(s)
        else:
            to_delete.append(s)
    for key, (ports, endpoints) in sorted(desired.items()):
        wanted = {_uid(ep): ep for ep in endpoints}
        placed: set[str] = set()
        kept: list[tuple[Obj, list[Obj]]] = []
        for s in sorted(by_key.get(key, []), key=lambda s: s["metadata"]["name"]):
            now = [wanted[_uid(ep)] for ep in s.get("endpoints") or []
                   if _uid(ep) in wanted and _uid(ep) not in placed][:max_per_slice]
            placed.update(_uid(ep) for ep in now)
            kept.append((s, now))
        fresh = sorted((ep for u, ep in wanted.items() if u not in placed), key=lambda e: e["addresses"][0])
        for _, now in kept:
            room = max_per_slice - len(now)
            if room > 0 and fresh:
                now.extend(fresh[:room])
                fresh = fresh[room:]
        for s, now in kept:
            if not now:
                to_delete.append(s)
            elif now != (s.get("endpoints") or []) or (s.get("ports") or []) != ports:
                to_update.append(dict(s, endpoints=now, ports=ports))
        for i in range(0, len(fresh), max_per_slice):
            to_create.append((ports, fresh[i:i + max_per_slice]))
    if not desired:
        # a placeholder: one empty slice says "this Service has no endpoints"
        empties = [s for s in to_delete if not s.get("endpoints") and not s.get("ports")]
        if empties:
            to_delete.remove(empties[0])
        else:
            to_create.append(([], []))
    return to_update, to_create, to_delete


def slice_labels(svc: Obj) -> dict[str, str]:
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    labels[SERVICE_NAME_LABEL] = svc["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def _service_of(s: Obj) -> str | None:
    labels = s["metadata"].get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY or SERVICE_NAME_LABEL not in labels:
        return None
    return f"{s['metadata'].get('namespace')}/{labels[SERVICE_NAME_LABEL]}"


class EndpointSliceController(ServicePodsController):
    name = "endpointslice"

    def __init__(self, client: Client, services: Informer, pods: Informer, slices: Informer,
                 nodes: Informer | None = None, workers: int = 5) -> None:
        super().__init__(services, pods, slices, _service_of, log, workers)
        self.client = client
        self.slices = slices
        self.nodes = nodes
        # writes not yet seen through the informer, per Service: slice name → the
        # resourceVersion written (None: deleted), so a stale cache never makes a second slice
        # (or someone else removed it meanwhile: after a few seconds the write is forgotten)
        self._written: dict[str, dict[str, tuple[str | None, float]]] = {}

    def _cache_behind(self, key: str, ns: str) -> bool:
        written = self._written.get(key)
        if not written:
            return False
        now = time.monotonic()
        for name, (rv, at) in list(written.items()):
            cur = self.slices.get(f"{ns}/{name}")
            if (rv is None and cur is None) or (rv is not None and cur is not None and \
                    int(cur["metadata"]["resourceVersion"]) >= int(rv)) or now - at > 5.0:
                del written[name]
        return bool(written)

    def _zones(self) -> dict[str, str]:
        if self.nodes is None:
            return {}
        return {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL, "")
                for n in self.nodes.list()}

    async def sync(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        svc = self.services.get(key)
        if svc is None or service_selector(svc) is None or svc["metadata"].get("deletionTimestamp"):
            self._written.pop(key, None)
            return None  # the garbage collector removes slices of a deleted Service
        if self._cache_behind(key, ns):
            return 0.05
        existing = [s for s in self.slices.by_index("namespace", ns) if _service_of(s) == key]
        desired = desired_endpoints(svc, self.pods.by_index("namespace", ns), self._zones())
        to_update, to_create, to_delete = plan_slices(existing, desired)
        labels = slice_labels(svc)
        for s in existing:
            if s not in to_delete and (s["metadata"].get("labels") or {}) != labels and \
                    not any(u["metadata"]["name"] == s["metadata"]["name"] for u in to_update):
                to_update.append(s)
        stamp = timestamps.now()
        kind = address_type(svc)
        written = self._written.setdefault(key, {})
        for ports, endpoints in to_create:
            body: Obj = {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels,
                             "annotations": {TRIGGER_TIME_ANNOTATION: stamp},
                             "ownerReferences": [controller_ref(svc, "Service", "v1")]},
                "addressType": kind, "endpoints": endpoints, "ports": ports,
            }
            made = await self.client.create(ENDPOINTSLICES, body, ns, field_manager="endpointslice-controller")
            written[made["metadata"]["name"]] = (made["metadata"]["resourceVersion"], time.monotonic())
        for s in to_update:
            meta = dict(s["metadata"], labels=labels,
                        annotations=dict(s["metadata"].get("annotations") or {}, **{TRIGGER_TIME_ANNOTATION: stamp}))
            done = await self.client.update(ENDPOINTSLICES, dict(s, metadata=meta),
                                            field_manager="endpointslice-controller")
            written[done["metadata"]["name"]] = (done["metadata"]["resourceVersion"], time.monotonic())
        for s in to_delete:
            try:
                await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns,
                                         preconditions={"uid": s["metadata"]["uid"]})
                written[s["metadata"]["name"]] = (None, time.monotonic())
            except errors.NotFound:
                pass
        return None
