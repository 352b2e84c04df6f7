"""Rows of the workload kinds: controllers of pods, jobs, autoscalers and disruption budgets.

Replica counts are printed as integers even where upstream declares the column a string;
the READY of deployments and stateful sets is `ready/desired`. An absent `spec.replicas`
is the API default of 1.
"""

from __future__ import annotations

import datetime
from typing import Any

from .base import (
    AGE, CONTAINERS, IMAGES, NAME, Cells, Obj, Printer, age, between, bool_word, col, containers, d, format_labels,
    format_selector, g, int_or_string, lst, n, name_of, parse_time, quantity_string, ref, s, selector_string, since,
    wide,
)

# -- replica controllers ----------------------------------------------------------------------


def _rc(o: Obj, now: datetime.datetime) -> Cells:
    names, images = containers(g(o, "spec", "template", "spec"))
    return [name_of(o), n(o, "spec", "replicas", default=1), n(o, "status", "replicas"),
            n(o, "status", "readyReplicas"), age(o, now), names, images, format_labels(g(o, "spec", "selector"))]


REPLICATION_CONTROLLER = Printer((
    NAME,
    col("Desired", "integer", ref("core.v1.ReplicationControllerSpec", "replicas")),
    col("Current", "integer", ref("core.v1.ReplicationControllerStatus", "replicas")),
    col("Ready", "integer", ref("core.v1.ReplicationControllerStatus", "readyReplicas")),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("core.v1.ReplicationControllerSpec", "selector")),
), _rc)


def _rs(o: Obj, now: datetime.datetime) -> Cells:
    names, images = containers(g(o, "spec", "template", "spec"))
    return [name_of(o), n(o, "spec", "replicas", default=1), n(o, "status", "replicas"),
            n(o, "status", "readyReplicas"), age(o, now), names, images, format_selector(g(o, "spec", "selector"))]


REPLICA_SET = Printer((
    NAME,
    col("Desired", "integer", ref("apps.v1.ReplicaSetSpec", "replicas")),
    col("Current", "integer", ref("apps.v1.ReplicaSetStatus", "replicas")),
    col("Ready", "integer", ref("apps.v1.ReplicaSetStatus", "readyReplicas")),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("apps.v1.ReplicaSetSpec", "selector")),
), _rs)


def _deployment(o: Obj, now: datetime.datetime) -> Cells:
    names, images = containers(g(o, "spec", "template", "spec"))
    return [name_of(o), f"{n(o, 'status', 'readyReplicas')}/{n(o, 'spec', 'replicas', default=1)}",
            n(o, "status", "updatedReplicas"), n(o, "status", "availableReplicas"), age(o, now), names, images,
            selector_string(g(o, "spec", "selector"), invalid="<invalid>")]


DEPLOYMENT = Printer((
    NAME,
    col("Ready", doc="How many of the desired pods are ready."),
    col("Up-to-date", doc=ref("apps.v1.DeploymentStatus", "updatedReplicas")),
    col("Available", doc=ref("apps.v1.DeploymentStatus", "availableReplicas")),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("apps.v1.DeploymentSpec", "selector")),
), _deployment)


def _statefulset(o: Obj, now: datetime.datetime) -> Cells:
    names, images = containers(g(o, "spec", "template", "spec"))
    return [name_of(o), f"{n(o, 'status', 'readyReplicas')}/{n(o, 'spec', 'replicas', default=1)}",
            age(o, now), names, images]


STATEFUL_SET = Printer((
    NAME, col("Ready", doc="How many of the desired pods are ready."), AGE, CONTAINERS, IMAGES,
), _statefulset)


def _daemonset(o: Obj, now: datetime.datetime) -> Cells:
    tmpl = g(o, "spec", "template", "spec")
    names, images = containers(tmpl)
    st = d(o, "status")
    return [name_of(o), n(st, "desiredNumberScheduled"), n(st, "currentNumberScheduled"), n(st, "numberReady"),
            n(st, "updatedNumberScheduled"), n(st, "numberAvailable"), format_labels(g(tmpl, "nodeSelector")),
            age(o, now), names, images, format_selector(g(o, "spec", "selector"))]


DAEMON_SET = Printer((
    NAME,
    col("Desired", "integer", ref("apps.v1.DaemonSetStatus", "desiredNumberScheduled")),
    col("Current", "integer", ref("apps.v1.DaemonSetStatus", "currentNumberScheduled")),
    col("Ready", "integer", ref("apps.v1.DaemonSetStatus", "numberReady")),
    col("Up-to-date", "integer", ref("apps.v1.DaemonSetStatus", "updatedNumberScheduled")),
    col("Available", "integer", ref("apps.v1.DaemonSetStatus", "numberAvailable")),
    col("Node Selector", doc=ref("core.v1.PodSpec", "nodeSelector")),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("apps.v1.DaemonSetSpec", "selector")),
), _daemonset)


