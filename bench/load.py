"""Request throughput and latency of the API server under concurrent HTTPS clients.

    python bench/load.py [--clients 50] [--seconds 5] [--rate 500]

Figures: creates/s of ~1 KB ConfigMaps by N concurrent clients, GETs/s of one object, and
the p50/p99 latency of mutating calls (create, update, delete in turn) held at a fixed rate.
The load generator runs on the same machine and competes for its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _client import emit, machine, percentile, session

from nanokube import devserver

PAYLOAD = "x" * 900


async def creates(base: str, s, clients: int, seconds: float) -> tuple[int, float]:
    done = 0
    stop = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.monotonic() < stop:
            body = {"metadata": {"name": f"c{w}-{i}"}, "data": {"v": PAYLOAD}}
            async with s.post(f"{base}/api/v1/namespaces/default/configmaps", json=body) as r:
                await r.read()
                if r.status == 201:
                    done += 1
            i += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    return done, time.perf_counter() - t0


async def gets(base: str, s, clients: int, seconds: float) -> tuple[int, float]:
    await (await s.post(f"{base}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "g"}, "data": {"v": PAYLOAD}})).read()
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            async with s.get(f"{base}/api/v1/namespaces/default/configmaps/g") as r:
                await r.read()
                if r.status == 200:
                    done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return done, time.perf_counter() - t0


async def paced_mutations(base: str, s, rate: float, seconds: float) -> list[float]:
    lat: list[float] = []
    n = int(rate * seconds)
    start = time.perf_counter()
    url = f"{base}/api/v1/namespaces/default/configmaps"

    async def one(i: int) -> None:
        kind = i % 3
        name = f"p{i // 3}"
        t = time.perf_counter()
        if kind == 0:
            r = await s.post(url, json={"metadata": {"name": name}, "data": {"v": PAYLOAD}})
        elif kind == 1:
            r = await s.patch(f"{url}/{name}", data=b'{"data":{"v":"y"}}',
                              headers={"Content-Type": "application/merge-patch+json"})
        else:
            r = await s.delete(f"{url}/{name}")
        await r.read()
        lat.append(time.perf_counter() - t)

    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
        if i % 3 == 2:
            await asyncio.gather(*tasks[-3:])  # keep create → patch → delete of one name in order
    await asyncio.gather(*tasks)
    return lat


async def run(args: argparse.Namespace) -> None:
    d = Path(tempfile.mkdtemp(prefix="nk-load-"))
    srv = devserver.start(d)
    try:
        base, s = session(srv.kubeconfig, connections=args.clients)
        async with s:
            n, t = await creates(base, s, args.clients, args.seconds)
            emit("creates_per_second", n / t, "1/s", clients=args.clients, **machine())
            n2, t2 = await gets(base, s, args.clients, args.seconds)
            emit("gets_per_second", n2 / t2, "1/s", clients=args.clients, **machine())
            lat = await paced_mutations(base, s, args.rate, args.seconds)
            emit("mutating_p50_at_rate", percentile(lat, 50) * 1000, "ms", rate=args.rate)
            emit("mutating_p99_at_rate", percentile(lat, 99) * 1000, "ms", rate=args.rate)
        print(f"creates {n / t:.0f}/s, gets {n2 / t2:.0f}/s with {args.clients} clients; "
              f"mutating calls at {args.rate}/s: p50 {percentile(lat, 50) * 1000:.1f} ms, "
              f"p99 {percentile(lat, 99) * 1000:.1f} ms")
    finally:
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rate", type=float, default=500)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
