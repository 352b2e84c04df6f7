"""The Node object and Lease a simulated kubelet registers, shaped as a real kubelet's."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..version import GIT_VERSION

Obj = dict[str, Any]
SIMULATED_LABEL = "node.nanokube.io/simulated"
LEASE_SECONDS = 40  # upstream kubelet's nodeLeaseDurationSeconds


@dataclass
class NodeShape:
    """Capacity, labels and taints every simulated node gets."""

    cpu: str = "4"
    memory: str = "16Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)


def node_ip(index: int) -> str:
    """A distinct, never-routed address per simulated node (10.240.0.0/12 by index)."""
    return str(ipaddress.IPv4Address("10.240.0.1") + index)


def fallback_pod_cidr(index: int) -> str:
    """The /24 a node uses for pod IPs when no IPAM controller gave it spec.podCIDR."""
    return f"{ipaddress.IPv4Address('10.128.0.0') + index * 256}/24"


def _conditions(wall: str) -> list[Obj]:
    def cond(ctype: str, status: str, reason: str, message: str) -> Obj:
        return {"type": ctype, "status": status, "lastHeartbeatTime": wall, "lastTransitionTime": wall,
                "reason": reason, "message": message}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def node_status(index: int, name: str, shape: NodeShape, wall: str) -> Obj:
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": shape.pods,
                 "ephemeral-storage": shape.ephemeral_storage, "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    machine = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.sim.nanokube").hex
    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": _conditions(wall),
        "addresses": [{"type": "InternalIP", "address": node_ip(index)}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": machine, "systemUUID": machine, "bootID": uuid.uuid4().hex,
            "kernelVersion": "simulated", "osImage": "nanokube simulated node",
            "containerRuntimeVersion": "sim://1.0", "kubeletVersion": GIT_VERSION,
            "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
        },
    }


def node_object(index: int, name: str, shape: NodeShape, wall: str) -> Obj:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", SIMULATED_LABEL: "true",
              **shape.labels}
    spec: Obj = {}
    if shape.taints:
        spec["taints"] = [dict(t) for t in shape.taints]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": spec, "status": node_status(index, name, shape, wall)}


def lease_object(node: Obj, wall_micro: str) -> Obj:
    meta = node["metadata"]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": meta["name"], "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": meta["name"],
                                              "uid": meta["uid"]}]},
            "spec": {"holderIdentity": meta["name"], "leaseDurationSeconds": LEASE_SECONDS,
                     "renewTime": wall_micro}}


def parse_taint(text: str) -> Obj:
    """`key=value:Effect` or `key:Effect`, as kubelet's --register-with-taints takes them."""
    kv, _, effect = text.rpartition(":")
    if not kv or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise ValueError(f"invalid taint {text!r}: want key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
    key, _, value = kv.partition("=")
    taint: Obj = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint
