"""Tables for custom resources (their CRD's printer columns) and for kinds with no printer.

A custom resource's table has NAME and then the served version's
`additionalPrinterColumns`; a version without any gets a single AGE column, as upstream
serves it. Column values come from the column's JSONPath, formatted by its type: `date`
columns show an age, `integer` truncates numbers, `string` prints what the path reaches
(JSON for objects and lists). Anything else without a printer gets upstream's default
table: the name and the creation time in RFC 3339.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

from .base import (
    META, NAME, Cells, Column, Obj, Printer, between, go_json, go_print, name_of, parse_time, rfc3339,
)
from .columnpath import PathError, find, parse

DEFAULT = Printer(
    (NAME, Column("Created At", type="date", doc=f"@{META}.creationTimestamp")),
    lambda o, now: [name_of(o), rfc3339((o.get("metadata") or {}).get("creationTimestamp"))],
)

_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
               "description": f"@{META}.creationTimestamp"}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def served_columns(crd: Obj, version: str) -> list[Obj]:
    """The printer columns of one version of a CRD (AGE alone when it declares none)."""
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("name") == version:
            cols = [c for c in v.get("additionalPrinterColumns") or [] if isinstance(c, dict)]
            return cols or [_AGE_COLUMN]
    return [_AGE_COLUMN]


def _date_cell(value: Any, now: datetime.datetime) -> Any:
    if not isinstance(value, str):
        return None
    if value in ("", "null"):
        return "<unknown>"
    if not _RFC3339.match(value):
        return "<invalid>"
    t = parse_time(value)
    return "<unknown>" if t is None else between(t, now)


def cell_value(column_type: str, value: Any, now: datetime.datetime) -> Any:
    """A value the column's path reached, as upstream puts it into a cell of that type."""
    if column_type == "string":
        if isinstance(value, (dict, list)):
            return go_json(value)
        if value is None:
            return "<no value>"
        return value if isinstance(value, str) else go_print(value)
    if value is None:
        return None
    if column_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value == value and abs(value) != float("inf") else None
        return None
    if column_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        return _date_cell(value, now)
    return None


def _column_cell(path: str, column_type: str, obj: Obj, now: datetime.datetime) -> Any:
    try:
        results = find(path, obj)
    except (PathError, RecursionError):
        return None
    if not results:
        return None
    return cell_value(column_type, results[0], now)


@functools.lru_cache(maxsize=256)
def _printer(columns: tuple[tuple[str, str, str, str, int, str], ...]) -> Printer:
    defs = [NAME]
    paths: list[tuple[str, str]] = []
    for name, typ, fmt, desc, prio, path in columns:
        try:
            parse(path)
        except PathError:
            break  # upstream serves the columns before the first it cannot read
        defs.append(Column(name, typ, prio, fmt, desc or f"The value at {path} (a JSONPath) of the object."))
        paths.append((path, typ))

    def cells(o: Obj, now: datetime.datetime) -> Cells:
        return [name_of(o), *(_column_cell(p, t, o, now) for p, t in paths)]

    return Printer(tuple(defs), cells)


def crd_printer(crd: Obj, version: str) -> Printer:
    """The printer a CRD's served version defines (cached on the columns it declares)."""
    cols = tuple(
        (str(c.get("name") or ""), str(c.get("type") or "string"), str(c.get("format") or ""),
         str(c.get("description") or ""), _int(c.get("priority")), str(c.get("jsonPath") or ""))
        for c in served_columns(crd, version)
    )
    return _printer(cols)


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
