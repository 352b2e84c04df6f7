"""What binding claims to volumes means, pure: data in, data out (upstream's
persistentvolume controller helpers and component-helpers/storage/volume).

A claim and a volume point at each other: `pv.spec.claimRef` and `pvc.spec.volumeName`.
Binding writes the volume side first, then the claim side, so a crash in between leaves a
volume that names its claim and the next pass finishes the job. Annotations record who did
what: `bound-by-controller` (the binding was ours, not the user's pre-binding),
`bind-completed` (the claim went through binding once; from then on a missing volume means
the claim is Lost, not Pending).

The PV controller (persistentvolume.py) and the scheduler's VolumeBinding plugin
(scheduler/volumebinding.py) match claims to volumes with the same `find_matching_volume`,
as upstream's share FindMatchingVolume.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..api import quantity
from ..api.nodematch import node_selector_terms_match
from ..api.selectors import label_selector_from_dict

Obj = dict[str, Any]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
HOSTNAME_LABEL = "kubernetes.io/hostname"

# the k3s default class and the provisioner the controller-manager runs for it
LOCAL_PATH_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
LOCAL_PATH_SELECTED_NODE = "local.path.provisioner/selected-node"

# upstream's event messages
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"
WAIT_FOR_CONSUMER_MESSAGE = "waiting for first consumer to be created before binding"
CLAIM_LOST_REFERENCE = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"
CLAIM_LOST_VOLUME = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
CLAIM_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"


def external_provisioning_message(provisioner: str) -> str:
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually "
            "by the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")


# -- reading claims, volumes and classes ---------------------------------------------------------


def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def claim_key(pvc: Obj) -> str:
    meta = pvc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def claim_class(pvc: Obj) -> str:
    """The class a claim asks for: the beta annotation wins over the field; "" is no class."""
    ann = annotations_of(pvc)
    if ANN_BETA_CLASS in ann:
        return str(ann[ANN_BETA_CLASS])
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def volume_class(pv: Obj) -> str:
    ann = annotations_of(pv)
    if ANN_BETA_CLASS in ann:
        return str(ann[ANN_BETA_CLASS])
    return str((pv.get("spec") or {}).get("storageClassName") or "")


def _storage(resources: Mapping[str, Any] | None) -> Fraction:
    text = (resources or {}).get("storage")
    return quantity.parse(text) if isinstance(text, (str, int, float)) and quantity.is_valid(text) else Fraction(0)


def requested(pvc: Obj) -> Fraction:
    return _storage(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))


def capacity(pv: Obj) -> Fraction:
    return _storage((pv.get("spec") or {}).get("capacity"))


def access_modes_fit(pvc: Obj, pv: Obj) -> bool:
    """The volume offers every access mode the claim asks for."""
    offered = set((pv.get("spec") or {}).get("accessModes") or [])
    return all(m in offered for m in (pvc.get("spec") or {}).get("accessModes") or [])


def volume_mode_mismatch(pvc: Obj, pv: Obj) -> bool:
    """Block against Filesystem (unset means Filesystem on both sides)."""
    want = (pvc.get("spec") or {}).get("volumeMode") or "Filesystem"
    have = (pv.get("spec") or {}).get("volumeMode") or "Filesystem"
    return bool(want != have)


def node_affinity_allows(pv: Obj, node: Obj) -> bool:
    """A volume reachable only from some nodes (spec.nodeAffinity.required) and this node."""
    required = (((pv.get("spec") or {}).get("nodeAffinity")) or {}).get("required")
    return node_selector_terms_match(required, node)


def topology_allows(storage_class: Obj, node: Obj) -> bool:
    """A class's allowedTopologies (none: everywhere) admit the node's labels."""
    terms = storage_class.get("allowedTopologies") or []
    if not terms:
        return True
    labels = (node.get("metadata") or {}).get("labels") or {}
    return any(all(labels.get(e.get("key", "")) in (e.get("values") or [])
                   for e in t.get("matchLabelExpressions") or []) for t in terms)


def is_bound_to(pv: Obj, pvc: Obj) -> bool:
    """The volume's claimRef names this claim (and, when it has a uid, this very claim)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = pvc.get("metadata") or {}
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def fully_bound(pvc: Obj) -> bool:
    return bool((pvc.get("spec") or {}).get("volumeName")) and ANN_BIND_COMPLETED in annotations_of(pvc)


