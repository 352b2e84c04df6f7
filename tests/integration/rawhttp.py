"""Plain HTTPS requests with the admin client certificate, for exact status checks."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nanokube import devserver


class Raw:
    def __init__(self, kubeconfig: Path, with_cert: bool = True) -> None:
        server, self.ctx = devserver.client_tls(kubeconfig, with_cert)
        u = urlparse(server)
        self.host, self.port = u.hostname, u.port

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
