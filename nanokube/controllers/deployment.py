"""The Deployment controller: rollouts through ReplicaSets, as upstream's does them.

Per Deployment, level-triggered: claim its ReplicaSets (adopt matching orphans, release
non-matching ones), then
- deleting: only the status is kept current;
- paused, or a plain resize (a set's desired-replicas annotation differs from spec.replicas):
  resize, spreading the change over the active sets in proportion to their size;
- Recreate: old sets to zero, wait until their pods are gone, then the new set to full size;
- RollingUpdate: grow the new set within maxSurge, shrink old ones within maxUnavailable
  (unavailable old replicas first), one step per sync.
The new set is named `<deployment>-<pod-template-hash>`; revisions live in the
`deployment.kubernetes.io/revision` annotation (bumped when an old template comes back,
which is how `kubectl rollout undo` works); sets beyond revisionHistoryLimit are deleted once
empty. Progressing/Available conditions follow upstream, including the progress deadline.
The arithmetic is in deploymentutil.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.registry import Registry
from ..api.selectors import label_selector_from_dict
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import deploymentutil as du
from .podutil import controller_of, controller_ref
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.deployment")

_REG = Registry()
DEPLOYMENTS = _REG.require("apps", "v1", "deployments")
REPLICASETS = _REG.require("apps", "v1", "replicasets")
Obj = dict[str, Any]
MANAGER = "deployment-controller"


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class DeploymentController:
    name = "deployment"

    def __init__(self, client: Client, deployments: Informer, replicasets: Informer, pods: Informer,
                 workers: int = 5, now: Callable[[], datetime.datetime] = _utc) -> None:
        self.client = client
        self.deployments = deployments
        self.replicasets = replicasets
        self.pods = pods
        self.workers = workers
        self.now = now
        self.queue = WorkQueue()
        self.events = EventRecorder(client, MANAGER)
        deployments.add_handlers(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        replicasets.add_handlers(self._rs_added, self._rs_updated, self._rs_deleted)
        pods.add_handlers(None, None, self._pod_deleted)

    # -- event handlers ------------------------------------------------------------------------

    def _enqueue(self, d: Obj) -> None:
        self.queue.add(object_key(d))

    def _owner(self, obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        key = f"{obj['metadata'].get('namespace')}/{ref.get('name')}"
        d = self.deployments.get(key)
        return key if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, rs: Obj) -> list[str]:
        labels = rs["metadata"].get("labels") or {}
        return [object_key(d) for d in self.deployments.by_index("namespace", rs["metadata"].get("namespace", ""))
                if (d.get("spec") or {}).get("selector") and
                label_selector_from_dict(d["spec"]["selector"]).matches(labels)]

    def _rs_added(self, rs: Obj) -> None:
        key = self._owner(rs)
        if key:
            self.queue.add(key)
        elif controller_of(rs) is None:
            for k in self._matching(rs):
                self.queue.add(k)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        for key in {self._owner(old), self._owner(new)} - {None}:
            self.queue.add(key)
        if controller_of(new) is None:
            for k in self._matching(new):
                self.queue.add(k)

    def _rs_deleted(self, rs: Obj) -> None:
        key = self._owner(rs)
        if key:
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to be gone: look again when one goes."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        if rs is not None:
            key = self._owner(rs)
            if key:
                self.queue.add(key)

    # -- work ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log)
                               for _ in range(self.workers)))

    async def sync(self, key: str) -> float | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        selector = (d.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            self.events.event(d, "Warning", "SelectingAll",
                              "This deployment is selecting all pods. A non-empty selector is required.")
            status = dict(d.get("status") or {})
            if status.get("observedGeneration") != d["metadata"].get("generation"):
                status["observedGeneration"] = d["metadata"].get("generation")
                await self._write_status(d, status)
            return None
        sets = await self._claim(d)
        if d["metadata"].get("deletionTimestamp"):
            await self._sync_status(d, sets)
            return None
        d = await self._check_paused(d)
        if (d.get("spec") or {}).get("paused") or self._is_scaling_event(d, sets):
            return await self._resize(d, sets)
        if du.is_rolling(d):
            return await self._rolling(d, sets)
        return await self._recreate(d, sets)

    # -- ownership ---------------------------------------------------------------------------------

    async def _claim(self, d: Obj) -> list[Obj]:
        meta = d["metadata"]
        selector = label_selector_from_dict(d["spec"]["selector"])
        owned: list[Obj] = []
        for rs in self.replicasets.by_index("namespace", meta["namespace"]):
            ref = controller_of(rs)
            labels = rs["metadata"].get("labels") or {}
            if ref is not None:
                if ref.get("uid") != meta["uid"]:
                    continue
                if selector.matches(labels) or meta.get("deletionTimestamp"):
                    owned.append(rs)
                else:  # no longer ours: let it go
                    refs = [r for r in rs["metadata"].get("ownerReferences") or [] if r.get("uid") != meta["uid"]]
                    await self._patch_rs(rs, {"metadata": {"ownerReferences": refs or None,
                                                           "uid": rs["metadata"]["uid"]}})
            elif selector.matches(labels) and not meta.get("deletionTimestamp") and \
                    not rs["metadata"].get("deletionTimestamp"):
                refs = [*(rs["metadata"].get("ownerReferences") or []), self._ref(d)]
                adopted = await self._patch_rs(rs, {"metadata": {"ownerReferences": refs,
                                                                 "uid": rs["metadata"]["uid"]}})
                if adopted is not None:
                    owned.append(adopted)
        return owned

    def _ref(self, d: Obj) -> Obj:
        return controller_ref(d, "Deployment", "apps/v1")

    async def _patch_rs(self, rs: Obj, patch: Obj) -> Obj | None:
        try:
            return await self.client.patch(REPLICASETS, rs["metadata"]["name"], patch, rs["metadata"]["namespace"],
                                           field_manager=MANAGER)
        except (errors.NotFound, errors.Conflict):
            return None

    # -- the new set -------------------------------------------------------------------------------

    async def _new_and_old(self, d: Obj, sets: list[Obj], create: bool) -> tuple[Obj, Obj | None, list[Obj]]:
        """The Deployment (with its revision annotation synced), its new set (created if asked
        and missing), and the old sets."""
        new = du.find_new(d, sets)
        old = [rs for rs in sets if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]
        new_revision = du.next_revision(old)
        spec = d["spec"]
        if new is not None:
            ann = du.new_set_annotations(d, new, new_revision, exists=True)
            min_ready = spec.get("minReadySeconds")
            if ann != (new["metadata"].get("annotations") or {}) or \
                    (new["spec"].get("minReadySeconds") or 0) != (min_ready or 0):
                body = copy.deepcopy(new)
                body["metadata"]["annotations"] = ann
                body["spec"]["minReadySeconds"] = min_ready or 0
                new = await self.client.update(REPLICASETS, body, field_manager=MANAGER)
            d = await self._sync_revision(d, new, None)
            return d, new, old
        if not create:
            return d, None, old
        collision = (d.get("status") or {}).get("collisionCount")
        tpl = copy.deepcopy(spec.get("template") or {})
        h = du.template_hash(tpl, collision)
        tpl_meta = tpl.setdefault("metadata", {})
        tpl_meta["labels"] = dict(tpl_meta.get("labels") or {}, **{du.HASH_LABEL: h})
        selector = copy.deepcopy(spec["selector"])
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{du.HASH_LABEL: h})
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{h}", "namespace": d["metadata"]["namespace"],
                         "labels": dict(tpl_meta["labels"]), "ownerReferences": [self._ref(d)]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0, "selector": selector,
                     "template": tpl},
        }
        rs["spec"]["replicas"] = du.new_set_replicas(d, [*old, rs], rs)
        rs["metadata"]["annotations"] = du.new_set_annotations(d, rs, new_revision, exists=False)
        try:
            created = await self.client.create(REPLICASETS, rs, field_manager=MANAGER)
        except errors.AlreadyExists:
            existing = await self.client.get(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            ref = controller_of(existing)
            if ref and ref.get("uid") == d["metadata"]["uid"] and \
                    du.equal_ignore_hash(spec.get("template") or {}, existing["spec"].get("template") or {}):
                d = await self._sync_revision(d, existing, None)
                return d, existing, old
            # a different set has this name: count the collision so the next hash differs
            status = dict(d.get("status") or {}, collisionCount=int(collision or 0) + 1)
            await self._write_status(d, status)
            raise RuntimeError(f"hash collision for replica set {rs['metadata']['name']}") from None
        except errors.ApiError as e:
            if "being terminated" in str(e):
                raise
            message = f'Failed to create new replica set "{rs["metadata"]["name"]}": {e}'
            status = dict(d.get("status") or {})
            if du.has_progress_deadline(d):
                du.set_condition(status, du.PROGRESSING, "False", "ReplicaSetCreateError", message, self._stamp())
                await self._write_status(d, status)
            self.events.event(d, "Warning", "FailedCreate", message)
            raise
        if created["spec"]["replicas"] > 0:
            self.events.event(d, "Normal", "ScalingReplicaSet",
                              f"Scaled up replica set {created['metadata']['name']} from 0 to {created['spec']['replicas']}")
        d = await self._sync_revision(d, created, f'Created new replica set "{created["metadata"]["name"]}"')
        return d, created, old

    async def _sync_revision(self, d: Obj, new: Obj, created_message: str | None) -> Obj:
        """The Deployment carries its new set's revision; a Progressing condition starts."""
        rev = (new["metadata"].get("annotations") or {}).get(du.REVISION, "")
        ann = d["metadata"].get("annotations") or {}
        if rev and ann.get(du.REVISION) != rev:
            try:
                d = await self.client.patch(DEPLOYMENTS, d["metadata"]["name"],
                                            {"metadata": {"annotations": {du.REVISION: rev}}},
                                            d["metadata"]["namespace"], field_manager=MANAGER)
            except errors.NotFound:
                return d
        status = copy.deepcopy(d.get("status") or {})
        if du.has_progress_deadline(d):
            if created_message:
                du.set_condition(status, du.PROGRESSING, "True", "NewReplicaSetCreated", created_message, self._stamp())
            elif du.condition(status, du.PROGRESSING) is None:
                du.set_condition(status, du.PROGRESSING, "True", "FoundNewReplicaSet",
                                 f'Found new replica set "{new["metadata"]["name"]}"', self._stamp())
        if status != (d.get("status") or {}):
            d = await self._write_status(d, status)
        return d

    # -- strategies ------------------------------------------------------------------------------

    async def _rolling(self, d: Obj, sets: list[Obj]) -> float | None:
        d, new, old = await self._new_and_old(d, sets, create=True)
        assert new is not None
        all_sets = [*old, new]
        want = du.replicas(d)
        # grow the new set within maxSurge
        if du.replicas(new) != want:
            size = want if du.replicas(new) > want else du.new_set_replicas(d, all_sets, new)
            if size != du.replicas(new):
                new = await self._scale(new, size, d)
                return await self._rollout_status(d, [*old, new], new)
        # shrink the old sets within maxUnavailable
        old_active = du.active(old)
        old_count = sum(du.replicas(rs) for rs in old)
        if old_count > 0:
            total = sum(du.replicas(rs) for rs in all_sets)
            min_available = want - du.max_unavailable(d)
            new_unavailable = du.replicas(new) - du.status_of(new, "availableReplicas")
            budget = total - min_available - new_unavailable
            if budget > 0:
                plan = du.cleanup_unhealthy(old_active, budget)
                scaled = await self._apply_plan(old_active, plan, d)
                after = [scaled.get(rs["metadata"]["name"], rs) for rs in old]
                plan2 = du.scale_down_old(d, [*after, new], du.active(after))
                scaled2 = await self._apply_plan(du.active(after), plan2, d)
                if plan or plan2:
                    final = [scaled2.get(rs["metadata"]["name"], rs) for rs in after]
                    return await self._rollout_status(d, [*final, new], new)
        status_probe = du.calculate_status(d, all_sets, new, self._stamp())
        if du.is_complete(d, status_probe):
            await self._cleanup_history(d, old)
        return await self._rollout_status(d, all_sets, new)

    async def _recreate(self, d: Obj, sets: list[Obj]) -> float | None:
        d, new, old = await self._new_and_old(d, sets, create=False)
        old_active = du.active(old)
        if old_active:
            scaled = await self._apply_plan(old_active, {rs["metadata"]["name"]: 0 for rs in old_active}, d)
            final = [scaled.get(rs["metadata"]["name"], rs) for rs in old]
            return await self._rollout_status(d, [*final, *([new] if new else [])], new)
        if self._old_pods_running(new, old):
            return await self._rollout_status(d, [*old, *([new] if new else [])], new)
        if new is None:
            d, new, old = await self._new_and_old(d, sets, create=True)
            assert new is not None
        if du.replicas(new) != du.replicas(d):
            new = await self._scale(new, du.replicas(d), d)
        all_sets = [*old, new]
        if du.is_complete(d, du.calculate_status(d, all_sets, new, self._stamp())):
            await self._cleanup_history(d, old)
        return await self._rollout_status(d, all_sets, new)

    def _old_pods_running(self, new: Obj | None, old: list[Obj]) -> bool:
        if any(du.status_of(rs, "replicas") > 0 for rs in old):
            return True
        for rs in old:
            for pod in self.pods.by_index("owner", rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                    return True
        return False

    async def _resize(self, d: Obj, sets: list[Obj]) -> float | None:
        """Paused or resized: change sizes only (upstream's sync + scale)."""
        d, new, old = await self._new_and_old(d, sets, create=False)
        all_sets = [*old, *([new] if new else [])]
        target = du.find_active_or_latest(new, old)
        want = du.replicas(d)
        plan: dict[str, int] = {}
        if target is not None:
            if du.replicas(target) != want or du.needs_replica_annotations(target, want, want + du.max_surge(d)):
                plan = {target["metadata"]["name"]: want}
        elif du.is_saturated(d, new):
            plan = {rs["metadata"]["name"]: 0 for rs in du.active(old)}
        elif du.is_rolling(d):
            plan = du.proportional_sizes(d, all_sets)
        scaled = await self._apply_plan(all_sets, plan, d)
        all_sets = [scaled.get(rs["metadata"]["name"], rs) for rs in all_sets]
        if new is not None:
            new = scaled.get(new["metadata"]["name"], new)
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup_history(d, old)
        await self._sync_status(d, all_sets, new)
        return None

    def _is_scaling_event(self, d: Obj, sets: list[Obj]) -> bool:
        want = str(du.replicas(d))
        for rs in du.active(sets):
            desired = (rs["metadata"].get("annotations") or {}).get(du.DESIRED_REPLICAS)
            if desired is not None and desired != want:
                return True
        return False

    async def _check_paused(self, d: Obj) -> Obj:
        if not du.has_progress_deadline(d):
            return d
        status = copy.deepcopy(d.get("status") or {})
        cond = du.condition(status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_cond:
            du.set_condition(status, du.PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused",
                             self._stamp())
        elif not paused and paused_cond:
            du.set_condition(status, du.PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed",
                             self._stamp())
        else:
            return d
        return await self._write_status(d, status)

    # -- writes ------------------------------------------------------------------------------------

    async def _apply_plan(self, sets: list[Obj], plan: dict[str, int], d: Obj) -> dict[str, Obj]:
        out: dict[str, Obj] = {}
        for rs in sets:
            name = rs["metadata"]["name"]
            if name in plan:
                out[name] = await self._scale(rs, plan[name], d)
        return out

    async def _scale(self, rs: Obj, size: int, d: Obj) -> Obj:
        want = du.replicas(d)
        old_size = du.replicas(rs)
        max_replicas = want + du.max_surge(d)
        if old_size == size and not du.needs_replica_annotations(rs, want, max_replicas):
            return rs
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = size
        ann = body["metadata"].setdefault("annotations", {})
        ann[du.DESIRED_REPLICAS] = str(want)
        ann[du.MAX_REPLICAS] = str(max_replicas)
        updated = await self.client.update(REPLICASETS, body, field_manager=MANAGER)
        if old_size != size:
            direction = "up" if size > old_size else "down"
            self.events.event(d, "Normal", "ScalingReplicaSet",
                              f"Scaled {direction} replica set {rs['metadata']['name']} from {old_size} to {size}")
        return updated

    async def _cleanup_history(self, d: Obj, old: list[Obj]) -> None:
        for rs in du.history_to_delete(d, old):
            try:
                await self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"],
                                         preconditions={"uid": rs["metadata"]["uid"]})
            except errors.NotFound:
                pass

    async def _rollout_status(self, d: Obj, all_sets: list[Obj], new: Obj | None) -> float | None:
        now = self.now()
        status = du.rollout_status(d, all_sets, new, now)
        if not du.same_status(status, d.get("status") or {}):
            d = await self._write_status(d, status)
        return du.requeue_after(d, status, now)

    async def _sync_status(self, d: Obj, all_sets: list[Obj], new: Obj | None = None) -> None:
        if new is None:
            new = du.find_new(d, all_sets)
        status = du.calculate_status(d, all_sets, new, self._stamp())
        if not du.same_status(status, d.get("status") or {}):
            await self._write_status(d, status)

    async def _write_status(self, d: Obj, status: Obj) -> Obj:
        try:
            return await self.client.update(DEPLOYMENTS, dict(d, status=status), subresource="status",
                                            field_manager=MANAGER)
        except errors.NotFound:
            return d

    def _stamp(self) -> str:
        return timestamps.format_time(self.now())
