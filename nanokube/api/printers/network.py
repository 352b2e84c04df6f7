"""Rows of services and the networking kinds.

The server prints as for `-o wide` (kubectl hides priority columns itself), so load
balancer addresses are never cut short the way a client-side narrow print would cut them.
"""

from __future__ import annotations

import datetime
from typing import Any

from .base import (
    AGE, NAME, Cells, Obj, Printer, age, col, d, format_labels, format_selector, g, join_host_port, list_with_more,
    lst, n, name_of, ref, s, sorted_unique, wide,
)


def _lb_addresses(o: Obj) -> list[str]:
    """The load balancer's ingress points (IP, else hostname), sorted and without repeats."""
    out = []
    for i in lst(o, "status", "loadBalancer", "ingress"):
        if isinstance(i, dict):
            out.append(s(i, "ip") or s(i, "hostname"))
    return sorted_unique(out)


def external_ip(svc: Obj) -> str:
    spec = d(svc, "spec")
    kind = spec.get("type") or "ClusterIP"
    external = [x for x in lst(spec, "externalIPs") if isinstance(x, str)]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _lb_addresses(svc)
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return s(spec, "externalName")
    return "<unknown>"


def port_string(ports: list[Any]) -> str:
    out = []
    for p in ports:
        if not isinstance(p, dict):
            continue
        proto = s(p, "protocol") or "TCP"
        node_port = n(p, "nodePort")
        if node_port > 0:
            out.append(f"{n(p, 'port')}:{node_port}/{proto}")
        else:
            out.append(f"{n(p, 'port')}/{proto}")
    return ",".join(out)