def _controller_of(o: Obj) -> str:
    for r in lst(o, "metadata", "ownerReferences"):
        if isinstance(r, dict) and r.get("controller") is True:
            api_version, kind = s(r, "apiVersion"), s(r, "kind")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            if not group and not kind:
                return s(r, "name")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{s(r, 'name')}"
    return "<none>"


CONTROLLER_REVISION = Printer((
    NAME,
    col("Controller", doc="The object that owns this revision."),
    col("Revision", doc=ref("apps.v1.ControllerRevision", "revision")),
    AGE,
), lambda o, now: [name_of(o), _controller_of(o), n(o, "revision"), age(o, now)])


def _pod_template(o: Obj, now: datetime.datetime) -> Cells:
    names, images = containers(g(o, "template", "spec"))
    return [name_of(o), names, images, format_labels(g(o, "template", "metadata", "labels"))]


POD_TEMPLATE = Printer((
    NAME,
    col("Containers", doc="The names of the containers in the template."),
    col("Images", doc="The images the template's containers run."),
    col("Pod Labels", doc="The labels pods made from the template get."),
), _pod_template)


# -- jobs -------------------------------------------------------------------------------------


def _has_condition(o: Obj, kind: str) -> bool:
    """Whether the first condition of this type is True (later duplicates do not count)."""
    for c in lst(o, "status", "conditions"):
        if isinstance(c, dict) and c.get("type") == kind:
            return bool(c.get("status") == "True")
    return False


def job_status(o: Obj) -> str:
    """The STATUS word of a job, in upstream's order of precedence (1.33 has no SuccessCriteriaMet)."""
    if _has_condition(o, "Complete"):
        return "Complete"
    if _has_condition(o, "Failed"):
        return "Failed"
    if g(o, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    if _has_condition(o, "Suspended"):
        return "Suspended"
    if _has_condition(o, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job(o: Obj, now: datetime.datetime) -> Cells:
    spec, st = d(o, "spec"), d(o, "status")
    succeeded = n(st, "succeeded")
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{n(spec, 'completions')}"
    elif n(spec, "parallelism") > 1:
        completions = f"{succeeded}/1 of {n(spec, 'parallelism')}"
    else:
        completions = f"{succeeded}/1"
    start = parse_time(st.get("startTime"))
    end = parse_time(st.get("completionTime"))
    duration = "" if start is None else between(start, end or now)
    names, images = containers(g(spec, "template", "spec"))
    return [name_of(o), job_status(o), completions, duration, age(o, now), names, images,
            format_selector(spec.get("selector"))]


JOB = Printer((
    NAME,
    col("Status", doc="A one-word summary of the job's conditions."),
    col("Completions", doc=ref("batch.v1.JobStatus", "succeeded")),
    col("Duration", doc="How long the job ran, or has been running."),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("batch.v1.JobSpec", "selector")),
), _job)


def _cronjob(o: Obj, now: datetime.datetime) -> Cells:
    spec, st = d(o, "spec"), d(o, "status")
    job_spec = g(spec, "jobTemplate", "spec")
    names, images = containers(g(job_spec, "template", "spec"))
    last = "<none>" if st.get("lastScheduleTime") is None else since(st.get("lastScheduleTime"), now)
    zone = spec.get("timeZone")
    return [name_of(o), s(spec, "schedule"), zone if isinstance(zone, str) else "<none>",
            bool_word(spec.get("suspend")), len(lst(st, "active")), last, age(o, now), names, images,
            format_selector(g(job_spec, "selector"))]


CRON_JOB = Printer((
    NAME,
    col("Schedule", doc=ref("batch.v1.CronJobSpec", "schedule")),
    col("Timezone", doc=ref("batch.v1.CronJobSpec", "timeZone")),
    col("Suspend", "boolean", ref("batch.v1.CronJobSpec", "suspend")),
    col("Active", "integer", ref("batch.v1.CronJobStatus", "active")),
    col("Last Schedule", doc=ref("batch.v1.CronJobStatus", "lastScheduleTime")),
    AGE, CONTAINERS, IMAGES,
    wide("Selector", doc=ref("batch.v1.JobSpec", "selector")),
), _cronjob)


# -- autoscalers and budgets ------------------------------------------------------------------


def _v2_metrics(o: Obj) -> tuple[list[Any], list[Any]]:
    """The metric specs and statuses of an HPA in either served version (v1 has only CPU)."""
    spec, st = d(o, "spec"), d(o, "status")
    v1_fields = "targetCPUUtilizationPercentage" in spec or "currentCPUUtilizationPercentage" in st
    is_v1 = o.get("apiVersion") == "autoscaling/v1" or (v1_fields and "metrics" not in spec)
    if not is_v1:
        return lst(spec, "metrics"), lst(st, "currentMetrics")
    metrics: list[Any] = []
    current: list[Any] = []
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        metrics = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    util = st.get("currentCPUUtilizationPercentage")
    if util is not None:
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util}}}]
    return metrics, current


