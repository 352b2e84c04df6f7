"""The VolumeBinding plugin: a pod with claims goes where its volumes are, or can be made.

PreFilter (whole pod, unresolvable): every claim the pod's volumes name exists
(`persistentvolumeclaim "x" not found`; a generic ephemeral volume's claim is waited for),
is not being deleted, is not Lost, and — if its class binds at once — is bound already
(`pod has unbound immediate PersistentVolumeClaims`: the PV controller binds those, the
pod comes back when it has).
Filter (per node): a bound claim's volume must be reachable from the node (`node(s) had
volume node affinity conflict`); an unbound WaitForFirstConsumer claim needs an Available
volume reachable from the node or a class that can provision there (`node(s) didn't find
available persistent volumes to bind`).
Reserve and PreBind (in the binding task, before the pod's Binding): the chosen static
volumes get the claim in their claimRef, claims to provision get
`volume.kubernetes.io/selected-node`; then the pod waits — up to `bind_timeout`, upstream's
600 s — until the PV controller (and the provisioner) report every claim Bound. On failure
the assumed volumes are forgotten and the pod is scheduled again later.

Pods without volumes pay one dict lookup at PreFilter and one at Filter: scheduling
throughput is made of them. Reserved choices live in an assume cache until the informers
show the writes, so the next pod does not pick the same volume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..api import errors
from ..api.registry import Registry
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..controllers import pvutil

if TYPE_CHECKING:
    from .cache import Cache
    from .cyclestate import CycleState, Idx
    from .filters import Rejection

log = logging.getLogger("nanokube.scheduler.volumebinding")

_REG = Registry()
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
VOLUMES = _REG.require("", "v1", "persistentvolumes")
Obj = dict[str, Any]
NAME = "VolumeBinding"
MANAGER = "kube-scheduler"
DEFAULT_BIND_TIMEOUT = 600.0
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"


class PreBindError(Exception):
    """The pod's volumes could not be bound for its node: it is scheduled again later."""


