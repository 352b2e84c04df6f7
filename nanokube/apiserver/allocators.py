"""ClusterIP and NodePort allocation for Services.

What is allocated is derived from the Services in the watch cache (plus allocations handed
out moments ago whose Service is not in the cache yet), so a deleted Service releases its IP
and ports with no bookkeeping that could leak or drift.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..api import errors

PENDING_SECONDS = 30.0


class _Pool:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.pending: dict[Any, float] = {}
        self.clock = clock

    def hold(self, value: Any) -> None:
        self.pending[value] = self.clock() + PENDING_SECONDS

    def held(self) -> set[Any]:
        now = self.clock()
        for k in [k for k, exp in self.pending.items() if exp < now]:
            del self.pending[k]
        return set(self.pending)


class ServiceAllocator:
    def __init__(
        self,
        services: Callable[[], Iterable[dict[str, Any]]],
        service_cidr: str = "10.43.0.0/16",
        node_ports: tuple[int, int] = (30000, 32767),
        clock: Callable[[], float] = time.monotonic,
        rand: random.Random | None = None,
    ) -> None:
        self.services = services
        self.network = ipaddress.ip_network(service_cidr)
        self.node_ports = node_ports
        self.ips = _Pool(clock)
        self.ports = _Pool(clock)
        self.rand = rand or random.Random()

    @property
    def first_ip(self) -> str:
        """The `kubernetes` Service's address: the first usable one in the range."""
        return str(self.network.network_address + 1)

    def _used_ips(self, exclude_uid: str | None) -> set[str]:
        used = self.ips.held()
        for svc in self.services():
            if exclude_uid and svc["metadata"].get("uid") == exclude_uid:
                continue
            for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
                used.add(ip)
        return used

    def _used_ports(self, exclude_uid: str | None) -> set[tuple[str, int]]:
        used = self.ports.held()
        for svc in self.services():
            if exclude_uid and svc["metadata"].get("uid") == exclude_uid:
                continue
            for p in (svc.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    used.add((p.get("protocol", "TCP"), int(p["nodePort"])))
        return used

    def allocate_ip(self, requested: str | None, uid: str | None = None, name: str = "",
                    reserve: bool = True) -> str:
        """A free address (or the requested one, checked); `reserve=False` (dry run) only checks."""
        used = self._used_ips(uid)
        if requested:
            try:
                addr = ipaddress.ip_address(requested)
            except ValueError:
                raise _invalid(name, "spec.clusterIPs", [requested], "must be a valid IP address") from None
            if addr not in self.network or addr in (self.network.network_address, self.network.broadcast_address):
                raise _invalid(name, "spec.clusterIPs", [requested],
                               f"failed to allocate IP {requested}: provided IP is not in the valid range. "
                               f"The range of valid IPs is {self.network}")
            if requested in used:
                raise _invalid(name, "spec.clusterIPs", [requested],
                               f"failed to allocate IP {requested}: provided IP is already allocated")
            if reserve:
                self.ips.hold(requested)
            return requested
        size = self.network.num_addresses - 2
        # upstream keeps the low band for static addresses; draw dynamic ones above it
        low = min(max(16, size // 16), 256) if size > 64 else 0
        start = self.rand.randrange(low, size) if size > low else 0
        for i in range(size):
            off = (start + i - low) % (size - low) + low if size > low else (start + i) % size
            ip = str(self.network.network_address + 1 + off)
            if ip not in used:
                if reserve:
                    self.ips.hold(ip)
                return ip
        for off in range(low):
            ip = str(self.network.network_address + 1 + off)
            if ip not in used:
                if reserve:
                    self.ips.hold(ip)
                return ip
        raise errors.ApiError("Internal error occurred: failed to allocate a serviceIP: range is full")

    def allocate_node_ports(self, svc: dict[str, Any], old: dict[str, Any] | None, reserve: bool = True) -> None:
        """Fill in nodePorts for NodePort/LoadBalancer Services; check requested ones."""
        spec = svc.get("spec") or {}
        uid = svc["metadata"].get("uid")
        ports = spec.get("ports") or []
        wants = spec.get("type") in ("NodePort", "LoadBalancer")
        if spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
            wants = False
        if not wants:
            if spec.get("type") not in ("NodePort", "LoadBalancer"):
                for p in ports:
                    p.pop("nodePort", None)
            return
        used = self._used_ports(uid)
        old_ports = {(p.get("protocol", "TCP"), int(p["nodePort"])) for p in ((old or {}).get("spec") or {}).get("ports") or [] if p.get("nodePort")}
        lo, hi = self.node_ports
        for i, p in enumerate(ports):
            proto = p.get("protocol", "TCP")
            n = p.get("nodePort")
            if n:
                if not lo <= int(n) <= hi:
                    raise _invalid(svc["metadata"].get("name", ""), f"spec.ports[{i}].nodePort", n,
                                   f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}")
                if (proto, int(n)) in used and (proto, int(n)) not in old_ports:
                    raise _invalid(svc["metadata"].get("name", ""), f"spec.ports[{i}].nodePort", n, "provided port is already allocated")
                used.add((proto, int(n)))
                if reserve:
                    self.ports.hold((proto, int(n)))
                continue
            start = self.rand.randrange(lo, hi + 1)
            for k in range(hi - lo + 1):
                cand = lo + (start - lo + k) % (hi - lo + 1)
                if (proto, cand) not in used:
                    p["nodePort"] = cand
                    used.add((proto, cand))
                    if reserve:
                        self.ports.hold((proto, cand))
                    break
            else:
                raise errors.ApiError("Internal error occurred: failed to allocate a nodePort: range is full")


def _invalid(name: str, field: str, value: Any, detail: str) -> errors.Invalid:
    return errors.invalid("Service", name, [errors.FieldError("invalid", field, detail, value)])
