"""Leader election on a coordination.k8s.io Lease, with upstream's timing defaults.

The holder renews `spec.renewTime` every `retry_period`; a candidate takes the lease when the
holder's last renewal is older than `lease_duration`. Compare-and-swap on resourceVersion
makes two candidates racing for one lease safe. A leader that cannot renew within
`renew_deadline` steps down (its `run` callback is cancelled).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..api import errors
from ..api.registry import Registry
from .rest import Client
from ..api import timestamps

log = logging.getLogger("nanokube.client.leaderelection")

LEASES = Registry().get("coordination.k8s.io", "v1", "leases")


@dataclass
class LeaderElectionConfig:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def _now_micro(clock: Callable[[], datetime.datetime]) -> str:
    return clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str | None) -> datetime.datetime | None:
    if not ts:
        return None
    return timestamps.parse_time(ts)


class LeaderElector:
    def __init__(self, client: Client, config: LeaderElectionConfig,
                 clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self.is_leader = False
        self._last_renew = 0.0

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the lease afterwards."""
        assert LEASES is not None
        c = self.config
        now = _now_micro(self.clock)
        try:
            lease = await self.client.get(LEASES, c.name, c.namespace)
        except errors.NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": c.name, "namespace": c.namespace},
                    "spec": {"holderIdentity": c.identity, "leaseDurationSeconds": int(c.lease_duration),
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}}
            try:
                await self.client.create(LEASES, body, c.namespace, field_manager="leader-election")
            except errors.AlreadyExists:
                return False
            return True
        spec: dict[str, Any] = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or c.lease_duration)
        expired = renewed is None or (self.clock() - renewed).total_seconds() > duration
        if holder and holder != c.identity and not expired:
            return False
        if holder != c.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = now
        spec.update({"holderIdentity": c.identity, "leaseDurationSeconds": int(c.lease_duration), "renewTime": now})
        lease["spec"] = spec
        try:
            await self.client.update(LEASES, lease, field_manager="leader-election")
        except errors.Conflict:
            return False
        return True

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait for the lease, run `lead` while holding it; return when leadership is lost."""
        c = self.config
        loop = asyncio.get_running_loop()
        while not await self._attempt():
            await asyncio.sleep(c.retry_period)
        log.info("became leader lease=%s/%s identity=%s", c.namespace, c.name, c.identity)
        self.is_leader = True
        self._last_renew = loop.time()
        task: asyncio.Task[None] = asyncio.create_task(lead())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=c.retry_period)
                if task.done():
                    break
                if await self._attempt():
                    self._last_renew = loop.time()
                elif loop.time() - self._last_renew > c.renew_deadline:
                    log.warning("lost leadership lease=%s/%s identity=%s", c.namespace, c.name, c.identity)
                    break
        finally:
            self.is_leader = False
            if not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        failure = task.exception() if task.done() and not task.cancelled() else None
        if failure is not None:
            raise failure

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (errors.ApiError, OSError) as e:
            log.info("lease attempt failed: %s", e)
            return False


async def run_elected(client: Client, config: LeaderElectionConfig | None,
                      lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """How every component runs: `lead` only while holding the lease, campaigning again
    after losing it; with no config (leader election off) `lead` just runs."""
    if config is None:
        await lead()
        return
    elector = LeaderElector(client, config)
    while True:
        await elector.run(lead)
        log.info("leadership lost; waiting to lead again name=%s", config.name)
