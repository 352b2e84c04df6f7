"""The server process: health, metrics, the kubectl wrapper, identity kept across restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from nanokube import devserver

from .rawhttp import Raw


def test_health_and_metrics(server):
    raw = Raw(server.kubeconfig)
    for path in ("/healthz", "/livez", "/readyz"):
        code, body, _ = raw.request("GET", path)
        assert code == 200 and body == "ok"
    raw.request("GET", "/api/v1/namespaces/default/configmaps")
    code, text, headers = raw.request("GET", "/metrics")
    assert code == 200 and headers["content-type"].startswith("text/plain")
    assert 'apiserver_request_total{code="200",group="",resource="configmaps",verb="LIST"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert 'storage_request_duration_seconds_count{operation="create"}' in text


def test_nanokube_kubectl_uses_the_cluster_kubeconfig(server):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["NANOKUBE_DATA_DIR"] = str(server.data_dir)
    res = subprocess.run([sys.executable, "-m", "nanokube", "kubectl", "get", "ns", "default", "-o", "name"],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "namespace/default"


def test_restart_keeps_objects_versions_and_ca(tmp_path, launch):
    s = launch(tmp_path / "data")
    old_kubeconfig = s.kubeconfig.read_text()
    raw = Raw(s.kubeconfig)
    _, created, _ = raw.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "keep"}})
    s.stop()
    s2 = launch(tmp_path / "data")
    raw2 = Raw(s2.kubeconfig)
    code, got, _ = raw2.request("GET", "/api/v1/namespaces/default/configmaps/keep")
    assert code == 200
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    # the same CA and admin identity: only the port may differ
    assert old_kubeconfig.split("certificate-authority-data:")[1].split()[0] in s2.kubeconfig.read_text()


def test_overload_is_429_with_retry_after(tmp_path, launch):
    s = launch(tmp_path / "data", "--max-requests-inflight", "1")
    url, ctx = devserver.client_tls(s.kubeconfig)
    host, port = url.removeprefix("https://").rsplit(":", 1)
    # hold the only slot: a request whose body never finishes arriving
    slow = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    slow.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    try:
        raw = Raw(s.kubeconfig)
        deadline = time.monotonic() + 10
        while True:  # until the slow request has reached its handler
            code, body, headers = raw.request("GET", "/api/v1/namespaces/default/configmaps")
            if code == 429 or time.monotonic() > deadline:
                break
        assert code == 429
        assert body["reason"] == "TooManyRequests" and headers["retry-after"] == "1"
    finally:
        slow.close()
