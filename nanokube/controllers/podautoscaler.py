"""The HorizontalPodAutoscaler controller (autoscaling/v2).

Every `sync_period` (15 s) each autoscaler reads its target's scale subresource, keeps the
replicas within minReplicas..maxReplicas, and otherwise scales on its metrics: Resource and
ContainerResource metrics from the resource metrics API (metrics.k8s.io), Pods and Object
metrics from custom.metrics.k8s.io, External from external.metrics.k8s.io. Where the API a
metric needs is not served, it says so in the ScalingActive condition and an event, and
leaves the replicas alone - it never guesses. Scale-down waits for the stabilization window
(300 s by default) and scale-up follows the default policies (double, or +4 pods, per 15 s),
or the autoscaler's own `behavior`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..api import errors, quantity
from ..api.registry import Registry, Resource
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key
from ..client.rest import Client, path_for
from ..api import timestamps

log = logging.getLogger("nanokube.controllers.podautoscaler")

_REG = Registry()
HPAS = _REG.require("autoscaling", "v2", "horizontalpodautoscalers")
TOLERANCE = 0.1
Obj = dict[str, Any]


# -- pure decisions ------------------------------------------------------------------------------


def replicas_for_ratio(ratio: float, ready_pods: int, current: int) -> int:
    """Upstream's rule: within 10% of the target, keep the current count; else scale the
    ready pods by the ratio, rounding up."""
    if abs(ratio - 1.0) <= TOLERANCE:
        return current
    return max(1, math.ceil(ratio * ready_pods))


def utilization_ratio(usage: dict[str, Fraction], requests: dict[str, Fraction], target_percent: int) -> float:
    """usage/requests over the pods that have both, against a target utilization."""
    pods = [p for p in usage if requests.get(p)]
    if not pods:
        raise ValueError("missing request for the resource on every pod")
    total_usage = sum(usage[p] for p in pods)
    total_requests = sum(requests[p] for p in pods)
    return float(total_usage * 100 / total_requests) / target_percent


def _window(rules: Obj, default: int) -> int:
    value = rules.get("stabilizationWindowSeconds")
    return default if value is None else int(value)


def stabilized(recommendations: list[tuple[float, int]], now: float, desired: int, current: int,
               behavior: Obj) -> int:
    """Stabilization: scale up only to the lowest, and down only to the highest, count
    recommended within that direction's window (scale-down 300 s, scale-up 0 s by
    default), so a brief dip or spike does not make the replicas flap."""
    up_window = _window(behavior.get("scaleUp") or {}, 0)
    down_window = _window(behavior.get("scaleDown") or {}, 300)
    up = min([r for t, r in recommendations if now - t <= up_window] + [desired])
    down = max([r for t, r in recommendations if now - t <= down_window] + [desired])
    return min(max(current, up), down)


def rate_limited(desired: int, current: int, behavior: Obj) -> int:
    """Apply the policies of the direction (default: up by 100% or 4 pods per period,
    whichever is more; down by 100%)."""
    if desired > current:
        rules = behavior.get("scaleUp") or {}
        policies = rules.get("policies") or [{"type": "Percent", "value": 100}, {"type": "Pods", "value": 4}]
        if rules.get("selectPolicy") == "Disabled":
            return current
        limits = [current + (int(p["value"]) if p.get("type") == "Pods" else math.ceil(current * p["value"] / 100))
                  for p in policies]
        pick = min if rules.get("selectPolicy") == "Min" else max
        return min(desired, int(pick(limits)))
    if desired < current:
        rules = behavior.get("scaleDown") or {}
        policies = rules.get("policies") or [{"type": "Percent", "value": 100}]
        if rules.get("selectPolicy") == "Disabled":
            return current
        limits = [current - (int(p["value"]) if p.get("type") == "Pods" else math.floor(current * p["value"] / 100))
                  for p in policies]
        pick = max if rules.get("selectPolicy") == "Min" else min
        return max(desired, int(pick(limits)))
    return current


# -- the controller -----------------------------------------------------------------------------


class MetricsUnavailable(Exception):
    """The metric could not be read; `reason` is upstream's condition/event reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _History:
    recommendations: list[tuple[float, int]] = field(default_factory=list)


