"""A throwaway API server process for tests and benchmarks: free port, given data directory,
returns once the kubeconfig exists (which the server writes only when it answers)."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path



@dataclass
class DevServer:
    proc: subprocess.Popen
    data_dir: Path
    kubeconfig: Path
    log: Path
    started_in: float  # seconds from spawn to kubeconfig

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(data_dir: Path, *flags: str, port: int = 0, command: str = "apiserver", timeout: float = 30) -> DevServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = data_dir / "kubeconfig.yaml"
    if kubeconfig.exists():
        kubeconfig.unlink()
    log = data_dir / f"server-{int(time.time() * 1000)}.log"
    cmd = [sys.executable, "-m", "nanokube", command, "--data-dir", str(data_dir), "--port", str(port), *flags]
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not kubeconfig.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not become ready:\n{log.read_text()}")
        time.sleep(0.005)
    return DevServer(proc, data_dir, kubeconfig, log, time.perf_counter() - t0)


def client_tls(kubeconfig: Path, with_cert: bool = True) -> tuple[str, ssl.SSLContext]:
    """(server URL, TLS context trusting the cluster CA, with the admin certificate unless told not)."""
    from .client.config import load_kubeconfig

    cfg = load_kubeconfig(kubeconfig, credentials=with_cert)
    return cfg.server, cfg.ssl_context