def volume_binding_prefilter(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    """PreFilter, as registered in filters.FILTERS before every other filter: pods without
    volumes pass at once; a pod whose claims rule out every node is refused as a whole."""
    if not state.spec.get("volumes"):
        return []
    binder = cache.volumes
    if binder is None:  # nothing is known about claims: none exists
        return _refuse_pod(idx, next((f'persistentvolumeclaim "{n}" not found'
                                      for n, _ in pvutil.pod_claims(state.pod)), ""))
    pc = binder.pre_filter(state.pod)
    if pc is None:
        return []
    if pc.refusal:
        return _refuse_pod(idx, pc.refusal)
    state.data[NAME] = pc
    return []


def volume_binding(state: CycleState, cache: Cache, idx: Idx) -> list[Rejection]:
    """Filter, at upstream's place among the filters: only pods PreFilter found claims for."""
    pc = state.data.get(NAME)
    if pc is None or cache.volumes is None:
        return []
    return cache.volumes.filter(pc, cache, idx)


def _refuse_pod(idx: Idx, reason: str) -> list[Rejection]:
    from .filters import Rejection

    return [Rejection(idx, reason, False, pod_level=True)] if reason else []


@dataclass
class PodClaims:
    """A pod's claims as PreFilter sorts them."""
    bound: list[Obj] = field(default_factory=list)
    delayed: list[Obj] = field(default_factory=list)  # unbound, WaitForFirstConsumer
    refusal: str = ""


def sort_claims(pod: Obj, claims: Mapping[str, Obj], classes: Mapping[str, Obj]) -> PodClaims | None:
    """PreFilter: None for a pod without claims; else its bound and waiting claims, or why
    it cannot be scheduled anywhere."""
    names = pvutil.pod_claims(pod)
    if not names:
        return None
    ns = (pod.get("metadata") or {}).get("namespace", "")
    out = PodClaims()
    for name, ephemeral in names:
        pvc = claims.get(f"{ns}/{name}")
        if pvc is None:
            out.refusal = (f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                           if ephemeral else f'persistentvolumeclaim "{name}" not found')
            return out
        if (pvc.get("status") or {}).get("phase") == "Lost":
            out.refusal = (f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                           f'"{(pvc.get("spec") or {}).get("volumeName", "")}"')
            return out
        if pvc["metadata"].get("deletionTimestamp"):
            out.refusal = f'persistentvolumeclaim "{name}" is being deleted'
            return out
        if ephemeral:
            out.refusal = pvutil.ephemeral_refusal(pvc, pod)
            if out.refusal:
                return out
    immediate = False
    for name, _ in names:
        pvc = claims[f"{ns}/{name}"]
        if pvutil.fully_bound(pvc):
            out.bound.append(pvc)
        elif not (pvc.get("spec") or {}).get("volumeName") and pvutil.delay_binding(pvc, classes):
            out.delayed.append(pvc)
        else:
            immediate = True  # pre-bound by name, or of a class that binds at once
    if immediate:
        out.refusal = UNBOUND_IMMEDIATE
    return out


@dataclass
class NodeVolumes:
    """What it takes to run the pod on one node: why not (reasons), or which volumes to bind
    to which claims and which claims to provision."""
    reasons: list[str] = field(default_factory=list)
    static: list[tuple[Obj, Obj]] = field(default_factory=list)  # (claim, volume)
    provision: list[Obj] = field(default_factory=list)
    error: str = ""


def find_pod_volumes(pc: PodClaims, node: Obj, volumes: Mapping[str, Obj], classes: Mapping[str, Obj]) -> NodeVolumes:
    """Filter for one node (upstream's FindPodVolumes)."""
    out = NodeVolumes()
    node_name = node["metadata"]["name"]
    for pvc in pc.bound:
        pv = volumes.get((pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None:
            out.reasons.append(PV_NOT_EXIST)
            break
        if not pvutil.node_affinity_allows(pv, node):
            out.reasons.append(NODE_CONFLICT)
            break
    satisfied = True
    to_find: list[Obj] = []
    for pvc in pc.delayed:
        selected = pvutil.annotations_of(pvc).get(pvutil.ANN_SELECTED_NODE)
        if selected is None:
            to_find.append(pvc)
        elif selected != node_name:
            satisfied = False  # being provisioned for another node already
            break
        else:
            out.provision.append(pvc)
    if satisfied:
        chosen: set[str] = set()
        for pvc in sorted(to_find, key=pvutil.requested):
            cls = pvutil.claim_class(pvc)
            pv = pvutil.find_matching_volume(pvc, (v for v in volumes.values() if pvutil.volume_class(v) == cls),
                                             node=node, excluded=chosen, delay=True)
            if pv is None:
                out.provision.append(pvc)
            else:
                chosen.add(pv["metadata"]["name"])
                out.static.append((pvc, pv))
        for pvc in out.provision:
            cls = pvutil.claim_class(pvc)
            sc = classes.get(cls)
            if sc is None:
                out.error = f'failed to find storage class "{cls}"'
                return out
            if sc.get("provisioner") in ("", None, pvutil.NO_PROVISIONER) or not pvutil.topology_allows(sc, node):
                satisfied = False
                break
    if not satisfied:
        out.reasons.append(BIND_CONFLICT)
    return out


class VolumeBinding:
    """The plugin's state: the informers' claims, volumes and classes, what this scheduler
    assumed but has not seen written yet, and the PreBind step."""

    def __init__(self, client: Client, cache: Cache, claims: Informer, volumes: Informer, classes: Informer, *,
                 pods: Informer | None = None, events: EventRecorder | None = None,
                 bind_timeout: float = DEFAULT_BIND_TIMEOUT, on_change: Callable[[], None] | None = None) -> None:
        self.client = client
        self.cache = cache
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.pods = pods
        self.events = events
        self.bind_timeout = bind_timeout
        self.on_change = on_change
        # name or key → (resourceVersion it was derived from, assumed object)
        self._assumed_volumes: dict[str, tuple[int, Obj]] = {}
        self._assumed_claims: dict[str, tuple[int, Obj]] = {}
        self._pulse = asyncio.Event()
        for inf in (claims, volumes, classes):
            inf.add_handlers(self._changed, lambda old, new: self._changed(new), self._changed)

    def _changed(self, obj: Obj) -> None:
        """A claim, volume or class changed: waiting PreBinds look again, and pods it made
        unschedulable are retried (upstream's EventsToRegister)."""
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()
        if self.on_change is not None:
            self.on_change()

    # -- the assume cache ------------------------------------------------------------------------

    def claim(self, key: str) -> Obj | None:
        """A claim as this scheduler knows it: what it assumed, until the informer has newer."""
        seen = self.claims.get(key)
        mine = self._assumed_claims.get(key)
        if mine is None:
            return seen
        if seen is not None and _rv(seen) > mine[0]:
            del self._assumed_claims[key]
            return seen
        return mine[1]

    def pod_claims(self, pod: Obj) -> dict[str, Obj]:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        out: dict[str, Obj] = {}
        for name, _ in pvutil.pod_claims(pod):
            pvc = self.claim(f"{ns}/{name}")
            if pvc is not None:
                out[f"{ns}/{name}"] = pvc
        return out

    def volume_view(self) -> dict[str, Obj]:
        out = dict(self.volumes.store)
        for name, (base, obj) in list(self._assumed_volumes.items()):
            seen = out.get(name)
            if seen is not None and _rv(seen) > base:
                del self._assumed_volumes[name]  # the write (or a newer change) is here
            else:
                out[name] = obj
        return out

    def class_view(self) -> dict[str, Obj]:
        return dict(self.classes.store)

    # -- PreFilter and Filter ----------------------------------------------------------------------

    def pre_filter(self, pod: Obj) -> PodClaims | None:
        return sort_claims(pod, self.pod_claims(pod), self.class_view())

    def filter(self, pc: PodClaims, cache: Cache, idx: Idx) -> list[Rejection]:
        from .filters import Rejection

        if not pc.delayed:
            bound = [self.volumes.get((c.get("spec") or {}).get("volumeName", "")) for c in pc.bound]
            if all(pv is not None and not (pv.get("spec") or {}).get("nodeAffinity") for pv in bound):
                return []  # bound to volumes every node reaches
        volumes = self.volume_view()
        classes = self.class_view()
        by_reason: dict[str, list[int]] = {}
        for i in idx.tolist():
            node = cache.nodes[i]
            if node is None:
                continue
            found = find_pod_volumes(pc, node, volumes, classes)
            if found.error:
                return _refuse_pod(idx, found.error)
            for reason in found.reasons:
                by_reason.setdefault(reason, []).append(i)
        return [Rejection(np.array(v, dtype=np.int64), r, False) for r, v in by_reason.items()]

    # -- Reserve and PreBind -----------------------------------------------------------------------

    def _node(self, name: str) -> Obj | None:
        i = self.cache.index.get(name)
        return self.cache.nodes[i] if i is not None else None

    async def pre_bind(self, pod: Obj, node_name: str) -> None:
        """Bind or provision the pod's unbound claims for `node_name` and wait until they are
        Bound; raises PreBindError (after a FailedScheduling event) if that cannot be done."""
        if not (pod.get("spec") or {}).get("volumes") or not pvutil.pod_claims(pod):
            return
        node = self._node(node_name)
        classes = self.class_view()
        pc = sort_claims(pod, self.pod_claims(pod), classes)
        if pc is None or (not pc.refusal and not pc.delayed):
            return  # every claim is bound already
        found = find_pod_volumes(pc, node, self.volume_view(), classes) if node is not None and not pc.refusal \
            else NodeVolumes(error=pc.refusal or f'node "{node_name}" not found')
        static, provision = self._assume(found, node_name)
        try:
            if found.error or found.reasons:
                raise PreBindError(found.error or ", ".join(found.reasons))
            # what we wrote, as the API server answered: the informers must catch up with it
            written = [await self.client.update(VOLUMES, pv, field_manager=MANAGER) if changed else pv
                       for pv, changed in static]
            for pvc in provision:
                if pvutil.annotations_of(self.claims.get(object_key(pvc)) or {}).get(pvutil.ANN_SELECTED_NODE) != node_name:
                    pvc.update(await self.client.update(CLAIMS, pvc, field_manager=MANAGER))
            await self._wait(pod, node_name, written, provision)
        except (errors.ApiError, PreBindError) as e:
            message = f'running PreBind plugin "{NAME}": binding volumes: {getattr(e, "message", None) or e}'
            log.info("volume binding failed pod=%s node=%s error=%s", object_key(pod), node_name, e)
            if self.events is not None:
                self.events.event(pod, "Warning", "FailedScheduling", message)
            raise PreBindError(message) from e
        finally:
            for pv, _ in static:
                self._assumed_volumes.pop(pv["metadata"]["name"], None)
            for pvc in provision:
                self._assumed_claims.pop(object_key(pvc), None)

    def _assume(self, found: NodeVolumes, node_name: str) -> tuple[list[tuple[Obj, bool]], list[Obj]]:
        """Reserve: the chosen volumes taken by their claims (and whether that changes them),
        the claims to provision marked with the node, in the assume cache at once (before any
        await), so the pods scheduled while this one binds see them taken."""
        static: list[tuple[Obj, bool]] = []
        provision: list[Obj] = []
        if found.error or found.reasons:
            return static, provision
        for pvc, pv in found.static:
            bound = pvutil.bind_volume_to_claim(pv, pvc)
            self._assumed_volumes[pv["metadata"]["name"]] = (_rv(pv), bound or pv)
            static.append((bound or pv, bound is not None))
        for pvc in found.provision:
            meta = dict(pvc["metadata"])
            meta["annotations"] = dict(meta.get("annotations") or {}, **{pvutil.ANN_SELECTED_NODE: node_name})
            marked = dict(pvc, metadata=meta)
            self._assumed_claims[object_key(pvc)] = (_rv(pvc), marked)
            provision.append(marked)
        return static, provision

    async def _wait(self, pod: Obj, node_name: str, static: list[Obj], provision: list[Obj]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bind_timeout
        while True:
            pulse = self._pulse
            if self._bound(pod, node_name, static, provision):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PreBindError("context deadline exceeded")
            try:
                await asyncio.wait_for(pulse.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass

    def _bound(self, pod: Obj, node_name: str, static: list[Obj], provision: list[Obj]) -> bool:
        """upstream's checkBindings: True once every claim is Bound; PreBindError when the
        binding was undone (claimRef reset, node choice dropped) or the pod is gone."""
        meta = pod["metadata"]
        if self.pods is not None:
            live = self.pods.get(object_key(pod))
            if live is None or live["metadata"].get("uid") != meta.get("uid"):
                raise PreBindError(f"failed to get pod {meta.get('namespace')}/{meta.get('name')} from informer")
        node = self._node(node_name) or {"metadata": {"name": node_name}}
        done = True
        for assumed in static:
            name = assumed["metadata"]["name"]
            pv = self.volumes.get(name)
            ref = (assumed.get("spec") or {}).get("claimRef") or {}
            pvc = self.claims.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
            if pv is None or pvc is None:
                raise PreBindError(f'failed to check binding: volume "{name}" or its claim is gone')
            if _rv(pv) < _rv(assumed):
                done = False  # our write is not back yet
                continue
            if not pvutil.node_affinity_allows(pv, node):
                raise PreBindError(f'pv "{name}" node affinity doesn\'t match node "{node_name}"')
            if not ((pv.get("spec") or {}).get("claimRef") or {}).get("uid"):
                raise PreBindError(f'ClaimRef got reset for pv "{name}"')
            done = done and pvutil.fully_bound(pvc)
        for assumed in provision:
            key = object_key(assumed)
            pvc = self.claims.get(key)
            if pvc is None:
                raise PreBindError(f'failed to check provisioning pvc: persistentvolumeclaim "{key}" not found')
            if _rv(pvc) < _rv(assumed):
                done = False
                continue
            selected = pvutil.annotations_of(pvc).get(pvutil.ANN_SELECTED_NODE, "")
            if selected != node_name:
                raise PreBindError(f'selectedNode annotation value "{selected}" not set to scheduled node "{node_name}"')
            name = (pvc.get("spec") or {}).get("volumeName")
            if name:
                pv = self.volumes.get(name)
                if pv is None:
                    done = False
                    continue
                if not pvutil.node_affinity_allows(pv, node):
                    raise PreBindError(f'pv "{name}" node affinity doesn\'t match node "{node_name}"')
            done = done and pvutil.fully_bound(pvc)
        return done


def _rv(obj: Mapping[str, Any] | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0