class PodAutoscalerController:
    name = "horizontalpodautoscaling"

    def __init__(self, client: Client, hpas: Informer, sync_period: float = 15.0,
                 clock: Callable[[], float] | None = None) -> None:
        self.client = client
        self.hpas = hpas
        self.sync_period = sync_period
        self.clock = clock or time.monotonic
        self.events = EventRecorder(client, "horizontal-pod-autoscaler")
        self._history: dict[str, _History] = {}
        self._wake = asyncio.Event()
        hpas.add_handlers(lambda o: self._wake.set(), self._updated, self._forget)

    def _updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec"):
            self._wake.set()

    def _forget(self, hpa: Obj) -> None:
        self._history.pop(object_key(hpa), None)

    async def run(self) -> None:
        while True:
            for hpa in self.hpas.list():
                try:
                    await self.sync(hpa)
                except Exception as e:  # one autoscaler's failure must not stop the others
                    log.warning("autoscaler sync failed hpa=%s error=%s", object_key(hpa), e)
            try:
                await asyncio.wait_for(self._wake.wait(), self.sync_period)
            except TimeoutError:
                pass
            self._wake.clear()

    def _target(self, hpa: Obj) -> Resource | None:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        group, _, version = str(ref.get("apiVersion", "")).rpartition("/")
        return next((r for r in _REG.all() if r.group == group and (not version or r.version == version)
                     and r.kind == ref.get("kind") and r.subresource("scale")), None)

    async def sync(self, hpa: Obj) -> None:
        spec = hpa.get("spec") or {}
        ns = hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        target = self._target(hpa)
        conditions: dict[str, tuple[str, str, str]] = {}
        status: Obj = dict(hpa.get("status") or {})
        if target is None:
            msg = f"the HPA controller was unable to get the target's current scale: no scale subresource for {ref.get('kind')}"
            return await self._finish(hpa, status, {"AbleToScale": ("False", "FailedGetScale", msg)}, "FailedGetScale", msg)
        try:
            scale = await self.client.get(target, str(ref.get("name")), ns, subresource="scale")
        except errors.ApiError as e:
            msg = f"the HPA controller was unable to get the target's current scale: {e}"
            return await self._finish(hpa, status, {"AbleToScale": ("False", "FailedGetScale", msg)}, "FailedGetScale", msg)
        want = int((scale.get("spec") or {}).get("replicas") or 0)
        current = int((scale.get("status") or {}).get("replicas") or 0)
        low, high = int(spec.get("minReplicas") or 1), int(spec["maxReplicas"])
        status["currentReplicas"] = current
        conditions["AbleToScale"] = ("True", "SucceededGetScale", "the HPA controller was able to get the target's current scale")
        warning: tuple[str, str] | None = None
        reason = ""
        if want == 0 and low != 0:
            desired = 0
            conditions["ScalingActive"] = ("False", "ScalingDisabled",
                                           "scaling is disabled since the replica count of the target is zero")
        elif want > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif want < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            try:
                proposal, metric_name, metrics = await self._from_metrics(hpa, scale, want)
            except MetricsUnavailable as e:
                msg = f"the HPA was unable to compute the replica count: {e}"
                conditions["ScalingActive"] = ("False", e.reason, msg)
                self.events.event(hpa, "Warning", e.reason, str(e))
                self.events.event(hpa, "Warning", "FailedComputeMetricsReplicas", f"invalid metrics, first error is: {e}")
                status["desiredReplicas"] = want
                return await self._finish(hpa, status, conditions, None, None)
            status["currentMetrics"] = metrics
            conditions["ScalingActive"] = ("True", "ValidMetricFound",
                                           f"the HPA was able to successfully calculate a replica count from {metric_name}")
            desired = self._normalize(hpa, proposal, want, conditions)
            reason = f"{metric_name} above target" if desired > want else "All metrics below target"
        if "ScalingLimited" not in conditions:
            conditions["ScalingLimited"] = ("False", "DesiredWithinRange", "the desired count is within the acceptable range")
        if desired != want and desired >= 0:
            try:
                await self.client.update(target, dict(scale, spec=dict(scale.get("spec") or {}, replicas=desired)),
                                         subresource="scale", field_manager="horizontal-pod-autoscaler")
            except errors.ApiError as e:
                msg = f"the HPA controller was unable to update the target scale: {e}"
                conditions["AbleToScale"] = ("False", "FailedUpdateScale", msg)
                warning = ("FailedRescale", f"New size: {desired}; reason: {reason}; error: {e}")
            else:
                self.events.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
                status["lastScaleTime"] = timestamps.now()
                conditions["AbleToScale"] = ("True", "SucceededRescale",
                                             f"the HPA controller was able to update the target scale to {desired}")
        status["desiredReplicas"] = desired
        await self._finish(hpa, status, conditions, *(warning or (None, None)))

    def _normalize(self, hpa: Obj, proposal: int, current: int, conditions: dict[str, tuple[str, str, str]]) -> int:
        spec = hpa.get("spec") or {}
        behavior = spec.get("behavior") or {}
        low, high = int(spec.get("minReplicas") or 1), int(spec["maxReplicas"])
        history = self._history.setdefault(object_key(hpa), _History())
        now = self.clock()
        history.recommendations = [(t, r) for t, r in history.recommendations if now - t <= 3600]
        desired = stabilized(history.recommendations, now, proposal, current, behavior)
        history.recommendations.append((now, proposal))
        desired = rate_limited(desired, current, behavior)
        if desired > high:
            conditions["ScalingLimited"] = ("True", "TooManyReplicas", "the desired replica count is more than the maximum replica count")
            desired = high
        elif desired < low:
            conditions["ScalingLimited"] = ("True", "TooFewReplicas", "the desired replica count is less than the minimum replica count")
            desired = low
        return desired

    async def _from_metrics(self, hpa: Obj, scale: Obj, current: int) -> tuple[int, str, list[Obj]]:
        """The largest replica count any metric proposes, the metric that proposed it, and
        status.currentMetrics."""
        ns = hpa["metadata"]["namespace"]
        selector = (scale.get("status") or {}).get("selector") or ""
        best, best_name, reported = -1, "", []
        for metric in (hpa.get("spec") or {}).get("metrics") or []:
            kind = metric.get("type")
            if kind not in ("Resource", "ContainerResource"):
                api = "external.metrics.k8s.io" if kind == "External" else "custom.metrics.k8s.io"
                reasons = {"Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                           "External": "FailedGetExternalMetric"}
                raise MetricsUnavailable(reasons.get(str(kind), "InvalidMetricSourceType"),
                                         f"unable to get metric of type {kind}: no metrics API {api} is served")
            source = metric.get("resource" if kind == "Resource" else "containerResource") or {}
            name = source.get("name", "")
            container = source.get("container") if kind == "ContainerResource" else None
            usage = await self._pod_usage(ns, selector, name, container)
            requests = await self._pod_requests(ns, selector, name, container)
            target = source.get("target") or {}
            ready = len(usage)
            if target.get("type") == "AverageValue":
                average = sum(usage.values(), Fraction(0)) / max(ready, 1)
                ratio = float(average / quantity.parse(target["averageValue"]))
                current_metric: Obj = {"averageValue": quantity.format(average)}
            else:
                percent = int(target.get("averageUtilization") or 80)
                try:
                    ratio = utilization_ratio(usage, requests, percent)
                except ValueError as e:
                    raise MetricsUnavailable("FailedGetResourceMetric", f"failed to get {name} utilization: {e}") from None
                current_metric = {"averageUtilization": round(ratio * percent),
                                  "averageValue": quantity.format(sum(usage.values(), Fraction(0)) / max(ready, 1))}
            proposal = replicas_for_ratio(ratio, ready, current)
            reported.append({"type": kind, "resource" if kind == "Resource" else "containerResource":
                             {"name": name, **({"container": container} if container else {}), "current": current_metric}})
            if proposal > best:
                best, best_name = proposal, f"{kind.lower()} resource {name}" if kind == "Resource" else f"container resource {name}"
        if best < 0:
            raise MetricsUnavailable("InvalidMetricSourceType", "no metrics to scale on")
        return best, best_name, reported

    async def _pod_usage(self, ns: str, selector: str, resource: str, container: str | None) -> dict[str, Fraction]:
        try:
            doc = await self.client.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
                                            params={"labelSelector": selector})
        except errors.ApiError as e:
            raise MetricsUnavailable("FailedGetResourceMetric",
                                     f"failed to get {resource} utilization: unable to get metrics for resource "
                                     f"{resource}: unable to fetch metrics from resource metrics API: {e}") from None
        out: dict[str, Fraction] = {}
        for item in doc.get("items") or []:
            total = Fraction(0)
            for c in item.get("containers") or []:
                if container is None or c.get("name") == container:
                    total += quantity.parse((c.get("usage") or {}).get(resource, "0"))
            out[item["metadata"]["name"]] = total
        if not out:
            raise MetricsUnavailable("FailedGetResourceMetric",
                                     f"failed to get {resource} utilization: unable to get metrics for resource "
                                     f"{resource}: no metrics returned from resource metrics API")
        return out

    async def _pod_requests(self, ns: str, selector: str, resource: str, container: str | None) -> dict[str, Fraction]:
        pods = await self.client.request("GET", path_for(_REG.require("", "v1", "pods"), ns),
                                         params={"labelSelector": selector})
        out: dict[str, Fraction] = {}
        for pod in pods.get("items") or []:
            total = Fraction(0)
            for c in (pod.get("spec") or {}).get("containers") or []:
                if container is None or c.get("name") == container:
                    value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
                    total += quantity.parse(value) if value is not None else 0
            out[pod["metadata"]["name"]] = total
        return out

    async def _finish(self, hpa: Obj, status: Obj, conditions: dict[str, tuple[str, str, str]],
                      warning_reason: str | None, warning_message: str | None) -> None:
        if warning_reason and warning_message:
            self.events.event(hpa, "Warning", warning_reason, warning_message)
        old = {c.get("type"): c for c in (hpa.get("status") or {}).get("conditions") or []}
        out = []
        for kind in ("AbleToScale", "ScalingActive", "ScalingLimited"):
            if kind not in conditions:
                if kind in old:
                    out.append(old[kind])
                continue
            st, reason, message = conditions[kind]
            prev = old.get(kind)
            since = prev["lastTransitionTime"] if prev and prev.get("status") == st else timestamps.now()
            out.append({"type": kind, "status": st, "reason": reason, "message": message, "lastTransitionTime": since})
        status = dict(status, conditions=out, observedGeneration=hpa["metadata"].get("generation", 1))
        status.setdefault("desiredReplicas", status.get("currentReplicas", 0))
        status.setdefault("currentReplicas", 0)
        if status == (hpa.get("status") or {}):
            return
        try:
            await self.client.update(HPAS, dict(hpa, status=status), subresource="status",
                                     field_manager="horizontal-pod-autoscaler")
        except (errors.NotFound, errors.Conflict):
            pass  # the next period writes it


