"""The pod row: the STATUS word kubectl users read, ready counts and restarts.

STATUS is not a stored field. Upstream derives it from the phase, the pod's reason, the
scheduling-gate condition, the first init container that has not finished and finally the
app containers (the last one with something to say wins), then lets deletion override it.
Sidecars (init containers with restartPolicy Always) count towards READY and RESTARTS.
"""

from __future__ import annotations

import datetime
from typing import Any

from .base import AGE, NAME, Cells, Obj, Printer, age, between, col, d, g, lst, n, parse_time, ref, s, wide

COLUMNS = (
    NAME,
    col("Ready", doc="How many of the pod's containers are ready, of how many."),
    col("Status", doc="A one-word summary of the pod's and its containers' state."),
    col("Restarts", doc="How often the pod's containers restarted, and how long ago the latest restart was."),
    AGE,
    wide("IP", doc=ref("core.v1.PodStatus", "podIP")),
    wide("Node", doc=ref("core.v1.PodSpec", "nodeName")),
    wide("Nominated Node", doc=ref("core.v1.PodStatus", "nominatedNodeName")),
    wide("Readiness Gates", doc=ref("core.v1.PodSpec", "readinessGates")),
)


def _later(cur: datetime.datetime | None, cs: Any) -> datetime.datetime | None:
    """The later of `cur` and when the container last terminated (if it ever did)."""
    last = g(cs, "lastState", "terminated")
    if last is None:
        return cur
    t = parse_time(g(last, "finishedAt"))
    if t is None:
        return cur
    return t if cur is None or t > cur else cur


def _restartable(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("restartPolicy") == "Always"


def _condition_true(status: Any, kind: str) -> bool:
    """Whether the first condition of this type is True."""
    for c in lst(status, "conditions"):
        if isinstance(c, dict) and c.get("type") == kind:
            return bool(c.get("status") == "True")
    return False


def _ready_condition(status: Any) -> bool:
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
               for c in lst(status, "conditions"))


def _terminated_word(term: Any, prefix: str) -> str:
    """Why a container ended when it gave no reason: its signal, else its exit code."""
    signal = n(term, "signal")
    if signal != 0:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{n(term, 'exitCode')}"


def status_summary(pod: Obj) -> tuple[str, int, int, int, datetime.datetime | None]:
    """(STATUS, ready containers, containers, restarts, last restart) as upstream derives them."""
    spec, status = d(pod, "spec"), d(pod, "status")
    phase = s(status, "phase")
    reason = s(status, "reason") or phase
    for c in lst(status, "conditions"):
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = [c for c in lst(spec, "initContainers") if isinstance(c, dict)]
    by_name = {s(c, "name"): c for c in init_specs}
    total = len(lst(spec, "containers")) + sum(1 for c in init_specs if _restartable(c))
    ready = 0
    restarts = sidecar_restarts = 0
    last: datetime.datetime | None = None
    sidecar_last: datetime.datetime | None = None

    initializing = False
    for i, cs in enumerate(lst(status, "initContainerStatuses")):
        if not isinstance(cs, dict):
            continue
        count = n(cs, "restartCount")
        restarts += count
        last = _later(last, cs)
        sidecar = _restartable(by_name.get(s(cs, "name")))
        if sidecar:
            sidecar_restarts += count
            sidecar_last = _later(sidecar_last, cs)
        state = d(cs, "state")
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and n(term, "exitCode") == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if term is not None:
            reason = "Init:" + s(term, "reason") if s(term, "reason") else _terminated_word(term, "Init:")
        elif waiting is not None and s(waiting, "reason") and s(waiting, "reason") != "PodInitializing":
            reason = "Init:" + s(waiting, "reason")
        else:
            reason = f"Init:{i}/{len(lst(spec, 'initContainers'))}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for cs in reversed(lst(status, "containerStatuses")):
            if not isinstance(cs, dict):
                continue
            restarts += n(cs, "restartCount")
            last = _later(last, cs)
            state = d(cs, "state")
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and s(waiting, "reason"):
                reason = s(waiting, "reason")
            elif term is not None and s(term, "reason"):
                reason = s(term, "reason")
            elif term is not None:
                reason = _terminated_word(term, "")
            elif cs.get("ready") is True and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _ready_condition(status) else "NotReady"

    deleting = g(pod, "metadata", "deletionTimestamp") is not None
    if deleting and s(status, "reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last


def _pod_ip(status: Any) -> str:
    ips = lst(status, "podIPs")
    if ips:
        first = ips[0]
        return s(first, "ip") if isinstance(first, dict) else ""
    return s(status, "podIP")


def _readiness_gates(spec: Any, status: Any) -> str:
    gates = [x for x in lst(spec, "readinessGates") if isinstance(x, dict)]
    if not gates:
        return "<none>"
    met = 0
    for gate in gates:
        for c in lst(status, "conditions"):
            if isinstance(c, dict) and c.get("type") == gate.get("conditionType"):
                met += c.get("status") == "True"
                break
    return f"{met}/{len(gates)}"


def pod_cells(pod: Obj, now: datetime.datetime) -> Cells:
    spec, status = d(pod, "spec"), d(pod, "status")
    reason, ready, total, restarts, last = status_summary(pod)
    restart_cell = str(restarts)
    if restarts != 0 and last is not None:
        restart_cell = f"{restarts} ({between(last, now)} ago)"
    return [
        s(pod, "metadata", "name"), f"{ready}/{total}", reason, restart_cell, age(pod, now),
        _pod_ip(status) or "<none>", s(spec, "nodeName") or "<none>",
        s(status, "nominatedNodeName") or "<none>", _readiness_gates(spec, status),
    ]


def pod_conditions(pod: Obj) -> list[Obj]:
    """Rows of finished pods carry a Completed condition, as upstream's do."""
    phase = s(pod, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


POD = Printer(COLUMNS, pod_cells, pod_conditions)
