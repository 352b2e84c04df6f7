"""Defaulting of built-in kinds: the values upstream fills in when a client leaves them out.

Applied on every create and update before validation, so an object read back looks exactly
as it would from upstream (`restartPolicy: Always`, `strategy: {rollingUpdate: 25%/25%}`...).
"""

from __future__ import annotations

import base64
import copy
from typing import Any
from collections.abc import Callable

from .registry import Resource

Obj = dict[str, Any]


def _set(d: Obj, key: str, value: Any) -> None:
    if d.get(key) is None:
        d[key] = value


def _probe(p: Any) -> None:
    if not isinstance(p, dict):
        return
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        _set(p, k, v)
    if isinstance(p.get("httpGet"), dict):
        _set(p["httpGet"], "scheme", "HTTP")
        _set(p["httpGet"], "path", "/")


def _pull_policy(image: str) -> str:
    """Always for `:latest` or untagged images, IfNotPresent otherwise (digests included)."""
    if "@" in image:
        return "IfNotPresent"
    name = image.rsplit("/", 1)[-1]
    if ":" not in name or name.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    _set(c, "terminationMessagePath", "/dev/termination-log")
    _set(c, "terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        _set(c, "imagePullPolicy", _pull_policy(c["image"]))
    _set(c, "resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            _set(p, "protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))
    for e in c.get("env") or []:
        ref = ((e or {}).get("valueFrom") or {}).get("fieldRef") if isinstance(e, dict) else None
        if isinstance(ref, dict):
            _set(ref, "apiVersion", "v1")
    res = c.get("resources")
    if isinstance(res, dict) and res.get("limits") and not res.get("requests"):
        # requests default to limits
        res["requests"] = dict(res["limits"])
    elif isinstance(res, dict) and res.get("limits") and isinstance(res.get("requests"), dict):
        for k, v in res["limits"].items():
            res["requests"].setdefault(k, v)


def _volume(v: Any) -> None:
    if not isinstance(v, dict):
        return
    for kind in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(v.get(kind), dict):
            _set(v[kind], "defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        _set(v["hostPath"], "type", "")
    if isinstance(v.get("downwardAPI"), dict):
        for item in v["downwardAPI"].get("items") or []:
            if isinstance(item.get("fieldRef"), dict):
                _set(item["fieldRef"], "apiVersion", "v1")
    if not any(k for k in v if k != "name"):
        v["emptyDir"] = {}


def pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "terminationGracePeriodSeconds", 30)
    _set(spec, "securityContext", {})
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "enableServiceLinks", True)
    for c in spec.get("containers") or []:
        _container(c)
    for c in spec.get("initContainers") or []:
        _container(c)
    for v in spec.get("volumes") or []:
        _volume(v)
    if spec.get("hostNetwork"):
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for p in (c or {}).get("ports") or []:
                if isinstance(p, dict) and p.get("containerPort") is not None:
                    _set(p, "hostPort", p["containerPort"])


def pod_template(tpl: Any) -> None:
    if isinstance(tpl, dict):
        tpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        pod_spec(tpl.get("spec"))


def _pod(o: Obj) -> None:
    pod_spec(o.get("spec"))