def _q(v: Any) -> str:
    """A quantity held by pointer: Go prints a missing one as `<nil>`."""
    return "<nil>" if v is None else quantity_string(v)


def _value_or_average(source: Any, status: Any) -> str:
    """External and Object metrics: `current/target (avg)` for average targets, else plain values."""
    target = d(source, "target")
    if target.get("averageValue") is not None:
        cur = "<unknown>"
        if status is not None and g(status, "current", "averageValue") is not None:
            cur = quantity_string(g(status, "current", "averageValue"))
        return f"{cur}/{quantity_string(target['averageValue'])} (avg)"
    cur = "<unknown>" if status is None else _q(g(status, "current", "value"))
    return f"{cur}/{_q(target.get('value'))}"


def _resource_metric(source: Any, status: Any) -> str:
    target = d(source, "target")
    name = s(source, "name")
    if target.get("averageValue") is not None:
        cur = "<unknown>" if status is None else _q(g(status, "current", "averageValue"))
        return f"{name}: {cur}/{quantity_string(target['averageValue'])}"
    cur = "<unknown>"
    if status is not None and g(status, "current", "averageUtilization") is not None:
        cur = f"{n(status, 'current', 'averageUtilization')}%"
    want = "<auto>" if target.get("averageUtilization") is None else f"{n(target, 'averageUtilization')}%"
    return f"{name}: {cur}/{want}"


_MEMBER = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
           "ContainerResource": "containerResource"}


def format_hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """TARGETS: each metric as `current/target`, matched to the status at the same position."""
    if not specs:
        return "<none>"
    out: list[str] = []
    for i, spec in enumerate(specs):
        kind = s(spec, "type")
        member = _MEMBER.get(kind)
        source = g(spec, member) if member else None
        status = g(statuses[i], member) if member and i < len(statuses) else None
        if kind in ("External", "Object"):
            out.append(_value_or_average(source, status))
        elif kind == "Pods":
            cur = "<unknown>" if status is None else _q(g(status, "current", "averageValue"))
            out.append(f"{cur}/{_q(g(source, 'target', 'averageValue'))}")
        elif kind in ("Resource", "ContainerResource"):
            out.append(_resource_metric(source, status))
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return f"{', '.join(out[:2])} + {len(out) - 2} more..."
    return ", ".join(out)


def _hpa(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    target = d(spec, "scaleTargetRef")
    min_pods = "<unset>" if spec.get("minReplicas") is None else str(n(spec, "minReplicas"))
    return [name_of(o), f"{s(target, 'kind')}/{s(target, 'name')}", format_hpa_metrics(*_v2_metrics(o)),
            min_pods, n(spec, "maxReplicas"), n(o, "status", "currentReplicas"), age(o, now)]


HORIZONTAL_POD_AUTOSCALER = Printer((
    NAME,
    col("Reference", doc=ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
    col("Targets", doc=ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
    col("MinPods", doc=ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
    col("MaxPods", doc=ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
    col("Replicas", doc=ref("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
    AGE,
), _hpa)


def _pdb(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    low = "N/A" if spec.get("minAvailable") is None else int_or_string(spec["minAvailable"])
    high = "N/A" if spec.get("maxUnavailable") is None else int_or_string(spec["maxUnavailable"])
    return [name_of(o), low, high, n(o, "status", "disruptionsAllowed"), age(o, now)]


POD_DISRUPTION_BUDGET = Printer((
    NAME,
    col("Min Available", doc="How many of the selected pods must stay available."),
    col("Max Unavailable", doc="How many of the selected pods may be unavailable."),
    col("Allowed Disruptions", "integer", "How many pods may be disrupted right now."),
    AGE,
), _pdb)

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "ReplicationController"): REPLICATION_CONTROLLER,
    ("", "PodTemplate"): POD_TEMPLATE,
    ("apps", "ReplicaSet"): REPLICA_SET,
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "StatefulSet"): STATEFUL_SET,
    ("apps", "DaemonSet"): DAEMON_SET,
    ("apps", "ControllerRevision"): CONTROLLER_REVISION,
    ("batch", "Job"): JOB,
    ("batch", "CronJob"): CRON_JOB,
    ("autoscaling", "HorizontalPodAutoscaler"): HORIZONTAL_POD_AUTOSCALER,
    ("policy", "PodDisruptionBudget"): POD_DISRUPTION_BUDGET,
}