def delay_binding(pvc: Obj, classes: Mapping[str, Obj]) -> bool:
    """Whether binding waits for the first pod (the class says WaitForFirstConsumer). No
    class, or a class that does not exist, binds at once."""
    name = claim_class(pvc)
    sc = classes.get(name) if name else None
    return sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The class marked default; with several, the newest (then the first by name), as
    upstream's admission and PV controller choose since 1.26."""
    marked = [c for c in classes if annotations_of(c).get(ANN_DEFAULT_CLASS) == "true"
              or annotations_of(c).get(ANN_BETA_DEFAULT_CLASS) == "true"]
    if not marked:
        return None
    marked.sort(key=lambda c: (c["metadata"].get("name", "")))
    marked.sort(key=lambda c: c["metadata"].get("creationTimestamp", ""), reverse=True)
    return marked[0]


# -- matching ------------------------------------------------------------------------------------


def find_matching_volume(pvc: Obj, volumes: Iterable[Obj], *, node: Obj | None = None,
                         excluded: Iterable[str] = (), delay: bool = False) -> Obj | None:
    """The volume for a claim: one pre-bound to it if there is one, else the smallest
    Available volume of its class, big enough, of its volume mode, matching its selector
    (and, given a node, reachable from it and offering the claim's access modes). `delay`
    (the controller, for WaitForFirstConsumer claims) takes only pre-bound volumes: the
    scheduler picks the others, knowing the node."""
    skip = set(excluded)
    want = requested(pvc)
    cls = claim_class(pvc)
    selector_spec = (pvc.get("spec") or {}).get("selector")
    selector = label_selector_from_dict(selector_spec) if selector_spec is not None else None
    best: Obj | None = None
    best_size = Fraction(0)
    for pv in volumes:
        spec = pv.get("spec") or {}
        if pv["metadata"].get("name") in skip:
            continue
        if spec.get("claimRef") and not is_bound_to(pv, pvc):
            continue
        size = capacity(pv)
        if size < want or volume_mode_mismatch(pvc, pv) or pv["metadata"].get("deletionTimestamp"):
            continue
        reachable = node is None or node_affinity_allows(pv, node)
        if is_bound_to(pv, pvc):
            return pv if reachable else None
        if node is None and delay:
            continue
        if (pv.get("status") or {}).get("phase") != "Available":
            continue
        if selector is not None and not selector.matches(pv["metadata"].get("labels") or {}):
            continue
        if volume_class(pv) != cls or not reachable:
            continue
        if node is not None and not access_modes_fit(pvc, pv):
            continue
        if best is None or size < best_size:
            best, best_size = pv, size
    return best


def find_best_match(pvc: Obj, volumes: Iterable[Obj], delay: bool) -> Obj | None:
    """The controller's search: volumes grouped by their exact set of access modes, groups
    offering every mode the claim asks for tried fewest modes first (a ReadWriteOnce claim
    takes a ReadWriteOnce volume before a ReadWriteOnce+ReadOnlyMany one)."""
    wanted = set((pvc.get("spec") or {}).get("accessModes") or [])
    groups: dict[frozenset[str], list[Obj]] = {}
    for pv in volumes:
        modes = frozenset((pv.get("spec") or {}).get("accessModes") or [])
        if wanted <= modes:
            groups.setdefault(modes, []).append(pv)
    for modes in sorted(groups, key=lambda m: (len(m), sorted(m))):
        found = find_matching_volume(pvc, groups[modes], delay=delay)
        if found is not None:
            return found
    return None


def volume_refusal(pv: Obj, pvc: Obj) -> str:
    """Why a volume the claim asks for by name cannot serve it ("" if it can)."""
    if pv["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{pv["metadata"]["name"]}"'
    if capacity(pv) < requested(pvc):
        return "requested PV is too small"
    if volume_class(pv) != claim_class(pvc):
        return "storageClassName does not match"
    if volume_mode_mismatch(pvc, pv):
        return "incompatible volumeMode"
    if not access_modes_fit(pvc, pv):
        return "incompatible accessMode"
    return ""


# -- binding -------------------------------------------------------------------------------------


def claim_reference(pvc: Obj) -> Obj:
    meta = pvc["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", ""), "name": meta["name"],
            "uid": meta.get("uid", ""), "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion", "")}


