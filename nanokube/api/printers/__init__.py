"""Server-side printing: the Table `kubectl get` shows, with upstream's columns per kind.

kubectl asks for `as=Table` and prints the cells the server sends verbatim, so each kind's
columns and cell text must be upstream's: pods derive their STATUS word, services their
external address, ages read `5m3s`, and so on. The server always fills every column,
`-o wide` ones included (kubectl hides those with priority 1 itself).

Custom resources print their CRD's printer columns; kinds upstream has no printer for
(roles, limit ranges, CRDs themselves in 1.33) get the default NAME / CREATED AT table.
All of this is pure: objects and the current time in, table out.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from ..registry import Resource
from . import cluster, network, storage, workloads
from .base import Cells, Obj, Printer, human_duration
from .custom import DEFAULT, crd_printer
from .pods import POD

__all__ = ["build_table", "cells", "columns", "human_duration", "printer_for"]

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): POD,
    **workloads.PRINTERS,
    **network.PRINTERS,
    **storage.PRINTERS,
    **cluster.PRINTERS,
}
_ROW_ORDER: dict[tuple[str, str], Callable[[Obj], Any]] = dict(cluster.ROW_ORDER)
_INCLUDE = ("Metadata", "Object", "None")


def printer_for(resource: Resource) -> Printer:
    """The printer of a resource: its CRD's columns, upstream's printer, or the default table."""
    if resource.crd is not None:
        return crd_printer(resource.crd, resource.version)
    return PRINTERS.get((resource.group, resource.kind), DEFAULT)


def columns(resource: Resource) -> list[dict[str, Any]]:
    """The column definitions of a resource's table (wide ones have priority 1)."""
    return [c.as_dict() for c in printer_for(resource).columns]


def cells(resource: Resource, obj: Obj, now: datetime.datetime) -> Cells:
    """One object's row, e.g. for a watch event (`now` makes the ages)."""
    return printer_for(resource).cells(obj, now)


def build_table(
    resource: Resource,
    objects: list[Obj],
    *,
    now: datetime.datetime,
    include_object: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
    version: str = "v1",
) -> dict[str, Any]:
    """A complete `meta.k8s.io` Table of `objects` (already in the served version).

    `include_object` is the request's includeObject: rows carry a PartialObjectMetadata
    (kubectl reads namespace and labels from it), the whole object (for `--sort-by`), or
    null. `list_meta` becomes the table's metadata; a table of one object without it
    carries that object's resourceVersion, as upstream's does. `version` is the
    meta.k8s.io version asked for (v1 or v1beta1).
    """
    include = include_object or "Metadata"
    if include not in _INCLUDE:
        from .. import errors

        raise errors.BadRequest(f"unrecognized includeObject value: {json.dumps(include)}")
    printer = printer_for(resource)
    order = None if resource.crd is not None else _ROW_ORDER.get((resource.group, resource.kind))
    items = sorted(objects, key=order) if order else objects
    rows = [_row(printer, o, now, include, version) for o in items]
    if list_meta is not None:
        meta = dict(list_meta)
    else:
        rv = ((objects[0].get("metadata") or {}).get("resourceVersion") if len(objects) == 1 else None)
        meta = {"resourceVersion": rv} if rv else {}
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": meta,
            "columnDefinitions": [c.as_dict() for c in printer.columns], "rows": rows}


def _row(printer: Printer, obj: Obj, now: datetime.datetime, include: str, version: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": printer.cells(obj, now)}
    conditions = printer.conditions(obj) if printer.conditions else []
    if conditions:
        row["conditions"] = conditions
    if include == "Object":
        row["object"] = obj
    elif include == "Metadata":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
                         "metadata": obj.get("metadata") or {}}
    else:
        row["object"] = None
    return row
