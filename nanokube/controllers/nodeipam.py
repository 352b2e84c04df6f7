"""Node IPAM: every node gets a pod CIDR (spec.podCIDR, spec.podCIDRs) carved out of the
cluster CIDR (`--cluster-cidr`, 10.42.0.0/16 as in k3s, /24 per node), which its network
plugin hands out pod IPs from. CIDRs in use are learnt from the nodes themselves, so a
restarted controller never gives one out twice; a deleted node's CIDR is free again.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker

log = logging.getLogger("nanokube.controllers.nodeipam")

NODES = Registry().require("", "v1", "nodes")
Obj = dict[str, Any]


class CIDRSet:
    """The /mask subnets of a cluster CIDR, which are taken and which are free."""

    def __init__(self, cluster_cidr: str, mask: int) -> None:
        self.network = ipaddress.ip_network(cluster_cidr, strict=False)
        if mask < self.network.prefixlen or mask > self.network.max_prefixlen:
            raise ValueError(f"node CIDR mask size {mask} does not fit in cluster CIDR {cluster_cidr}")
        self.mask = mask
        self.size = 1 << (mask - self.network.prefixlen)
        self.used: set[int] = set()
        self._next = 0

    def _index(self, cidr: str) -> int | None:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.version != self.network.version or net.prefixlen != self.mask or not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        return (int(net.network_address) - int(self.network.network_address)) >> (self.network.max_prefixlen - self.mask)

    def _cidr(self, index: int) -> str:
        base = int(self.network.network_address) + (index << (self.network.max_prefixlen - self.mask))
        return str(ipaddress.ip_network((base, self.mask)))

    def occupy(self, cidr: str) -> bool:
        i = self._index(cidr)
        if i is None:
            return False
        self.used.add(i)
        return True

    def release(self, cidr: str) -> None:
        i = self._index(cidr)
        if i is not None:
            self.used.discard(i)

    def allocate(self) -> str | None:
        """The next free subnet after the last one given (round robin), or None when full."""
        for k in range(self.size):
            i = (self._next + k) % self.size
            if i not in self.used:
                self.used.add(i)
                self._next = i + 1
                return self._cidr(i)
        return None


class NodeIpamController:
    name = "nodeipam"

    def __init__(self, client: Client, nodes: Informer, cluster_cidr: str = "10.42.0.0/16", mask: int = 24) -> None:
        self.client = client
        self.nodes = nodes
        self.cidrs = CIDRSet(cluster_cidr, mask)
        self.queue = WorkQueue()
        self.events = EventRecorder(client, "cidrAllocator")
        nodes.add_handlers(self._added, lambda old, new: self._added(new), self._deleted)

    def _added(self, node: Obj) -> None:
        for cidr in (node.get("spec") or {}).get("podCIDRs") or []:
            self.cidrs.occupy(cidr)
        if not (node.get("spec") or {}).get("podCIDR"):
            self.queue.add(node["metadata"]["name"])

    def _deleted(self, node: Obj) -> None:
        for cidr in (node.get("spec") or {}).get("podCIDRs") or []:
            self.cidrs.release(cidr)

    async def run(self) -> None:
        # what every node holds is known (the informer synced) before anything is given out
        await run_worker(self.queue, lambda k: self.sync(str(k)), log)

    async def sync(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None or (node.get("spec") or {}).get("podCIDR"):
            return None
        cidr = self.cidrs.allocate()
        if cidr is None:
            self.events.event(node, "Normal", "CIDRNotAvailable",
                              f"Node {name} status is now: CIDRNotAvailable")
            return 60.0
        try:
            await self.client.patch(NODES, name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                                    field_manager="node-ipam-controller")
            log.debug("pod CIDR assigned node=%s cidr=%s", name, cidr)
        except errors.NotFound:
            self.cidrs.release(cidr)
        except Exception:
            self.cidrs.release(cidr)
            raise
        return None
