"""Expectations: what a controller created or deleted but has not yet seen through its
informer. Until they are met (or time out) the controller does not act on the owner again,
so a slow watch never makes it create or delete a pod twice (client-go's
ControllerExpectations)."""

from __future__ import annotations

import time
from typing import Any

EXPECTATIONS_TIMEOUT = 300.0


class Expectations:
    """Pods this controller created or deleted but has not yet seen come or go."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._pending: dict[str, tuple[int, int, float]] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        a, d, _ = self._pending.get(key, (0, 0, 0.0))
        self._pending[key] = (a + adds, d + deletes, self.clock())

    def observed(self, key: str, added: bool) -> None:
        if key in self._pending:
            a, d, t = self._pending[key]
            self._pending[key] = (max(a - 1, 0), d, t) if added else (a, max(d - 1, 0), t)

    def satisfied(self, key: str) -> bool:
        entry = self._pending.get(key)
        if entry is None:
            return True
        a, d, t = entry
        return (a <= 0 and d <= 0) or self.clock() - t > EXPECTATIONS_TIMEOUT

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)
