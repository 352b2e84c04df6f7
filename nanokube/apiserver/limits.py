"""Admission for a namespace's resource limits: LimitRanger and ResourceQuota.

LimitRanger (mutating, on create) fills in default requests and limits from the namespace's
LimitRanges and refuses pods and claims outside their min, max and ratio. ResourceQuota
(validating, after validation, on create) refuses an object whose usage would take any quota
of its namespace over a hard limit, and otherwise charges it to the quota's status.used with
compare-and-swap, so concurrent creates cannot both take the last unit; the quota controller
later recounts from the objects themselves (releasing what deleted objects used). Both answer
403 Forbidden, as upstream.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api import errors
from ..api import limitrange as lr
from ..api import quota as q
from ..api.registry import Resource
from .objects import Objects, WriteOptions

Obj = dict[str, Any]
LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"


def _forbidden(r: Resource, obj: Obj, message: str) -> errors.Forbidden:
    name = obj["metadata"].get("name", "")
    return errors.Forbidden(f'{r.plural} "{name}" is forbidden: {message}', name=name, group=r.group, kind=r.plural)


def _aggregate(messages: list[str]) -> str:
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


class LimitsAdmission:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        reg = objects.registry
        self.limit_ranges = reg.require("", "v1", "limitranges")
        self.quotas = reg.require("", "v1", "resourcequotas")

    def install(self) -> None:
        self.objects.admit.append(self.limit_ranger)
        self.objects.validating_admit.append(self.resource_quota)

    def _in_namespace(self, r: Resource, ns: str) -> list[Obj]:
        return [o.obj for o in self.objects.cache.list(r.key(None), ns)]

    async def limit_ranger(self, r: Resource, obj: Obj, old: Obj | None, opts: WriteOptions) -> Obj:
        if old is not None or opts.subresource or r.group != "" or r.plural not in ("pods", "persistentvolumeclaims"):
            return obj
        ranges = self._in_namespace(self.limit_ranges, obj["metadata"].get("namespace") or "")
        if not ranges:
            return obj
        if r.plural == "persistentvolumeclaims":
            errs = lr.claim_violations(obj, ranges)
        else:
            obj, notes = lr.apply_defaults(obj, ranges)
            if notes:
                annotations = obj["metadata"].setdefault("annotations", {})
                annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
            errs = lr.pod_violations(obj, ranges)
        if errs:
            raise _forbidden(r, obj, _aggregate(errs))
        return obj

    async def resource_quota(self, r: Resource, obj: Obj, old: Obj | None, opts: WriteOptions) -> Obj:
        if old is not None or opts.subresource or not r.namespaced or (r.plural == "resourcequotas" and r.group == ""):
            return obj
        ns = obj["metadata"].get("namespace") or ""
        quotas = [o for o in self._in_namespace(self.quotas, ns) if q.quota_applies(o, r.group, r.plural, obj)]
        if not quotas:
            return obj
        name = obj["metadata"].get("name", "")
        if await self.objects.current(r, ns, name) is not None:
            raise errors.already_exists(r.plural, name, r.group)  # before charging for it
        use = q.usage(r.group, r.plural, obj)
        for quota in quotas:
            hard = (quota.get("spec") or {}).get("hard") or {}
            if r.group == "" and r.plural == "pods" and not q.pod_terminal(obj):
                missing = q.missing_specs(hard, obj)
                if missing:
                    raise _forbidden(r, obj, f"failed quota: {quota['metadata']['name']}: must specify "
                                     + "; ".join(missing))
            charge = q.tracked(hard, use)
            if not charge:
                continue
            await self._charge(r, obj, quota, charge, opts.dry_run)
        return obj

    async def _charge(self, r: Resource, obj: Obj, quota: Obj, charge: dict[str, Any], dry_run: bool) -> None:
        qname = quota["metadata"]["name"]

        def mutate(cur: Obj | None) -> Obj:
            if cur is None:
                raise errors.Forbidden(f'{r.plural} "{obj["metadata"].get("name", "")}" is forbidden: '
                                       f"quota {qname} was deleted meanwhile")
            hard = (cur.get("spec") or {}).get("hard") or {}
            status = cur.setdefault("status", {})
            used = status.get("used") or {}
            unknown = sorted(k for k in charge if k not in (status.get("hard") or {}) or k not in used)
            if unknown:
                raise _forbidden(r, obj, f"status unknown for quota: {qname}, resources: {','.join(unknown)}")
            over = q.exceeded(hard, used, charge)
            if over:
                raise _forbidden(r, obj, f"exceeded quota: {qname}, requested: {q.render(charge, over, hard)}, "
                                         f"used: {q.render(used, over, hard)}, limited: {q.render(hard, over, hard)}")
            status["used"] = q.add_usage(used, charge, hard)
            return cur

        if dry_run:
            current = self.objects.cache.get(self.quotas.key(quota["metadata"]["namespace"], qname))
            if current is not None:
                mutate(copy.deepcopy(current.obj))
            return
        await self.objects.update(self.quotas, quota["metadata"]["namespace"], qname, mutate,
                                  WriteOptions(subresource="status", manager="resourcequota-admission"))
