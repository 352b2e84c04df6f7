"""pods/eviction: delete a pod only if its PodDisruptionBudget allows it (what `kubectl
drain` uses).

A pod that is not running yet, already finished or already being deleted may always go. A
running pod under a budget spends one of its status.disruptionsAllowed: the budget's status
is written first (compare-and-swap, the pod remembered in disruptedPods) so two evictions can
never spend the same unit; then the pod gets the DisruptionTarget condition and is deleted. A
pod that is not ready may go when the budget's unhealthyPodEvictionPolicy is AlwaysAllow, or
when the application is healthy enough anyway (IfHealthyBudget). Refusals are 429 with the
DisruptionBudget cause, which kubectl drain retries.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..api import disruption as budget
from ..api import errors
from . import negotiation, paths
from .objects import DeleteOptions, WriteOptions

if TYPE_CHECKING:
    from .handlers import ResourceHandler

Obj = dict[str, Any]


def _refused(message: str, cause: str) -> errors.TooManyRequests:
    return errors.TooManyRequests(message, causes=[{"reason": "DisruptionBudget", "message": cause}])


async def evict(h: ResourceHandler, request: web.Request, t: paths.Target) -> web.StreamResponse:
    from .handlers import read_body, respond

    assert t.name is not None and t.namespace is not None
    body = negotiation.decode_body(request.headers.get("Content-Type"), await read_body(request))
    if (body.get("metadata") or {}).get("name") not in (None, t.name):
        raise errors.BadRequest("name in URL does not match name in Eviction object")
    delete_opts = body.get("deleteOptions") or {}
    preconditions = delete_opts.get("preconditions") or {}
    dry_run = bool(delete_opts.get("dryRun")) or request.query.get("dryRun") == "All"
    objects = h.ctx.objects
    pod = (await objects.get(t.resource, t.namespace, t.name)).obj
    status = pod.get("status") or {}
    exempt = status.get("phase") in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp")
    pdbs = h.ctx.registry.require("policy", "v1", "poddisruptionbudgets")
    if not exempt:
        matching = [o.obj for o in h.ctx.cache.list(pdbs.key(None), t.namespace) if budget.selects(o.obj, pod)]
        if len(matching) > 1:
            raise errors.InternalError(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        if matching:
            await _spend(h, pdbs, matching[0], pod, dry_run)
    if not dry_run:
        await _mark_disruption_target(h, t, pod)
    opts = DeleteOptions(grace_period=delete_opts.get("gracePeriodSeconds"), dry_run=dry_run,
                         precondition_uid=preconditions.get("uid"),
                         precondition_rv=preconditions.get("resourceVersion"))
    await objects.delete(t.resource, t.namespace, t.name, opts)
    return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)


async def _spend(h: ResourceHandler, pdbs: Any, pdb: Obj, pod: Obj, dry_run: bool) -> None:
    name = pdb["metadata"]["name"]
    ready = budget.pod_ready(pod)

    def mutate(cur: Obj | None) -> Obj:
        if cur is None:  # gone meanwhile: nothing to respect
            raise _Skip
        st = cur.setdefault("status", {})
        if int(st.get("observedGeneration") or 0) < int(cur["metadata"].get("generation") or 1):
            raise _refused("Cannot evict pod as it would violate the pod's disruption budget.",
                           f"The disruption budget {name} is still being processed by the server.")
        current, desired = int(st.get("currentHealthy") or 0), int(st.get("desiredHealthy") or 0)
        if not ready:
            policy = (cur.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            if policy == "AlwaysAllow" or current >= desired > 0:
                raise _Skip  # an unready pod does not spend the budget
            raise _refused("Cannot evict pod as it would violate the pod's disruption budget.",
                           f"The disruption budget {name} does not allow evicting pods currently")
        if int(st.get("disruptionsAllowed") or 0) <= 0:
            raise _refused("Cannot evict pod as it would violate the pod's disruption budget.",
                           f"The disruption budget {name} needs {desired} healthy pods and has {current} currently")
        st["disruptionsAllowed"] = int(st["disruptionsAllowed"]) - 1
        pods = dict(st.get("disruptedPods") or {})
        pods[pod["metadata"]["name"]] = h.ctx.objects.now()
        st["disruptedPods"] = pods
        return cur

    try:
        if dry_run:
            current = h.ctx.cache.get(pdbs.key(pdb["metadata"]["namespace"], name))
            if current is not None:
                mutate(copy.deepcopy(current.obj))
            return
        await h.ctx.objects.update(pdbs, pdb["metadata"]["namespace"], name, mutate,
                                   WriteOptions(subresource="status", manager="kube-apiserver"))
    except _Skip:
        pass


class _Skip(Exception):
    """The budget has no say over this eviction."""


async def _mark_disruption_target(h: ResourceHandler, t: paths.Target, pod: Obj) -> None:
    assert t.namespace is not None and t.name is not None
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return

    def mutate(cur: Obj | None) -> Obj:
        if cur is None:
            raise errors.not_found("pods", str(t.name))
        st = cur.setdefault("status", {})
        conds = [c for c in st.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                      "message": "Eviction API: evicting", "lastTransitionTime": h.ctx.objects.now()})
        st["conditions"] = conds
        return cur

    await h.ctx.objects.update(t.resource, t.namespace, t.name, mutate,
                               WriteOptions(subresource="status", manager="kube-apiserver"))