def _deployment(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "replicas", 1)
    strategy = spec.setdefault("strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        _set(ru, "maxUnavailable", "25%")
        _set(ru, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    pod_template(spec.get("template"))


def _replicaset(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "replicas", 1)
    pod_template(spec.get("template"))


def _replication_controller(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "replicas", 1)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if labels and not spec.get("selector"):
        spec["selector"] = dict(labels)
    meta = o.setdefault("metadata", {})
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)
    pod_template(spec.get("template"))


def _statefulset(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "replicas", 1)
    _set(spec, "podManagementPolicy", "OrderedReady")
    us = spec.setdefault("updateStrategy", {})
    _set(us, "type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        _set(us.setdefault("rollingUpdate", {}), "partition", 0)
    _set(spec, "revisionHistoryLimit", 10)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    _set(retention, "whenDeleted", "Retain")
    _set(retention, "whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _set(claim.setdefault("spec", {}), "volumeMode", "Filesystem")
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("status", {"phase": "Pending"})
    pod_template(spec.get("template"))


def _daemonset(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    us = spec.setdefault("updateStrategy", {})
    _set(us, "type", "RollingUpdate")
    if us["type"] == "RollingUpdate":
        ru = us.setdefault("rollingUpdate", {})
        _set(ru, "maxUnavailable", 1)
        _set(ru, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    pod_template(spec.get("template"))


def job_spec(spec: Obj) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set(spec, "parallelism", 1)
    # with per-index limits the global one is off unless set
    _set(spec, "backoffLimit", 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "podReplacementPolicy", "TerminatingOrFailed" if not spec.get("podFailurePolicy") else "Failed")
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
            if isinstance(pattern, dict):
                _set(pattern, "status", "True")
    _set(spec, "manualSelector", None)
    if spec.get("manualSelector") is None:
        spec.pop("manualSelector")
    pod_template(spec.get("template"))


def _job(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    job_spec(spec)
    meta = o.get("metadata") or {}
    uid = meta.get("uid")
    if uid and not spec.get("manualSelector"):
        # upstream's generateSelector: the job-name and controller-uid labels on the template
        # (labels the user set are left for validation to judge) and a selector on the uid
        name = meta.get("name", "")
        tpl_meta = spec.setdefault("template", {}).setdefault("metadata", {})
        tpl_labels = tpl_meta.get("labels")
        if not isinstance(tpl_labels, dict):
            tpl_labels = tpl_meta["labels"] = {}
        for k, v in (("job-name", name), ("batch.kubernetes.io/job-name", name),
                     ("controller-uid", uid), ("batch.kubernetes.io/controller-uid", uid)):
            tpl_labels.setdefault(k, v)
        selector = spec.get("selector")
        if not isinstance(selector, dict):
            selector = spec["selector"] = {}
        match = selector.get("matchLabels")
        if not isinstance(match, dict):
            match = selector["matchLabels"] = {}
        match.setdefault("batch.kubernetes.io/controller-uid", uid)
        if not meta.get("labels"):  # a Job without labels takes its pods'
            o["metadata"] = dict(meta, labels=dict(tpl_labels))


def _cronjob(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    jt = spec.setdefault("jobTemplate", {})
    jt.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    pod_template((jt.setdefault("spec", {})).get("template"))


def _service(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            _set(p, "protocol", "TCP")
            if p.get("targetPort") in (None, 0, ""):
                p["targetPort"] = p.get("port")
    if spec["type"] != "ExternalName":
        _set(spec, "ipFamilyPolicy", "SingleStack")
        _set(spec, "ipFamilies", ["IPv4"])
        _set(spec, "internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        _set(spec, "allocateLoadBalancerNodePorts", True)
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        _set(cfg, "timeoutSeconds", 10800)


def _secret(o: Obj) -> None:
    _set(o, "type", "Opaque")
    string_data = o.pop("stringData", None)
    if isinstance(string_data, dict):
        data = o.setdefault("data", {}) or {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        o["data"] = data


def _namespace(o: Obj) -> None:
    meta = o.setdefault("metadata", {})
    name = meta.get("name")
    if name:
        labels = dict(meta.get("labels") or {})
        labels["kubernetes.io/metadata.name"] = name
        meta["labels"] = labels
    spec = o.setdefault("spec", {})
    if spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]
    o.setdefault("status", {}).setdefault("phase", "Active")


def _pv(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "persistentVolumeReclaimPolicy", "Retain")
    _set(spec, "volumeMode", "Filesystem")


def _pvc(o: Obj) -> None:
    _set(o.setdefault("spec", {}), "volumeMode", "Filesystem")


def _storage_class(o: Obj) -> None:
    _set(o, "reclaimPolicy", "Delete")
    _set(o, "volumeBindingMode", "Immediate")


def _priority_class(o: Obj) -> None:
    _set(o, "preemptionPolicy", "PreemptLowerPriority")


def _network_policy(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types
    _set(spec, "podSelector", {})
    for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
        for p in (rule or {}).get("ports") or []:
            if isinstance(p, dict):
                _set(p, "protocol", "TCP")


def _hpa(o: Obj) -> None:
    spec = o.setdefault("spec", {})
    _set(spec, "minReplicas", 1)
    if o.get("apiVersion", "autoscaling/v2") == "autoscaling/v2" and not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def _endpointslice(o: Obj) -> None:
    for p in o.get("ports") or []:
        if isinstance(p, dict):
            _set(p, "protocol", "TCP")


def _limit_range(o: Obj) -> None:
    """Container items: the default limit falls back to max, the default request to the
    default limit, then to min (so admission always knows what to fill in)."""
    for item in (o.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        request = item.setdefault("defaultRequest", {})
        for source, target in ((item.get("max"), default), (default, request), (item.get("min"), request)):
            for k, v in (source or {}).items():
                target.setdefault(k, v)
        for key in ("default", "defaultRequest"):
            if not item[key]:
                del item[key]


def _podtemplate(o: Obj) -> None:
    pod_template(o.get("template"))


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("", "PodTemplate"): _podtemplate,
    ("", "ReplicationController"): _replication_controller,
    ("", "Service"): _service,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "PersistentVolume"): _pv,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "LimitRange"): _limit_range,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("discovery.k8s.io", "EndpointSlice"): _endpointslice,
}


def apply_defaults(resource: Resource, obj: Obj) -> Obj:
    """A defaulted copy of `obj`."""
    fn = _DEFAULTERS.get((resource.group, resource.kind))
    if fn is None:
        return obj
    out = copy.deepcopy(obj)
    fn(out)
    return out
