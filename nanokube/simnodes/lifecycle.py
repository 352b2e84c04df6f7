"""What a simulated pod does next: the kubelet's pod worker, with the containers faked.

`step` looks at a pod as the API shows it and at the node's private record of it (when it
was first seen, when its containers started, how often they restarted) and returns the
status to report (if any), whether to delete it now, and when to look again. It is pure:
the caller supplies the clock, so tests drive time.

Container behaviour comes from annotations on the pod (set them on a pod template):
`sim.nanokube.io/run-seconds` (how long containers run before exiting; default forever, or
`job_run_seconds` for pods owned by a Job) and `sim.nanokube.io/exit-code` (default 0).
Containers that exit are restarted or not according to restartPolicy, with the kubelet's
back-off (immediately the first time, then 10 s doubling to 5 min by default).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

RUN_SECONDS = "sim.nanokube.io/run-seconds"
EXIT_CODE = "sim.nanokube.io/exit-code"


@dataclass
class SimConfig:
    start_seconds: float = 0.5  # ContainerCreating before Running
    job_run_seconds: float = 1.0  # pods owned by a Job finish after this long (exit 0)
    stop_seconds: float = 0.0  # how long containers take to stop after SIGTERM (capped by grace)
    backoff_base: float = 10.0
    backoff_max: float = 300.0


@dataclass
class PodRecord:
    """What the node remembers about one pod (by uid)."""

    uid: str
    seen: float  # clock time the node first saw the pod bound to it
    started: float | None = None  # clock time the current containers started
    started_at: str = ""  # the same, as the RFC 3339 time reported in status
    restarts: int = 0
    backoff_until: float | None = None
    last_exit: tuple[int, str, str] | None = None  # exit code, startedAt, finishedAt
    stop_at: float | None = None
    reported: str = ""  # which state was last written: creating/running/backoff/terminated
    ip: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    status: Obj | None = None  # the pod's new status, to write through pods/status
    delete: bool = False  # the pod is done terminating: remove it (grace 0)
    again: float | None = None  # seconds until the pod should be looked at again


def run_seconds(pod: Obj, cfg: SimConfig) -> float | None:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    if RUN_SECONDS in ann:
        try:
            return max(float(ann[RUN_SECONDS]), 0.0)
        except ValueError:
            return None
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return cfg.job_run_seconds
    return None


def exit_code(pod: Obj) -> int:
    try:
        return int(((pod.get("metadata") or {}).get("annotations") or {}).get(EXIT_CODE, 0))
    except ValueError:
        return 1


def backoff(restarts: int, cfg: SimConfig) -> float:
    """Delay before restart number `restarts` (1-based): none for the first, then doubling."""
    if restarts <= 1:
        return 0.0
    return float(min(cfg.backoff_base * 2 ** (restarts - 2), cfg.backoff_max))


def step(pod: Obj, rec: PodRecord, now: float, wall: str, cfg: SimConfig) -> Step:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    terminal = status.get("phase") in ("Succeeded", "Failed")
    if meta.get("deletionTimestamp"):
        if rec.stop_at is None:
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            rec.stop_at = now + min(grace, cfg.stop_seconds)
        if now < rec.stop_at:
            return Step(again=rec.stop_at - now)
        if terminal or rec.reported == "terminated":
            return Step(delete=True)
        # containers stopped on SIGTERM: exit 0 if they were running, else the pod failed
        code = 0 if rec.started is not None else 137
        phase = "Succeeded" if code == 0 else "Failed"
        _exit(rec, code, now, wall)
        rec.reported = "terminated"
        return Step(status=pod_status(pod, rec, "terminated", wall, phase=phase), delete=True)
    if terminal:
        return Step()
    if rec.started is None and rec.backoff_until is None and rec.restarts == 0 and rec.last_exit is None:
        if now < rec.seen + cfg.start_seconds:
            if rec.reported == "creating":
                return Step(again=rec.seen + cfg.start_seconds - now)
            rec.reported = "creating"
            return Step(status=pod_status(pod, rec, "creating", wall), again=rec.seen + cfg.start_seconds - now)
        return _start(pod, rec, now, wall, cfg)
    if rec.started is not None:
        run = run_seconds(pod, cfg)
        # the kubelet owns its pods' readiness: if someone else marked a running pod not
        # ready (the node lifecycle controller, while the node looked lost), say it again
        reconcile = Step(status=pod_status(pod, rec, "running", wall)) if _readiness_lost(pod, rec) else None
        if run is None:
            return reconcile or Step()
        if now < rec.started + run:
            if reconcile is not None:
                reconcile.again = rec.started + run - now
                return reconcile
            return Step(again=rec.started + run - now)
        code = exit_code(pod)
        _exit(rec, code, now, wall)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            rec.reported = "terminated"
            return Step(status=pod_status(pod, rec, "terminated", wall, phase="Succeeded" if code == 0 else "Failed"))
        rec.restarts += 1
        delay = backoff(rec.restarts, cfg)
        if delay <= 0:
            return _start(pod, rec, now, wall, cfg)
        rec.backoff_until = now + delay
        rec.extra["backoff"] = delay
        rec.reported = "backoff"
        return Step(status=pod_status(pod, rec, "backoff", wall), again=delay)
    if rec.backoff_until is not None:
        if now < rec.backoff_until:
            return Step(again=rec.backoff_until - now)
        return _start(pod, rec, now, wall, cfg)
    return Step()


def _readiness_lost(pod: Obj, rec: PodRecord) -> bool:
    """Ready is not True in a version of the pod newer than our own last write (an older
    one is only our earlier ContainerCreating status arriving late)."""
    try:
        newer = int((pod.get("metadata") or {}).get("resourceVersion") or 0) > int(rec.extra.get("written_rv", 0))
    except ValueError:
        newer = True
    conditions = (pod.get("status") or {}).get("conditions") or []
    return newer and any(c.get("type") == "Ready" and c.get("status") != "True" for c in conditions)


def _exit(rec: PodRecord, code: int, now: float, wall: str) -> None:
    rec.last_exit = (code, rec.started_at or wall, wall)
    rec.started = None


def _start(pod: Obj, rec: PodRecord, now: float, wall: str, cfg: SimConfig) -> Step:
    rec.started, rec.started_at, rec.backoff_until = now, wall, None
    rec.reported = "running"
    run = run_seconds(pod, cfg)
    return Step(status=pod_status(pod, rec, "running", wall), again=run)


# -- status -------------------------------------------------------------------------------------


def container_id(uid: str, name: str, restarts: int) -> str:
    return "sim://" + hashlib.sha256(f"{uid}/{name}/{restarts}".encode()).hexdigest()[:32]


def _container_status(pod: Obj, rec: PodRecord, c: Obj, state: str, wall: str) -> Obj:
    uid = (pod.get("metadata") or {}).get("uid", "")
    cs: Obj = {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
               "restartCount": rec.restarts, "ready": False, "started": False, "lastState": {}}
    if rec.last_exit is not None and state != "terminated":
        code, started, finished = rec.last_exit
        cs["lastState"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                          "startedAt": started, "finishedAt": finished,
                                          "containerID": container_id(uid, cs["name"], rec.restarts - 1)}}
    if state == "creating":
        cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return cs
    cs["imageID"] = c.get("image", "")
    if state == "running":
        cs.update(ready=True, started=True, containerID=container_id(uid, cs["name"], rec.restarts),
                  state={"running": {"startedAt": rec.started_at}})
    elif state == "backoff":
        name = (pod.get("metadata") or {}).get("name", "")
        ns = (pod.get("metadata") or {}).get("namespace", "")
        delay = int(rec.extra.get("backoff", 0))
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                   f"back-off {delay}s restarting failed container={cs['name']} pod={name}_{ns}({uid})"}}
        cs["containerID"] = container_id(uid, cs["name"], rec.restarts - 1)
    else:  # terminated
        code, started, finished = rec.last_exit or (0, wall, wall)
        cs["containerID"] = container_id(uid, cs["name"], rec.restarts)
        cs["state"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                      "startedAt": started, "finishedAt": finished,
                                      "containerID": cs["containerID"]}}
    return cs


def _condition(pod: Obj, ctype: str, ok: bool, wall: str, reason: str = "", message: str = "") -> Obj:
    status = "True" if ok else "False"
    old = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == ctype), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else wall
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_status(pod: Obj, rec: PodRecord, state: str, wall: str, *, phase: str = "") -> Obj:
    """The whole status a kubelet would report for this state (conditions keep their
    transition times when unchanged; conditions owned by others are kept)."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    statuses = [_container_status(pod, rec, c, state, wall) for c in containers]
    ready = state == "running"
    not_ready = [cs["name"] for cs in statuses if not cs["ready"]]
    if state == "terminated":
        reason, message = "PodCompleted", ""
    else:
        reason = "" if ready else "ContainersNotReady"
        message = "" if ready else f"containers with unready status: [{' '.join(not_ready)}]"
    ours = {
        "PodReadyToStartContainers": _condition(pod, "PodReadyToStartContainers", state != "terminated", wall),
        "Initialized": _condition(pod, "Initialized", True, wall),
        "Ready": _condition(pod, "Ready", ready, wall, reason, message),
        "ContainersReady": _condition(pod, "ContainersReady", ready, wall, reason, message),
        "PodScheduled": _condition(pod, "PodScheduled", True, wall),
    }
    others = [c for c in old.get("conditions") or [] if c.get("type") not in ours]
    out: Obj = {
        "phase": phase or ("Pending" if state == "creating" else "Running"),
        "conditions": list(ours.values()) + others,
        "hostIP": rec.extra.get("host_ip", ""),
        "hostIPs": [{"ip": rec.extra.get("host_ip", "")}],
        "startTime": old.get("startTime") or wall,
        "containerStatuses": statuses,
    }
    if rec.ip:
        out["podIP"] = rec.ip
        out["podIPs"] = [{"ip": rec.ip}]
    init = spec.get("initContainers") or []
    if init:
        out["initContainerStatuses"] = [{
            "name": c.get("name", ""), "image": c.get("image", ""), "imageID": c.get("image", ""),
            "restartCount": 0, "ready": True, "started": False,
            "containerID": container_id(rec.uid, c.get("name", ""), 0), "lastState": {},
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": old.get("startTime") or wall,
                                     "finishedAt": old.get("startTime") or wall}},
        } for c in init]
    if old.get("qosClass"):
        out["qosClass"] = old["qosClass"]
    return out
