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
from ..client.informer import IndexFunc, Informer, by_namespace, by_node_name, by_owner_uid
from ..client.leaderelection import LeaderElectionConfig, run_elected
from ..client.rest import Client
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .garbagecollector import GarbageCollector
from .namespace import NamespaceController
from .replicaset import REPLICATIONCONTROLLERS, ReplicaSetController
from .serviceaccount import ServiceAccountController
from .statefulset import StatefulSetController

log = logging.getLogger("nanokube.controllers")

ALL_CONTROLLERS = ("daemonset", "deployment", "garbagecollector", "namespace", "replicaset", "replicationcontroller",
                   "serviceaccount", "statefulset")


class Controller(Protocol):
    name: str

    async def run(self) -> None: ...


@dataclass
class ManagerConfig:
    kubeconfig: str
    controllers: tuple[str, ...] = ALL_CONTROLLERS
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{uuid.uuid4()}")


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
            indexers: dict[str, IndexFunc] = {"namespace": by_namespace, "owner": by_owner_uid}
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


_FACTORIES: dict[str, Callable[[Client, Informers], Controller]] = {
    "daemonset": lambda c, inf: DaemonSetController(c, inf.get("apps", "daemonsets"), inf.get("", "pods"),
                                                    inf.get("", "nodes"), inf.get("apps", "controllerrevisions")),
    "deployment": lambda c, inf: DeploymentController(c, inf.get("apps", "deployments"), inf.get("apps", "replicasets"),
                                                      inf.get("", "pods")),
    "garbagecollector": lambda c, inf: GarbageCollector(c),
    "replicaset": lambda c, inf: ReplicaSetController(c, inf.get("apps", "replicasets"), inf.get("", "pods")),
    "replicationcontroller": lambda c, inf: ReplicaSetController(
        c, inf.get("", "replicationcontrollers"), inf.get("", "pods"), resource=REPLICATIONCONTROLLERS),
    "namespace": lambda c, inf: NamespaceController(c, inf.get("", "namespaces")),
    "serviceaccount": lambda c, inf: ServiceAccountController(c, inf.get("", "namespaces"),
                                                              inf.get("", "serviceaccounts")),
    "statefulset": lambda c, inf: StatefulSetController(c, inf.get("apps", "statefulsets"), inf.get("", "pods"),
                                                        inf.get("", "persistentvolumeclaims"),
                                                        inf.get("apps", "controllerrevisions")),
}


async def run(config: ManagerConfig) -> None:
    client = Client(load_kubeconfig(config.kubeconfig), user_agent="nanokube-controller-manager")
    async with client:
        async def lead() -> None:
            informers = Informers(client)
            controllers = [_FACTORIES[name](client, informers) for name in config.controllers]
            await informers.start_and_sync()
            log.info("controllers running: %s", ", ".join(config.controllers))
            try:
                await asyncio.gather(*(c.run() for c in controllers))
            finally:
                await informers.stop()

        election = LeaderElectionConfig("kube-system", "kube-controller-manager", config.identity,
                                        config.lease_duration, config.renew_deadline, config.retry_period)
        await run_elected(client, election if config.leader_elect else None, lead)


def main(config: ManagerConfig) -> None:
    asyncio.run(run(config))
