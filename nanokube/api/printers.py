"""Server-side printing: the Table `kubectl get` shows, with upstream's columns per kind.

Each printer is a list of columns (name, type, priority; priority 1 only with `-o wide`) and
a function from object to cells. Custom resources use their CRD's additionalPrinterColumns;
anything else gets upstream's default table (Name, Created At).
"""

from __future__ import annotations

import datetime
from typing import Any
from collections.abc import Callable

from . import jsonpath
from .registry import Resource

Obj = dict[str, Any]
Cells = list[Any]

_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, although some "
            "resources may allow a client to request the generation of an appropriate name automatically.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}


def human_duration(seconds: float) -> str:
    """Upstream's short, human form of a duration (`5s`, `3m2s`, `2d3h`, `4y`)."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        rem = s % 60
        return f"{m}m{rem}s" if rem else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        rem = m % 60
        return f"{h}h{rem}m" if rem else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        rem = h % 24
        return f"{h // 24}d{rem}h" if rem else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y{dy}d" if dy else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def _parse_time(ts: Any) -> datetime.datetime | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(ts: Any, now: datetime.datetime) -> str:
    t = _parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


class _Ctx:
    """What cell functions need besides the object."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def age(self, obj: Obj) -> str:
        return age((obj.get("metadata") or {}).get("creationTimestamp"), self.now)


Column = tuple[str, str, int]  # name, type, priority
Printer = tuple[list[Column], Callable[[Obj, _Ctx], Cells]]


def _g(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(p)
    return default if obj is None else obj


def _none(v: Any) -> str:
    return "<none>" if v in (None, "", [], {}) else str(v)


def _selector(sel: Any) -> str:
    from .selectors import label_selector_from_dict

    if not sel:
        return "<none>"
    from .errors import ApiError

    try:
        s = str(label_selector_from_dict(sel))
    except ApiError:
        return "<error>"  # as upstream shows an unparsable selector
    return s or "<none>"


def _map_selector(sel: Any) -> str:
    if not sel:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))


def _containers(spec: Any) -> tuple[str, str]:
    cs = _g(spec, "containers", default=[])
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


# -- pods ------------------------------------------------------------------------------------


