"""`nanokube controller-manager`: the controllers, leader-elected, sharing informers.

Like upstream's kube-controller-manager it talks to the cluster only through the API, holds
the `kube-system/kube-controller-manager` Lease while it acts, and steps down (stopping every
controller) when it cannot renew it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..api.registry import Registry
from ..client.config import load_kubeconfig
from ..client.informer import IndexFunc, Informer, by_namespace, by_node_name, by_orphan_namespace, by_owner_uid
from ..client.leaderelection import LeaderElectionConfig, run_elected
from ..client.rest import Client
from .cronjob import CronJobController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .ephemeralvolume import EphemeralVolumeController
from .garbagecollector import GarbageCollector
from .job import POD_FAILURE_BACKOFF, JobController
from .namespace import NamespaceController
from .nodeipam import NodeIpamController
from .nodelifecycle import NodeLifecycleController, NodeLifecycleSettings
from .persistentvolume import PersistentVolumeController
from .podautoscaler import PodAutoscalerController
from .podgc import PodGCController, PodGCSettings
from .replicaset import REPLICATIONCONTROLLERS, ReplicaSetController
from .resourcequota import INFORMED, ResourceQuotaController
from .serviceaccount import ServiceAccountController
from .statefulset import StatefulSetController
from .tainteviction import TaintEvictionController
from .ttlafterfinished import TTLAfterFinishedController
from .volumeprotection import PVCProtectionController, PVProtectionController

log = logging.getLogger("nanokube.controllers")


class Controller(Protocol):
    name: str

    async def run(self) -> None: ...


@dataclass
class ManagerConfig:
    kubeconfig: str
    controllers: tuple[str, ...] = field(default_factory=lambda: ALL_CONTROLLERS)
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{uuid.uuid4()}")
    node_lifecycle: NodeLifecycleSettings = field(default_factory=NodeLifecycleSettings)
    pod_gc: PodGCSettings = field(default_factory=PodGCSettings)
    hpa_sync_period: float = 15.0
    allocate_node_cidrs: bool = True
    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 24
    job_pod_failure_backoff: float = POD_FAILURE_BACKOFF
    default_local_storage_path: str = "/var/lib/nanokube/storage"
    pvclaimbinder_sync_period: float = 15.0


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta:
        return obj
    return dict(obj, metadata={k: v for k, v in meta.items() if k != "managedFields"})


class Informers:
    """One informer per resource, shared by every controller that needs it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.registry = Registry()
        self._informers: dict[tuple[str, str], Informer] = {}

    def get(self, group: str, plural: str) -> Informer:
        key = (group, plural)
        if key not in self._informers:
            r = next(r for r in self.registry.all() if r.group == group and r.plural == plural)
            indexers: dict[str, IndexFunc] = {"namespace": by_namespace, "owner": by_owner_uid,
                                              "orphan": by_orphan_namespace}
            if plural == "pods":
                indexers["node"] = by_node_name
            # pods are most of a cluster and controllers never write them back whole: their
            # managedFields need not be cached
            self._informers[key] = Informer(self.client, r, indexers=indexers,
                                            transform=_without_managed_fields if plural == "pods" else None)
        return self._informers[key]

    async def start_and_sync(self, timeout: float = 60.0) -> None:
        for inf in self._informers.values():
            inf.start()
        await asyncio.gather(*(inf.wait_synced(timeout) for inf in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))


Factory = Callable[[Client, Informers, "ManagerConfig"], Controller]

