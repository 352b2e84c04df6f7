"""The storage interface: etcd's semantics, whatever the backend.

Keys are strings like `/registry/pods/default/web-0`; values are opaque bytes. Every write
gets the next global revision, which the API server exposes as `resourceVersion`. Updates
and deletes may be guarded by the revision the caller last saw (compare-and-swap). A watch
replays retained history from any revision and then streams live events; compaction forgets
history before a revision, after which such watches fail with `CompactedError`.

Backends: `sqlite.SQLiteStore` (embedded default); an etcd backend implements the same class.
"""

from __future__ import annotations

import builtins

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(slots=True)
class Event:
    """A change: PUT (create or update) or DELETE; `kv.value` of a DELETE is the last value."""

    type: str
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def created(self) -> bool:
        return self.type == "PUT" and self.kv.create_revision == self.kv.mod_revision


@dataclass(slots=True)
class ListResult:
    kvs: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # more keys follow the last one returned (limit was hit)
    remaining: int = 0  # how many keys follow, when known


class StorageError(Exception):
    pass


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatchError(StorageError):
    """The key changed since the caller read it; `current` is what is there now (or None)."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"revision mismatch: {key}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision was compacted away (the API answers 410 Gone)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (oldest {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """A read at a revision the store has not reached yet."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class Watch(abc.ABC):
    """An event stream; iterate it, close it when done."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Store(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Open the backend; must be called before anything else."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Store a new key; raises KeyExistsError if it is there."""

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None: ...

    @abc.abstractmethod
    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under prefix in key order, at `revision` (0 = current), after `start_after`."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Replace the value if its mod revision is `expected_revision` (0 = unconditional)."""

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete; returns the last value with `mod_revision` set to the deletion revision."""

    @abc.abstractmethod
    def watch(self, prefix: str, after_revision: int) -> Watch:
        """Events under prefix with revision > after_revision; raises CompactedError."""

    @abc.abstractmethod
    async def history(self, prefix: str, after_revision: int, until_revision: int) -> builtins.list[Event]:
        """The retained events under prefix in (after, until]; raises CompactedError."""

    @abc.abstractmethod
    def current_revision(self) -> int: ...

    @abc.abstractmethod
    def compacted_revision(self) -> int: ...

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history up to `revision` (the latest value of each live key is kept)."""


def prefix_end(prefix: str) -> str:
    """The smallest key greater than every key starting with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
