"""The DaemonSet controller: one pod on every node that should run one.

Per DaemonSet, level-triggered: claim its ControllerRevisions and pods, find (or record) the
revision of the current template - its hash labels new pods `controller-revision-hash` -,
then, once earlier creations and deletions have been seen (expectations):
- create a pod for each eligible node without one (pinned to the node by node affinity,
  placed by the scheduler), delete pods on nodes no longer eligible, extra pods on a node,
  and failed pods (with a per-node back-off, so a pod the node keeps rejecting does not
  hot-loop); pods for nodes that no longer exist are deleted too;
- RollingUpdate: replace old pods within maxUnavailable, or start new ones beside them within
  maxSurge (`daemonsetutil.rolling_update`);
- trim the history to revisionHistoryLimit,
and write the status. Node changes enqueue the DaemonSets whose eligibility they change.
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
from . import daemonsetutil as dsu
from . import history
from .expectations import Expectations
from .podutil import controller_of, controller_ref, pod_is_ready

log = logging.getLogger("nanokube.controllers.daemonset")

_REG = Registry()
PODS = _REG.require("", "v1", "pods")
DAEMONSETS = _REG.require("apps", "v1", "daemonsets")
REVISIONS = _REG.require("apps", "v1", "controllerrevisions")
Obj = dict[str, Any]
MANAGER = "daemonset-controller"
KIND = "DaemonSet"


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class DaemonSetController:
    name = "daemonset"

    def __init__(self, client: Client, daemonsets: Informer, pods: Informer, nodes: Informer, revisions: Informer,
                 workers: int = 2, now: Callable[[], datetime.datetime] = _utc) -> None:
        self.client = client
        self.sets = daemonsets
        self.pods = pods
        self.nodes = nodes
        self.revisions = revisions
        self.workers = workers
        self.now = now
        self.queue = WorkQueue()
        self.expectations = Expectations()
        self.backoff = dsu.Backoff()
        self.events = EventRecorder(client, MANAGER)
        daemonsets.add_handlers(self._enqueue, lambda old, new: self._enqueue(new), self._ds_deleted)
        pods.add_handlers(self._pod_added, self._pod_updated, self._pod_deleted)
        nodes.add_handlers(self._node_added, self._node_updated, self._node_deleted)
        revisions.add_handlers(self._owned_changed, lambda old, new: self._owned_changed(new), self._owned_changed)

    # -- event handlers ------------------------------------------------------------------------

    def _enqueue(self, ds: Obj) -> None:
        self.queue.add(object_key(ds))

    def _ds_deleted(self, ds: Obj) -> None:
        self.expectations.forget(object_key(ds))

    def _owner_key(self, obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != KIND:
            return None
        key = f"{obj['metadata'].get('namespace')}/{ref.get('name')}"
        ds = self.sets.get(key)
        return key if ds is not None and ds["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, pod: Obj) -> list[str]:
        labels = pod["metadata"].get("labels") or {}
        return [object_key(d) for d in self.sets.by_index("namespace", pod["metadata"].get("namespace", ""))
                if self._selector(d).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed(key, added=True)
            self.queue.add(key)
        elif controller_of(pod) is None and not pod["metadata"].get("deletionTimestamp"):
            for k in self._matching(pod):
                self.queue.add(k)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            # a graceful deletion has begun: that is the deletion this controller waits to see
            # (upstream counts it, and the final removal, both as observed)
            self._pod_deleted(new)
            return
        for key in {self._owner_key(old), self._owner_key(new)} - {None}:
            assert key is not None
            self.queue.add(key)
            ds = self.sets.get(key)
            seconds = dsu.min_ready(ds) if ds else 0
            if seconds > 0 and not pod_is_ready(old) and pod_is_ready(new):
                self.queue.add_after(key, float(seconds))
        if controller_of(new) is None:
            for k in self._matching(new):
                self.queue.add(k)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed(key, added=False)
            self.queue.add(key)

    def _owned_changed(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _node_added(self, node: Obj) -> None:
        for ds in self.sets.list():
            if dsu.should_run(ds, node)[0]:
                self.queue.add(object_key(ds))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        """Only changes that can change a DaemonSet's mind matter: labels, taints, and (for
        the status' sake) none else."""
        if (old.get("metadata") or {}).get("labels") == (new.get("metadata") or {}).get("labels") and \
                (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints"):
            return
        for ds in self.sets.list():
            if dsu.should_run(ds, old) != dsu.should_run(ds, new):
                self.queue.add(object_key(ds))

    def _node_deleted(self, node: Obj) -> None:
        for ds in self.sets.list():
            self.queue.add(object_key(ds))

    # -- work ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(run_worker(self.queue, lambda k: self.sync(str(k)), log)
                               for _ in range(self.workers)))

    @staticmethod
    def _selector(ds: Obj) -> LabelSelector:
        return label_selector_from_dict((ds.get("spec") or {}).get("selector"))

    def _ref(self, ds: Obj) -> Obj:
        return controller_ref(ds, KIND, "apps/v1")

    async def sync(self, key: str) -> float | None:
        cached = self.sets.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        ds = copy.deepcopy(cached)
        ds.setdefault("apiVersion", "apps/v1")
        ds.setdefault("kind", KIND)
        selector = (ds.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            return None
        ns = ds["metadata"]["namespace"]
        nodes = self.nodes.list()
        revisions = await self._claim(ds, REVISIONS, self.revisions.claimable(ns, ds["metadata"]["uid"]))
        pods = await self._claim(ds, PODS, self.pods.claimable(ns, ds["metadata"]["uid"]))
        if ds["metadata"].get("deletionTimestamp"):
            return None
        current, old = await self._history(ds, revisions)
        hash_ = (current["metadata"].get("labels") or {}).get(history.REVISION_LABEL, "")
        now = self.now()
        if not self.expectations.satisfied(key):
            await self._write_status(ds, nodes, pods, hash_, now, observed=False)
            return None
        requeue, failure = await self._manage(ds, key, nodes, pods, hash_, now)
        if failure is None and self.expectations.satisfied(key) and dsu.is_rolling(ds):
            deletes, creates = dsu.rolling_update(ds, nodes, dsu.pods_by_node(pods), hash_, now)
            failure = await self._sync_nodes(ds, key, deletes, creates, hash_)
        if failure is None:
            await self._trim_history(ds, old, pods)
        status = await self._write_status(ds, nodes, pods, hash_, now, observed=True)
        if failure is not None:
            raise RuntimeError(failure)
        seconds = dsu.min_ready(ds)
        if seconds > 0 and status["numberReady"] != status["numberAvailable"]:
            requeue = float(seconds) if requeue is None else min(requeue, float(seconds))
        return requeue

    # -- ownership and history -------------------------------------------------------------------

    async def _claim(self, ds: Obj, resource: Resource, candidates: list[Obj]) -> list[Obj]:
        meta = ds["metadata"]
        selector = self._selector(ds)
        deleting = bool(meta.get("deletionTimestamp"))
        owned: list[Obj] = []
        for obj in candidates:
            ref = controller_of(obj)
            matches = selector.matches(obj["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != meta["uid"]:
                    continue
                if matches or deleting:
                    owned.append(obj)
                else:
                    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != meta["uid"]]
                    await self._patch(resource, obj, {"ownerReferences": refs or None})
            elif matches and not deleting and not obj["metadata"].get("deletionTimestamp"):
                adopted = await self._patch(resource, obj, {"ownerReferences": [
                    *(obj["metadata"].get("ownerReferences") or []), self._ref(ds)]})
                if adopted is not None:
                    owned.append(adopted)
        return owned

    async def _patch(self, resource: Resource, obj: Obj, meta_patch: Obj) -> Obj | None:
        meta = obj["metadata"]
        body = {"metadata": {**meta_patch, "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}}
        try:
            return await self.client.patch(resource, meta["name"], body, meta.get("namespace"), field_manager=MANAGER)
        except (errors.NotFound, errors.Conflict):
            return None

    async def _history(self, ds: Obj, revisions: list[Obj]) -> tuple[Obj, list[Obj]]:
        """(the current revision, the old ones), as upstream's constructHistory: revisions
        without the hash label get their name as hash; duplicates of the current one are
        merged into the newest (its pods relabelled first)."""
        labelled: list[Obj] = []
        for rev in revisions:
            if history.REVISION_LABEL not in (rev["metadata"].get("labels") or {}):
                body = copy.deepcopy(rev)
                body["metadata"].setdefault("labels", {})[history.REVISION_LABEL] = rev["metadata"]["name"]
                rev = await self.client.update(REVISIONS, body, field_manager=MANAGER)
            labelled.append(rev)
        data = history.template_patch(ds)
        same = history.find_equal(labelled, data)
        old = [r for r in labelled if not history.equal_data(r, data)]
        n = max((history.number(r) for r in old), default=0) + 1
        if not same:
            return await self._snapshot(ds, data, n), old
        current = same[-1]
        for dup in same[:-1]:
            await self._merge_duplicate(ds, dup, current)
        if history.number(current) < n:
            current = await self.client.update(REVISIONS, dict(copy.deepcopy(current), revision=n),
                                               field_manager=MANAGER)
        return current, old

    async def _snapshot(self, ds: Obj, data: Obj, n: int) -> Obj:
        collisions = (ds.get("status") or {}).get("collisionCount")
        template = (ds.get("spec") or {}).get("template") or {}
        h = history.revision_hash(template, collisions)
        wanted = history.new_revision(ds, KIND, "apps/v1", data, n, h, {history.REVISION_LABEL: h})
        try:
            return await self.client.create(REVISIONS, wanted, field_manager=MANAGER)
        except errors.AlreadyExists:
            existing = await self.client.get(REVISIONS, wanted["metadata"]["name"], ds["metadata"]["namespace"])
            if not history.is_collision(existing, wanted):
                return existing
            status = dict(ds.get("status") or {}, collisionCount=int(collisions or 0) + 1)
            await self.client.update(DAEMONSETS, dict(ds, status=status), subresource="status", field_manager=MANAGER)
            raise RuntimeError(f"hash collision for daemon set history {wanted['metadata']['name']}") from None

    async def _merge_duplicate(self, ds: Obj, dup: Obj, keep: Obj) -> None:
        dup_hash = (dup["metadata"].get("labels") or {}).get(history.REVISION_LABEL)
        keep_hash = (keep["metadata"].get("labels") or {}).get(history.REVISION_LABEL)
        for pod in self.pods.by_index("owner", ds["metadata"]["uid"]):
            if (pod["metadata"].get("labels") or {}).get(history.REVISION_LABEL) == dup_hash:
                await self._patch(PODS, pod, {"labels": {history.REVISION_LABEL: keep_hash}})
        try:
            await self.client.delete(REVISIONS, dup["metadata"]["name"], dup["metadata"]["namespace"])
        except errors.NotFound:
            pass

    async def _trim_history(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        """Old revisions beyond the limit go, oldest first, except those pods still run."""
        live_hashes = {(p["metadata"].get("labels") or {}).get(history.REVISION_LABEL) for p in pods}
        live = {r["metadata"]["name"] for r in old
                if (r["metadata"].get("labels") or {}).get(history.REVISION_LABEL) in live_hashes}
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        for rev in history.history_to_trim(old, live, limit, count_live=True):
            try:
                await self.client.delete(REVISIONS, rev["metadata"]["name"], rev["metadata"]["namespace"],
                                         preconditions={"uid": rev["metadata"]["uid"]})
            except (errors.NotFound, errors.Conflict):
                pass

    # -- pods --------------------------------------------------------------------------------------

    async def _manage(self, ds: Obj, key: str, nodes: list[Obj], pods: list[Obj], hash_: str,
                      now: datetime.datetime) -> tuple[float | None, str | None]:
        decided = dsu.manage(ds, nodes, dsu.pods_by_node(pods), hash_, self.backoff, now)
        self.backoff.forget_expired(now.timestamp())
        meta = ds["metadata"]
        for pod, node in decided.failed:
            self.events.event(ds, "Warning", "FailedDaemonPod",
                              f"Found failed daemon pod {meta['namespace']}/{pod['metadata']['name']} on node {node}, "
                              "will try to kill it")
        failure = await self._sync_nodes(ds, key, decided.delete, decided.create_on, hash_)
        # pods for nodes that are gone: no kubelet will ever finish them, so they go at once
        # (upstream leaves pods bound to such nodes to the pod garbage collector)
        for pod in decided.gone:
            await self._delete_pod(ds, key, pod, grace=0)
        return decided.requeue, failure

    async def _sync_nodes(self, ds: Obj, key: str, deletes: list[Obj], create_on: list[str], hash_: str) -> str | None:
        """Delete then create, creations in slow-start batches (1, 2, 4, ...)."""
        for pod in deletes:
            await self._delete_pod(ds, key, pod)
        template = dsu.pod_template(ds, hash_)
        batch, at = 1, 0
        while at < len(create_on):
            chunk = create_on[at:at + batch]
            self.expectations.expect(key, adds=len(chunk))
            results = await asyncio.gather(*(self._create_pod(ds, template, node) for node in chunk),
                                           return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            for _ in failures:
                self.expectations.observed(key, added=True)
            if failures:
                return str(failures[0])
            at += len(chunk)
            batch *= 2
        return None

    async def _create_pod(self, ds: Obj, template: Obj, node: str) -> None:
        pod = dsu.new_pod(ds, template, node, self._ref(ds))
        try:
            created = await self.client.create(PODS, pod, field_manager=MANAGER)
        except errors.ApiError as e:
            self.events.event(ds, "Warning", "FailedCreate", f"Error creating: {e}")
            raise
        self.events.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, ds: Obj, key: str, pod: Obj, grace: int | None = None) -> None:
        self.expectations.expect(key, deletes=1)
        try:
            await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"], grace_period=grace,
                                     preconditions={"uid": pod["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            self.expectations.observed(key, added=False)
            return
        except errors.ApiError as e:
            self.expectations.observed(key, added=False)
            self.events.event(ds, "Warning", "FailedDelete", f"Error deleting: {e}")
            raise
        self.events.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    async def _write_status(self, ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, now: datetime.datetime,
                            observed: bool) -> Obj:
        status = dsu.compute_status(ds, nodes, dsu.pods_by_node(pods), hash_, now, observed)
        if status == (ds.get("status") or {}):
            return status
        body = ds
        for _ in range(3):  # our cache is often one (own) status write behind: retry on the live object
            try:
                await self.client.update(DAEMONSETS, dict(body, status=status), subresource="status",
                                         field_manager=MANAGER)
                break
            except errors.NotFound:
                break
            except errors.Conflict:
                body = await self.client.get(DAEMONSETS, ds["metadata"]["name"], ds["metadata"]["namespace"])
                if body["metadata"].get("generation") != ds["metadata"].get("generation") or \
                        body["metadata"].get("uid") != ds["metadata"].get("uid"):
                    break  # the spec changed: the sync that change triggers writes the status
        return status
