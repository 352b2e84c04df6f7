"""Assemble and run the API server: storage, watch cache, registry, admission, HTTPS.

`run()` is what `nanokube server` and `nanokube apiserver` call. Start-up order: open the
store, fill the watch cache, register custom resources, create the built-in objects a
cluster starts with, then listen; the kubeconfig is written once the API answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..api import errors, strategy
from ..api import schema as schemalib
from ..api.registry import Registry
from ..storage.interface import Store
from ..storage.sqlite import SQLiteStore
from ..storage.timed import TimedStore
from . import certs
from .admission import SYSTEM_PRIORITY_CLASSES, Admission
from .allocators import ServiceAllocator
from .app import build_app
from .context import Context, ServerOptions
from .crds import CRDs
from .limits import LimitsAdmission
from .metrics import Metrics
from .objects import Objects, WriteOptions
from .storageadmission import StorageAdmission
from .watchcache import WatchCache

log = logging.getLogger("nanokube.apiserver")


@dataclass
class Config:
    data_dir: str
    port: int = 6443
    bind_address: str = "127.0.0.1"
    tls_sans: list[str] = field(default_factory=list)
    service_cidr: str = "10.43.0.0/16"
    service_node_port_range: str = "30000-32767"
    compaction_interval: float = 300.0
    bookmark_interval: float = 60.0
    max_in_flight: int = 400
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300


def default_data_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/nanokube"
    return os.path.join(os.path.expanduser("~"), ".local", "share", "nanokube")


class APIServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store | None = None
        self.cache: WatchCache | None = None
        self.runner: web.AppRunner | None = None
        self.ctx: Context | None = None
        self.port = config.port

    async def start(self) -> None:
        c = self.config
        os.makedirs(c.data_dir, exist_ok=True)
        registry = Registry()
        schema = schemalib.load()
        metrics = Metrics()
        self.store = TimedStore(SQLiteStore(
            os.path.join(c.data_dir, "db", "state.db"), compaction_interval=c.compaction_interval
        ), metrics.storage_op)
        await self.store.start()
        self.cache = WatchCache(self.store)
        await self.cache.start()
        objects = Objects(self.store, self.cache, registry, schema)
        ctx = Context(
            registry, schema, objects, self.cache,
            ServerOptions(bookmark_interval=c.bookmark_interval, max_in_flight=c.max_in_flight,
                          external_address=f"{c.bind_address}:{c.port}"),
        )
        ctx.extra["metrics"] = metrics
        self.ctx = ctx
        lo, hi = (int(x) for x in c.service_node_port_range.split("-"))
        services = registry.get("", "v1", "services")
        assert services is not None
        allocator = ServiceAllocator(
            lambda: (o.obj for o in self.cache.list(services.key(None), None)),  # type: ignore[union-attr]
            c.service_cidr, (lo, hi),
        )
        _install_builtin_hooks(objects, schema)
        Admission(objects, allocator, c.default_not_ready_toleration_seconds,
                  c.default_unreachable_toleration_seconds).install()
        LimitsAdmission(objects).install()
        StorageAdmission(objects).install()
        crds = CRDs(objects, registry)
        crds.start()
        ctx.extra["crds"] = crds
        await _bootstrap(objects, registry, allocator)

        bind_for_cert = [] if c.bind_address in ("0.0.0.0", "::") else [c.bind_address]
        paths = certs.ensure(os.path.join(c.data_dir, "tls"),
                             certs.server_names(bind_for_cert + c.tls_sans, allocator.first_ip))
        sslctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=paths.ca_cert)
        sslctx.load_cert_chain(paths.server_cert, paths.server_key)
        sslctx.verify_mode = ssl.CERT_OPTIONAL
        sslctx.set_alpn_protocols(["http/1.1"])
        app = build_app(ctx)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, c.bind_address, c.port, ssl_context=sslctx, backlog=1024,
                           reuse_address=True)
        await site.start()
        if c.port == 0:
            server = site._server  # the kernel picked the port
            assert server is not None and server.sockets
            self.port = server.sockets[0].getsockname()[1]
        host = "127.0.0.1" if c.bind_address in ("0.0.0.0", "::", "127.0.0.1") else c.bind_address
        await _publish_kubernetes_endpoints(objects, registry, host, self.port)
        ctx.extra["ready"].set()
        kubeconfig = os.path.join(c.data_dir, "kubeconfig.yaml")
        certs.write_kubeconfig(kubeconfig, paths, f"https://{_hostport(host, self.port)}")
        log.info("API server ready; kubeconfig written to %s", kubeconfig)

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
        if self.cache:
            await self.cache.stop()
        if self.store:
            await self.store.close()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _install_builtin_hooks(objects: Objects, schema: schemalib.Schema) -> None:
    """Defaulting, validation and managed-fields tracking for every write."""
    from ..api import apply as ssa
    from ..api import crd as crdlib
    from ..api import defaults, validation

    def default(r: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return obj if r.crd is not None else defaults.apply_defaults(r, obj)

    def validate(r: Any, obj: dict[str, Any], old: dict[str, Any] | None, sub: str) -> None:
        if r.crd is not None:
            return
        errs = validation.validate(r, obj, old, sub)
        if errs:
            raise errors.invalid(r.kind, obj["metadata"].get("name", ""), errs, group=r.group)

    def track(r: Any, old: dict[str, Any] | None, new: dict[str, Any], opts: WriteOptions, operation: str) -> dict[str, Any]:
        # apply computed its managed fields itself
        if operation == "Apply" or not opts.manager:
            return new
        node = schema.for_kind(r.group, r.version, r.kind) if r.crd is None else crdlib.version_schema(r.crd, r.version)
        reset = strategy.reset_fields(r, opts.subresource)
        return ssa.track_update(
            old, new, manager=opts.manager, schema=schema, node=node, api_version=r.group_version,
            now=objects.now(), subresource=opts.subresource if opts.subresource in ("status", "scale") else "",
            operation=operation, reset_fields=reset,
        )

    objects.defaulters.append(default)
    objects.validators.append(validate)
    objects.track_fields = track


async def _bootstrap(objects: Objects, registry: Registry, allocator: ServiceAllocator) -> None:
    """What every cluster starts with; created when missing, never overwritten."""
    ns = registry.get("", "v1", "namespaces")
    pcs = registry.get("scheduling.k8s.io", "v1", "priorityclasses")
    svcs = registry.get("", "v1", "services")
    classes = registry.get("storage.k8s.io", "v1", "storageclasses")
    assert ns and pcs and svcs and classes
    opts = WriteOptions(manager="kube-apiserver")

    async def ensure(r: Any, namespace: str | None, obj: dict[str, Any]) -> None:
        if objects.cache.get(r.key(namespace, obj["metadata"]["name"])) is None:
            try:
                await objects.create(r, namespace, obj, opts)
            except errors.AlreadyExists:
                pass

    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        await ensure(ns, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for name, value in SYSTEM_PRIORITY_CLASSES.items():
        await ensure(pcs, None, {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value,
            "description": "Used for system critical pods that must not be moved from their current node."
            if name == "system-node-critical" else "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        })
    await ensure(svcs, "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": allocator.first_ip, "ports": [
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None", "type": "ClusterIP"},
    })
    # k3s's default class: volumes are directories on the node the first pod lands on
    await ensure(classes, None, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
    })


async def _publish_kubernetes_endpoints(objects: Objects, registry: Registry, host: str, port: int) -> None:
    """Point the `default/kubernetes` Service at this API server (upstream's endpoint
    reconciler): its targetPort, its Endpoints and its EndpointSlice follow the address and
    port the server really listens on, which change when it restarts on another port."""
    svcs = registry.require("", "v1", "services")
    eps = registry.require("", "v1", "endpoints")
    slices = registry.require("discovery.k8s.io", "v1", "endpointslices")
    opts = WriteOptions(manager="kube-apiserver")
    port_spec = {"name": "https", "port": port, "protocol": "TCP"}

    def service(cur: dict[str, Any] | None) -> dict[str, Any]:
        assert cur is not None
        for p in cur["spec"].get("ports") or []:
            if p.get("name") == "https":
                p["targetPort"] = port
        return cur

    def endpoints(cur: dict[str, Any] | None) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": host}], "ports": [port_spec]}]}

    def endpoint_slice(cur: dict[str, Any] | None) -> dict[str, Any]:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "kubernetes"}},
                "addressType": "IPv6" if ":" in host else "IPv4",
                "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
                "ports": [port_spec]}

    await objects.update(svcs, "default", "kubernetes", service, opts)
    await objects.update(eps, "default", "kubernetes", endpoints, opts, create_missing=True)
    await objects.update(slices, "default", "kubernetes", endpoint_slice, opts, create_missing=True)


async def run(config: Config, on_ready: Callable[[APIServer], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then shut down cleanly."""
    server = APIServer(config)
    await server.start()
    if on_ready is not None:
        on_ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
