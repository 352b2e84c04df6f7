"""What the benchmarks share: a server in a temp dir and an HTTPS session with the admin cert."""

from __future__ import annotations

import base64
import json
import os
import platform
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    doc = yaml.safe_load(kubeconfig.read_text())
    server = doc["clusters"][0]["cluster"]["server"]
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode())
    user = doc["users"][0]["user"]
    d = tempfile.mkdtemp()
    cert, key = Path(d, "c.crt"), Path(d, "c.key")
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    ctx.load_cert_chain(str(cert), str(key))
    return server, ctx


def session(kubeconfig: Path, connections: int = 100) -> tuple[str, aiohttp.ClientSession]:
    server, ctx = ssl_context(kubeconfig)
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
