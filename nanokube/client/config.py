"""Connection settings from a kubeconfig: server URL and a TLS context with its credentials."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ClientConfig:
    server: str
    ssl_context: ssl.SSLContext
    token: str | None = None


def _data_or_file(entry: dict[str, Any], key: str) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return Path(entry[key]).read_bytes()
    return None


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None, *,
                    credentials: bool = True) -> ClientConfig:
    """The current (or named) context of a kubeconfig, as upstream's loader reads it.

    `credentials=False` keeps only the server and its CA (an anonymous client)."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    ctx_name = context or doc.get("current-context")
    contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
    if ctx_name not in contexts:
        raise ValueError(f"context {ctx_name!r} not found in {path}")
    ctx = contexts[ctx_name]
    cluster = {c["name"]: c["cluster"] for c in doc.get("clusters") or []}[ctx["cluster"]]
    user = {u["name"]: u["user"] for u in doc.get("users") or []}.get(ctx.get("user"), {})
    sslctx = ssl.create_default_context()
    ca = _data_or_file(cluster, "certificate-authority")
    if ca:
        sslctx.load_verify_locations(cadata=ca.decode())
    if cluster.get("insecure-skip-tls-verify"):
        sslctx.check_hostname = False
        sslctx.verify_mode = ssl.CERT_NONE
    cert, key = _data_or_file(user, "client-certificate"), _data_or_file(user, "client-key")
    if cert and key and credentials:
        d = Path(tempfile.mkdtemp(prefix="nanokube-client-"))
        (d / "tls.crt").write_bytes(cert)
        (d / "tls.key").write_bytes(key)
        os.chmod(d / "tls.key", 0o600)
        sslctx.load_cert_chain(str(d / "tls.crt"), str(d / "tls.key"))
    return ClientConfig(server=cluster["server"].rstrip("/"), ssl_context=sslctx,
                        token=user.get("token") if credentials else None)
