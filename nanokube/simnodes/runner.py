"""`nanokube sim-nodes`: N simulated kubelets in one process.

One informer on bound pods and one on the simulated nodes serve every node; a work queue
and a few workers run `lifecycle.step` per pod; a heartbeat loop renews every node's Lease
spread evenly over the renew interval (10 s by default, as the kubelet does) and posts node
status every `status_report` seconds. Kept cheap so thousands of nodes fit in one process:
the pod cache holds only the fields the lifecycle reads.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from .lifecycle import EXIT_CODE, RUN_SECONDS, PodRecord, SimConfig, step
from .nodes import SIMULATED_LABEL, NodeShape, fallback_pod_cidr, lease_object, node_ip, node_object
from ..api import timestamps

log = logging.getLogger("nanokube.simnodes")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
NODES = _REG.require("", "v1", "nodes")
LEASES = _REG.require("coordination.k8s.io", "v1", "leases")
Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def slim_pod(pod: Obj) -> Obj:
    """What the lifecycle needs of a pod; the rest is dropped from the cache."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if k in (RUN_SECONDS, EXIT_CODE)}
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "deletionTimestamp",
                                          "deletionGracePeriodSeconds", "ownerReferences") if k in meta}
        | ({"annotations": ann} if ann else {}),
        "spec": {"nodeName": spec.get("nodeName"), "restartPolicy": spec.get("restartPolicy"),
                 "hostNetwork": spec.get("hostNetwork", False),
                 "containers": [{"name": c.get("name"), "image": c.get("image")} for c in spec.get("containers") or []],
                 "initContainers": [{"name": c.get("name"), "image": c.get("image")}
                                    for c in spec.get("initContainers") or []]},
        "status": {k: v for k, v in (pod.get("status") or {}).items()
                   if k in ("phase", "conditions", "startTime", "qosClass")},
    }


@dataclass
class _PodNetwork:
    """host-local IPAM for one node's pod CIDR."""

    cidr: str
    used: set[int] = field(default_factory=set)
    next: int = 2

    def allocate(self) -> str:
        net = ipaddress.IPv4Network(self.cidr, strict=False)
        size = net.num_addresses
        for _ in range(size):
            n = self.next
            self.next = self.next + 1 if self.next + 1 < size - 1 else 2
            if n not in self.used:
                self.used.add(n)
                return str(net.network_address + n)
        raise RuntimeError(f"no free pod IP in {self.cidr}")

    def release(self, ip: str) -> None:
        net = ipaddress.IPv4Network(self.cidr, strict=False)
        addr = ipaddress.IPv4Address(ip)
        if addr in net:
            self.used.discard(int(addr) - int(net.network_address))