def _pod_cells(pod: Obj, c: _Ctx) -> Cells:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    restarts = 0
    last_restart: datetime.datetime | None = None
    total = len(spec.get("containers") or [])
    ready = 0
    reason = status.get("reason") or status.get("phase") or ""
    init_specs = spec.get("initContainers") or []
    sidecars = {ic.get("name") for ic in init_specs if ic.get("restartPolicy") == "Always"}
    total += len(sidecars)
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = _later(last_restart, _g(cs, "lastState", "terminated", "finishedAt"))
        state = cs.get("state") or {}
        if cs.get("name") in sidecars:
            if cs.get("started") and cs.get("ready"):
                ready += 1
            if cs.get("started"):
                continue
        term = state.get("terminated")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif state.get("waiting", {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or not status.get("initContainerStatuses"):
        restarts_main = 0
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts_main += int(cs.get("restartCount") or 0)
            last_restart = _later(last_restart, _g(cs, "lastState", "terminated", "finishedAt"))
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif "terminated" in state:
                t = state["terminated"]
                reason = f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}"
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        restarts += restarts_main
        if reason == "Completed" and has_running:
            conds = status.get("conditions") or []
            reason = "Running" if any(x.get("type") == "Ready" and x.get("status") == "True" for x in conds) else "NotReady"
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    restart_cell: Any = restarts
    if last_restart is not None and restarts:
        restart_cell = f"{restarts} ({human_duration((c.now - last_restart).total_seconds())} ago)"
    ips = status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {x.get("type"): x.get("status") for x in status.get("conditions") or []}
        gate_cell = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    else:
        gate_cell = "<none>"
    return [meta.get("name"), f"{ready}/{total}", reason, restart_cell, c.age(pod), ips,
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gate_cell]


def _later(cur: datetime.datetime | None, ts: Any) -> datetime.datetime | None:
    t = _parse_time(ts)
    if t is None:
        return cur
    return t if cur is None or t > cur else cur


# -- services and networking -------------------------------------------------------------------


def _ports(ports: Any, with_node: bool = True) -> str:
    out = []
    for p in ports or []:
        s = f"{p.get('port')}"
        if with_node and p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ips(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    t = spec.get("type", "ClusterIP")
    ext = list(spec.get("externalIPs") or [])
    if t == "ExternalName":
        return spec.get("externalName") or "<none>"
    if t == "LoadBalancer":
        lb = [i.get("ip") or i.get("hostname") for i in _g(svc, "status", "loadBalancer", "ingress", default=[])]
        lb = [x for x in lb if x] + ext
        return ",".join(lb) if lb else "<pending>"
    return ",".join(ext) if ext else "<none>"


def _svc_cells(svc: Obj, c: _Ctx) -> Cells:
    spec = svc.get("spec") or {}
    return [svc["metadata"].get("name"), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            _external_ips(svc), _ports(spec.get("ports")), c.age(svc), _map_selector(spec.get("selector"))]


def _endpoints(ep: Obj, c: _Ctx) -> Cells:
    addrs = []
    for sub in ep.get("subsets") or []:
        ports = sub.get("ports") or [{}]
        for a in sub.get("addresses") or []:
            for p in ports:
                addrs.append(f"{a.get('ip')}:{p['port']}" if p.get("port") else a.get("ip"))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [ep["metadata"].get("name"), shown or "<none>", c.age(ep)]


def _endpointslice(es: Obj, c: _Ctx) -> Cells:
    ports = ",".join(str(p.get("port")) for p in es.get("ports") or [] if p.get("port") is not None) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [es["metadata"].get("name"), es.get("addressType", ""), ports, shown or "<unset>", c.age(es)]


def _ingress(ing: Obj, c: _Ctx) -> Cells:
    spec = ing.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    addr = [i.get("ip") or i.get("hostname") for i in _g(ing, "status", "loadBalancer", "ingress", default=[])]
    ports = "80, 443" if spec.get("tls") else "80"
    return [ing["metadata"].get("name"), spec.get("ingressClassName") or "<none>", ",".join(hosts) or "*",
            ",".join(a for a in addr if a), ports, c.age(ing)]


# -- workloads -------------------------------------------------------------------------------


def _deployment(d: Obj, c: _Ctx) -> Cells:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(_g(spec, "template", "spec"))
    return [d["metadata"].get("name"), f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), c.age(d), names, images,
            _selector(spec.get("selector"))]


def _replicaset(rs: Obj, c: _Ctx) -> Cells:
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(_g(spec, "template", "spec"))
    sel = _map_selector(spec.get("selector")) if rs.get("kind") == "ReplicationController" or (
        isinstance(spec.get("selector"), dict) and "matchLabels" not in spec["selector"]
        and "matchExpressions" not in spec["selector"]) else _selector(spec.get("selector"))
    return [rs["metadata"].get("name"), spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            c.age(rs), names, images, sel]


def _statefulset(s: Obj, c: _Ctx) -> Cells:
    spec, st = s.get("spec") or {}, s.get("status") or {}
    names, images = _containers(_g(spec, "template", "spec"))
    return [s["metadata"].get("name"), f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", c.age(s),
            names, images]


def _daemonset(ds: Obj, c: _Ctx) -> Cells:
    spec, st = ds.get("spec") or {}, ds.get("status") or {}
    names, images = _containers(_g(spec, "template", "spec"))
    node_sel = _map_selector(_g(spec, "template", "spec", "nodeSelector"))
    return [ds["metadata"].get("name"), st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            node_sel, c.age(ds), names, images, _selector(spec.get("selector"))]


def _job_status(job: Obj) -> str:
    conds = {x.get("type"): x.get("status") for x in _g(job, "status", "conditions", default=[])}
    if conds.get("Failed") == "True":
        return "Failed"
    if conds.get("Complete") == "True":
        return "Complete"
    if conds.get("Suspended") == "True":
        return "Suspended"
    if conds.get("FailureTarget") == "True":
        return "FailureTarget"
    if conds.get("SuccessCriteriaMet") == "True":
        return "SuccessCriteriaMet"
    return "Running"


def _job(job: Obj, c: _Ctx) -> Cells:
    spec, st = job.get("spec") or {}, job.get("status") or {}
    completions = spec.get("completions")
    if completions is not None:
        comp = f"{st.get('succeeded', 0)}/{completions}"
    else:
        parallelism = spec.get("parallelism", 0) or 0
        comp = f"{st.get('succeeded', 0)}/1 of {parallelism}" if parallelism > 1 else f"{st.get('succeeded', 0)}/1"
    start, end = _parse_time(st.get("startTime")), _parse_time(st.get("completionTime"))
    if start is None:
        duration = ""
    else:
        duration = human_duration(((end or c.now) - start).total_seconds())
    names, images = _containers(_g(spec, "template", "spec"))
    return [job["metadata"].get("name"), _job_status(job), comp, duration, c.age(job), names, images,
            _selector(spec.get("selector"))]


def _cronjob(cj: Obj, c: _Ctx) -> Cells:
    spec, st = cj.get("spec") or {}, cj.get("status") or {}
    last = st.get("lastScheduleTime")
    names, images = _containers(_g(spec, "jobTemplate", "spec", "template", "spec"))
    return [cj["metadata"].get("name"), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "True" if spec.get("suspend") else "False", len(st.get("active") or []),
            age(last, c.now) if last else "<none>", c.age(cj), names, images,
            _selector(_g(spec, "jobTemplate", "spec", "selector"))]


def _hpa(h: Obj, c: _Ctx) -> Cells:
    spec, st = h.get("spec") or {}, h.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    targets = []
    if "targetCPUUtilizationPercentage" in spec:
        cur = st.get("currentCPUUtilizationPercentage")
        targets.append(f"cpu: {cur if cur is not None else '<unknown>'}%/{spec['targetCPUUtilizationPercentage']}%")
    for m in spec.get("metrics") or []:
        if m.get("type") == "Resource":
            res = m.get("resource") or {}
            tgt = res.get("target") or {}
            current = None
            for cm in st.get("currentMetrics") or []:
                if cm.get("type") == "Resource" and (cm.get("resource") or {}).get("name") == res.get("name"):
                    current = (cm["resource"].get("current") or {})
            if tgt.get("type") == "Utilization":
                cur = (current or {}).get("averageUtilization")
                targets.append(f"{res.get('name')}: {f'{cur}%' if cur is not None else '<unknown>'}/{tgt.get('averageUtilization')}%")
            else:
                cur = (current or {}).get("averageValue")
                targets.append(f"{res.get('name')}: {cur or '<unknown>'}/{tgt.get('averageValue') or tgt.get('value')}")
        else:
            targets.append("<unknown>/<unknown>")
    tcell = ", ".join(targets[:2]) + (f" + {len(targets) - 2} more..." if len(targets) > 2 else "")
    return [h["metadata"].get("name"), f"{ref.get('kind', '')}/{ref.get('name', '')}", tcell or "<none>",
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0), st.get("currentReplicas", 0), c.age(h)]


