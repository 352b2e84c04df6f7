"""ControllerRevisions: the recorded pod templates of a StatefulSet or DaemonSet (upstream's
controller/history), pure: data in, decisions out.

A revision's `data` is a strategic merge patch that puts the owner's template back:
`{"spec": {"template": {..., "$patch": "replace"}}}` - which is what `kubectl rollout undo`
sends to the server, and what `kubectl rollout history --revision=N` applies locally. A
revision is named `<owner>-<hash>`, the hash being FNV-32a over the canonical data (plus the
owner's `status.collisionCount`, bumped when a different revision already holds the name),
written with the same alphabet as pod-template-hash. Revision numbers only grow: bringing an
old template back gives its revision the next number rather than a copy. Revisions beyond
`revisionHistoryLimit` are deleted oldest first, but never one a pod still runs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .deploymentutil import template_hash
from .podutil import controller_ref

Obj = dict[str, Any]

# on pods: which revision they were made from (StatefulSet: the revision's name, DaemonSet: its hash)
REVISION_LABEL = "controller-revision-hash"
# on StatefulSet revisions: the hash their name ends with
HASH_LABEL = "controller.kubernetes.io/hash"
DEFAULT_HISTORY_LIMIT = 10
PATCH = "$patch"
# a revision's name keeps at most this much of its owner's name (upstream's limit)
MAX_PREFIX = 223


def template_patch(owner: Obj) -> Obj:
    """The revision data of an owner: a patch replacing its pod template wholesale."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template[PATCH] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Obj, collision_count: int | None) -> str:
    """The short, stable hash of revision data (or of a template, for DaemonSets)."""
    return template_hash(data, collision_count)


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:MAX_PREFIX]}-{hash_}"


def new_revision(owner: Obj, kind: str, api_version: str, data: Obj, number: int, hash_: str,
                 extra_labels: dict[str, str]) -> Obj:
    """A ControllerRevision for `owner`: its template's labels (so the owner's selector finds
    it, as kubectl's history does) plus `extra_labels`, the owner's annotations (change-cause
    shows in `kubectl rollout history`), and a controller reference to the owner."""
    meta = owner["metadata"]
    template_labels = (((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    out_meta: Obj = {
        "name": revision_name(meta["name"], hash_), "namespace": meta.get("namespace"),
        "labels": {**template_labels, **extra_labels},
        "ownerReferences": [controller_ref(owner, kind, api_version)],
    }
    annotations = meta.get("annotations") or {}
    if annotations:
        out_meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": out_meta,
            "data": copy.deepcopy(data), "revision": number}


def number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revisions, key=lambda r: (number(r), str(r["metadata"].get("creationTimestamp") or ""),
                                            r["metadata"].get("name", "")))


def next_number(revisions: Iterable[Obj]) -> int:
    return max((number(r) for r in revisions), default=0) + 1


def equal_data(revision: Obj, data: Obj) -> bool:
    return bool(revision.get("data") == data)


def find_equal(revisions: Iterable[Obj], data: Obj) -> list[Obj]:
    """The revisions holding exactly this data, oldest first."""
    return [r for r in sort_revisions(revisions) if equal_data(r, data)]


def choose_update_revision(revisions: list[Obj], data: Obj) -> tuple[str, Obj | None, int]:
    """What becomes the update revision for this data (upstream's StatefulSet rule):
    ("reuse", newest, n) when the newest revision already holds it; ("renumber", r, n) when an
    older one does (a rollback: it gets the next number n); ("create", None, n) otherwise."""
    ordered = sort_revisions(revisions)
    n = next_number(ordered)
    equal = find_equal(ordered, data)
    if equal and ordered and ordered[-1]["metadata"]["name"] == equal[-1]["metadata"]["name"]:
        return "reuse", ordered[-1], n
    if equal:
        return "renumber", equal[-1], n
    return "create", None, n


def is_collision(existing: Obj, wanted: Obj) -> bool:
    """A revision already holds the wanted name but not the wanted data: the owner's
    collisionCount goes up and the hash changes."""
    return not equal_data(existing, wanted.get("data") or {})


def history_to_trim(revisions: Iterable[Obj], live: set[str], limit: int | None,
                    count_live: bool = False) -> list[Obj]:
    """Revisions to delete, oldest first, never one in `live` (used by a pod or by the owner's
    status). A StatefulSet keeps `limit` revisions besides the live ones; a DaemonSet
    (`count_live`) keeps `limit` old revisions in all, live ones included, as upstream's do."""
    keep = DEFAULT_HISTORY_LIMIT if limit is None else max(int(limit), 0)
    ordered = sort_revisions(revisions)
    idle = [r for r in ordered if r["metadata"]["name"] not in live]
    excess = (len(ordered) if count_live else len(idle)) - keep
    return idle[:max(excess, 0)]


def _merge(live: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(live, dict):
        return copy.deepcopy(patch)
    if patch.get(PATCH) == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != PATCH}
    if patch.get(PATCH) == "delete":
        return {}
    out = dict(live)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(live.get(k), v)
    return out


def apply_revision(owner: Obj, revision: Obj) -> Obj:
    """The owner as it was at `revision`: its data patched onto a copy (maps merge, the
    `$patch: replace` directive these revisions carry replaces the template wholesale)."""
    result: Obj = _merge(copy.deepcopy(owner), revision.get("data") or {})
    return result