class SimNodes:
    def __init__(self, client: Client, count: int, *, prefix: str = "sim-node-", first_index: int = 0,
                 shape: NodeShape | None = None, config: SimConfig | None = None, lease_renew: float = 10.0,
                 status_report: float = 300.0, workers: int = 0,
                 clock: Callable[[], float] = time.monotonic, utc: Callable[[], datetime.datetime] = _utc,
                 heartbeat_client: Client | None = None) -> None:
        self.client = client
        # leases go over connections of their own, as each real kubelet has its own: a
        # backlog of pod status writes must not make healthy nodes look lost
        self.heartbeat_client = heartbeat_client or client
        self._renewing: set[str] = set()
        self._renew_slots = asyncio.Semaphore(64)
        self.names = [f"{prefix}{first_index + i}" for i in range(count)]
        self.index = {name: first_index + i for i, name in enumerate(self.names)}
        self.shape = shape or NodeShape()
        self.config = config or SimConfig()
        self.lease_renew = lease_renew
        self.status_report = status_report
        # every real node has its own kubelet working on its pods: scale the shared workers
        # with the node count so status writes do not queue behind one another
        self.workers = workers or min(256, 16 + count // 16)
        self.clock = clock
        self.utc = utc
        self.records: dict[str, PodRecord] = {}
        self.networks: dict[str, _PodNetwork] = {}
        self.node_uids: dict[str, str] = {}
        self.queue = WorkQueue()
        self.pods = Informer(client, PODS, field_selector="spec.nodeName!=", transform=slim_pod)
        self.nodes = Informer(client, NODES, label_selector=f"{SIMULATED_LABEL}=true")
        self.pods.add_handlers(self._pod_changed, lambda old, new: self._pod_changed(new), self._pod_deleted)
        self.nodes.add_handlers(self._node_changed, lambda old, new: self._node_changed(new))
        self._limit = asyncio.Semaphore(32)
        self._tasks: set[asyncio.Future[Any]] = set()

    def _wall(self) -> str:
        return timestamps.format_time(self.utc())

    # -- nodes and leases ----------------------------------------------------------------------

    async def register(self) -> None:
        """Create (or take over) every node and its lease."""
        await asyncio.gather(*(self._register(name) for name in self.names))
        log.info("registered simulated nodes count=%d first=%s", len(self.names), self.names[:1])

    async def _register(self, name: str) -> None:
        async with self._limit:
            obj = node_object(self.index[name], name, self.shape, self._wall())
            try:
                node = await self.client.create(NODES, obj)
            except errors.AlreadyExists:
                node = await self.client.patch(NODES, name, {"status": obj["status"]}, subresource="status")
            self.node_uids[name] = node["metadata"]["uid"]
            micro = self.utc().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            try:
                await self.client.create(LEASES, lease_object(node, micro), "kube-node-lease")
            except errors.AlreadyExists:
                await self._renew(name, node)

    async def _renew(self, name: str, node: Obj | None = None) -> None:
        micro = self.utc().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        client = self.heartbeat_client
        try:
            await client.patch(LEASES, name, {"spec": {"renewTime": micro, "holderIdentity": name}},
                               "kube-node-lease")
        except errors.NotFound:
            if node is None:
                node = {"metadata": {"name": name, "uid": self.node_uids.get(name, "")}}
            try:
                await client.create(LEASES, lease_object(node, micro), "kube-node-lease")
            except errors.AlreadyExists:
                pass

    async def _renew_one(self, name: str) -> None:
        try:
            async with self._renew_slots:
                await self._renew(name)
        except Exception as e:  # the next interval tries again
            log.warning("lease renewal failed node=%s error=%s", name, e)
        finally:
            self._renewing.discard(name)

    async def _heartbeats(self) -> None:
        """Renew every lease once per interval, in one-second slices so the load is even. A
        slice does not wait for the previous one: a slow answer delays that node only (and
        a node whose renewal is still under way is not renewed twice)."""
        loop = asyncio.get_running_loop()
        slices = max(1, int(self.lease_renew))
        while True:
            start = loop.time()
            for k in range(slices):
                for name in self.names[k::slices]:
                    if name in self._renewing:
                        continue
                    self._renewing.add(name)
                    task = asyncio.ensure_future(self._renew_one(name))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(max(0.0, start + (k + 1) * self.lease_renew / slices - loop.time()))

    async def _status_reports(self) -> None:
        while True:
            await asyncio.sleep(self.status_report)
            await asyncio.gather(*(self._bounded(self._report(n)) for n in self.names), return_exceptions=True)

    async def _report(self, name: str) -> None:
        """Post fresh conditions (heartbeat times; back to Ready if someone marked us Unknown)."""
        wall = self._wall()
        node = self.nodes.get(name) or {}
        old = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        fresh = node_object(self.index[name], name, self.shape, wall)["status"]["conditions"]
        for c in fresh:
            prev = old.get(c["type"])
            if prev and prev.get("status") == c["status"]:
                c["lastTransitionTime"] = prev.get("lastTransitionTime", wall)
        await self.client.patch(NODES, name, {"status": {"conditions": fresh}}, subresource="status")

    async def _bounded(self, coro: Any) -> Any:
        async with self._limit:
            return await coro

    def _node_changed(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if name not in self.index:
            return
        cidr = (node.get("spec") or {}).get("podCIDR")
        net = self.networks.get(name)
        if cidr and (net is None or net.cidr != cidr):
            self.networks[name] = _PodNetwork(cidr)
        conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if conditions.get("Ready") != "True":  # marked Unknown by the node lifecycle controller: say we live
            task = asyncio.ensure_future(self._bounded(self._report(name)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- pods ------------------------------------------------------------------------------------

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self.index:
            self.queue.add(object_key(pod))

    def _pod_deleted(self, pod: Obj) -> None:
        rec = self.records.pop(pod["metadata"].get("uid", ""), None)
        if rec is not None:
            self._release(pod, rec)

    def _network(self, node: str) -> _PodNetwork:
        if node not in self.networks:
            self.networks[node] = _PodNetwork(fallback_pod_cidr(self.index[node]))
        return self.networks[node]

    def _release(self, pod: Obj, rec: PodRecord) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if rec.ip and node in self.networks and not (pod.get("spec") or {}).get("hostNetwork"):
            self.networks[node].release(rec.ip)

    async def sync(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None:
            return None
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        node = spec.get("nodeName")
        if node not in self.index:
            return None
        rec = self.records.get(meta["uid"])
        if rec is None:
            rec = self.records[meta["uid"]] = PodRecord(uid=meta["uid"], seen=self.clock())
            rec.extra["host_ip"] = node_ip(self.index[node])
        if not rec.ip and not meta.get("deletionTimestamp") and \
                (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            rec.ip = rec.extra["host_ip"] if spec.get("hostNetwork") else self._network(node).allocate()
        result = step(pod, rec, self.clock(), self._wall(), self.config)
        try:
            if result.status is not None:
                written = await self.client.patch(PODS, meta["name"], {"status": result.status}, meta["namespace"],
                                                  subresource="status", content_type=MERGE)
                rec.extra["written_rv"] = (written.get("metadata") or {}).get("resourceVersion") or 0
                if result.status.get("phase") in ("Succeeded", "Failed"):
                    self._release(pod, rec)
            if result.delete:
                await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period=0,
                                         preconditions={"uid": meta["uid"]})
        except errors.NotFound:
            return None
        except errors.Conflict:  # a precondition failed: the pod was replaced; look again
            return 0.1
        return result.again

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.register()
        self.nodes.start()
        self.pods.start()
        await asyncio.gather(self.nodes.wait_synced(60), self.pods.wait_synced(60))
        for name in self.names:
            node = self.nodes.get(name)
            if node is not None:
                self._node_changed(node)
        try:
            await asyncio.gather(self._heartbeats(), self._status_reports(),
                                 *(run_worker(self.queue, lambda k: self.sync(str(k)), log)
                                   for _ in range(self.workers)))
        finally:
            await self.queue.shutdown()
            await asyncio.gather(self.pods.stop(), self.nodes.stop())


def add_arguments(p: Any) -> None:
    """The `nanokube sim-nodes` flags (kubelet's names where the kubelet has one)."""
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--count", type=int, default=1, help="how many nodes")
    p.add_argument("--name-prefix", default="sim-node-", help="node names are PREFIX0, PREFIX1, ...")
    p.add_argument("--first-index", type=int, default=0, help="number of the first node")
    p.add_argument("--cpu", default="4", help="cpu capacity of each node")
    p.add_argument("--memory", default="16Gi", help="memory capacity of each node")
    p.add_argument("--max-pods", default="110", help="pod capacity of each node")
    p.add_argument("--node-labels", default="", help="extra labels, k=v,k2=v2")
    p.add_argument("--register-with-taints", default="", help="taints, key=value:Effect,...")
    p.add_argument("--pod-start-seconds", type=float, default=0.5, help="time pods spend in ContainerCreating")
    p.add_argument("--job-run-seconds", type=float, default=1.0, help="run time of pods owned by a Job")
    p.add_argument("--container-stop-seconds", type=float, default=0.0,
                   help="time containers take to stop after SIGTERM (capped by the grace period)")
    p.add_argument("--crash-loop-backoff-seconds", type=float, default=10.0, help="first restart back-off")
    p.add_argument("--node-lease-renew-interval", type=float, default=10.0)
    p.add_argument("--node-status-report-frequency", type=float, default=300.0)
    p.add_argument("--workers", type=int, default=0, help="pod workers (default 16 plus one per 16 nodes, at most 256)")


def main(args: Any) -> int:
    from ..client.config import load_kubeconfig
    from .nodes import parse_taint

    labels = dict(kv.split("=", 1) for kv in args.node_labels.split(",") if "=" in kv)
    taints = [parse_taint(t) for t in args.register_with_taints.split(",") if t.strip()]
    shape = NodeShape(cpu=args.cpu, memory=args.memory, pods=args.max_pods, labels=labels, taints=taints)
    config = SimConfig(start_seconds=args.pod_start_seconds, job_run_seconds=args.job_run_seconds,
                       stop_seconds=args.container_stop_seconds, backoff_base=args.crash_loop_backoff_seconds)

    async def go() -> None:
        kube = load_kubeconfig(args.kubeconfig)
        async with Client(kube, user_agent="nanokube-sim-nodes") as client, \
                Client(kube, user_agent="nanokube-sim-nodes", connections=64) as heartbeats:
            await SimNodes(client, args.count, prefix=args.name_prefix, first_index=args.first_index, shape=shape,
                           config=config, lease_renew=args.node_lease_renew_interval,
                           status_report=args.node_status_report_frequency, workers=args.workers,
                           heartbeat_client=heartbeats).run()

    asyncio.run(go())
    return 0
