"""Scheduler throughput, after upstream's scheduler_perf SchedulingBasic.

An API server alone; N nodes created as API objects (110 pods, 4 cpu, 32Gi each, like
scheduler_perf's node template); optionally `--placed` pods already bound; M pending pods
created; then `nanokube scheduler` is started and every binding is seen on a watch.
Throughput = pods bound / time from the first binding to the last (the scheduler's start-up
listing is reported separately).

Usage: python bench/scheduler.py [--nodes 5000] [--pods 10000] [--placed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _client import emit, machine, rss_mb, session

from nanokube import devserver


def node(i: int) -> dict[str, Any]:
    res = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
            "status": {"capacity": res, "allocatable": res, "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(i: int, node_name: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "pause",
                                            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i}", "namespace": "sched"}, "spec": spec}


async def post_all(http: Any, url: str, bodies: list[dict[str, Any]], concurrency: int = 64) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(b: dict[str, Any]) -> None:
        async with sem, http.post(url, json=b) as r:
            if r.status != 201:
                raise RuntimeError(await r.text())

    await asyncio.gather(*(one(b) for b in bodies))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = devserver.start(Path(tmp) / "data", "--max-requests-inflight", "800")
        sched = None
        try:
            server, http = session(d.kubeconfig)
            async with http:
                t0 = time.monotonic()
                await post_all(http, f"{server}/api/v1/nodes", [node(i) for i in range(args.nodes)])
                async with http.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": "sched"}}) as r:
                    assert r.status == 201
                placed = [pod(10_000_000 + i, f"node-{i % args.nodes}") for i in range(args.placed)]
                await post_all(http, f"{server}/api/v1/namespaces/sched/pods", placed)
                await post_all(http, f"{server}/api/v1/namespaces/sched/pods", [pod(i) for i in range(args.pods)])
                print(f"# setup {time.monotonic() - t0:.1f}s", flush=True)
                async with http.get(f"{server}/api/v1/namespaces/sched/pods?limit=1") as r:
                    rv = (await r.json())["metadata"]["resourceVersion"]
                bound: list[float] = []

                async def watch() -> None:
                    url = f"{server}/api/v1/namespaces/sched/pods?watch=true&resourceVersion={rv}&timeoutSeconds=3600"
                    async with http.get(url) as r:
                        async for line in r.content:
                            ev = json.loads(line)
                            if ev["type"] == "MODIFIED" and (ev["object"].get("spec") or {}).get("nodeName"):
                                bound.append(time.monotonic())
                                if len(bound) >= args.pods:
                                    return

                watcher = asyncio.create_task(watch())
                started = time.monotonic()
                sched = subprocess.Popen([sys.executable, "-m", "nanokube", "scheduler", "--kubeconfig",
                                          str(d.kubeconfig), "--leader-elect", "false"])
                await asyncio.wait_for(watcher, args.timeout)
                emit("scheduler_first_binding_s", bound[0] - started, "s", nodes=args.nodes,
                     pods=args.pods, placed=args.placed)
                span = bound[-1] - bound[0]
                emit("scheduling_throughput", (len(bound) - 1) / span if span > 0 else float("nan"), "pods/s",
                     nodes=args.nodes, pods=args.pods, placed=args.placed)
                emit("scheduler_rss_mb", rss_mb(sched.pid), "MB")
        finally:
            if sched is not None:
                sched.terminate()
                sched.wait(10)
            d.stop()
    print(f"# machine: {machine()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--placed", type=int, default=0, help="pods already bound before the measured ones")
    p.add_argument("--timeout", type=float, default=1800)
    asyncio.run(main(p.parse_args()))
