"""LIST latency over many pods, and how fast one write reaches many watchers.

    python bench/list_watch.py [--pods 10000] [--watchers 1000]

LIST: the full pod list of one namespace, JSON, median of several runs (and as a Table, as
`kubectl get pods` asks). Fan-out: N watchers on ConfigMaps, then single writes; latency is
from the write's acknowledgement to each watcher reading the event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _client import emit, machine, percentile, session

from nanokube import devserver

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def pod(i: int) -> dict:
    return {"metadata": {"name": f"pod-{i:05d}", "labels": {"app": "bench", "shard": str(i % 10)}},
            "spec": {"containers": [{"name": "c", "image": "registry.local/app:1.0",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


async def fill(base: str, s, n: int) -> None:
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with sem, s.post(f"{base}/api/v1/namespaces/default/pods", json=pod(i)) as r:
            await r.read()
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status}")

    await asyncio.gather(*(one(i) for i in range(n)))


async def time_list(base: str, s, accept: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        async with s.get(f"{base}/api/v1/namespaces/default/pods", headers={"Accept": accept}) as r:
            await r.read()
        times.append(time.perf_counter() - t)
    return percentile(times, 50)


async def fanout(base: str, s, watchers: int, writes: int) -> list[float]:
    url = f"{base}/api/v1/namespaces/default/configmaps"
    async with s.get(url) as r:
        rv = json.loads(await r.read())["metadata"]["resourceVersion"]
    arrived: dict[str, list[float]] = {}
    ready = 0

    async def watch() -> None:
        nonlocal ready
        async with s.get(url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"}) as r:
            ready += 1
            async for line in r.content:
                ev = json.loads(line)
                name = ev["object"]["metadata"]["name"]
                arrived.setdefault(name, []).append(time.perf_counter())
                if name == f"w{writes - 1}":
                    return

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    while ready < watchers:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    sent: dict[str, float] = {}
    for i in range(writes):
        t = time.perf_counter()
        async with s.post(url, json={"metadata": {"name": f"w{i}"}}) as r:
            await r.read()
        sent[f"w{i}"] = t
        await asyncio.sleep(0.2)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return [a - sent[n] for n, times in arrived.items() for a in times]


async def run(args: argparse.Namespace) -> None:
    d = Path(tempfile.mkdtemp(prefix="nk-lw-"))
    srv = devserver.start(d)
    try:
        base, s = session(srv.kubeconfig, connections=args.watchers + 10)
        async with s:
            t = time.perf_counter()
            await fill(base, s, args.pods)
            fill_s = time.perf_counter() - t
            js = await time_list(base, s, "application/json")
            tb = await time_list(base, s, TABLE)
            emit("list_pods_json", js * 1000, "ms", pods=args.pods, **machine())
            emit("list_pods_table", tb * 1000, "ms", pods=args.pods)
            lat = await fanout(base, s, args.watchers, args.writes)
            emit("watch_fanout_p50", percentile(lat, 50) * 1000, "ms", watchers=args.watchers)
            emit("watch_fanout_p99", percentile(lat, 99) * 1000, "ms", watchers=args.watchers)
        print(f"{args.pods} pods created in {fill_s:.1f} s; LIST {js * 1000:.0f} ms (JSON), "
              f"{tb * 1000:.0f} ms (Table); one write to {args.watchers} watchers: "
              f"p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms")
    finally:
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--writes", type=int, default=5)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