def _service(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    ips = [x for x in lst(spec, "clusterIPs") if isinstance(x, str)]
    if not ips and s(spec, "clusterIP"):
        ips = [s(spec, "clusterIP")]
    return [name_of(o), spec.get("type") or "ClusterIP", ips[0] if ips else "<none>", external_ip(o),
            port_string(lst(spec, "ports")) or "<none>", age(o, now), format_labels(spec.get("selector"))]


SERVICE = Printer((
    NAME,
    col("Type", doc=ref("core.v1.ServiceSpec", "type")),
    col("Cluster-IP", doc=ref("core.v1.ServiceSpec", "clusterIP")),
    col("External-IP", doc=ref("core.v1.ServiceSpec", "externalIPs")),
    col("Port(s)", doc=ref("core.v1.ServiceSpec", "ports")),
    AGE,
    wide("Selector", doc=ref("core.v1.ServiceSpec", "selector")),
), _service)


def format_endpoints(ep: Obj) -> str:
    """Up to three `ip:port` pairs of an Endpoints object, then how many more there are."""
    subsets = [x for x in lst(ep, "subsets") if isinstance(x, dict)]
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for sub in subsets:
        addrs = [s(a, "ip") for a in lst(sub, "addresses") if isinstance(a, dict)]
        ports = [p for p in lst(sub, "ports") if isinstance(p, dict)]
        if not ports:  # headless services without ports list bare addresses
            count += len(addrs)
            shown.extend(addrs[: max(0, 3 - len(shown))])
            continue
        for p in ports:
            count += len(addrs)
            for a in addrs:
                if len(shown) == 3:
                    break
                shown.append(join_host_port(a, n(p, "port")))
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


ENDPOINTS = Printer((
    NAME, col("Endpoints", doc=ref("core.v1.Endpoints", "subsets")), AGE,
), lambda o, now: [name_of(o), format_endpoints(o), age(o, now)])


def _slice_ports(ports: list[Any]) -> str:
    names = []
    for p in ports:
        if not isinstance(p, dict):
            continue
        if p.get("port") is not None:
            names.append(str(n(p, "port")))
        elif p.get("name") is not None:
            names.append(s(p, "name"))
        else:
            names.append("*")
    return list_with_more(names, len(names))


def _slice_endpoints(endpoints: list[Any]) -> str:
    addrs = [a for e in endpoints if isinstance(e, dict) for a in lst(e, "addresses") if isinstance(a, str)]
    return list_with_more(addrs, len(addrs))


ENDPOINT_SLICE = Printer((
    NAME,
    col("AddressType", doc=ref("discovery.v1.EndpointSlice", "addressType")),
    col("Ports", doc=ref("discovery.v1.EndpointSlice", "ports")),
    col("Endpoints", doc=ref("discovery.v1.EndpointSlice", "endpoints")),
    AGE,
), lambda o, now: [name_of(o), s(o, "addressType"), _slice_ports(lst(o, "ports")),
                   _slice_endpoints(lst(o, "endpoints")), age(o, now)])


def format_hosts(rules: list[Any]) -> str:
    """Up to three rule hosts (`*` when none names one), then how many more rules there are."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and isinstance(rule, dict) and s(rule, "host"):
            hosts.append(s(rule, "host"))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    cls = spec.get("ingressClassName")
    return [name_of(o), cls if isinstance(cls, str) else "<none>", format_hosts(lst(spec, "rules")),
            ",".join(_lb_addresses(o)), "80, 443" if lst(spec, "tls") else "80", age(o, now)]


INGRESS = Printer((
    NAME,
    col("Class", doc="The IngressClass that configures this ingress."),
    col("Hosts", doc="The hosts the ingress rules match requests against."),
    col("Address", doc="Where the load balancer serving this ingress can be reached."),
    col("Ports", doc="The ports the ingress serves (443 too when it has TLS)."),
    AGE,
), _ingress)


def _ingress_class(o: Obj, now: datetime.datetime) -> Cells:
    params = g(o, "spec", "parameters")
    text = "<none>"
    if isinstance(params, dict):
        text = s(params, "kind")
        if params.get("apiGroup") is not None:
            text += "." + s(params, "apiGroup")
        text += "/" + s(params, "name")
    return [name_of(o), s(o, "spec", "controller"), text, age(o, now)]


INGRESS_CLASS = Printer((
    NAME,
    col("Controller", doc="The controller that implements this class."),
    col("Parameters", doc="The object holding the class's extra configuration."),
    AGE,
), _ingress_class)

NETWORK_POLICY = Printer((
    NAME, col("Pod-Selector", doc=ref("networking.v1.NetworkPolicySpec", "podSelector")), AGE,
), lambda o, now: [name_of(o), format_selector(g(o, "spec", "podSelector") or {}), age(o, now)])

SERVICE_CIDR = Printer((
    NAME, col("CIDRs", doc=ref("networking.v1.ServiceCIDRSpec", "cidrs")), AGE,
), lambda o, now: [name_of(o), ",".join(x for x in lst(o, "spec", "cidrs") if isinstance(x, str)), age(o, now)])


def _ip_address(o: Obj, now: datetime.datetime) -> Cells:
    parent = g(o, "spec", "parentRef")
    text = "<none>"
    if isinstance(parent, dict):
        group = s(parent, "group")
        text = (s(parent, "resource") + ("." + group if group else "")).lower()
        if s(parent, "namespace"):
            text += "/" + s(parent, "namespace")
        text += "/" + s(parent, "name")
    return [name_of(o), text, age(o, now)]


IP_ADDRESS = Printer((
    NAME, col("ParentRef", doc=ref("networking.v1.IPAddressSpec", "parentRef")),
), _ip_address)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Service"): SERVICE,
    ("", "Endpoints"): ENDPOINTS,
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINT_SLICE,
    ("networking.k8s.io", "Ingress"): INGRESS,
    ("networking.k8s.io", "IngressClass"): INGRESS_CLASS,
    ("networking.k8s.io", "NetworkPolicy"): NETWORK_POLICY,
    ("networking.k8s.io", "ServiceCIDR"): SERVICE_CIDR,
    ("networking.k8s.io", "IPAddress"): IP_ADDRESS,
}
