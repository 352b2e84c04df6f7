"""The StatefulSet controller: pods with stable names and storage, made and removed in order.

Per StatefulSet, level-triggered: claim its ControllerRevisions and pods (adopting orphans
its selector matches and whose names are its own, releasing those it no longer matches),
find or record the revision of the current template (the update revision; bringing an old
template back renumbers its revision), then carry out `statefulsetutil.plan`'s steps - claims
before pods, pods in ordinal order, deletions from the highest ordinal - write the status,
and trim the history to revisionHistoryLimit. Every step is a write whose result the
informers bring back, which triggers the next sync: with OrderedReady a sync does at most
one create or delete.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable
from typing import Any

from ..api import errors
from ..api.registry import Registry, Resource
from ..api.selectors import LabelSelector, label_selector_from_dict
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_worker
from . import history
from . import statefulsetutil as su
from .podutil import controller_of, controller_ref, pod_is_ready

log = logging.getLogger("nanokube.controllers.statefulset")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
CLAIMS = _REG.require("", "v1", "persistentvolumeclaims")
STATEFULSETS = _REG.require("apps", "v1", "statefulsets")
REVISIONS = _REG.require("apps", "v1", "controllerrevisions")
Obj = dict[str, Any]
MANAGER = "statefulset-controller"
KIND = "StatefulSet"


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class StepFailed(Exception):
    """A write of the plan failed; the rest of the plan waits for the next sync."""


class StatefulSetController:
    name = "statefulset"

    def __init__(self, client: Client, statefulsets: Informer, pods: Informer, claims: Informer,
                 revisions: Informer, workers: int = 5, now: Callable[[], datetime.datetime] = _utc) -> None:
        self.client = client
        self.sets = statefulsets
        self.pods = pods
        self.claims = claims
        self.revisions = revisions
        self.workers = workers
        self.now = now
        self.queue = WorkQueue()
        self.events = EventRecorder(client, MANAGER)
        statefulsets.add_handlers(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)
        revisions.add_handlers(self._owned_changed, lambda old, new: self._owned_changed(new), self._owned_changed)
        claims.add_handlers(None, lambda old, new: self._claim_changed(new), self._claim_changed)

    # -- event handlers ------------------------------------------------------------------------

    def _enqueue(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _owner_key(self, obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != KIND:
            return None
        key = f"{obj['metadata'].get('namespace')}/{ref.get('name')}"
        sts = self.sets.get(key)
        return key if sts is not None and sts["metadata"].get("uid") == ref.get("uid") else None

    def _orphan_owners(self, pod: Obj) -> list[str]:
        labels = pod["metadata"].get("labels") or {}
        return [object_key(s) for s in self.sets.by_index("namespace", pod["metadata"].get("namespace", ""))
                if su.is_member(s, pod) and self._selector(s).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.queue.add(key)
        elif controller_of(pod) is None:
            for k in self._orphan_owners(pod):
                self.queue.add(k)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in {self._owner_key(old), self._owner_key(new)} - {None}:
            assert key is not None
            self.queue.add(key)
            sts = self.sets.get(key)
            seconds = su.min_ready(sts) if sts else 0
            if seconds > 0 and not pod_is_ready(old) and pod_is_ready(new):
                self.queue.add_after(key, float(seconds))  # it becomes available then
        if controller_of(new) is None:
            for k in self._orphan_owners(new):
                self.queue.add(k)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.queue.add(key)

    def _owned_changed(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _claim_changed(self, claim: Obj) -> None:
        """A claim being deleted holds its pod back; look again when it changes or goes."""
        name = claim["metadata"].get("name", "")
        for sts in self.sets.by_index("namespace", claim["metadata"].get("namespace", "")):
            for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
                prefix = f"{(template.get('metadata') or {}).get('name')}-{sts['metadata']['name']}-"
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    self.queue.add(object_key(sts))

    # -- work ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log)
                               for _ in range(self.workers)))

    @staticmethod
    def _selector(sts: Obj) -> LabelSelector:
        return label_selector_from_dict((sts.get("spec") or {}).get("selector"))

    def _ref(self, sts: Obj) -> Obj:
        return controller_ref(sts, KIND, "apps/v1")

    async def sync(self, key: str) -> float | None:
        cached = self.sets.get(key)
        if cached is None:
            return None
        sts = copy.deepcopy(cached)
        sts.setdefault("apiVersion", "apps/v1")
        sts.setdefault("kind", KIND)
        selector = (sts.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            return None  # validation forbids this; an empty selector would select every pod
        revisions = await self._claim(sts, REVISIONS, self.revisions.claimable(sts["metadata"]["namespace"], sts["metadata"]["uid"]),
                                      lambda r: True)
        pods = await self._claim(sts, PODS, self.pods.claimable(sts["metadata"]["namespace"], sts["metadata"]["uid"]),
                                 lambda p: su.is_member(sts, p))
        current, update, collisions = await self._revisions(sts, revisions)
        current_set = history.apply_revision(sts, current)
        update_set = history.apply_revision(sts, update)
        now = self.now()
        claims = {c["metadata"]["name"]: c for c in self.claims.by_index("namespace", sts["metadata"]["namespace"])}
        steps = su.plan(sts, pods, current_set, update_set, current["metadata"]["name"], update["metadata"]["name"],
                        claims, self._ref(sts), now)
        failure: Exception | None = None
        try:
            for step in steps:
                await self._carry_out(sts, update_set, step, claims)
        except StepFailed as e:
            failure = e
        status = su.compute_status(sts, pods, current["metadata"]["name"], update["metadata"]["name"], collisions, now)
        if su.status_changed(sts.get("status") or {}, status) and not await self._write_status(sts, status):
            return None
        await self._trim_history(sts, [*revisions, update], pods, status)
        if failure is not None:
            raise failure
        return su.requeue_for_availability(sts, status)

    async def _write_status(self, sts: Obj, status: Obj) -> bool:
        """Write the status; False when the set is gone. Our cached copy is often one status
        write behind (our own): on a conflict the status goes onto the live object, unless
        its spec changed meanwhile - then the next sync, which that change triggers, writes."""
        body = sts
        for _ in range(3):
            try:
                await self.client.update(STATEFULSETS, dict(body, status=status), subresource="status",
                                         field_manager=MANAGER)
                return True
            except errors.NotFound:
                return False
            except errors.Conflict:
                body = await self.client.get(STATEFULSETS, sts["metadata"]["name"], sts["metadata"]["namespace"])
                if body["metadata"].get("generation") != sts["metadata"].get("generation") or \
                        body["metadata"].get("uid") != sts["metadata"].get("uid"):
                    return True
        return True

    # -- ownership ---------------------------------------------------------------------------------

    async def _claim(self, sts: Obj, resource: Resource, candidates: list[Obj],
                     member: Callable[[Obj], bool]) -> list[Obj]:
        """The objects the set controls: its own that still match, plus orphans it adopts;
        its own that no longer match are released."""
        meta = sts["metadata"]
        selector = self._selector(sts)
        deleting = bool(meta.get("deletionTimestamp"))
        owned: list[Obj] = []
        for obj in candidates:
            ref = controller_of(obj)
            labels = obj["metadata"].get("labels") or {}
            matches = selector.matches(labels) and member(obj)
            if ref is not None:
                if ref.get("uid") != meta["uid"]:
                    continue
                if matches or deleting:
                    owned.append(obj)
                else:
                    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != meta["uid"]]
                    await self._patch_owners(resource, obj, refs)
            elif matches and not deleting and not obj["metadata"].get("deletionTimestamp"):
                adopted = await self._patch_owners(resource, obj, [*(obj["metadata"].get("ownerReferences") or []),
                                                                   self._ref(sts)])
                if adopted is not None:
                    owned.append(adopted)
        return owned

    async def _patch_owners(self, resource: Resource, obj: Obj, refs: list[Obj]) -> Obj | None:
        meta = obj["metadata"]
        try:
            return await self.client.patch(resource, meta["name"],
                                           {"metadata": {"ownerReferences": refs or None, "uid": meta["uid"],
                                                         "resourceVersion": meta.get("resourceVersion")}},
                                           meta.get("namespace"), field_manager=MANAGER)
        except (errors.NotFound, errors.Conflict):
            return None

    # -- revisions ---------------------------------------------------------------------------------

    async def _revisions(self, sts: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """(current revision, update revision, collision count)."""
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        data = history.template_patch(sts)
        choice, found, n = history.choose_update_revision(revisions, data)
        if choice == "reuse":
            assert found is not None
            update = found
        elif choice == "renumber":
            assert found is not None
            update = await self.client.update(REVISIONS, dict(copy.deepcopy(found), revision=n), field_manager=MANAGER)
        else:
            while True:
                h = history.revision_hash(data, collisions)
                wanted = history.new_revision(sts, KIND, "apps/v1", data, n, h, {history.HASH_LABEL: h})
                try:
                    update = await self.client.create(REVISIONS, wanted, field_manager=MANAGER)
                    break
                except errors.AlreadyExists:
                    existing = await self.client.get(REVISIONS, wanted["metadata"]["name"], sts["metadata"]["namespace"])
                    if not history.is_collision(existing, wanted):
                        update = existing
                        break
                    collisions += 1
        name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == name), None) or update
        return current, update, collisions

    async def _trim_history(self, sts: Obj, revisions: list[Obj], pods: list[Obj], status: Obj) -> None:
        unique = {r["metadata"]["name"]: r for r in revisions}
        live = {status.get("currentRevision", ""), status.get("updateRevision", "")} | \
            {su.revision_of(p) for p in pods}
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        for rev in history.history_to_trim(unique.values(), live, limit):
            try:
                await self.client.delete(REVISIONS, rev["metadata"]["name"], rev["metadata"]["namespace"],
                                         preconditions={"uid": rev["metadata"]["uid"]})
            except (errors.NotFound, errors.Conflict):
                pass

    # -- steps -------------------------------------------------------------------------------------

    async def _carry_out(self, sts: Obj, update_set: Obj, step: su.Step, claims: dict[str, Obj]) -> None:
        pod = step.pod
        if step.action == "create":
            await self._create_claims(sts, update_set, pod, claims)
            await self._create_pod(sts, pod)
        elif step.action == "delete":
            await self._delete_pod(sts, pod, step.why)
        elif step.action == "claims":
            await self._create_claims(sts, update_set, pod, claims)
        elif step.action == "update":
            await self._create_claims(sts, update_set, pod, claims)
            await self._fix_claim_owners(update_set, pod, claims)
            fixed = su.fix_pod(update_set, pod)
            if fixed != pod:
                await self._update_pod(sts, fixed)
        elif step.action == "fix-claims":
            await self._fix_claim_owners(update_set, pod, claims)

    async def _create_claims(self, sts: Obj, update_set: Obj, pod: Obj, claims: dict[str, Obj]) -> None:
        name = sts["metadata"]["name"]
        for claim in su.claims_for(update_set, su.ordinal(pod)).values():
            cname = claim["metadata"]["name"]
            if cname in claims:
                continue
            refs = su.claim_owner_refs(update_set, pod, claim)
            if refs:
                claim["metadata"]["ownerReferences"] = refs
            try:
                created = await self.client.create(CLAIMS, claim, field_manager=MANAGER)
            except errors.AlreadyExists:
                continue
            except errors.ApiError as e:
                self.events.event(sts, "Warning", "FailedCreate",
                                  f"create Claim {cname} for Pod {pod['metadata']['name']} in StatefulSet {name} "
                                  f"failed error: {e}")
                raise StepFailed(str(e)) from e
            claims[cname] = created
            self.events.event(sts, "Normal", "SuccessfulCreate",
                              f"create Claim {cname} Pod {pod['metadata']['name']} in StatefulSet {name} success")

    async def _fix_claim_owners(self, update_set: Obj, pod: Obj, claims: dict[str, Obj]) -> None:
        for claim in su.claims_for(update_set, su.ordinal(pod)).values():
            live = claims.get(claim["metadata"]["name"])
            if live is None:
                continue
            refs = su.claim_owner_refs(update_set, pod, live)
            if refs is None:
                continue
            meta = live["metadata"]
            try:
                claims[meta["name"]] = await self.client.patch(
                    CLAIMS, meta["name"], {"metadata": {"ownerReferences": refs or None, "uid": meta["uid"],
                                                        "resourceVersion": meta.get("resourceVersion")}},
                    meta.get("namespace"), field_manager=MANAGER)
            except errors.NotFound:
                continue
            except errors.ApiError as e:
                # the pod must not go before its claim knows whether to go with it
                raise StepFailed(str(e)) from e

    async def _create_pod(self, sts: Obj, pod: Obj) -> None:
        name, pname = sts["metadata"]["name"], pod["metadata"]["name"]
        try:
            await self.client.create(PODS, pod, field_manager=MANAGER)
        except errors.AlreadyExists as e:
            raise StepFailed(f"pod {pname} still exists") from e  # the old one is still terminating
        except errors.ApiError as e:
            self.events.event(sts, "Warning", "FailedCreate",
                              f"create Pod {pname} in StatefulSet {name} failed error: {e}")
            raise StepFailed(str(e)) from e
        self.events.event(sts, "Normal", "SuccessfulCreate", f"create Pod {pname} in StatefulSet {name} successful")

    async def _delete_pod(self, sts: Obj, pod: Obj, why: str) -> None:
        meta = sts["metadata"]
        pname = pod["metadata"]["name"]
        if why == "failed":
            self.events.event(sts, "Warning", "RecreatingFailedPod",
                              f"StatefulSet {meta['namespace']}/{meta['name']} is recreating failed Pod {pname}")
        elif why == "succeeded":
            self.events.event(sts, "Normal", "RecreatingTerminatedPod",
                              f"StatefulSet {meta['namespace']}/{meta['name']} is recreating terminated Pod {pname}")
        try:
            await self.client.delete(PODS, pname, pod["metadata"]["namespace"],
                                     preconditions={"uid": pod["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            return
        except errors.ApiError as e:
            self.events.event(sts, "Warning", "FailedDelete",
                              f"delete Pod {pname} in StatefulSet {meta['name']} failed error: {e}")
            raise StepFailed(str(e)) from e
        self.events.event(sts, "Normal", "SuccessfulDelete", f"delete Pod {pname} in StatefulSet {meta['name']} successful")

    async def _update_pod(self, sts: Obj, pod: Obj) -> None:
        name, pname = sts["metadata"]["name"], pod["metadata"]["name"]
        try:
            await self.client.update(PODS, pod, field_manager=MANAGER)
        except (errors.NotFound, errors.Conflict) as e:
            raise StepFailed(str(e)) from e
        except errors.ApiError as e:
            self.events.event(sts, "Warning", "FailedUpdate",
                              f"update Pod {pname} in StatefulSet {name} failed error: {e}")
            raise StepFailed(str(e)) from e
        self.events.event(sts, "Normal", "SuccessfulUpdate", f"update Pod {pname} in StatefulSet {name} successful")
