"""The embedded SQLite backend.

Layout: `log` keeps every revision (the history watches replay, compaction trims it);
`current` keeps the live value of each key for cheap gets and lists. Both change in one
transaction.

Writes go through one writer thread that commits them in batches ("group commit"): under
load many writes share one fsync, and each is acknowledged only after its batch committed
with `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss alike.
Events are handed to watchers on the event loop in revision order, after the commit.

Reads run on a separate connection (WAL readers never block the writer). A background task
compacts history older than one compaction interval (like the API server does for etcd),
checkpoints the WAL and returns free pages to the file system, so the database stays bounded
under churn.
"""

from __future__ import annotations

import builtins

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .interface import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionMismatchError,
    Store,
    Watch,
    prefix_end,
)

log = logging.getLogger("nanokube.storage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS current (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# the most writes committed in one transaction
_BATCH = 256


class _Op:
    __slots__ = ("error", "events", "expected", "future", "key", "kind", "result", "value")

    def __init__(self, kind: str, key: str, value: bytes, expected: int, future: asyncio.Future[Any]) -> None:
        self.kind = kind
        self.key = key
        self.value = value
        self.expected = expected
        self.future = future
        self.result: Any = None
        self.error: BaseException | None = None
        self.events: list[Event] = []


class _QueueWatch(Watch):
    def __init__(self, store: SQLiteStore, prefix: str, after: int) -> None:
        self.store = store
        self.prefix = prefix
        self.end = prefix_end(prefix)
        self.after = after
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False
        self.history_until = store._dispatched
        store._watchers.add(self)

    def matches(self, key: str) -> bool:
        return self.prefix <= key < self.end

    async def _iterate(self) -> AsyncIterator[Event]:
        try:
            if self.after < self.history_until:
                history = await self.store.history(self.prefix, self.after, self.history_until)
                for ev in history:
                    if self.closed:
                        return
                    yield ev
            while not self.closed:
                live = await self.queue.get()
                if live is None:
                    return
                ev = live
                if ev.revision > max(self.history_until, self.after):
                    yield ev
        finally:
            self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.store._watchers.discard(self)
            self.queue.put_nowait(None)


class SQLiteStore(Store):
    def __init__(
        self,
        path: str,
        *,
        compaction_interval: float = 300.0,
        synchronous: str = "FULL",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.compaction_interval = compaction_interval
        self.synchronous = synchronous
        self.clock = clock
        self._ops: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._watchers: set[_QueueWatch] = set()
        self._rev = 0  # last revision assigned (writer thread)
        self._dispatched = 0  # last revision handed to watchers (event loop)
        self._compacted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")
        self._rconn: sqlite3.Connection | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        wconn = self._connect()
        # incremental vacuum must be chosen before the first table exists
        wconn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        wconn.executescript(_SCHEMA)
        row = wconn.execute("SELECT max(rev) FROM log").fetchone()
        meta = dict(wconn.execute("SELECT name, value FROM meta").fetchall())
        self._compacted = meta.get("compacted", 0)
        self._rev = max(row[0] or 0, meta.get("rev", 0), self._compacted, 1)
        self._dispatched = self._rev
        wconn.execute("INSERT OR IGNORE INTO meta(name, value) VALUES('rev', ?)", (self._rev,))
        self._rconn = self._connect()
        self._writer = threading.Thread(
            target=self._write_loop, args=(wconn,), name="sqlite-write", daemon=True
        )
        self._writer.start()
        if self.compaction_interval > 0:
            self._compactor = asyncio.create_task(self._compact_loop())
        log.info("storage opened path=%s revision=%d", self.path, self._rev)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor:
            self._compactor.cancel()
        self._ops.put(None)
        if self._writer:
            await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        for w in list(self._watchers):
            w.close()
        self._reader.submit(self._close_reader).result()
        self._reader.shutdown()

    def _close_reader(self) -> None:
        if self._rconn:
            self._rconn.close()

    # -- writes --------------------------------------------------------------------------

    async def _submit(self, kind: str, key: str, value: bytes = b"", expected: int = 0) -> Any:
        if self._closed:
            raise RuntimeError("storage is closed")
        assert self._loop is not None
        fut = self._loop.create_future()
        self._ops.put(_Op(kind, key, value, expected, fut))
        return await fut

    async def create(self, key: str, value: bytes) -> KeyValue:
        kv: KeyValue = await self._submit("create", key, value)
        return kv

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        kv: KeyValue = await self._submit("update", key, value, expected_revision)
        return kv

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        kv: KeyValue = await self._submit("delete", key, b"", expected_revision)
        return kv

    async def compact(self, revision: int) -> None:
        await self._submit("compact", "", b"", revision)

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        stop = False
        while not stop:
            first = self._ops.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    nxt = self._ops.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(conn, batch)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        start_rev = self._rev
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                try:
                    self._apply(conn, op)
                except (KeyExistsError, KeyNotFoundError, RevisionMismatchError) as e:
                    op.error = e
            conn.execute(
                "INSERT INTO meta(name, value) VALUES('rev', ?) "
                "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                (self._rev,),
            )
            conn.execute("COMMIT")
        except BaseException as e:  # the whole batch failed: nothing of it is durable
            log.exception("storage commit failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._rev = start_rev
            for op in batch:
                op.error = e
                op.events = []
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._finish, batch)

    def _apply(self, conn: sqlite3.Connection, op: _Op) -> None:
        if op.kind == "compact":
            self._do_compact(conn, op.expected)
            return
        row = conn.execute(
            "SELECT value, create_rev, mod_rev FROM current WHERE key=?", (op.key,)
        ).fetchone()
        cur = KeyValue(op.key, row[0], row[1], row[2]) if row else None
        if op.kind == "create":
            if cur is not None:
                raise KeyExistsError(op.key)
            rev = self._rev + 1
            kv = KeyValue(op.key, op.value, rev, rev)
            conn.execute("INSERT INTO log VALUES (?,?,?,?,?,0)", (rev, op.key, op.value, rev, 0))
            conn.execute("INSERT INTO current VALUES (?,?,?,?)", (op.key, op.value, rev, rev))
            self._rev = rev
            op.result = kv
            op.events = [Event("PUT", kv, None)]
            return
        if cur is None:
            if op.expected:
                raise RevisionMismatchError(op.key, None)
            raise KeyNotFoundError(op.key)
        if op.expected and cur.mod_revision != op.expected:
            raise RevisionMismatchError(op.key, cur)
        rev = self._rev + 1
        if op.kind == "update":
            kv = KeyValue(op.key, op.value, cur.create_revision, rev)
            conn.execute(
                "INSERT INTO log VALUES (?,?,?,?,?,0)",
                (rev, op.key, op.value, cur.create_revision, cur.mod_revision),
            )
            conn.execute(
                "UPDATE current SET value=?, mod_rev=? WHERE key=?", (op.value, rev, op.key)
            )
            op.events = [Event("PUT", kv, cur)]
        else:
            kv = KeyValue(op.key, cur.value, cur.create_revision, rev)
            conn.execute(
                "INSERT INTO log VALUES (?,?,?,?,?,1)",
                (rev, op.key, cur.value, cur.create_revision, cur.mod_revision),
            )
            conn.execute("DELETE FROM current WHERE key=?", (op.key,))
            op.events = [Event("DELETE", kv, cur)]
        self._rev = rev
        op.result = kv

    def _finish(self, batch: list[_Op]) -> None:
        for op in batch:
            for ev in op.events:
                self._dispatched = ev.revision
                for w in list(self._watchers):
                    if w.matches(ev.kv.key):
                        w.queue.put_nowait(ev)
        for op in batch:
            if op.future.done():
                continue
            if op.error is not None:
                op.future.set_exception(op.error)
            else:
                op.future.set_result(op.result)

    # -- compaction ----------------------------------------------------------------------

    def _do_compact(self, conn: sqlite3.Connection, revision: int) -> None:
        revision = min(revision, self._rev)
        if revision <= self._compacted:
            return
        # drop every row at or below `revision` except the newest live value of each key
        conn.execute(
            "DELETE FROM log WHERE rev <= :c AND (deleted = 1 OR EXISTS ("
            " SELECT 1 FROM log AS newer WHERE newer.key = log.key"
            " AND newer.rev > log.rev AND newer.rev <= :c))",
            {"c": revision},
        )
        conn.execute(
            "INSERT INTO meta(name, value) VALUES('compacted', ?) "
            "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            (revision,),
        )
        self._compacted = revision

    async def _compact_loop(self) -> None:
        """Every interval, compact to the revision seen one interval ago, then tidy the file."""
        previous = self._rev
        while True:
            await asyncio.sleep(self.compaction_interval)
            target = previous
            previous = self._dispatched
            try:
                await self.compact(target)
                await asyncio.get_running_loop().run_in_executor(self._reader, self._tidy)
            except Exception:
                log.exception("compaction failed")

    def _tidy(self) -> None:
        assert self._rconn is not None
        self._rconn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._rconn.execute("PRAGMA incremental_vacuum")

    # -- reads ---------------------------------------------------------------------------

    def current_revision(self) -> int:
        return self._dispatched

    def compacted_revision(self) -> int:
        return self._compacted

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    async def get(self, key: str) -> KeyValue | None:
        kv: KeyValue | None = await self._read(self._get, key)
        return kv

    def _get(self, key: str) -> KeyValue | None:
        assert self._rconn is not None
        row = self._rconn.execute(
            "SELECT value, create_rev, mod_rev FROM current WHERE key=?", (key,)
        ).fetchone()
        return KeyValue(key, row[0], row[1], row[2]) if row else None

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        if revision and revision > self._dispatched:
            raise FutureRevisionError(revision, self._dispatched)
        if revision and revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        result: ListResult = await self._read(self._list, prefix, revision, limit, start_after)
        return result

    def _list(self, prefix: str, revision: int, limit: int, start_after: str) -> ListResult:
        assert self._rconn is not None
        conn = self._rconn
        lo = max(prefix, start_after + "\x00") if start_after else prefix
        hi = prefix_end(prefix)
        fetch = limit + 1 if limit else -1
        conn.execute("BEGIN")
        try:
            at = revision or int(
                conn.execute("SELECT value FROM meta WHERE name='rev'").fetchone()[0]
            )
            if not revision:
                rows = conn.execute(
                    "SELECT key, value, create_rev, mod_rev FROM current"
                    " WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
                    (lo, hi, fetch),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT l.key, l.value, l.create_rev, l.rev FROM log AS l"
                    " WHERE l.key >= :lo AND l.key < :hi AND l.deleted = 0 AND l.rev = ("
                    "  SELECT max(rev) FROM log AS m WHERE m.key = l.key AND m.rev <= :at)"
                    " ORDER BY l.key LIMIT :n",
                    {"lo": lo, "hi": hi, "at": revision, "n": fetch},
                ).fetchall()
        finally:
            conn.execute("COMMIT")
        more = bool(limit) and len(rows) > limit
        if more:
            rows = rows[:limit]
        kvs = [KeyValue(r[0], r[1], r[2], r[3]) for r in rows]
        return ListResult(kvs, at, more)

    # -- watch ---------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int) -> Watch:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        return _QueueWatch(self, prefix, after_revision)

    async def history(self, prefix: str, after_revision: int, until_revision: int) -> builtins.list[Event]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        events: builtins.list[Event] = await self._read(self._read_history, prefix, after_revision, until_revision)
        return events

    def _read_history(self, prefix: str, after: int, until: int) -> builtins.list[Event]:
        assert self._rconn is not None
        rows = self._rconn.execute(
            "SELECT l.rev, l.key, l.value, l.create_rev, l.prev_rev, l.deleted, p.value"
            " FROM log AS l LEFT JOIN log AS p ON p.rev = l.prev_rev"
            " WHERE l.rev > ? AND l.rev <= ? AND l.key >= ? AND l.key < ? ORDER BY l.rev",
            (after, until, prefix, prefix_end(prefix)),
        ).fetchall()
        if after < self._compacted:
            raise CompactedError(after, self._compacted)
        out = []
        for rev, key, value, crev, prev_rev, deleted, prev_value in rows:
            prev = KeyValue(key, prev_value, crev, prev_rev) if prev_value is not None else None
            kv = KeyValue(key, value, crev, rev)
            out.append(Event("DELETE" if deleted else "PUT", kv, prev))
        return out
