"""Deployment rollout at scale: `nanokube server --sim-nodes N`, then a Deployment of R
replicas: apply → rollout complete, then `set image` → rollout complete.

Usage: python bench/rollout.py [--nodes 100] [--replicas 1000]
Prints one JSON line per figure (seconds) and the control plane's RSS afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from _client import emit, machine, rss_mb, session

from nanokube import devserver


def deployment(replicas: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"containers": [{"name": "c", "image": image,
                                                       "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}]}}},
    }


async def wait_rolled_out(http: Any, server: str, replicas: int, generation: int, timeout: float) -> float:
    url = f"{server}/apis/apps/v1/namespaces/default/deployments/bench"
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        async with http.get(url) as r:
            d = await r.json()
        s = d.get("status") or {}
        if s.get("observedGeneration", 0) >= generation and s.get("updatedReplicas") == replicas and \
                s.get("availableReplicas") == replicas and s.get("replicas") == replicas:
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise TimeoutError(f"rollout not complete after {timeout}s: {s}")


async def wait_nodes(http: Any, server: str, count: int, timeout: float = 300) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        async with http.get(f"{server}/api/v1/nodes?limit=1") as r:
            body = await r.json()
        listed = len(body.get("items") or []) + int((body.get("metadata") or {}).get("remainingItemCount") or 0)
        if listed >= count:
            return time.monotonic() - start
        await asyncio.sleep(0.5)
    raise TimeoutError("nodes did not register")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = devserver.start(Path(tmp) / "data", "--sim-nodes", str(args.nodes), command="server", timeout=120)
        try:
            server, http = session(d.kubeconfig)
            async with http:
                emit("nodes_registered_s", await wait_nodes(http, server, args.nodes), "s", nodes=args.nodes)
                await asyncio.sleep(2)  # let the scheduler's informers see every node
                t0 = time.monotonic()
                async with http.post(f"{server}/apis/apps/v1/namespaces/default/deployments",
                                     json=deployment(args.replicas, "nginx:1")) as r:
                    assert r.status == 201, await r.text()
                await wait_rolled_out(http, server, args.replicas, 1, args.timeout)
                emit("apply_to_rollout_complete_s", time.monotonic() - t0, "s", replicas=args.replicas,
                     nodes=args.nodes)
                t0 = time.monotonic()
                patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}
                async with http.patch(f"{server}/apis/apps/v1/namespaces/default/deployments/bench", json=patch,
                                      headers={"Content-Type": "application/strategic-merge-patch+json"}) as r:
                    assert r.status == 200, await r.text()
                await wait_rolled_out(http, server, args.replicas, 2, args.timeout)
                emit("set_image_to_rollout_complete_s", time.monotonic() - t0, "s", replicas=args.replicas)
                emit("apiserver_rss_mb", rss_mb(d.proc.pid), "MB")
        finally:
            d.stop()
    print(f"# machine: {machine()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replicas", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=600)
    asyncio.run(main(p.parse_args()))
