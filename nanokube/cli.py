"""The `nanokube` command: `server` (control plane + local node, like k3s), `apiserver`
alone, and `kubectl` with the cluster's kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import shutil
import sys

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """A flag value in seconds: a Go duration as upstream's flags take ("40s", "1m30s",
    "500ms") or a plain number of seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (want e.g. 40s, 1m30s, 500ms)")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def _server_args(p: argparse.ArgumentParser) -> None:
    from .apiserver.server import default_data_dir

    p.add_argument("--data-dir", default=None, help=f"state, certificates and kubeconfig (default {default_data_dir()})")
    p.add_argument("--port", "--secure-port", dest="port", type=int, default=6443,
                   help="HTTPS port of the API (0 picks a free one)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address the API listens on")
    p.add_argument("--tls-san", action="append", default=[], help="extra name or IP for the serving certificate")
    p.add_argument("--service-cidr", "--service-cluster-ip-range", dest="service_cidr", default="10.43.0.0/16")
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--compaction-interval", type=float, default=300.0,
                   help="seconds between storage compactions (0 disables)")
    p.add_argument("--watch-bookmark-interval", type=float, default=60.0,
                   help="seconds between watch bookmarks")
    p.add_argument("--max-requests-inflight", type=int, default=400)
    p.add_argument("--default-not-ready-toleration-seconds", type=int, default=300,
                   help="tolerationSeconds of the not-ready:NoExecute toleration every pod gets")
    p.add_argument("--default-unreachable-toleration-seconds", type=int, default=300,
                   help="tolerationSeconds of the unreachable:NoExecute toleration every pod gets")
    p.add_argument("--sim-nodes", type=int, default=0, help="also run this many simulated nodes (server only)")
    p.add_argument("--default-local-storage-path", default=None,
                   help="where the local-path provisioner puts volumes on a node (server only; default <data-dir>/storage)")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16", help="pod CIDRs of the nodes come from here (server only)")
    p.add_argument("--kube-controller-manager-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra controller-manager flag, e.g. node-monitor-grace-period=10s (server only)")
    p.add_argument("--kube-scheduler-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra scheduler flag (server only)")
    p.add_argument("--sim-nodes-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra flag for the simulated nodes, e.g. node-lease-renew-interval=1 (server only)")
    p.add_argument("-v", "--verbose", action="store_true")