_FACTORIES: dict[str, Factory] = {
    "cronjob": lambda c, inf, cfg: CronJobController(c, inf.get("batch", "cronjobs"), inf.get("batch", "jobs")),
    "daemonset": lambda c, inf, cfg: DaemonSetController(
        c, inf.get("apps", "daemonsets"), inf.get("", "pods"), inf.get("", "nodes"),
        inf.get("apps", "controllerrevisions")),
    "deployment": lambda c, inf, cfg: DeploymentController(
        c, inf.get("apps", "deployments"), inf.get("apps", "replicasets"), inf.get("", "pods")),
    "disruption": lambda c, inf, cfg: DisruptionController(
        c, inf.get("policy", "poddisruptionbudgets"), inf.get("", "pods"),
        {"ReplicaSet": inf.get("apps", "replicasets"), "Deployment": inf.get("apps", "deployments"),
         "StatefulSet": inf.get("apps", "statefulsets"), "ReplicationController": inf.get("", "replicationcontrollers")}),
    "endpoints": lambda c, inf, cfg: EndpointsController(
        c, inf.get("", "services"), inf.get("", "pods"), inf.get("", "endpoints")),
    "endpointslice": lambda c, inf, cfg: EndpointSliceController(
        c, inf.get("", "services"), inf.get("", "pods"), inf.get("discovery.k8s.io", "endpointslices"),
        inf.get("", "nodes")),
    "ephemeral-volume": lambda c, inf, cfg: EphemeralVolumeController(
        c, inf.get("", "pods"), inf.get("", "persistentvolumeclaims")),
    "garbagecollector": lambda c, inf, cfg: GarbageCollector(c),
    "horizontalpodautoscaling": lambda c, inf, cfg: PodAutoscalerController(
        c, inf.get("autoscaling", "horizontalpodautoscalers"), cfg.hpa_sync_period),
    "job": lambda c, inf, cfg: JobController(
        c, inf.get("batch", "jobs"), inf.get("", "pods"), backoff_base=cfg.job_pod_failure_backoff),
    "namespace": lambda c, inf, cfg: NamespaceController(c, inf.get("", "namespaces")),
    "nodeipam": lambda c, inf, cfg: NodeIpamController(
        c, inf.get("", "nodes"), cfg.cluster_cidr, cfg.node_cidr_mask_size),
    "nodelifecycle": lambda c, inf, cfg: NodeLifecycleController(
        c, inf.get("", "nodes"), inf.get("coordination.k8s.io", "leases"), inf.get("", "pods"), cfg.node_lifecycle),
    "persistentvolume-binder": lambda c, inf, cfg: PersistentVolumeController(
        c, inf.get("", "persistentvolumeclaims"), inf.get("", "persistentvolumes"),
        inf.get("storage.k8s.io", "storageclasses"), inf.get("", "pods"), inf.get("", "nodes"),
        storage_dir=cfg.default_local_storage_path, identity=cfg.identity, sync_period=cfg.pvclaimbinder_sync_period),
    "podgc": lambda c, inf, cfg: PodGCController(c, inf.get("", "pods"), inf.get("", "nodes"), cfg.pod_gc),
    "pv-protection": lambda c, inf, cfg: PVProtectionController(c, inf.get("", "persistentvolumes")),
    "pvc-protection": lambda c, inf, cfg: PVCProtectionController(
        c, inf.get("", "persistentvolumeclaims"), inf.get("", "pods")),
    "replicaset": lambda c, inf, cfg: ReplicaSetController(c, inf.get("apps", "replicasets"), inf.get("", "pods")),
    "replicationcontroller": lambda c, inf, cfg: ReplicaSetController(
        c, inf.get("", "replicationcontrollers"), inf.get("", "pods"), resource=REPLICATIONCONTROLLERS),
    "resourcequota": lambda c, inf, cfg: ResourceQuotaController(
        c, inf.get("", "resourcequotas"), {plural: inf.get("", plural) for plural in INFORMED}),
    "serviceaccount": lambda c, inf, cfg: ServiceAccountController(
        c, inf.get("", "namespaces"), inf.get("", "serviceaccounts")),
    "statefulset": lambda c, inf, cfg: StatefulSetController(
        c, inf.get("apps", "statefulsets"), inf.get("", "pods"), inf.get("", "persistentvolumeclaims"),
        inf.get("apps", "controllerrevisions")),
    "taint-eviction-controller": lambda c, inf, cfg: TaintEvictionController(
        c, inf.get("", "nodes"), inf.get("", "pods")),
    "ttl-after-finished": lambda c, inf, cfg: TTLAfterFinishedController(c, inf.get("batch", "jobs")),
}
# upstream's controller names, as `--controllers` takes them
ALL_CONTROLLERS: tuple[str, ...] = tuple(sorted(_FACTORIES))


async def run(config: ManagerConfig) -> None:
    client = Client(load_kubeconfig(config.kubeconfig), user_agent="nanokube-controller-manager")
    async with client:
        async def lead() -> None:
            informers = Informers(client)
            names = [n for n in config.controllers if n != "nodeipam" or config.allocate_node_cidrs]
            controllers = [_FACTORIES[name](client, informers, config) for name in names]
            await informers.start_and_sync()
            log.info("controllers running: %s", ", ".join(names))
            try:
                await asyncio.gather(*(c.run() for c in controllers))
            finally:
                await informers.stop()

        election = LeaderElectionConfig("kube-system", "kube-controller-manager", config.identity,
                                        config.lease_duration, config.renew_deadline, config.retry_period)
        await run_elected(client, election if config.leader_elect else None, lead)


def main(config: ManagerConfig) -> None:
    asyncio.run(run(config))
