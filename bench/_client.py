"""What the benchmarks share: a server in a temp dir and an HTTPS session with the admin cert."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nanokube import devserver


def session(kubeconfig: Path, connections: int = 100) -> tuple[str, aiohttp.ClientSession]:
    server, ctx = devserver.client_tls(kubeconfig)
    conn = aiohttp.TCPConnector(ssl=ctx, limit=connections)
    return server, aiohttp.ClientSession(connector=conn)


def machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {"cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version()}


def emit(name: str, value: float, unit: str, **extra: Any) -> None:
    print(json.dumps({"figure": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
