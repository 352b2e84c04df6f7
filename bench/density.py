"""Upstream's scalability limits on simulated nodes: N nodes, P pods, then churn.

1. `nanokube server --sim-nodes N` (API server, controller-manager, scheduler, N simulated
   nodes in one process), wait until every node is registered.
2. Saturation: ReplicaSets of `--per-set` replicas until P pods exist; time until all Running.
3. LIST latency with everything in place: pods of all namespaces (first page of 500, and
   whole), nodes.
4. Churn: create and delete `--churn-rate` pods per second for `--churn-seconds`; every
   created pod's create → Running latency (seen on a watch; upstream's pod startup SLO is
   p99 ≤ 5 s).
5. RSS of every control-plane process.

Usage: python bench/density.py [--nodes 5000] [--pods 150000] [--churn-rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _client import emit, machine, percentile, rss_mb, session
from rollout import wait_nodes

from nanokube import devserver


def replica_set(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "density"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"set": name}},
                 "template": {"metadata": {"labels": {"set": name}},
                              "spec": {"containers": [{"name": "c", "image": "pause",
                                                       "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}},
    }


def churn_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "churn", "labels": {"churn": "1"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "pause",
                                     "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}


def children(pid: int) -> dict[str, int]:
    """The server's component processes, by sub-command."""
    out = {"apiserver": pid}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
                continue
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if b"nanokube" in argv:
            out[argv[argv.index(b"nanokube") + 1].decode()] = int(p.name)
    return out


async def count_running(http: Any, server: str, namespace: str) -> int:
    """Ready pods, from the ReplicaSets' status (cheap: one object per thousand pods)."""
    async with http.get(f"{server}/apis/apps/v1/namespaces/{namespace}/replicasets") as r:
        body = await r.json()
    return sum(int((rs.get("status") or {}).get("readyReplicas") or 0) for rs in body.get("items") or [])


async def timed_get(http: Any, url: str, headers: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    async with http.get(url, headers=headers or {}) as r:
        await r.read()
        assert r.status == 200
    return time.perf_counter() - t0


async def churn(http: Any, server: str, rate: int, seconds: int) -> list[float]:
    """Create `rate` pods a second (deleting as many of the oldest), and time each one's
    create → Running on a watch."""
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    base = f"{server}/api/v1/namespaces/churn/pods"
    async with http.get(base) as r:
        rv = (await r.json())["metadata"]["resourceVersion"]

    async def watch() -> None:
        async with http.get(f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds={seconds + 120}") as r:
            async for line in r.content:
                ev = json.loads(line)
                pod = ev["object"]
                name = pod["metadata"]["name"]
                if ev["type"] == "MODIFIED" and (pod.get("status") or {}).get("phase") == "Running" \
                        and name in created and name not in running:
                    running[name] = time.monotonic()
                    if len(running) == rate * seconds:
                        return

    watcher = asyncio.create_task(watch())
    live: list[str] = []

    async def create(name: str) -> None:
        created[name] = time.monotonic()
        async with http.post(base, json=churn_pod(name)) as r:
            assert r.status == 201, await r.text()

    async def delete(name: str) -> None:
        async with http.delete(f"{base}/{name}") as r:
            await r.read()

    start = time.monotonic()
    for tick in range(seconds):
        names = [f"churn-{tick}-{i}" for i in range(rate)]
        old, live = live[:rate] if len(live) > 5 * rate else [], live[rate:] if len(live) > 5 * rate else live
        await asyncio.gather(*(create(n) for n in names), *(delete(n) for n in old))
        live.extend(names)
        await asyncio.sleep(max(0.0, start + tick + 1 - time.monotonic()))
    try:
        await asyncio.wait_for(watcher, 120)
    except TimeoutError:
        pass
    return [running[n] - created[n] for n in running]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # a /24 per node: the default /16 cluster CIDR has room for 256 nodes only
        d = devserver.start(Path(tmp) / "data", "--sim-nodes", str(args.nodes), "--max-requests-inflight", "800",
                            "--cluster-cidr", "10.64.0.0/10", command="server", timeout=120)
        try:
            server, http = session(d.kubeconfig)
            async with http:
                emit("nodes_registered_s", await wait_nodes(http, server, args.nodes, timeout=900), "s",
                     nodes=args.nodes)
                for ns in ("density", "churn"):
                    async with http.post(f"{server}/api/v1/namespaces",
                                         json={"metadata": {"name": ns}}) as r:
                        assert r.status == 201
                await asyncio.sleep(3)
                t0 = time.monotonic()
                sets = (args.pods + args.per_set - 1) // args.per_set
                for i in range(sets):
                    size = min(args.per_set, args.pods - i * args.per_set)
                    async with http.post(f"{server}/apis/apps/v1/namespaces/density/replicasets",
                                         json=replica_set(f"set-{i}", size)) as r:
                        assert r.status == 201, await r.text()
                last = -1
                while True:
                    n = await count_running(http, server, "density")
                    if n >= args.pods:
                        break
                    if time.monotonic() - t0 > args.timeout:
                        raise TimeoutError(f"{n} of {args.pods} pods running after {args.timeout}s")
                    if n // max(args.pods // 15, 1) != last // max(args.pods // 15, 1):
                        print(f"# {n} pods running after {time.monotonic() - t0:.0f}s", flush=True)
                    last = n
                    await asyncio.sleep(2)
                took = time.monotonic() - t0
                emit("saturation_s", took, "s", pods=args.pods, nodes=args.nodes)
                emit("saturation_pods_per_s", args.pods / took, "pods/s")
                table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
                for label, url, headers in (
                    ("list_pods_first_page_s", f"{server}/api/v1/pods?limit=500", None),
                    ("list_pods_all_s", f"{server}/api/v1/pods", None),
                    ("list_pods_table_page_s", f"{server}/api/v1/pods?limit=500", table),
                    ("list_nodes_all_s", f"{server}/api/v1/nodes", None),
                ):
                    times = [await timed_get(http, url, headers) for _ in range(3)]
                    emit(label, percentile(times, 50), "s", pods=args.pods, nodes=args.nodes)
                latencies = await churn(http, server, args.churn_rate, args.churn_seconds)
                emit("pod_startup_p50_s", percentile(latencies, 50), "s", rate=args.churn_rate,
                     pods=len(latencies))
                emit("pod_startup_p99_s", percentile(latencies, 99), "s", rate=args.churn_rate,
                     expected=args.churn_rate * args.churn_seconds)
                for name, pid in children(d.proc.pid).items():
                    emit(f"rss_{name.replace('-', '_')}_mb", rss_mb(pid), "MB")
        finally:
            d.stop()
    print(f"# machine: {machine()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods", type=int, default=150000)
    p.add_argument("--per-set", type=int, default=1000)
    p.add_argument("--churn-rate", type=int, default=100)
    p.add_argument("--churn-seconds", type=int, default=60)
    p.add_argument("--timeout", type=float, default=3600)
    asyncio.run(main(p.parse_args()))