def _with_annotation(obj: Obj, key: str, value: str) -> Obj:
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = dict(meta.get("annotations") or {}, **{key: value})
    return dict(obj, metadata=meta)


def bind_volume_to_claim(pv: Obj, pvc: Obj) -> Obj | None:
    """The volume pointing at the claim (claimRef with the claim's uid), or None when it
    already does. `bound-by-controller` marks a binding the user did not pre-set."""
    ours = not is_bound_to(pv, pvc)
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    meta = pvc["metadata"]
    out = pv
    if not ref or (ref.get("name"), ref.get("namespace"), ref.get("uid")) != \
            (meta.get("name"), meta.get("namespace"), meta.get("uid")):
        out = dict(pv, spec=dict(pv.get("spec") or {}, claimRef=claim_reference(pvc)))
    if ours and ANN_BOUND_BY_CONTROLLER not in annotations_of(out):
        out = _with_annotation(out, ANN_BOUND_BY_CONTROLLER, "yes")
    return None if out is pv else out


def bind_claim_to_volume(pvc: Obj, pv: Obj) -> Obj | None:
    """The claim naming the volume, marked bind-completed; None when it already is."""
    out = pvc
    name = pv["metadata"]["name"]
    if (pvc.get("spec") or {}).get("volumeName") != name:
        out = dict(pvc, spec=dict(pvc.get("spec") or {}, volumeName=name))
        if ANN_BOUND_BY_CONTROLLER not in annotations_of(out):
            out = _with_annotation(out, ANN_BOUND_BY_CONTROLLER, "yes")
    if ANN_BIND_COMPLETED not in annotations_of(out):
        out = _with_annotation(out, ANN_BIND_COMPLETED, "yes")
    return None if out is pvc else out


def unbind_volume(pv: Obj) -> Obj:
    """Undo a binding: one the controller made loses its claimRef; a user's pre-binding keeps
    the claim's name and loses only the uid, so the volume stays reserved for it."""
    spec = dict(pv.get("spec") or {})
    if ANN_BOUND_BY_CONTROLLER in annotations_of(pv):
        spec.pop("claimRef", None)
        meta = dict(pv["metadata"])
        rest = {k: v for k, v in annotations_of(pv).items() if k != ANN_BOUND_BY_CONTROLLER}
        if rest:
            meta["annotations"] = rest
        else:
            meta.pop("annotations", None)
        return dict(pv, metadata=meta, spec=spec)
    spec["claimRef"] = {k: v for k, v in (spec.get("claimRef") or {}).items() if k != "uid"}
    return dict(pv, spec=spec)


def claim_status(pvc: Obj, phase: str, pv: Obj | None) -> Obj | None:
    """The claim's new status for `phase` (access modes and capacity from its volume, or
    none without one), or None when nothing changes. Capacity is copied only as the claim
    enters the phase: a later difference can be deliberate (resizing)."""
    old = pvc.get("status") or {}
    new = dict(old, phase=phase)
    if pv is None:
        new.pop("accessModes", None)
        new.pop("capacity", None)
    else:
        new["accessModes"] = list((pv.get("spec") or {}).get("accessModes") or [])
        if old.get("phase") != phase:
            size = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
            if size is not None and (old.get("capacity") or {}).get("storage") != size:
                new["capacity"] = dict((pv.get("spec") or {}).get("capacity") or {})
    return None if new == old else new


