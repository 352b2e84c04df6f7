"""nanokube's own client and informers against a real server."""

from __future__ import annotations

import asyncio

import pytest

from nanokube.api import errors
from nanokube.api.registry import Registry
from nanokube.client.config import load_kubeconfig
from nanokube.client.informer import Informer, by_namespace
from nanokube.client.rest import Client

REG = Registry()
CM = REG.get("", "v1", "configmaps")
NS = REG.get("", "v1", "namespaces")


def test_client_verbs_and_typed_errors(server):
    async def main():
        async with Client(load_kubeconfig(server.kubeconfig)) as c:
            await c.create(NS, {"metadata": {"name": "own-client"}})
            created = await c.create(CM, {"metadata": {"name": "a", "namespace": "own-client"}, "data": {"x": "1"}})
            with pytest.raises(errors.AlreadyExists):
                await c.create(CM, created)
            stale = dict(created, data={"x": "2"})
            await c.update(CM, stale)
            with pytest.raises(errors.Conflict):
                await c.update(CM, stale)
            patched = await c.patch(CM, "a", {"data": {"y": "3"}}, "own-client")
            assert patched["data"] == {"x": "2", "y": "3"}
            applied = await c.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "b", "namespace": "own-client"}, "data": {"z": "4"}},
                                    field_manager="me")
            assert applied["data"] == {"z": "4"}
            items, rv = await c.list_all(CM, "own-client", page=1)
            assert sorted(i["metadata"]["name"] for i in items) == ["a", "b"] and int(rv) > 0
            await c.delete(CM, "a", "own-client")
            with pytest.raises(errors.NotFound):
                await c.get(CM, "a", "own-client")

    asyncio.run(main())


def test_informer_follows_changes(server):
    async def main():
        async with Client(load_kubeconfig(server.kubeconfig)) as c:
            await c.create(NS, {"metadata": {"name": "informed"}})
            await c.create(CM, {"metadata": {"name": "before", "namespace": "informed"}})
            seen: list[tuple[str, str]] = []
            inf = Informer(c, CM, namespace="informed", indexers={"namespace": by_namespace})
            inf.add_handlers(lambda o: seen.append(("add", o["metadata"]["name"])),
                             lambda old, new: seen.append(("update", new["metadata"]["name"])),
                             lambda o: seen.append(("delete", o["metadata"]["name"])))
            inf.start()
            await inf.wait_synced(10)
            assert seen == [("add", "before")]
            await c.create(CM, {"metadata": {"name": "after", "namespace": "informed"}})
            await c.patch(CM, "before", {"data": {"k": "v"}}, "informed")
            await c.delete(CM, "after", "informed")
            for _ in range(200):
                if len(seen) >= 4:
                    break
                await asyncio.sleep(0.02)
            assert seen == [("add", "before"), ("add", "after"), ("update", "before"), ("delete", "after")]
            assert [o["metadata"]["name"] for o in inf.by_index("namespace", "informed")] == ["before"]
            await inf.stop()

    asyncio.run(main())


def test_leader_election_hands_over_when_the_leader_goes(server):
    from nanokube.client.leaderelection import LeaderElectionConfig, LeaderElector

    async def main():
        async with Client(load_kubeconfig(server.kubeconfig)) as c:
            def cfg(identity: str) -> LeaderElectionConfig:
                return LeaderElectionConfig("kube-system", "test-lock", identity,
                                            lease_duration=1.0, renew_deadline=0.8, retry_period=0.1)

            a, b = LeaderElector(c, cfg("a")), LeaderElector(c, cfg("b"))
            leading: list[str] = []

            async def lead_forever(name: str) -> None:
                leading.append(name)
                await asyncio.Event().wait()

            task_a = asyncio.create_task(a.run(lambda: lead_forever("a")))
            for _ in range(100):
                if leading:
                    break
                await asyncio.sleep(0.05)
            task_b = asyncio.create_task(b.run(lambda: lead_forever("b")))
            await asyncio.sleep(1.5)  # several lease durations: b must not take over a live leader
            assert leading == ["a"] and a.is_leader and not b.is_leader
            task_a.cancel()  # the leader dies without releasing
            loop = asyncio.get_running_loop()
            died = loop.time()
            for _ in range(100):
                if leading == ["a", "b"]:
                    break
                await asyncio.sleep(0.05)
            assert leading == ["a", "b"]
            assert loop.time() - died < 3  # within the lease duration plus a retry or two
            task_b.cancel()

    asyncio.run(main())


def test_event_recorder_aggregates_repeats(server):
    from nanokube.client.events import EventRecorder

    async def main():
        async with Client(load_kubeconfig(server.kubeconfig)) as c:
            await c.create(NS, {"metadata": {"name": "eventful"}})
            cm = await c.create(CM, {"metadata": {"name": "subject", "namespace": "eventful"}})
            rec = EventRecorder(c, "test-controller")
            for _ in range(3):
                rec.event(cm, "Warning", "Broken", "it broke")
            rec.event(cm, "Normal", "Fixed", "it works")
            await rec.flush()
            events, _ = await c.list_all(REG.get("", "v1", "events"), "eventful",
                                         field_selector="involvedObject.name=subject")
            by_reason = {e["reason"]: e for e in events}
            assert by_reason["Broken"]["count"] == 3 and by_reason["Fixed"]["count"] == 1
            assert by_reason["Broken"]["involvedObject"]["uid"] == cm["metadata"]["uid"]
            assert by_reason["Broken"]["source"] == {"component": "test-controller"}
            await rec.stop()

    asyncio.run(main())