def _configure_logging(level: int | str | None = None) -> None:
    """One log format for every component: `time LEVEL logger message`."""
    logging.basicConfig(level=level or os.environ.get("NANOKUBE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _leader_election_args(p: argparse.ArgumentParser) -> None:
    """Upstream's leader election flags, shared by controller-manager and scheduler."""
    p.add_argument("--leader-elect", default="true", choices=("true", "false"))
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)


def _controller_manager_args(p: argparse.ArgumentParser) -> None:
    """Upstream's kube-controller-manager flags for the controllers we run."""
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--controllers", default="*", help="comma-separated names, * for all")
    p.add_argument("--node-monitor-period", type=duration, default=5.0)
    p.add_argument("--node-monitor-grace-period", type=duration, default=50.0)
    p.add_argument("--node-startup-grace-period", type=duration, default=60.0)
    p.add_argument("--node-eviction-rate", type=float, default=0.1, help="nodes per second tainted NoExecute per zone")
    p.add_argument("--secondary-node-eviction-rate", type=float, default=0.01)
    p.add_argument("--large-cluster-size-threshold", type=int, default=50)
    p.add_argument("--unhealthy-zone-threshold", type=float, default=0.55)
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    p.add_argument("--horizontal-pod-autoscaler-sync-period", type=duration, default=15.0)
    p.add_argument("--allocate-node-cidrs", default="true", choices=("true", "false"))
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument("--job-pod-failure-backoff", type=duration, default=10.0,
                   help="first delay before a Job replaces a failed pod, doubling per failure "
                        "(upstream's fixed 10s; shorten for tests)")
    p.add_argument("--default-local-storage-path", default="/var/lib/nanokube/storage",
                   help="where the local-path provisioner puts volumes on a node")
    p.add_argument("--pvclaimbinder-sync-period", type=duration, default=15.0,
                   help="how often the PV controller looks at every claim and volume again")
    _leader_election_args(p)


def _component_args(extra: list[str]) -> list[str]:
    """k3s-style `FLAG=VALUE` pass-through values as command-line flags."""
    return [f"--{a.lstrip('-')}" for a in extra]


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .apiserver.server import Config, default_data_dir

    return Config(
        data_dir=os.path.abspath(args.data_dir or default_data_dir()),
        port=args.port,
        bind_address=args.bind_address,
        tls_sans=args.tls_san,
        service_cidr=args.service_cidr,
        service_node_port_range=args.service_node_port_range,
        compaction_interval=args.compaction_interval,
        bookmark_interval=args.watch_bookmark_interval,
        max_in_flight=args.max_requests_inflight,
        default_not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
    )


def _die_with_parent() -> None:
    """Children of `nanokube server` get SIGTERM if the server dies, even by SIGKILL (Linux)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _serve(args: argparse.Namespace) -> int:
    """`apiserver` runs the API server alone; `server` also starts the other control-plane
    components as child processes, each talking to it through the kubeconfig it wrote."""
    import subprocess

    from .apiserver.server import APIServer, run

    _configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    config = _config(args)
    children: list[subprocess.Popen[bytes]] = []

    def start_components(server: APIServer) -> None:
        if args.command != "server":
            return
        kubeconfig = os.path.join(config.data_dir, "kubeconfig.yaml")
        def start(command: str, *flags: str) -> None:
            children.append(subprocess.Popen([sys.executable, "-m", "nanokube", command, "--kubeconfig", kubeconfig,
                                              *flags], preexec_fn=_die_with_parent))

        storage = args.default_local_storage_path or os.path.join(config.data_dir, "storage")
        start("controller-manager", "--cluster-cidr", args.cluster_cidr, "--default-local-storage-path", storage,
              *_component_args(args.kube_controller_manager_arg))
        start("scheduler", *_component_args(args.kube_scheduler_arg))
        if args.sim_nodes:
            start("sim-nodes", "--count", str(args.sim_nodes), *_component_args(args.sim_nodes_arg))

    try:
        asyncio.run(run(config, on_ready=start_components))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


def _kubectl(argv: list[str]) -> int:
    from .apiserver.server import default_data_dir

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("nanokube: kubectl is not installed", file=sys.stderr)
        return 127
    env = dict(os.environ)
    data_dir = env.get("NANOKUBE_DATA_DIR") or default_data_dir()
    env.setdefault("KUBECONFIG", os.path.join(data_dir, "kubeconfig.yaml"))
    os.execvpe(kubectl, [kubectl, *argv], env)
    return 0  # pragma: no cover


def _tune_gc() -> None:
    """Long-running components hold tens of thousands of API objects and decode thousands
    more a second; with the default thresholds the cycle collector keeps walking that whole
    heap (a 10,000-pod Table list spent 85 % of its time in it). Nearly all of it is freed by
    reference counting, so collect rarely; what exists at start-up (schemas, code) is frozen
    out of the collector's view."""
    gc.set_threshold(50_000, 20, 20)
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kubectl"]:
        return _kubectl(argv[1:])
    parser = argparse.ArgumentParser(prog="nanokube", description="Kubernetes, implemented in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser("server", help="run the control plane (and, later, a local node)")
    _server_args(server)
    apiserver = sub.add_parser("apiserver", help="run only the API server")
    _server_args(apiserver)
    _controller_manager_args(sub.add_parser("controller-manager", help="run the controllers (leader-elected)"))
    sched = sub.add_parser("scheduler", help="run the scheduler (leader-elected)")
    sched.add_argument("--kubeconfig", required=True)
    _leader_election_args(sched)
    from .simnodes import runner as simnodes

    simnodes.add_arguments(sub.add_parser("sim-nodes", help="run simulated nodes (fake kubelets) for tests and scale"))
    sub.add_parser("kubectl", help="run kubectl against this cluster", add_help=False)
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command in ("server", "apiserver", "controller-manager", "scheduler", "sim-nodes"):
        _tune_gc()
    if args.command in ("controller-manager", "scheduler", "sim-nodes"):
        _configure_logging()
    if args.command in ("server", "apiserver"):
        return _serve(args)
    if args.command == "controller-manager":
        from .controllers import manager

        names = manager.ALL_CONTROLLERS if args.controllers == "*" else tuple(
            n.strip() for n in args.controllers.split(",") if n.strip())
        unknown = [n for n in names if n not in manager.ALL_CONTROLLERS]
        if unknown:
            parser.error(f"unknown controllers: {', '.join(unknown)} (known: {', '.join(manager.ALL_CONTROLLERS)})")
        from .controllers.nodelifecycle import NodeLifecycleSettings
        from .controllers.podgc import PodGCSettings

        manager.main(manager.ManagerConfig(
            kubeconfig=args.kubeconfig, controllers=names, leader_elect=args.leader_elect == "true",
            lease_duration=args.leader_elect_lease_duration, renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
            node_lifecycle=NodeLifecycleSettings(
                monitor_period=args.node_monitor_period, grace_period=args.node_monitor_grace_period,
                startup_grace_period=args.node_startup_grace_period, eviction_rate=args.node_eviction_rate,
                secondary_eviction_rate=args.secondary_node_eviction_rate,
                large_cluster_size_threshold=args.large_cluster_size_threshold,
                unhealthy_zone_threshold=args.unhealthy_zone_threshold),
            hpa_sync_period=args.horizontal_pod_autoscaler_sync_period,
            pod_gc=PodGCSettings(terminated_pod_gc_threshold=args.terminated_pod_gc_threshold),
            allocate_node_cidrs=args.allocate_node_cidrs == "true", cluster_cidr=args.cluster_cidr,
            node_cidr_mask_size=args.node_cidr_mask_size, job_pod_failure_backoff=args.job_pod_failure_backoff,
            default_local_storage_path=args.default_local_storage_path,
            pvclaimbinder_sync_period=args.pvclaimbinder_sync_period))
        return 0
    if args.command == "scheduler":
        from .scheduler import scheduler

        scheduler.main(scheduler.SchedulerConfig(
            kubeconfig=args.kubeconfig, leader_elect=args.leader_elect == "true",
            lease_duration=args.leader_elect_lease_duration, renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period))
        return 0
    if args.command == "sim-nodes":
        return simnodes.main(args)
    if args.command == "version":
        from . import __version__
        from .version import GIT_VERSION

        print(f"nanokube {__version__} (Kubernetes {GIT_VERSION})")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
