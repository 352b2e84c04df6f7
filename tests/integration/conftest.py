"""A real `nanokube apiserver` process on a free port in a temporary directory, and helpers
to drive it with the real kubectl binaries and the official Python client."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from nanokube import devserver


def kubectl_dir() -> Path | None:
    k = shutil.which("kubectl")
    return Path(os.path.realpath(k)).parent if k else None


def kubectl_binary(version: str | None) -> str:
    d = kubectl_dir()
    if d is None:
        pytest.skip("kubectl is not installed")
    if version is None:
        return str(d / "kubectl")
    path = d / f"kubectl.{version}"
    if not path.exists():
        pytest.skip(f"kubectl {version} is not installed beside kubectl")
    return str(path)


class Server(devserver.DevServer):
    """A server process plus kubectl driving it."""

    @property
    def url(self) -> str:
        doc = yaml.safe_load(self.kubeconfig.read_text())
        return doc["clusters"][0]["cluster"]["server"]

    def kubectl(self, *args: str, version: str | None = None, check: bool = True,
                input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        binary = kubectl_binary(version)
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        cache = self.data_dir / f"kubecache-{version or 'default'}"
        cmd = [binary, f"--cache-dir={cache}", *args]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, input=input, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({res.returncode}):\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            )
        return res


def start_server(data_dir: Path, *extra: str, command: str = "apiserver") -> Server:
    d = devserver.start(data_dir, *extra, command=command)
    return Server(d.proc, d.data_dir, d.kubeconfig, d.log, d.started_in)


def cluster_fixture(*flags: str):  # type: ignore[no-untyped-def]
    """A module-scoped `nanokube server` (API server, controller-manager, scheduler and, with
    `--sim-nodes N`, simulated nodes) for a test module: `cluster = cluster_fixture(...)`."""

    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory: pytest.TempPathFactory):
        s = start_server(tmp_path_factory.mktemp("cluster") / "data", *flags, command="server")
        if "--sim-nodes" in flags:  # tests start once every node is there
            want = int(flags[flags.index("--sim-nodes") + 1])
            ready = wait_for(lambda: len(s.kubectl("get", "nodes", "-o", "name", check=False).stdout.split()) >= want)
            assert ready, "simulated nodes did not register"
        yield s
        s.stop()

    return cluster


def wait_for(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns something true or the deadline passes; return its result."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = start_server(tmp_path_factory.mktemp("nanokube"))
    yield s
    s.stop()


@pytest.fixture
def launch():
    """Start servers inside a test; every one is killed afterwards, pass or fail."""
    started: list[Server] = []

    def go(data_dir: Path, *flags: str) -> Server:
        s = start_server(data_dir, *flags)
        started.append(s)
        return s

    yield go
    for s in started:
        s.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def api_client(server: Server):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c