# -- the rest of core ------------------------------------------------------------------------


def _namespace(ns: Obj, c: _Ctx) -> Cells:
    return [ns["metadata"].get("name"), _g(ns, "status", "phase", default=""), c.age(ns)]


def _node(n: Obj, c: _Ctx) -> Cells:
    conds = {x.get("type"): x.get("status") for x in _g(n, "status", "conditions", default=[])}
    ready = conds.get("Ready")
    status = ["Ready" if ready == "True" else "NotReady" if ready == "False" else "Unknown"]
    if _g(n, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    labels = _g(n, "metadata", "labels", default={})
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    info = _g(n, "status", "nodeInfo", default={})
    addrs = _g(n, "status", "addresses", default=[])
    internal = next((a.get("address") for a in addrs if a.get("type") == "InternalIP"), "<none>")
    external = next((a.get("address") for a in addrs if a.get("type") == "ExternalIP"), "<none>")
    return [n["metadata"].get("name"), ",".join(status), ",".join(roles) or "<none>", c.age(n),
            info.get("kubeletVersion", ""), internal, external, info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _event(ev: Obj, c: _Ctx) -> Cells:
    io = ev.get("involvedObject") or ev.get("regarding") or {}
    last = ev.get("lastTimestamp") or _g(ev, "series", "lastObservedTime") or ev.get("eventTime") or \
        ev.get("deprecatedLastTimestamp")
    first = ev.get("firstTimestamp") or ev.get("eventTime") or ev.get("deprecatedFirstTimestamp")
    count = ev.get("count") or _g(ev, "series", "count") or ev.get("deprecatedCount") or 1
    src = ev.get("source") or ev.get("deprecatedSource") or {}
    source = src.get("component") or ev.get("reportingComponent") or ev.get("reportingController") or ""
    if src.get("host"):
        source += f", {src['host']}"
    return [age(last, c.now) if last else "<unknown>", ev.get("type", ""), ev.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", ev.get("message") or ev.get("note") or "",
            io.get("fieldPath", ""), source, age(first, c.now) if first else "<unknown>", count,
            ev["metadata"].get("name")]


def _quota(q: Obj, c: _Ctx) -> Cells:
    hard = _g(q, "status", "hard", default={}) or _g(q, "spec", "hard", default={})
    used = _g(q, "status", "used", default={})
    req: list[str] = []
    lim: list[str] = []
    for k in sorted(hard):
        item = f"{k}: {used.get(k, '0')}/{hard[k]}"
        (lim if k.startswith("limits.") else req).append(item)
    return [q["metadata"].get("name"), c.age(q), ", ".join(req), ", ".join(lim)]


def _pv(pv: Obj, c: _Ctx) -> Cells:
    spec = pv.get("spec") or {}
    claim = spec.get("claimRef") or {}
    claim_s = f"{claim.get('namespace')}/{claim.get('name')}" if claim else ""
    return [pv["metadata"].get("name"), _g(spec, "capacity", "storage", default=""),
            _modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            _g(pv, "status", "phase", default=""), claim_s, spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>", _g(pv, "status", "reason", default=""),
            c.age(pv), spec.get("volumeMode", "Filesystem")]


def _pvc(pvc: Obj, c: _Ctx) -> Cells:
    spec, st = pvc.get("spec") or {}, pvc.get("status") or {}
    bound = st.get("phase") == "Bound"
    return [pvc["metadata"].get("name"), st.get("phase", ""), spec.get("volumeName", ""),
            _g(st, "capacity", "storage", default="") if bound else "", _modes(st.get("accessModes")) if bound else "",
            spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or "<unset>", c.age(pvc),
            spec.get("volumeMode", "Filesystem")]


def _modes(modes: Any) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _binding(b: Obj, c: _Ctx) -> Cells:
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []
    users = ",".join(s.get("name", "") for s in subjects if s.get("kind") == "User")
    groups = ",".join(s.get("name", "") for s in subjects if s.get("kind") == "Group")
    sas = ",".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount")
    return [b["metadata"].get("name"), f"{ref.get('kind', '')}/{ref.get('name', '')}", c.age(b), users, groups, sas]


def _pdb(p: Obj, c: _Ctx) -> Cells:
    spec = p.get("spec") or {}
    return [p["metadata"].get("name"), _none(spec.get("minAvailable")) if "minAvailable" in spec else "N/A",
            _none(spec.get("maxUnavailable")) if "maxUnavailable" in spec else "N/A",
            _g(p, "status", "disruptionsAllowed", default=0), c.age(p)]


def _created_at(o: Obj, c: _Ctx) -> Cells:
    return [o["metadata"].get("name"), o["metadata"].get("creationTimestamp")]


def _name_age(*fields: Callable[[Obj], Any]) -> Callable[[Obj, _Ctx], Cells]:
    def cells(o: Obj, c: _Ctx) -> Cells:
        vals = [f(o) for f in fields]
        return [o["metadata"].get("name"), *vals, c.age(o)]

    return cells


def _name_then(fields: list[Callable[[Obj], Any]], age_at: int) -> Callable[[Obj, _Ctx], Cells]:
    def cells(o: Obj, c: _Ctx) -> Cells:
        vals = [f(o) for f in fields]
        vals.insert(age_at, c.age(o))
        return [o["metadata"].get("name"), *vals]

    return cells


def _cols(*spec: str) -> list[Column]:
    """'NAME' → priority 0; '+WIDE' → priority 1. Type after a colon (default string)."""
    out = []
    for s in spec:
        prio = 1 if s.startswith("+") else 0
        s = s.lstrip("+")
        name, _, typ = s.partition(":")
        out.append((name, typ or "string", prio))
    return out


_WORKLOAD_WIDE = ("+Containers", "+Images", "+Selector")

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): (_cols("Name", "Ready", "Status", "Restarts:string", "Age", "+IP", "+Node", "+Nominated Node",
                        "+Readiness Gates"), _pod_cells),
    ("", "PodTemplate"): (_cols("Name", "Containers", "Images", "Pod Labels"), lambda o, c: [
        o["metadata"].get("name"), *_containers(_g(o, "template", "spec")),
        _map_selector(_g(o, "template", "metadata", "labels"))]),
    ("", "ReplicationController"): (_cols("Name", "Desired:integer", "Current:integer", "Ready:integer", "Age",
                                          *_WORKLOAD_WIDE), _replicaset),
    ("", "Service"): (_cols("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "+Selector"), _svc_cells),
    ("", "Endpoints"): (_cols("Name", "Endpoints", "Age"), _endpoints),
    ("", "Namespace"): (_cols("Name", "Status", "Age"), _namespace),
    ("", "Node"): (_cols("Name", "Status", "Roles", "Age", "Version", "+Internal-IP", "+External-IP", "+OS-Image",
                         "+Kernel-Version", "+Container-Runtime"), _node),
    ("", "Event"): (_cols("Last Seen", "Type", "Reason", "Object", "Message", "+Subobject", "+Source", "+First Seen",
                          "+Count:integer", "+Name"), _event),
    ("events.k8s.io", "Event"): (_cols("Last Seen", "Type", "Reason", "Object", "Message", "+Subobject", "+Source",
                                       "+First Seen", "+Count:integer", "+Name"), _event),
    ("", "LimitRange"): (_cols("Name", "Created At:date"), _created_at),
    ("", "ResourceQuota"): (_cols("Name", "Age", "Request", "Limit"), _quota),
    ("", "Secret"): (_cols("Name", "Type", "Data:integer", "Age"),
                     _name_age(lambda o: o.get("type", ""), lambda o: len(o.get("data") or {}))),
    ("", "ServiceAccount"): (_cols("Name", "Secrets:integer", "Age"), _name_age(lambda o: len(o.get("secrets") or []))),
    ("", "ConfigMap"): (_cols("Name", "Data:integer", "Age"),
                        _name_age(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))),
    ("", "PersistentVolume"): (_cols("Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim",
                                     "StorageClass", "VolumeAttributesClass", "Reason", "Age", "+VolumeMode"), _pv),
    ("", "PersistentVolumeClaim"): (_cols("Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                                          "VolumeAttributesClass", "Age", "+VolumeMode"), _pvc),
    ("", "ComponentStatus"): (_cols("Name", "Status", "Message", "Error"), lambda o, c: [
        o["metadata"].get("name"), "Healthy", "ok", ""]),
    ("apps", "Deployment"): (_cols("Name", "Ready", "Up-to-date:integer", "Available:integer", "Age",
                                   *_WORKLOAD_WIDE), _deployment),
    ("apps", "ReplicaSet"): (_cols("Name", "Desired:integer", "Current:integer", "Ready:integer", "Age",
                                   *_WORKLOAD_WIDE), _replicaset),
    ("apps", "StatefulSet"): (_cols("Name", "Ready", "Age", "+Containers", "+Images"), _statefulset),
    ("apps", "DaemonSet"): (_cols("Name", "Desired:integer", "Current:integer", "Ready:integer",
                                  "Up-to-date:integer", "Available:integer", "Node Selector", "Age",
                                  *_WORKLOAD_WIDE), _daemonset),
    ("apps", "ControllerRevision"): (_cols("Name", "Controller", "Revision:integer", "Age"), _name_age(
        lambda o: next((f"{r.get('kind', '').lower()}.{r.get('apiVersion', '').split('/')[0]}/{r.get('name')}"
                        for r in o["metadata"].get("ownerReferences") or [] if r.get("controller")), "<none>"),
        lambda o: o.get("revision", 0))),
    ("batch", "Job"): (_cols("Name", "Status", "Completions", "Duration", "Age", *_WORKLOAD_WIDE), _job),
    ("batch", "CronJob"): (_cols("Name", "Schedule", "Timezone", "Suspend", "Active:integer", "Last Schedule",
                                 "Age", *_WORKLOAD_WIDE), _cronjob),
    ("autoscaling", "HorizontalPodAutoscaler"): (_cols("Name", "Reference", "Targets", "MinPods:integer",
                                                       "MaxPods:integer", "Replicas:integer", "Age"), _hpa),
    ("coordination.k8s.io", "Lease"): (_cols("Name", "Holder", "Age"),
                                       _name_age(lambda o: _g(o, "spec", "holderIdentity", default=""))),
    ("discovery.k8s.io", "EndpointSlice"): (_cols("Name", "AddressType", "Ports", "Endpoints", "Age"), _endpointslice),
    ("networking.k8s.io", "Ingress"): (_cols("Name", "Class", "Hosts", "Address", "Ports", "Age"), _ingress),
    ("networking.k8s.io", "IngressClass"): (_cols("Name", "Controller", "Parameters", "Age"), _name_age(
        lambda o: _g(o, "spec", "controller", default=""),
        lambda o: (lambda p: f"{p.get('kind', '')}/{p.get('name', '')}" if p else "<none>")(_g(o, "spec", "parameters")))),
    ("networking.k8s.io", "NetworkPolicy"): (_cols("Name", "Pod-Selector", "Age"), _name_age(
        lambda o: str(__import__("nanokube.api.selectors", fromlist=["x"]).label_selector_from_dict(
            _g(o, "spec", "podSelector", default={}))) or "<none>")),
    ("policy", "PodDisruptionBudget"): (_cols("Name", "Min Available", "Max Unavailable", "Allowed Disruptions:integer",
                                              "Age"), _pdb),
    ("rbac.authorization.k8s.io", "Role"): (_cols("Name", "Created At:date"), _created_at),
    ("rbac.authorization.k8s.io", "ClusterRole"): (_cols("Name", "Created At:date"), _created_at),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_cols("Name", "Role", "Age", "+Users", "+Groups",
                                                         "+ServiceAccounts"), _binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (_cols("Name", "Role", "Age", "+Users", "+Groups",
                                                                "+ServiceAccounts"), _binding),
    ("storage.k8s.io", "StorageClass"): (_cols("Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                                               "AllowVolumeExpansion", "Age"), lambda o, c: [
        o["metadata"].get("name") + (" (default)" if _g(o, "metadata", "annotations", default={}).get(
            "storageclass.kubernetes.io/is-default-class") == "true" else ""),
        o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"), o.get("volumeBindingMode", "Immediate"),
        "true" if o.get("allowVolumeExpansion") else "false", c.age(o)]),
    ("scheduling.k8s.io", "PriorityClass"): (_cols("Name", "Value:integer", "Global-Default", "Age",
                                                   "PreemptionPolicy"), _name_then([
        lambda o: o.get("value", 0), lambda o: "true" if o.get("globalDefault") else "false",
        lambda o: o.get("preemptionPolicy", "PreemptLowerPriority")], 2)),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (_cols("Name", "Created At:date"), _created_at),
}

_DEFAULT: Printer = (_cols("Name", "Created At:date"), _created_at)


def _crd_printer(r: Resource) -> Printer:
    assert r.crd is not None
    columns: list[dict[str, Any]] = []
    for v in (r.crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == r.version:
            columns = v.get("additionalPrinterColumns") or []
    if not columns:
        return _DEFAULT
    cols: list[Column] = [("Name", "string", 0)]
    paths = []
    for col in columns:
        cols.append((col.get("name", ""), col.get("type", "string"), int(col.get("priority", 0) or 0)))
        paths.append((col.get("jsonPath", ""), col.get("type", "string")))

    def cells(o: Obj, c: _Ctx) -> Cells:
        out: Cells = [o["metadata"].get("name")]
        for path, typ in paths:
            vals = jsonpath.evaluate(path, o)
            if not vals:
                out.append(None)
                continue
            v = vals[0]
            if typ == "date":
                out.append(age(v, c.now) if isinstance(v, str) else v)
            elif typ == "integer" and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(int(v))
            elif (typ == "boolean" and isinstance(v, bool)) or (typ == "number" and isinstance(v, (int, float))):
                out.append(v)
            elif isinstance(v, (dict, list)):
                import orjson

                out.append(orjson.dumps(v).decode())
            else:
                out.append(v if typ == "string" and isinstance(v, str) else str(v) if typ == "string" else v)
        return out

    # CRD date columns render as ages on the server, like upstream
    cols = [(n, "string" if t == "date" else t, p) for n, t, p in cols]
    return cols, cells


def printer_for(r: Resource) -> Printer:
    if r.crd is not None:
        return _crd_printer(r)
    return PRINTERS.get((r.group, r.kind), _DEFAULT)


def columns(r: Resource) -> list[dict[str, Any]]:
    cols, _ = printer_for(r)
    out = []
    for name, typ, prio in cols:
        fmt = "name" if name == "Name" else "date" if typ == "date" else ""
        out.append({"name": name, "type": "string" if typ == "date" else typ, "format": fmt,
                    "description": _DESCRIPTIONS.get(name, name), "priority": prio})
    return out


def cells(r: Resource, obj: Obj, now: datetime.datetime) -> Cells:
    _, fn = printer_for(r)
    return fn(obj, _Ctx(now))


def build_table(
    resource: Resource,
    objects: list[Obj],
    *,
    now: datetime.datetime,
    include_object: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cols, fn = printer_for(resource)
    ctx = _Ctx(now)
    rows = []
    for o in objects:
        row: dict[str, Any] = {"cells": fn(o, ctx)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata") or {}}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_meta or {}),
            "columnDefinitions": columns(resource), "rows": rows}
