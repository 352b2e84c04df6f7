"""LIST latency over many pods, and how fast one write reaches many watchers.

    python bench/list_watch.py [--pods 10000] [--watchers 1000]

LIST: the full pod list of one namespace, JSON, median of several runs (and as a Table, as
`kubectl get pods` asks). Fan-out: N watchers on ConfigMaps held by several client
processes, then single writes; latency is from the write's acknowledgement to each watcher
reading the event (wall clock, shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _watch_process(kubeconfig: str, rv: str, count: int, last: str, out: multiprocessing.Queue[Any]) -> None:
    """One client process holding `count` watches; reports (name, arrival wall time) pairs."""

    async def main() -> None:
        base, s = session(Path(kubeconfig), connections=count + 1)
        url = f"{base}/api/v1/namespaces/default/configmaps"
        arrived: list[tuple[str, float]] = []
        ready = 0

        async def watch() -> None:
            nonlocal ready
            async with s.get(url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"}) as r:
                ready += 1
                async for line in r.content:
                    t = time.time()
                    name = json.loads(line)["object"]["metadata"]["name"]
                    arrived.append((name, t))
                    if name == last:
                        return

        async with s:
            tasks = [asyncio.create_task(watch()) for _ in range(count)]
            while ready < count:
                await asyncio.sleep(0.02)
            out.put(("ready", 0.0))
            await asyncio.wait_for(asyncio.gather(*tasks), 90)
        out.put(("done", arrived))

    asyncio.run(main())


async def fanout(base: str, s: Any, kubeconfig: Path, watchers: int, writes: int, processes: int) -> list[float]:
    """Watchers spread over several client processes, so one client's event loop is not the bottleneck."""
    url = f"{base}/api/v1/namespaces/default/configmaps"
    async with s.get(url) as r:
        rv = json.loads(await r.read())["metadata"]["resourceVersion"]
    q: multiprocessing.Queue[Any] = multiprocessing.Queue()
    per = watchers // processes
    procs = [multiprocessing.Process(target=_watch_process, args=(str(kubeconfig), rv, per, f"w{writes - 1}", q))
             for _ in range(processes)]
    for p in procs:
        p.start()
    loop = asyncio.get_running_loop()
    for _ in procs:
        await loop.run_in_executor(None, q.get)
    await asyncio.sleep(0.5)
    sent: dict[str, float] = {}
    for i in range(writes):
        async with s.post(url, json={"metadata": {"name": f"w{i}"}}) as r:
            await r.read()
        sent[f"w{i}"] = time.time()
        await asyncio.sleep(0.3)
    lat: list[float] = []
    for _ in procs:
        kind, arrived = await loop.run_in_executor(None, q.get)
        lat += [t - sent[n] for n, t in arrived]
    for p in procs:
        p.join()
    return lat


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
            lat = await fanout(base, s, srv.kubeconfig, args.watchers, args.writes, args.processes)
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
    ap.add_argument("--processes", type=int, default=4, help="client processes holding the watches")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
