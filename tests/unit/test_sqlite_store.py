"""The SQLite backend keeps etcd's semantics: CAS, history, watch replay, compaction."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanokube.storage.interface import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionMismatchError,
)
from nanokube.storage.sqlite import SQLiteStore


def run(coro):
    return asyncio.run(coro)


async def _open(tmp_path, **kw):
    store = SQLiteStore(str(tmp_path / "db.sqlite"), compaction_interval=0, **kw)
    await store.start()
    return store


def test_create_get_update_delete(tmp_path):
    async def main():
        s = await _open(tmp_path)
        kv = await s.create("/registry/cm/a/x", b"1")
        assert kv.create_revision == kv.mod_revision
        with pytest.raises(KeyExistsError):
            await s.create("/registry/cm/a/x", b"2")
        got = await s.get("/registry/cm/a/x")
        assert got.value == b"1" and got.mod_revision == kv.mod_revision
        kv2 = await s.update("/registry/cm/a/x", b"2", kv.mod_revision)
        assert kv2.mod_revision == kv.mod_revision + 1
        assert kv2.create_revision == kv.create_revision
        with pytest.raises(RevisionMismatchError) as err:
            await s.update("/registry/cm/a/x", b"3", kv.mod_revision)
        assert err.value.current.value == b"2"
        with pytest.raises(KeyNotFoundError):
            await s.update("/registry/cm/a/nope", b"3", 0)
        gone = await s.delete("/registry/cm/a/x", kv2.mod_revision)
        assert gone.value == b"2" and gone.mod_revision == kv2.mod_revision + 1
        assert await s.get("/registry/cm/a/x") is None
        await s.close()

    run(main())


def test_list_prefix_limit_and_history(tmp_path):
    async def main():
        s = await _open(tmp_path)
        revs = []
        for i in range(5):
            revs.append((await s.create(f"/registry/cm/ns/k{i}", str(i).encode())).mod_revision)
        await s.create("/registry/cmx/ns/other", b"x")  # a neighbour prefix is not listed
        page = await s.list("/registry/cm/", limit=2)
        assert [kv.key[-2:] for kv in page.kvs] == ["k0", "k1"] and page.more
        page2 = await s.list("/registry/cm/", limit=2, start_after=page.kvs[-1].key, revision=page.revision)
        assert [kv.key[-2:] for kv in page2.kvs] == ["k2", "k3"]
        at = revs[2]
        await s.delete("/registry/cm/ns/k0")
        await s.update("/registry/cm/ns/k1", b"new", 0)
        old = await s.list("/registry/cm/", revision=at)
        assert [(kv.key[-2:], kv.value) for kv in old.kvs] == [
            ("k0", b"0"), ("k1", b"1"), ("k2", b"2")]
        now = await s.list("/registry/cm/")
        assert [(kv.key[-2:], kv.value) for kv in now.kvs] == [
            ("k1", b"new"), ("k2", b"2"), ("k3", b"3"), ("k4", b"4")]
        await s.close()

    run(main())


def test_watch_replays_history_then_streams(tmp_path):
    async def main():
        s = await _open(tmp_path)
        a = await s.create("/registry/pods/d/a", b"a1")
        await s.update("/registry/pods/d/a", b"a2", 0)
        w = s.watch("/registry/pods/", a.mod_revision)
        it = w.__aiter__()
        ev = await asyncio.wait_for(it.__anext__(), 2)
        assert ev.type == "PUT" and ev.kv.value == b"a2" and ev.prev.value == b"a1"
        await s.delete("/registry/pods/d/a")
        await s.create("/registry/other/x", b"no")
        ev = await asyncio.wait_for(it.__anext__(), 2)
        assert ev.type == "DELETE" and ev.kv.value == b"a2"
        w.close()
        await s.close()

    run(main())


def test_compaction_forgets_history_and_keeps_live_values(tmp_path):
    async def main():
        s = await _open(tmp_path)
        kv = await s.create("/registry/cm/d/a", b"1")
        for i in range(3):
            kv = await s.update("/registry/cm/d/a", str(i).encode(), 0)
        await s.create("/registry/cm/d/b", b"b")
        await s.delete("/registry/cm/d/b")
        await s.compact(kv.mod_revision)
        with pytest.raises(CompactedError):
            s.watch("/registry/cm/", kv.mod_revision - 1)
        with pytest.raises(CompactedError):
            await s.list("/registry/cm/", revision=kv.mod_revision - 1)
        listed = await s.list("/registry/cm/", revision=kv.mod_revision)
        assert [x.value for x in listed.kvs] == [b"2"]
        # history after the compaction point is intact
        w = s.watch("/registry/cm/", kv.mod_revision)
        it = w.__aiter__()
        assert (await asyncio.wait_for(it.__anext__(), 2)).kv.key.endswith("/b")
        w.close()
        await s.close()

    run(main())


def test_reopen_keeps_data_and_revisions(tmp_path):
    async def main():
        s = await _open(tmp_path)
        kv = await s.create("/registry/ns/a", b"1")
        await s.close()
        s = await _open(tmp_path)
        assert s.current_revision() == kv.mod_revision
        kv2 = await s.create("/registry/ns/b", b"2")
        assert kv2.mod_revision == kv.mod_revision + 1
        await s.close()

    run(main())


def test_concurrent_writes_are_all_acknowledged_once(tmp_path):
    async def main():
        s = await _open(tmp_path)
        results = await asyncio.gather(*(s.create(f"/registry/cm/n/{i}", b"v") for i in range(300)))
        revs = sorted(r.mod_revision for r in results)
        assert revs == list(range(revs[0], revs[0] + 300))
        assert len((await s.list("/registry/cm/")).kvs) == 300
        await s.close()

    run(main())


ops = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete"]), st.sampled_from("abcd"), st.binary(max_size=4)),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(ops)
def test_store_agrees_with_a_dict_model(tmp_path_factory, sequence):
    tmp = tmp_path_factory.mktemp("model")

    async def main():
        s = await _open(tmp)
        model: dict[str, bytes] = {}
        snapshots = []
        for op, k, v in sequence:
            key = f"/registry/x/{k}"
            try:
                if op == "create":
                    await s.create(key, v)
                    assert k not in model
                    model[k] = v
                elif op == "update":
                    await s.update(key, v, 0)
                    assert k in model
                    model[k] = v
                else:
                    await s.delete(key)
                    assert k in model
                    del model[k]
            except KeyExistsError:
                assert k in model
            except KeyNotFoundError:
                assert k not in model
            snapshots.append((s.current_revision(), dict(model)))
        for rev, snap in snapshots:
            listed = await s.list("/registry/x/", revision=rev)
            assert {kv.key[-1]: kv.value for kv in listed.kvs} == snap
        await s.close()

    run(main())