def volume_status(pv: Obj, phase: str, message: str, now: datetime.datetime) -> Obj | None:
    """The volume's new status, stamped with when the phase changed; None if unchanged."""
    old = pv.get("status") or {}
    if old.get("phase") == phase:
        return None
    new: Obj = {"phase": phase, "lastPhaseTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if message:
        new["message"] = message
    return new


# -- what the controller does with a claim -------------------------------------------------------


@dataclass
class ClaimPlan:
    """One step for a claim. `action`: bind (to `volume`), pending, lost, assign-class
    (the default `storage_class`), wait-consumer (a WaitForFirstConsumer claim no pod was
    scheduled with yet), provision, or error (never expected: retry)."""
    action: str
    volume: Obj | None = None
    event: tuple[str, str, str] | None = None  # type, reason, message
    storage_class: str = ""


def plan_claim(pvc: Obj, volumes: Mapping[str, Obj], classes: Mapping[str, Obj]) -> ClaimPlan:
    """upstream's syncUnboundClaim / syncBoundClaim as a decision."""
    spec = pvc.get("spec") or {}
    name = spec.get("volumeName") or ""
    if ANN_BIND_COMPLETED in annotations_of(pvc):
        if not name:
            return ClaimPlan("lost", event=("Warning", "ClaimLost", CLAIM_LOST_REFERENCE))
        pv = volumes.get(name)
        if pv is None:
            return ClaimPlan("lost", event=("Warning", "ClaimLost", CLAIM_LOST_VOLUME))
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref or ref.get("uid") == pvc["metadata"].get("uid"):
            return ClaimPlan("bind", volume=pv)  # repairs a volume that came unbound; else a no-op
        return ClaimPlan("lost", event=("Warning", "ClaimMisbound", CLAIM_MISBOUND))
    if not name:
        delay = delay_binding(pvc, classes)
        pv = find_best_match(pvc, volumes.values(), delay)
        if pv is not None:
            return ClaimPlan("bind", volume=pv)
        if spec.get("storageClassName") is None and ANN_BETA_CLASS not in annotations_of(pvc):
            default = default_class(classes.values())
            if default is not None:  # retroactive default class (GA in 1.28)
                return ClaimPlan("assign-class", storage_class=default["metadata"]["name"])
        if delay and ANN_SELECTED_NODE not in annotations_of(pvc):
            return ClaimPlan("wait-consumer")
        if claim_class(pvc):
            return ClaimPlan("provision")
        return ClaimPlan("pending", event=("Normal", "FailedBinding", NO_CLASS_MESSAGE))
    pv = volumes.get(name)
    if pv is None:
        return ClaimPlan("pending")  # asks for a volume that does not exist (yet)
    if not (pv.get("spec") or {}).get("claimRef"):
        why = volume_refusal(pv, pvc)
        if why:
            return ClaimPlan("pending", event=("Warning", "VolumeMismatch",
                                               f'Cannot bind to requested volume "{name}": {why}'))
        return ClaimPlan("bind", volume=pv)
    if is_bound_to(pv, pvc):
        return ClaimPlan("bind", volume=pv)
    event = ("Warning", "FailedBinding", f'volume "{name}" already bound to a different claim.')
    if ANN_BOUND_BY_CONTROLLER not in annotations_of(pvc):
        return ClaimPlan("pending", event=event)
    return ClaimPlan("error", event=event)


@dataclass
class VolumePlan:
    """One step for a volume. `action`: phase (set `phase`), enqueue-claim (its claim
    finishes the binding), release (claim gone: Released, then reclaim), unbind, mismatch
    (events on both), none."""
    action: str
    phase: str = ""


def plan_volume(pv: Obj, claim: Obj | None) -> VolumePlan:
    """upstream's syncVolume as a decision; `claim` is the claim its claimRef names (None
    when that claim is gone or was replaced by another of the same name)."""
    spec = pv.get("spec") or {}
    ref = spec.get("claimRef")
    if not ref or not ref.get("uid"):
        return VolumePlan("phase", "Available")  # free, or reserved for a claim not yet bound
    if claim is None:
        return VolumePlan("release")
    claimed = (claim.get("spec") or {}).get("volumeName") or ""
    if not claimed:
        if volume_mode_mismatch(claim, pv):
            return VolumePlan("mismatch")
        return VolumePlan("enqueue-claim")
    if claimed == pv["metadata"]["name"]:
        return VolumePlan("phase", "Bound")
    if ANN_PROVISIONED_BY in annotations_of(pv) and spec.get("persistentVolumeReclaimPolicy") == "Delete":
        return VolumePlan("release")  # provisioned for a claim that got another volume
    return VolumePlan("unbind")


def deleter_refusal(pv: Obj) -> str | None:
    """Who deletes a Released volume with policy Delete: None when its provisioner does
    (named by provisioned-by; the provisioner watches for Released volumes of its own),
    else upstream's error for a volume no deleter plugin knows."""
    if ANN_PROVISIONED_BY in annotations_of(pv):
        return None
    return f'error getting deleter volume plugin for volume "{pv["metadata"]["name"]}": no deletable volume plugin matched'


# -- pods and claims -----------------------------------------------------------------------------


def pod_claims(pod: Obj) -> list[tuple[str, bool]]:
    """The claims a pod's volumes use, (name, is ephemeral). A generic ephemeral volume's
    claim is `<pod>-<volume>`, made for the pod by the ephemeral volume controller."""
    out: list[tuple[str, bool]] = []
    pod_name = (pod.get("metadata") or {}).get("name", "")
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if "persistentVolumeClaim" in v:
            out.append((str((v["persistentVolumeClaim"] or {}).get("claimName", "")), False))
        elif "ephemeral" in v:
            out.append((f"{pod_name}-{v.get('name', '')}", True))
    return out


def claim_owned_by(pvc: Obj, pod: Obj) -> bool:
    uid = (pod.get("metadata") or {}).get("uid")
    return any(r.get("controller") and r.get("uid") == uid for r in (pvc.get("metadata") or {}).get("ownerReferences") or [])


def ephemeral_refusal(pvc: Obj, pod: Obj) -> str:
    """An ephemeral volume's claim must have been made for this pod ("" if it was)."""
    if claim_owned_by(pvc, pod):
        return ""
    pm, cm = pod["metadata"], pvc["metadata"]
    return (f"PVC {cm.get('namespace')}/{cm.get('name')} was not created for pod "
            f"{pm.get('namespace')}/{pm.get('name')} (pod is not owner)")


def pod_is_shut_down(pod: Obj) -> bool:
    """The kubelet is done with the pod, or it was force-deleted."""
    meta = pod.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and int(meta.get("deletionGracePeriodSeconds") or 0) == 0


def pod_uses_claim(pod: Obj, pvc: Obj) -> bool:
    """Whether a pod holds a claim in use (pvc-protection): only scheduled pods count; an
    ephemeral claim is released as soon as its pod has shut down."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    name = pvc["metadata"].get("name")
    for claim, ephemeral in pod_claims(pod):
        if claim != name:
            continue
        if not ephemeral or (not pod_is_shut_down(pod) and claim_owned_by(pvc, pod)):
            return True
    return False


# -- the local-path provisioner (k3s's default class) --------------------------------------------


def local_path_refusal(pvc: Obj, node: Obj | None) -> str:
    """Why rancher.io/local-path cannot make a volume for the claim ("" if it can): a
    directory on one node serves one node's pods, with no selector to honour."""
    spec = pvc.get("spec") or {}
    if spec.get("selector") is not None:
        return "claim.Spec.Selector is not supported"
    if any(m not in ("ReadWriteOnce", "ReadWriteOncePod") for m in spec.get("accessModes") or []):
        return "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes"
    if node is None:
        return "configuration error, no node was specified"
    return ""


def provisioned_volume_name(pvc: Obj) -> str:
    """What a provisioned volume is called: `pvc-<claim uid>`, stable across retries."""
    return f"pvc-{pvc['metadata'].get('uid', '')}"


def local_path_volume(pvc: Obj, storage_class: Obj, node: Obj, storage_dir: str) -> Obj:
    """The volume local-path-provisioner makes for a claim on a node: a DirectoryOrCreate
    host path `<storage dir>/<volume>_<namespace>_<claim>`, pinned to that node by its
    hostname label, pre-bound to the claim."""
    name = provisioned_volume_name(pvc)
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    node_name = node["metadata"]["name"]
    hostname = ((node.get("metadata") or {}).get("labels") or {}).get(HOSTNAME_LABEL, node_name)
    folder = f"{name}_{meta.get('namespace', '')}_{meta['name']}"
    volume: Obj = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: LOCAL_PATH_PROVISIONER,
                                                   LOCAL_PATH_SELECTED_NODE: node_name}},
        "spec": {
            "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
            "accessModes": list(spec.get("accessModes") or []),
            "hostPath": {"path": f"{storage_dir.rstrip('/')}/{folder}", "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": "Filesystem",
            "claimRef": claim_reference(pvc),
        },
    }
    if storage_class.get("mountOptions"):
        volume["spec"]["mountOptions"] = list(storage_class["mountOptions"])
    return volume
