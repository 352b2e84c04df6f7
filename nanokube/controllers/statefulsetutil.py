"""The decisions of the StatefulSet controller (upstream's stateful_set_control and
stateful_set_utils), pure: data in, a list of steps out.

A StatefulSet's pods have stable identities: `<set>-<ordinal>` for ordinals in
[start, start + replicas), host name = pod name, subdomain = serviceName, and one
PersistentVolumeClaim `<claim>-<set>-<ordinal>` per volumeClaimTemplate, created before the
pod. `plan` walks the ordinals as upstream does:
1. every ordinal in range: a failed (or succeeded) pod is deleted (and made again once it is
   gone), a missing pod is created (at the current revision below the partition, else at the update revision),
   a pod whose identity, storage or claim ownership drifted is updated. With OrderedReady
   (monotonic) the walk stops at the first pod it creates, or that is not Running, Ready and
   available: pod n+1 never exists before pod n is ready. Parallel walks on.
2. claims of pods beyond the range get the owner references the retention policy asks for;
3. pods beyond the range are deleted, highest ordinal first; OrderedReady deletes one at a
   time, waiting for it to terminate and for every other pod to be healthy;
4. RollingUpdate: pods not at the update revision are deleted from the highest ordinal down
   to the partition, within maxUnavailable, waiting for replacements to be healthy. OnDelete
   leaves that to the user.
The controller carries the steps out in order and stops at the first that fails.
"""

from __future__ import annotations

import copy
import datetime
import re
from dataclasses import dataclass
from typing import Any

from .deploymentutil import scaled_value
from .history import REVISION_LABEL
from .podutil import controller_of, pod_is_available, pod_is_ready

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN, DELETE = "Retain", "Delete"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")
_MAX_INT32 = 2**31 - 1


# -- identity ----------------------------------------------------------------------------------


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """The set a pod name belongs to and its ordinal; ("", -1) for names no set makes."""
    m = _ORDINAL.match(name)
    if not m:
        return "", -1
    value = int(m.group(2))
    return (m.group(1), value) if value <= _MAX_INT32 else (m.group(1), -1)


def ordinal(pod: Obj) -> int:
    return parent_and_ordinal(pod["metadata"].get("name", ""))[1]


def is_member(sts: Obj, pod: Obj) -> bool:
    return bool(parent_and_ordinal(pod["metadata"].get("name", ""))[0] == sts["metadata"]["name"])


def replicas(sts: Obj) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sts: Obj) -> int:
    return start_ordinal(sts) + replicas(sts) - 1


def in_range(pod: Obj, sts: Obj) -> bool:
    return start_ordinal(sts) <= ordinal(pod) <= end_ordinal(sts)


def pod_name(sts: Obj, n: int) -> str:
    return f"{sts['metadata']['name']}-{n}"


def claim_name(sts: Obj, template_name: str, n: int) -> str:
    return f"{template_name}-{sts['metadata']['name']}-{n}"


def revision_of(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))


def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, n = parent_and_ordinal(pod["metadata"].get("name", ""))
    labels = pod["metadata"].get("labels") or {}
    return n >= 0 and parent == sts["metadata"]["name"] and pod["metadata"].get("name") == pod_name(sts, n) and \
        pod["metadata"].get("namespace") == sts["metadata"].get("namespace") and \
        labels.get(POD_NAME_LABEL) == pod["metadata"].get("name")


def storage_matches(sts: Obj, pod: Obj) -> bool:
    n = ordinal(pod)
    if n < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        name = (template.get("metadata") or {}).get("name", "")
        source = (volumes.get(name) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(sts, name, n):
            return False
    return True


def claims_for(sts: Obj, n: int) -> dict[str, Obj]:
    """The PersistentVolumeClaims of ordinal n, by template name: the template's metadata and
    spec, named for the pod, labelled with the set's matchLabels."""
    out: dict[str, Obj] = {}
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        tmeta = template.get("metadata") or {}
        meta: Obj = {k: copy.deepcopy(v) for k, v in tmeta.items()
                     if k in ("labels", "annotations", "finalizers")}
        meta["name"] = claim_name(sts, tmeta.get("name", ""), n)
        meta["namespace"] = sts["metadata"].get("namespace")
        meta["labels"] = {**(tmeta.get("labels") or {}), **selector_labels}
        out[tmeta.get("name", "")] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                                      "spec": copy.deepcopy(template.get("spec") or {})}
    return out


