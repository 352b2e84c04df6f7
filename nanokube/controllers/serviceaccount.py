"""The service account controller: every active namespace has a `default` ServiceAccount."""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..client.informer import Informer
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker

log = logging.getLogger("nanokube.controllers.serviceaccount")

SERVICE_ACCOUNTS = Registry().get("", "v1", "serviceaccounts")
DEFAULT = "default"


class ServiceAccountController:
    name = "serviceaccount"

    def __init__(self, client: Client, namespaces: Informer, service_accounts: Informer) -> None:
        self.client = client
        self.namespaces = namespaces
        self.service_accounts = service_accounts
        self.queue = WorkQueue()
        namespaces.add_handlers(self._ns, lambda old, new: self._ns(new), None)
        service_accounts.add_handlers(None, None, self._sa_deleted)

    def _ns(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _sa_deleted(self, sa: dict[str, Any]) -> None:
        if sa["metadata"].get("name") == DEFAULT:
            self.queue.add(sa["metadata"].get("namespace"))

    async def run(self) -> None:
        await run_worker(self.queue, lambda ns: self.sync(str(ns)), log)

    async def sync(self, namespace: str) -> None:
        assert SERVICE_ACCOUNTS is not None
        ns = self.namespaces.get(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        if self.service_accounts.get(f"{namespace}/{DEFAULT}") is not None:
            return
        try:
            await self.client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                        "metadata": {"name": DEFAULT, "namespace": namespace}},
                                     field_manager="serviceaccount-controller")
        except (errors.AlreadyExists, errors.Forbidden, errors.NotFound):
            pass  # raced with another writer, or the namespace is going away

