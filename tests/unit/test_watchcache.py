"""The watch cache mirrors storage and filters events per watcher as upstream does."""

from __future__ import annotations

import asyncio

import orjson

from nanokube.apiserver.watchcache import WatchCache, bucket_prefix
from nanokube.storage.sqlite import SQLiteStore


def test_bucket_prefix_of_builtin_and_custom_keys():
    assert bucket_prefix("/registry/pods/default/x") == "/registry/pods/"
    assert bucket_prefix("/registry/namespaces/x") == "/registry/namespaces/"
    assert bucket_prefix("/registry/example.com/widgets/ns/w") == "/registry/example.com/widgets/"


def _cm(name, labels=None):
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "ns", "labels": labels or {}}})


def test_cache_follows_storage_and_translates_selection_changes(tmp_path):
    async def main():
        store = SQLiteStore(str(tmp_path / "db"), compaction_interval=0)
        await store.start()
        await store.create("/registry/configmaps/ns/a", _cm("a"))
        cache = WatchCache(store)
        await cache.start()
        assert [o.obj["metadata"]["name"] for o in cache.list("/registry/configmaps/", "ns")] == ["a"]
        pred = lambda o: o.labels.get("sel") == "yes"
        w, backlog = await cache.watch("/registry/configmaps/", "ns", cache.rev, pred)
        assert backlog == []
        await store.update("/registry/configmaps/ns/a", _cm("a", {"sel": "yes"}), 0)  # enters: ADDED
        await store.update("/registry/configmaps/ns/a", _cm("a", {"sel": "yes", "x": "1"}), 0)  # MODIFIED
        await store.update("/registry/configmaps/ns/a", _cm("a", {"sel": "no"}), 0)  # leaves: DELETED
        await store.create("/registry/configmaps/other/b", _cm("b", {"sel": "yes"}))  # other namespace
        got = []
        for _ in range(3):
            ev = await asyncio.wait_for(w.queue.get(), 2)
            got.append(ev.type)
        assert got == ["ADDED", "MODIFIED", "DELETED"]
        assert w.queue.empty()
        await cache.wait_fresh()
        obj = cache.get("/registry/configmaps/ns/a").obj
        assert obj["metadata"]["resourceVersion"] == str(cache.get("/registry/configmaps/ns/a").rev)
        # a late watcher replays the window from an older revision
        w2, backlog = await cache.watch("/registry/configmaps/", None, cache.start_rev, None)
        assert [e.type for e in backlog] == ["MODIFIED", "MODIFIED", "MODIFIED", "ADDED"]
        w.close()
        w2.close()
        await cache.stop()
        await store.close()

    asyncio.run(main())
