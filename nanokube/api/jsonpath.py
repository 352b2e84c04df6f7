"""The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[*].b`,
`.a[?(@.type=="Ready")].status`, and quoted keys `['x.y/z']`."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-]+)
      | \[(?P<index>-?\d+|\*)\]
      | \[\?\(@\.(?P<fkey>[A-Za-z0-9_.\-]+)\s*(?P<fop>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
      | \[['"](?P<quoted>[^'"]+)['"]\]
    """,
    re.VERBOSE,
)


def parse(path: str) -> list[tuple[str, Any]]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath at {path[pos:]!r}")
        if m.group("name") is not None:
            steps.append(("key", m.group("name")))
        elif m.group("quoted") is not None:
            steps.append(("key", m.group("quoted")))
        elif m.group("index") is not None:
            idx = m.group("index")
            steps.append(("all", None) if idx == "*" else ("index", int(idx)))
        else:
            val = m.group("fval")
            if val[:1] in "\"'":
                val = val[1:-1]
            steps.append(("filter", (m.group("fkey"), m.group("fop"), val)))
        pos = m.end()
    return steps


def evaluate(path: str, obj: Any) -> list[Any]:
    """Every value the path reaches (empty when none)."""
    try:
        steps = parse(path)
    except ValueError:
        return []
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            if (kind == "key" and isinstance(v, dict) and arg in v) or (kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v)):
                nxt.append(v[arg])
            elif kind == "all" and isinstance(v, list):
                nxt.extend(v)
            elif kind == "all" and isinstance(v, dict):
                nxt.extend(v.values())
            elif kind == "filter" and isinstance(v, list):
                key, op, want = arg
                for item in v:
                    got = item
                    for part in key.split("."):
                        got = got.get(part) if isinstance(got, dict) else None
                    text = str(got).lower() if isinstance(got, bool) else (None if got is None else str(got))
                    if (text == want) == (op == "=="):
                        nxt.append(item)
        current = nxt
    return current
