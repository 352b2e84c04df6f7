"""Times as the API writes them (metav1.Time: RFC 3339, UTC, whole seconds) and reads them."""

from __future__ import annotations

import datetime

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(t: datetime.datetime) -> str:
    """`2026-01-02T03:04:05Z`; a naive datetime is taken to be UTC already."""
    if t.tzinfo is not None:
        t = t.astimezone(datetime.UTC)
    return t.strftime(_FORMAT)


def parse_time(text: str) -> datetime.datetime:
    """An aware datetime from an RFC 3339 time (`Z` or an offset, fractions allowed)."""
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=datetime.UTC)


def now() -> str:
    """The current time, formatted."""
    return format_time(datetime.datetime.now(datetime.UTC))
