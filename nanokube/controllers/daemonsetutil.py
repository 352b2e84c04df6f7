"""The decisions of the DaemonSet controller (upstream's daemon_controller, update and util),
pure: data in, decisions out.

A DaemonSet runs one pod on every node it should run on: the node satisfies the template's
nodeSelector and required node affinity, and the pod (with the DaemonSet default
tolerations) tolerates the node's NoSchedule and NoExecute taints (nanokube.api.nodematch
answers, as it does for the scheduler). A pod that tolerates a node's NoExecute taints but
not a NoSchedule one may keep running there, though no new pod is made. Pods are placed by
the scheduler: each is pinned to its node with required node affinity `matchFields
metadata.name In [node]`.

Rolling updates replace pods not at the current hash (`controller-revision-hash`, or the
`pod-template-generation` label of older pods): without surge, old pods are deleted while
fewer than maxUnavailable nodes are unavailable, and the create loop replaces them; with
maxSurge, a new pod starts beside the old one, which goes once the new one is available.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.nodematch import required_affinity_matches, untolerated_taints
from .deploymentutil import scaled_value
from .history import REVISION_LABEL
from .podutil import pod_is_available, pod_is_ready

Obj = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
NAME_FIELD = "metadata.name"
BACKOFF_BASE = 1.0
BACKOFF_MAX = 15 * 60.0

# what every daemon pod tolerates (upstream's AddOrUpdateDaemonPodTolerations): it must keep
# running on not-ready or unreachable nodes, and start on nodes under pressure or cordoned
_DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# -- the pods a DaemonSet makes ----------------------------------------------------------------


def _same_toleration(a: Obj, b: Obj) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))


def with_daemon_tolerations(spec: Obj) -> Obj:
    """A copy of a pod spec with the DaemonSet default tolerations (an equal toleration the
    user wrote is replaced by the default, as upstream does)."""
    out = copy.deepcopy(spec)
    wanted = list(_DEFAULT_TOLERATIONS)
    if out.get("hostNetwork"):
        wanted.append(_HOST_NETWORK_TOLERATION)
    tolerations: list[Obj] = list(out.get("tolerations") or [])
    for key, effect in wanted:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        at = next((i for i, t in enumerate(tolerations) if _same_toleration(t, tol)), None)
        if at is None:
            tolerations.append(tol)
        else:
            tolerations[at] = tol
    out["tolerations"] = tolerations
    return out


def pinned_affinity(affinity: Obj | None, node_name: str) -> Obj:
    """The pod's affinity with its required node terms replaced by one term, `matchFields
    metadata.name In [node]` (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity): the node
    was chosen already, the scheduler only binds there. Preferences are kept."""
    out = copy.deepcopy(affinity or {})
    node_affinity = out.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}]}
    return out


def target_node(pod: Obj) -> str | None:
    """The node a daemon pod is for: where it is bound, else the node its affinity pins."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == NAME_FIELD and req.get("operator") == "In" and len(req.get("values") or []) == 1:
                return str(req["values"][0])
    return None


def template_generation(ds: Obj) -> int:
    return int(ds["metadata"].get("generation") or 0)


def pod_template(ds: Obj, hash_: str) -> Obj:
    """The template daemon pods are made from: default tolerations, the template generation
    and the revision hash labels."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    template["spec"] = with_daemon_tolerations(template.get("spec") or {})
    meta = template.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels[TEMPLATE_GENERATION_LABEL] = str(template_generation(ds))
    if hash_:
        labels[REVISION_LABEL] = hash_
    meta["labels"] = labels
    return template


def new_pod(ds: Obj, template: Obj, node_name: str, owner_ref: Obj) -> Obj:
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"].get("namespace"),
                 "labels": dict(tmeta.get("labels") or {}), "ownerReferences": [dict(owner_ref)]}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            meta[key] = copy.deepcopy(tmeta[key])
    spec = copy.deepcopy(template.get("spec") or {})
    spec["affinity"] = pinned_affinity(spec.get("affinity"), node_name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


# -- which nodes -------------------------------------------------------------------------------


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(a daemon pod should be started on the node, a daemon pod there may keep running)."""
    spec = with_daemon_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = (node.get("metadata") or {}).get("name", "")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not required_affinity_matches({"spec": spec}, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    if untolerated_taints(node, tolerations, ("NoSchedule", "NoExecute")):
        return False, not untolerated_taints(node, tolerations, ("NoExecute",))
    return True, True


def creation_order(pod: Obj) -> tuple[int, str, str]:
    """Scheduled pods first, then oldest, then by name (upstream's podByCreationTimestampAndPhase)."""
    meta = pod["metadata"]
    return (0 if (pod.get("spec") or {}).get("nodeName") else 1, str(meta.get("creationTimestamp") or ""),
            meta.get("name", ""))


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def pods_by_node(pods: Iterable[Obj], include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
    """Daemon pods by the node they are for, oldest first; finished pods already being
    deleted are left out unless asked for."""
    out: dict[str, list[Obj]] = {}
    for pod in pods:
        if not include_deleted_terminal and phase(pod) in ("Succeeded", "Failed") and \
                pod["metadata"].get("deletionTimestamp"):
            continue
        node = target_node(pod)
        if node is None:
            continue
        out.setdefault(node, []).append(pod)
    for group in out.values():
        group.sort(key=creation_order)
    return out


def is_updated(pod: Obj, hash_: str, generation: int | None) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return (bool(hash_) and labels.get(REVISION_LABEL) == hash_) or \
        (generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(generation))


def is_rolling(ds: Obj) -> bool:
    return (((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def allows_surge(ds: Obj) -> bool:
    return is_rolling(ds) and surge_count(ds, 1) > 0


def _rolling(ds: Obj) -> Obj:
    return ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}


def surge_count(ds: Obj, desired: int) -> int:
    if not is_rolling(ds):
        return 0
    value = _rolling(ds).get("maxSurge")
    return scaled_value(0 if value is None else value, desired, True)


def unavailable_count(ds: Obj, desired: int) -> int:
    if not is_rolling(ds):
        return 0
    value = _rolling(ds).get("maxUnavailable")
    return scaled_value(1 if value is None else value, desired, True)


def min_ready(ds: Obj) -> int:
    return int((ds.get("spec") or {}).get("minReadySeconds") or 0)


# -- failed pods' back-off ---------------------------------------------------------------------


@dataclass
class Backoff:
    """Per (DaemonSet, node) back-off before deleting yet another failed pod: 1 s doubling to
    15 min, reset after twice that without failures (client-go's flowcontrol.Backoff)."""

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_MAX
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (delay, last)

    def delay(self, key: str) -> float:
        return self.entries.get(key, (0.0, 0.0))[0]

    def in_backoff(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def next(self, key: str, now: float) -> None:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.cap:
            self.entries[key] = (self.base, now)
        else:
            self.entries[key] = (min(entry[0] * 2, self.cap), now)

    def forget_expired(self, now: float) -> None:
        for key in [k for k, (_, last) in self.entries.items() if now - last > 2 * self.cap]:
            del self.entries[key]


# -- the create/delete loop --------------------------------------------------------------------


@dataclass
class ManagePlan:
    create_on: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)
    failed: list[tuple[Obj, str]] = field(default_factory=list)  # (pod, node) deleted for having failed
    gone: list[Obj] = field(default_factory=list)  # pods for nodes that no longer exist
    requeue: float | None = None


def manage(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str, backoff: Backoff,
           now: datetime.datetime) -> ManagePlan:
    """Which nodes need a daemon pod and which daemon pods must go (upstream's manage and
    podsShouldBeOnNode)."""
    result = ManagePlan()
    clock = now.timestamp()
    surge = allows_surge(ds)
    uid = ds["metadata"].get("uid", "")
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        run, keep = should_run(ds, node)
        pods = by_node.get(name)
        if run and not pods:
            result.create_on.append(name)
        elif keep:
            running: list[Obj] = []
            for pod in pods or []:
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                if phase(pod) == "Failed":
                    key = f"{uid}/{name}"
                    if backoff.in_backoff(key, clock):
                        delay = backoff.delay(key)
                        result.requeue = delay if result.requeue is None else min(result.requeue, delay)
                        continue
                    backoff.next(key, clock)
                    result.failed.append((pod, name))
                    result.delete.append(pod)
                elif phase(pod) == "Succeeded":
                    result.delete.append(pod)
                else:
                    running.append(pod)
            result.delete += _excess(ds, running, run, hash_, result, name, surge, now)
        elif pods:
            result.delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    names = {n["metadata"]["name"] for n in nodes}
    for node_name, pods in sorted(by_node.items()):
        if node_name not in names:
            result.gone += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return result


def _excess(ds: Obj, running: list[Obj], run: bool, hash_: str, result: ManagePlan, node: str,
            surge: bool, now: datetime.datetime) -> list[Obj]:
    """More than one running pod on a node: all but the oldest go; with surge, an old and a new
    pod may live together while the new one is not yet available."""
    if not surge:
        return running[1:] if len(running) > 1 else []
    if len(running) <= 1:
        if not running and run:
            result.create_on.append(node)
        return []
    out: list[Obj] = []
    oldest_new: Obj | None = None
    oldest_old: Obj | None = None
    for pod in running:  # already oldest first
        if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) == hash_:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        out.append(pod)
    if oldest_new is not None and oldest_old is not None:
        if not pod_is_ready(oldest_old) or pod_is_available(oldest_new, min_ready(ds), now):
            out.append(oldest_old)
    return out




# -- the rolling update ------------------------------------------------------------------------


def desired_counts(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]]) -> tuple[int, int, int]:
    """(maxSurge, maxUnavailable, desired number scheduled); both limits zero means one may be
    unavailable. Nodes that should run a pod but have none join `by_node` (empty)."""
    desired = 0
    for node in nodes:
        if should_run(ds, node)[0]:
            desired += 1
            by_node.setdefault(node["metadata"]["name"], [])
    surge, unavailable = surge_count(ds, desired), unavailable_count(ds, desired)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable, desired


def updated_and_old(ds: Obj, pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """The node's new and old pod (not being deleted); False when it has more than one of
    either - the create/delete loop prunes those first."""
    new: Obj | None = None
    old: Obj | None = None
    generation = template_generation(ds)
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
                   now: datetime.datetime) -> tuple[list[Obj], list[str]]:
    """(old pods to delete, nodes to start a new pod on) for one step of a rolling update."""
    by_node = {k: list(v) for k, v in by_node.items()}
    surge, max_unavailable, desired = desired_counts(ds, nodes, by_node)
    ready_seconds = min_ready(ds)
    node_of = {n["metadata"]["name"]: n for n in nodes}

    def available(pod: Obj) -> bool:
        return pod_is_available(pod, ready_seconds, now)

    if surge == 0:
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for name in sorted(by_node):
            new, old, ok = updated_and_old(ds, by_node[name], hash_)
            if not ok or (new is None) == (old is None):
                unavailable += 1  # the create/delete loop is still at work on this node
            elif new is not None:
                if not available(new):
                    unavailable += 1
            elif old is not None:
                if not available(old):
                    replace.append(old)
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(old)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replace + candidates[:room], []

    to_delete: list[Obj] = []
    not_wanted: list[Obj] = []
    candidate_nodes: list[str] = []
    allowed_nodes: list[str] = []
    surged = 0
    available_count = 0
    for name in sorted(by_node):
        new, old, ok = updated_and_old(ds, by_node[name], hash_)
        if not ok:
            surged += 1
            continue
        if old is not None:
            available_count += available(old)
        elif new is not None:
            available_count += available(new)
        if old is None:
            continue
        if new is None:
            node = node_of.get(name)
            wanted = node is not None and should_run(ds, node)[0]
            if not available(old):
                if not wanted:
                    to_delete.append(old)
                else:
                    allowed_nodes.append(name)
            elif not wanted:
                not_wanted.append(old)
            elif surged < surge:
                candidate_nodes.append(name)
            continue
        if not available(new):
            surged += 1
            continue
        to_delete.append(old)
    deletable = min(max(available_count - desired, 0), len(not_wanted))
    to_delete += not_wanted[:deletable]
    room = min(max(surge - surged, 0), len(candidate_nodes))
    return to_delete, allowed_nodes + candidate_nodes[:room]


# -- status ------------------------------------------------------------------------------------


def compute_status(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
                   now: datetime.datetime, observed: bool) -> Obj:
    """The DaemonSet's status over its nodes (upstream's updateDaemonSetStatus): each node that
    should run a pod counts once, judged by its oldest pod."""
    desired = current = misscheduled = ready = available = updated = 0
    generation = template_generation(ds)
    ready_seconds = min_ready(ds)
    for node in nodes:
        run, _ = should_run(ds, node)
        pods = by_node.get(node["metadata"]["name"]) or []
        if run:
            desired += 1
            if not pods:
                continue
            current += 1
            pod = sorted(pods, key=creation_order)[0]
            if pod_is_ready(pod):
                ready += 1
                if pod_is_available(pod, ready_seconds, now):
                    available += 1
            if is_updated(pod, hash_, generation):
                updated += 1
        elif pods:
            misscheduled += 1
    old = ds.get("status") or {}
    status: Obj = {
        "currentNumberScheduled": current, "numberMisscheduled": misscheduled, "desiredNumberScheduled": desired,
        "numberReady": ready, "updatedNumberScheduled": updated, "numberAvailable": available,
        "numberUnavailable": desired - available,
        "observedGeneration": ds["metadata"].get("generation", 1) if observed else old.get("observedGeneration"),
    }
    for key in ("collisionCount", "conditions"):
        if old.get(key) is not None:
            status[key] = old[key]
    if status["observedGeneration"] is None:
        del status["observedGeneration"]
    return status
