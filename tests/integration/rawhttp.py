"""Plain HTTPS requests with the admin client certificate, for exact status checks."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml


class Raw:
    def __init__(self, kubeconfig: Path, with_cert: bool = True) -> None:
        doc = yaml.safe_load(kubeconfig.read_text())
        u = urlparse(doc["clusters"][0]["cluster"]["server"])
        self.host, self.port = u.hostname, u.port
        ctx = ssl.create_default_context()
        ca = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        ctx.load_verify_locations(cadata=ca)
        if with_cert:
            user = doc["users"][0]["user"]
            d = tempfile.mkdtemp()
            cert, key = Path(d, "c.crt"), Path(d, "c.key")
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            ctx.load_cert_chain(str(cert), str(key))
        self.ctx = ctx

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()}
