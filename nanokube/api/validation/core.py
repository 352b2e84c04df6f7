"""core/v1 kinds: pods and pod templates, services, config maps, secrets, claims."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .. import quantity
from ..errors import FieldError
from . import meta as m

Obj = dict[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                  "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
MAX_CONFIG_BYTES = 1024 * 1024
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def _supported(values: tuple[str, ...]) -> str:
    return "supported values: " + ", ".join(f'"{v}"' for v in values)


def _port(value: Any, path: str, errs: list[FieldError], allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (0 if allow_zero else 1) <= value <= 65535:
        errs.append(FieldError("invalid", path, "must be between 1 and 65535, inclusive", value))


def _resources(res: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(res, dict):
        return
    parsed: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        for name, q in (res.get(kind) or {}).items():
            try:
                parsed.setdefault(kind, {})[name] = quantity.parse(q)
            except quantity.QuantityError:
                errs.append(FieldError("invalid", f"{path}.{kind}[{name}]",
                                       f"quantities must match the regular expression '{quantity.PATTERN}'", q))
                continue
            if parsed[kind][name] < 0:
                errs.append(FieldError("invalid", f"{path}.{kind}[{name}]", "must be greater than or equal to 0", q))
    for name, req in parsed.get("requests", {}).items():
        lim = parsed.get("limits", {}).get(name)
        if lim is not None and req > lim:
            errs.append(FieldError("invalid", f"{path}.requests", f"must be less than or equal to {name} limit of "
                                   f"{res['limits'][name]}", res["requests"][name]))


def _container(c: Any, path: str, errs: list[FieldError], names: set[str], volumes: set[str]) -> None:
    if not isinstance(c, dict):
        errs.append(FieldError("type", path, "must be an object", c))
        return
    name = c.get("name")
    if not name:
        errs.append(FieldError("required", f"{path}.name"))
    else:
        for why in m.dns_label(name):
            errs.append(FieldError("invalid", f"{path}.name", why, name))
        if name in names:
            errs.append(FieldError("duplicate", f"{path}.name", "", name))
        names.add(name)
    if not c.get("image"):
        errs.append(FieldError("required", f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        errs.append(FieldError("not_supported", f"{path}.imagePullPolicy", _supported(PULL_POLICIES), policy))
    seen_ports: set[tuple[Any, Any]] = set()
    for i, p in enumerate(c.get("ports") or []):
        pp = f"{path}.ports[{i}]"
        if not isinstance(p, dict):
            errs.append(FieldError("type", pp, "must be an object", p))
            continue
        _port(p.get("containerPort"), f"{pp}.containerPort", errs)
        if p.get("hostPort") not in (None, 0):
            _port(p.get("hostPort"), f"{pp}.hostPort", errs)
        proto = p.get("protocol", "TCP")
        if proto not in PROTOCOLS:
            errs.append(FieldError("not_supported", f"{pp}.protocol", _supported(PROTOCOLS), proto))
        if p.get("name"):
            if len(p["name"]) > 15 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", p["name"]):
                errs.append(FieldError("invalid", f"{pp}.name", "must be no more than 15 characters and a DNS-1123 label", p["name"]))
        seen_ports.add((p.get("containerPort"), proto))
    for i, e in enumerate(c.get("env") or []):
        ep = f"{path}.env[{i}]"
        if not isinstance(e, dict) or not e.get("name"):
            errs.append(FieldError("required", f"{ep}.name"))
        elif not ENV_NAME.match(e["name"]):
            errs.append(FieldError("invalid", f"{ep}.name", "a valid environment variable name must consist of "
                                   "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", e["name"]))
    for i, vm in enumerate(c.get("volumeMounts") or []):
        vp = f"{path}.volumeMounts[{i}]"
        if not vm.get("name"):
            errs.append(FieldError("required", f"{vp}.name"))
        elif vm["name"] not in volumes:
            errs.append(FieldError("not_found", f"{vp}.name", "", vm["name"]))
        if not vm.get("mountPath"):
            errs.append(FieldError("required", f"{vp}.mountPath"))
    _resources(c.get("resources"), f"{path}.resources", errs)


def pod_spec(spec: Any, path: str, *, restart_policies: tuple[str, ...] = RESTART_POLICIES) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(spec, dict):
        return [FieldError("required", path)]
    volumes: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or []):
        vp = f"{path}.volumes[{i}]"
        name = v.get("name") if isinstance(v, dict) else None
        if not name:
            errs.append(FieldError("required", f"{vp}.name"))
            continue
        for why in m.dns_label(name):
            errs.append(FieldError("invalid", f"{vp}.name", why, name))
        if name in volumes:
            errs.append(FieldError("duplicate", f"{vp}.name", "", name))
        volumes.add(name)
    containers = spec.get("containers")
    if not containers:
        errs.append(FieldError("required", f"{path}.containers"))
    names: set[str] = set()
    for i, c in enumerate(spec.get("initContainers") or []):
        _container(c, f"{path}.initContainers[{i}]", errs, names, volumes)
    for i, c in enumerate(containers or []):
        _container(c, f"{path}.containers[{i}]", errs, names, volumes)
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in restart_policies:
        errs.append(FieldError("not_supported", f"{path}.restartPolicy", _supported(restart_policies), rp))
    dp = spec.get("dnsPolicy")
    if dp is not None and dp not in DNS_POLICIES:
        errs.append(FieldError("not_supported", f"{path}.dnsPolicy", _supported(DNS_POLICIES), dp))
    g = spec.get("terminationGracePeriodSeconds")
    if g is not None and (not isinstance(g, int) or isinstance(g, bool)):
        errs.append(FieldError("type", f"{path}.terminationGracePeriodSeconds", "must be an integer", g))
    ad = spec.get("activeDeadlineSeconds")
    if ad is not None and (not isinstance(ad, int) or ad <= 0):
        errs.append(FieldError("invalid", f"{path}.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive", ad))
    for key in ("nodeSelector",):
        errs += m.labels(spec.get(key), f"{path}.{key}") if spec.get(key) else []
    for i, t in enumerate(spec.get("tolerations") or []):
        op = t.get("operator", "Equal")
        if op not in ("Equal", "Exists"):
            errs.append(FieldError("not_supported", f"{path}.tolerations[{i}].operator", _supported(("Equal", "Exists")), op))
        if op == "Exists" and t.get("value"):
            errs.append(FieldError("invalid", f"{path}.tolerations[{i}].operator",
                                   "value must be empty when `operator` is 'Exists'", t.get("value")))
        eff = t.get("effect")
        if eff not in (None, "", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(FieldError("not_supported", f"{path}.tolerations[{i}].effect",
                                   _supported(("NoExecute", "NoSchedule", "PreferNoSchedule")), eff))
    if spec.get("hostname"):
        for why in m.dns_label(spec["hostname"]):
            errs.append(FieldError("invalid", f"{path}.hostname", why, spec["hostname"]))
    return errs


def pod_template(tpl: Any, path: str, *, restart_policies: tuple[str, ...] = RESTART_POLICIES) -> list[FieldError]:
    if not isinstance(tpl, dict):
        return [FieldError("required", path)]
    errs: list[FieldError] = []
    meta = tpl.get("metadata") or {}
    errs += m.labels(meta.get("labels"), f"{path}.metadata.labels")
    errs += m.annotation_map(meta.get("annotations"), f"{path}.metadata.annotations")
    errs += pod_spec(tpl.get("spec"), f"{path}.spec", restart_policies=restart_policies)
    return errs


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates")


def pod(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs = pod_spec(obj.get("spec"), "spec")
    if old is not None:
        new_spec = dict(obj.get("spec") or {})
        old_spec = dict(old.get("spec") or {})
        for s in (new_spec, old_spec):
            for k in _POD_MUTABLE:
                s.pop(k, None)
            for group in ("containers", "initContainers"):
                if s.get(group):
                    s[group] = [{k: v for k, v in c.items() if k != "image"} for c in s[group]]
        if new_spec.get("nodeName") is None or old_spec.get("nodeName") is None:
            new_spec.pop("nodeName", None)
            old_spec.pop("nodeName", None)
        if new_spec != old_spec:
            errs.append(FieldError("forbidden", "spec", "pod updates may not change fields other than "
                                   "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                                   "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                                   "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
                                   "it was previously negative)"))
    return errs


def service(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("required", "spec")]
    stype = spec.get("type", "ClusterIP")
    if stype not in SERVICE_TYPES:
        errs.append(FieldError("not_supported", "spec.type", _supported(SERVICE_TYPES), stype))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and stype != "ExternalName" and not headless:
        errs.append(FieldError("required", "spec.ports"))
    if stype == "ExternalName":
        if not spec.get("externalName"):
            errs.append(FieldError("required", "spec.externalName"))
        elif m.dns_subdomain(spec["externalName"].rstrip(".")):
            errs.append(FieldError("invalid", "spec.externalName", "must be a valid DNS name", spec["externalName"]))
    names: set[str] = set()
    for i, p in enumerate(ports):
        pp = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            errs.append(FieldError("type", pp, "must be an object", p))
            continue
        name = p.get("name")
        if len(ports) > 1 and not name:
            errs.append(FieldError("required", f"{pp}.name"))
        if name:
            for why in m.dns_label(name):
                errs.append(FieldError("invalid", f"{pp}.name", why, name))
            if name in names:
                errs.append(FieldError("duplicate", f"{pp}.name", "", name))
            names.add(name)
        _port(p.get("port"), f"{pp}.port", errs)
        proto = p.get("protocol", "TCP")
        if proto not in PROTOCOLS:
            errs.append(FieldError("not_supported", f"{pp}.protocol", _supported(PROTOCOLS), proto))
        tp = p.get("targetPort")
        if isinstance(tp, int) and not isinstance(tp, bool):
            _port(tp, f"{pp}.targetPort", errs)
        elif isinstance(tp, str) and tp and m.dns_label(tp):
            errs.append(FieldError("invalid", f"{pp}.targetPort", "must contain at least one letter or number (a-z, 0-9)", tp))
        if p.get("nodePort") and stype not in ("NodePort", "LoadBalancer"):
            errs.append(FieldError("forbidden", f"{pp}.nodePort", "may not be used when `type` is 'ClusterIP'"))
    if spec.get("sessionAffinity", "None") not in ("None", "ClientIP"):
        errs.append(FieldError("not_supported", "spec.sessionAffinity", _supported(("ClientIP", "None")), spec.get("sessionAffinity")))
    if spec.get("selector"):
        errs += m.labels(spec["selector"], "spec.selector")
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = spec.get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip and stype != "ExternalName" and (old.get("spec") or {}).get("type") != "ExternalName":
            errs.append(FieldError("invalid", "spec.clusterIPs[0]", "may not change once set", [new_ip]))
    return errs


def _config_data(obj: Obj, fields: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    seen: set[str] = set()
    for field in fields:
        data = obj.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            errs.append(FieldError("type", field, "must be a map", data))
            continue
        for k, v in data.items():
            if len(k) > 253 or not CONFIG_KEY.match(k) or k in (".", ".."):
                errs.append(FieldError("invalid", f"{field}[{k}]", CONFIG_KEY_MSG, k))
            if k in seen:
                errs.append(FieldError("invalid", f"{field}[{k}]", "duplicate of key present in another data field", k))
            seen.add(k)
            total += len(v) if isinstance(v, str) else 0
    if total > MAX_CONFIG_BYTES:
        errs.append(FieldError("too_long", "", f"must have at most {MAX_CONFIG_BYTES} bytes"))
    return errs


def _immutable_data(obj: Obj, old: Obj | None, fields: tuple[str, ...]) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    errs = []
    if not obj.get("immutable"):
        errs.append(FieldError("forbidden", "immutable", "field is immutable when `immutable` is set"))
    for f in fields:
        if obj.get(f) != old.get(f):
            errs.append(FieldError("forbidden", f, "field is immutable when `immutable` is set"))
    return errs


def configmap(obj: Obj, old: Obj | None) -> list[FieldError]:
    return _config_data(obj, ("data", "binaryData")) + _immutable_data(obj, old, ("data", "binaryData"))


_SECRET_REQUIRED = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def secret(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs = _config_data(obj, ("data",))
    for k, v in (obj.get("data") or {}).items():
        if isinstance(v, str):
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                errs.append(FieldError("invalid", f"data[{k}]", "illegal base64 data", "<value omitted>"))
    stype = obj.get("type", "Opaque")
    for key in _SECRET_REQUIRED.get(stype, ()):
        if key not in (obj.get("data") or {}):
            errs.append(FieldError("required", f"data[{key}]"))
    if stype == "kubernetes.io/service-account-token":
        if not ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(FieldError("required", "metadata.annotations[kubernetes.io/service-account.name]"))
    if stype == "kubernetes.io/basic-auth":
        data = obj.get("data") or {}
        if "username" not in data and "password" not in data:
            errs.append(FieldError("required", "data[username]", "one of username or password is required"))
    if old is not None and old.get("type", "Opaque") != stype:
        errs.append(FieldError("invalid", "type", "field is immutable", stype))
    return errs + _immutable_data(obj, old, ("data",))


def namespace(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs = []
    for i, f in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        if not isinstance(f, str) or ("/" not in f and f != "kubernetes"):
            errs.append(FieldError("invalid", f"spec.finalizers[{i}]",
                                   "name is neither a standard finalizer name nor is it fully qualified", f))
    return errs


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_modes(spec: Obj) -> list[FieldError]:
    """Claims and volumes alike: at least one access mode, each a known one."""
    modes = spec.get("accessModes") or []
    errs = [FieldError("not_supported", "spec.accessModes", _supported(_ACCESS_MODES), m)
            for m in modes if m not in _ACCESS_MODES]
    if not modes:
        errs.insert(0, FieldError("required", "spec.accessModes", "at least 1 access mode is required"))
    return errs


def pvc(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    errs += _access_modes(spec)
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None and not spec.get("volumeName"):
        errs.append(FieldError("required", "spec.resources[storage]"))
    elif storage is not None and not quantity.is_valid(storage):
        errs.append(FieldError("invalid", "spec.resources[storage]", "must be a valid quantity", storage))
    if old is not None:
        a = {k: v for k, v in spec.items() if k not in ("resources", "volumeAttributesClassName")}
        b = {k: v for k, v in (old.get("spec") or {}).items() if k not in ("resources", "volumeAttributesClassName")}
        ospec = old.get("spec") or {}
        if not ospec.get("volumeName"):  # binding sets it once
            a.pop("volumeName", None)
            b.pop("volumeName", None)
        if ospec.get("storageClassName") is None:  # the retroactive default class sets it once
            a.pop("storageClassName", None)
            b.pop("storageClassName", None)
        if a != b:
            errs.append(FieldError("forbidden", "spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
    return errs


_PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder",
               "cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
               "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi")


def pv(obj: Obj, old: Obj | None) -> list[FieldError]:
    """A volume: a storage capacity, access modes, exactly one source, a known reclaim
    policy; its source (and node affinity, once set) never change."""
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    cap = spec.get("capacity") or {}
    if not cap:
        errs.append(FieldError("required", "spec.capacity"))
    elif set(cap) != {"storage"}:
        errs.append(FieldError("not_supported", "spec.capacity", _supported(("storage",)), str(cap)))
    elif not quantity.is_valid(cap["storage"]):
        errs.append(FieldError("invalid", "spec.capacity[storage]", "must be a valid quantity", cap["storage"]))
    errs += _access_modes(spec)
    sources = [k for k in _PV_SOURCES if spec.get(k) is not None]
    if not sources:
        errs.append(FieldError("required", "spec", "must specify a volume type"))
    elif len(sources) > 1:
        errs.append(FieldError("forbidden", f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    elif sources == ["hostPath"] and not (spec.get("hostPath") or {}).get("path"):
        errs.append(FieldError("required", "spec.hostPath.path"))
    policies = ("Delete", "Recycle", "Retain")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy is not None and policy not in policies:
        errs.append(FieldError("not_supported", "spec.persistentVolumeReclaimPolicy", _supported(policies), policy))
    if old is not None:
        ospec = old.get("spec") or {}
        if {k: spec.get(k) for k in _PV_SOURCES} != {k: ospec.get(k) for k in _PV_SOURCES}:
            errs.append(FieldError("forbidden", "spec.persistentvolumesource",
                                   "spec.persistentvolumesource is immutable after creation"))
        if ospec.get("nodeAffinity") is not None and spec.get("nodeAffinity") != ospec.get("nodeAffinity"):
            errs.append(FieldError("forbidden", "spec.nodeAffinity", "field is immutable once set"))
    return errs