def _update_identity(sts: Obj, pod: Obj) -> None:
    n = ordinal(pod)
    meta = pod["metadata"]
    meta["name"] = pod_name(sts, n)
    meta["namespace"] = sts["metadata"].get("namespace")
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(n)


def _update_storage(sts: Obj, pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    claims = claims_for(sts, ordinal(pod))
    volumes = [{"name": name, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
               for name, c in claims.items()]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes


def fix_pod(sts: Obj, pod: Obj) -> Obj:
    """A copy of `pod` with its identity labels and claim volumes as the set says."""
    out = copy.deepcopy(pod)
    _update_identity(sts, out)
    _update_storage(sts, out)
    return out


def new_pod(sts: Obj, n: int, revision: str, owner_ref: Obj) -> Obj:
    """Pod n of `sts` (the set as of the revision it is made from)."""
    template = (sts.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"name": pod_name(sts, n), "namespace": sts["metadata"].get("namespace"),
                 "labels": dict(tmeta.get("labels") or {}), "ownerReferences": [dict(owner_ref)]}
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            meta[key] = copy.deepcopy(tmeta[key])
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}
    _update_identity(sts, pod)
    pod["spec"]["hostname"] = meta["name"]
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    _update_storage(sts, pod)
    meta["labels"][REVISION_LABEL] = revision
    return pod


def versioned_pod(current_set: Obj, update_set: Obj, current_revision: str, update_revision: str, n: int,
                  owner_ref: Obj) -> Obj:
    """Pod n at the current revision when the partition holds it back, else at the update
    revision (upstream's newVersionedStatefulSetPod, operator precedence included)."""
    strategy = (current_set.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    if (strategy.get("type", "RollingUpdate") == "RollingUpdate" and rolling is None and n < current_replicas) or \
            (rolling is not None and n < int(rolling.get("partition") or 0)):
        return new_pod(current_set, n, current_revision, owner_ref)
    return new_pod(update_set, n, update_revision, owner_ref)


# -- pod states --------------------------------------------------------------------------------


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_created(pod: Obj) -> bool:
    return phase(pod) != ""


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and pod_is_ready(pod)


def is_running_and_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    return phase(pod) == "Running" and pod_is_available(pod, min_ready_seconds, now)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def min_ready(sts: Obj) -> int:
    return int((sts.get("spec") or {}).get("minReadySeconds") or 0)


# -- claims and the retention policy -----------------------------------------------------------


def retention(sts: Obj) -> tuple[str, str]:
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def claim_owner_refs(sts: Obj, pod: Obj, claim: Obj) -> list[Obj] | None:
    """The ownerReferences a pod's claim should have under the retention policy, or None when
    it has them already: whenDeleted=Delete makes the set an owner (the claim goes with the
    set), whenScaled=Delete makes the pod an owner once it is beyond the range (the claim goes
    with the pod). A claim controlled by anything else is left alone."""
    refs: list[Obj] = list(claim["metadata"].get("ownerReferences") or [])
    set_uid, pod_uid = sts["metadata"].get("uid"), pod["metadata"].get("uid")
    ctrl = controller_of(claim)
    if ctrl is not None and ctrl.get("uid") not in (set_uid, pod_uid):
        return None
    when_deleted, when_scaled = retention(sts)
    scaled_down = not in_range(pod, sts)
    want_set = when_deleted == DELETE and not (when_scaled == DELETE and scaled_down)
    want_pod = when_scaled == DELETE and scaled_down
    changed = False
    has_set = any(r.get("uid") == set_uid for r in refs)
    if want_set and not has_set:
        refs.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts["metadata"]["name"],
                     "uid": set_uid, "controller": True, "blockOwnerDeletion": True})
        changed = True
    elif not want_set and has_set:
        refs = [r for r in refs if r.get("uid") != set_uid]
        changed = True
    has_pod = bool(pod_uid) and any(r.get("uid") == pod_uid for r in refs)
    if want_pod and pod_uid and not has_pod:
        refs.append({"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod_uid})
        changed = True
    elif not want_pod and has_pod:
        refs = [r for r in refs if r.get("uid") != pod_uid]
        changed = True
    return refs if changed else None


def claims_match_policy(sts: Obj, pod: Obj, claims: dict[str, Obj]) -> bool:
    for c in claims_for(sts, ordinal(pod)).values():
        live = claims.get(c["metadata"]["name"])
        if live is not None and claim_owner_refs(sts, pod, live) is not None:
            return False
    return True


def claim_is_stale(sts: Obj, n: int, claims: dict[str, Obj]) -> bool:
    """A claim of ordinal n is still being deleted: the pod must wait for it to go."""
    for c in claims_for(sts, n).values():
        live = claims.get(c["metadata"]["name"])
        if live is not None and live["metadata"].get("deletionTimestamp"):
            return True
    return False


# -- the plan ----------------------------------------------------------------------------------


@dataclass
class Step:
    """One write: `create` a pod (and its missing claims first), `delete` a pod, `update` a
    pod's identity/storage (and its claims' owners), `claims` (create missing claims of a
    pending pod), `fix-claims` (owners of a condemned pod's claims)."""

    action: str
    pod: Obj
    why: str = ""


def plan(sts: Obj, pods: list[Obj], current_set: Obj, update_set: Obj, current_revision: str,
         update_revision: str, claims: dict[str, Obj], owner_ref: Obj, now: datetime.datetime) -> list[Step]:
    """What to do for one sync of a StatefulSet, in order (see the module's docstring)."""
    start, want = start_ordinal(sts), replicas(sts)
    slots: list[Obj | None] = [None] * want
    condemned: list[Obj] = []
    for pod in pods:
        n = ordinal(pod)
        if start <= n < start + want:
            slots[n - start] = pod
        elif n >= 0:
            condemned.append(pod)
    condemned.sort(key=ordinal, reverse=True)

    def make(n: int) -> Obj:
        return versioned_pod(current_set, update_set, current_revision, update_revision, n, owner_ref)

    replicas_: list[Obj] = [p if p is not None else make(start + i) for i, p in enumerate(slots)]
    first_unhealthy: Obj | None = next((p for p in replicas_ if not is_healthy(p)), None)
    if first_unhealthy is None:
        first_unhealthy = next((p for p in reversed(condemned) if not is_healthy(p)), None)
    if sts["metadata"].get("deletionTimestamp"):
        return []
    monotonic = (sts.get("spec") or {}).get("podManagementPolicy") != "Parallel"
    ready_seconds = min_ready(sts)
    steps: list[Step] = []

    # 1. every ordinal in range
    for i in range(want):
        pod = replicas_[i]
        n = start + i
        if phase(pod) in ("Failed", "Succeeded"):
            # gone for good: delete it, and make it again once it is removed (a later sync)
            if not is_terminating(pod):
                steps.append(Step("delete", pod, "failed" if phase(pod) == "Failed" else "succeeded"))
            if monotonic:
                return steps
            continue
        if not is_created(pod):
            if claim_is_stale(update_set, n, claims):
                if monotonic:
                    return steps
                continue
            steps.append(Step("create", pod))
            if monotonic:
                return steps
            continue
        if phase(pod) == "Pending":
            steps.append(Step("claims", pod))
        if monotonic and (is_terminating(pod) or not is_running_and_ready(pod) or
                          not is_running_and_available(pod, ready_seconds, now)):
            return steps
        if identity_matches(sts, pod) and storage_matches(sts, pod) and \
                claims_match_policy(update_set, pod, claims):
            continue
        steps.append(Step("update", pod))

    # 2. the owners of condemned pods' claims
    for pod in condemned:
        if not claims_match_policy(update_set, pod, claims):
            steps.append(Step("fix-claims", pod))

    # 3. scale down, highest ordinal first
    for pod in condemned:
        if is_terminating(pod):
            if monotonic:
                return steps
            continue
        if monotonic and pod is not first_unhealthy and (
                not is_running_and_ready(pod) or not is_running_and_available(pod, ready_seconds, now)):
            return steps
        steps.append(Step("delete", pod, "scale-down"))
        if monotonic:
            return steps

    # 4. the rolling update
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "OnDelete":
        return steps
    rolling = strategy.get("rollingUpdate")
    update_min = int((rolling or {}).get("partition") or 0)
    if rolling is not None and rolling.get("maxUnavailable") is not None:
        return steps + _update_within_max_unavailable(replicas_, update_revision, update_min,
                                                      max_unavailable(sts))
    for i in range(len(replicas_) - 1, update_min - 1, -1):
        pod = replicas_[i]
        if revision_of(pod) != update_revision and not is_terminating(pod):
            steps.append(Step("delete", pod, "update"))
            return steps
        if not is_healthy(pod):
            return steps
    return steps


def max_unavailable(sts: Obj) -> int:
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable")
    n = scaled_value(1 if value is None else value, replicas(sts), False)
    return max(n, 1)


def _update_within_max_unavailable(replicas_: list[Obj], update_revision: str, update_min: int,
                                   limit: int) -> list[Step]:
    """Delete up to maxUnavailable outdated pods at once, highest ordinal first, counting pods
    already unhealthy against the limit (upstream's MaxUnavailableStatefulSet behaviour)."""
    unavailable = sum(1 for p in replicas_ if not is_healthy(p))
    if unavailable >= limit:
        return []
    steps: list[Step] = []
    for i in range(len(replicas_) - 1, update_min - 1, -1):
        if len(steps) >= limit - unavailable:
            break
        pod = replicas_[i]
        if revision_of(pod) != update_revision and not is_terminating(pod):
            steps.append(Step("delete", pod, "update"))
    return steps


# -- status ------------------------------------------------------------------------------------


def compute_status(sts: Obj, pods: list[Obj], current_revision: str, update_revision: str,
                   collision_count: int, now: datetime.datetime) -> Obj:
    """The status the pods add up to (upstream's computeReplicaStatus and
    completeRollingUpdate): when every pod is updated and ready, the update revision becomes
    the current one."""
    ready_seconds = min_ready(sts)
    counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}
    for pod in pods:
        if is_created(pod):
            counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_running_and_available(pod, ready_seconds, now):
                counts["availableReplicas"] += 1
        if is_created(pod) and not is_terminating(pod):
            rev = revision_of(pod)
            if rev == current_revision:
                counts["currentReplicas"] += 1
            if rev == update_revision:
                counts["updatedReplicas"] += 1
    status: Obj = {"observedGeneration": sts["metadata"].get("generation", 1), **counts,
                   "currentRevision": current_revision, "updateRevision": update_revision,
                   "collisionCount": collision_count}
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
            counts["updatedReplicas"] == counts["replicas"] and counts["readyReplicas"] == counts["replicas"]:
        status["currentReplicas"] = counts["updatedReplicas"]
        status["currentRevision"] = update_revision
    conditions = (sts.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return status


def status_changed(old: Obj, new: Obj) -> bool:
    def norm(s: Obj) -> Obj:
        return {k: v for k, v in s.items() if v not in (None, 0, "", [], {})}
    return norm(old) != norm(new)


def requeue_for_availability(sts: Obj, status: Obj) -> float | None:
    """Ready pods become available minReadySeconds later: look again then."""
    seconds = min_ready(sts)
    if seconds > 0 and status.get("availableReplicas", 0) < status.get("readyReplicas", 0):
        return float(seconds)
    return None
