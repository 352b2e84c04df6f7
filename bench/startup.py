"""Cold start of the API server to /readyz, and its idle memory.

    python bench/startup.py [--runs 5]

Cold: a new data directory (CA and certificates are generated). Warm: the same directory
again. Both are measured from process spawn to the first 200 from /readyz.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import subprocess

import aiohttp
from _client import emit, machine, percentile, rss_mb


async def _ready(port: int, deadline: float) -> None:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(f"https://127.0.0.1:{port}/readyz", ssl=ctx) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.005)
    raise RuntimeError("not ready in time")


def _free_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_and_time(data_dir: Path) -> tuple[float, subprocess.Popen]:
    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nanokube", "apiserver", "--data-dir", str(data_dir),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    asyncio.run(_ready(port, time.monotonic() + 30))
    return time.perf_counter() - t0, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    cold, warm, rss = [], [], []
    for _ in range(args.runs):
        d = Path(tempfile.mkdtemp(prefix="nk-bench-"))
        try:
            t, proc = start_and_time(d)
            cold.append(t)
            proc.terminate()
            proc.wait()
            t, proc = start_and_time(d)
            warm.append(t)
            time.sleep(2)
            rss.append(rss_mb(proc.pid))
            proc.terminate()
            proc.wait()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    m = machine()
    emit("cold_start_to_readyz", percentile(cold, 50), "s", runs=args.runs, **m)
    emit("warm_start_to_readyz", percentile(warm, 50), "s", runs=args.runs, **m)
    emit("idle_rss", percentile(rss, 50), "MB", runs=args.runs, **m)
    print(f"cold start {percentile(cold, 50) * 1000:.0f} ms, warm start {percentile(warm, 50) * 1000:.0f} ms, "
          f"idle RSS {percentile(rss, 50):.1f} MB (medians of {args.runs})")


if __name__ == "__main__":
    main()
