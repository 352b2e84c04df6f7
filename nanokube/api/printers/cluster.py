"""Rows of nodes, namespaces, events, configuration objects, quotas, RBAC bindings and
the other cluster-level kinds upstream prints.

Events are printed as upstream prints its one internal Event type, so an events.k8s.io/v1
object is first read through its core/v1 field names (`regarding` is `involvedObject`,
`note` is `message`, and so on).
"""

from __future__ import annotations

import datetime
from typing import Any

from .base import (
    AGE, META, NAME, Cells, Column, Obj, Printer, age, col, d, g, human_duration, lst, n, name_of, parse_time,
    quantity_string, ref, s, since, trim_space, wide,
)

# -- nodes and namespaces ---------------------------------------------------------------------

_ROLE_PREFIX = "node-role.kubernetes.io/"


def node_roles(labels: Any) -> str:
    roles = set()
    for k, v in (labels or {}).items():
        if k.startswith(_ROLE_PREFIX) and len(k) > len(_ROLE_PREFIX):
            roles.add(k[len(_ROLE_PREFIX):])
        elif k == "kubernetes.io/role" and v:
            roles.add(str(v))
    return ",".join(sorted(roles)) or "<none>"


def node_status(node: Obj) -> str:
    conditions = {s(c, "type"): c for c in lst(node, "status", "conditions") if isinstance(c, dict)}
    ready = conditions.get("Ready")
    words = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if g(node, "spec", "unschedulable") is True:
        words.append("SchedulingDisabled")
    return ",".join(words)


def _address(node: Obj, kind: str) -> str:
    for a in lst(node, "status", "addresses"):
        if isinstance(a, dict) and a.get("type") == kind:
            return s(a, "address")
    return "<none>"


def _node(o: Obj, now: datetime.datetime) -> Cells:
    info = d(o, "status", "nodeInfo")
    return [name_of(o), node_status(o), node_roles(d(o, "metadata", "labels")), age(o, now),
            s(info, "kubeletVersion"), _address(o, "InternalIP"), _address(o, "ExternalIP"),
            s(info, "osImage") or "<unknown>", s(info, "kernelVersion") or "<unknown>",
            s(info, "containerRuntimeVersion") or "<unknown>"]


NODE = Printer((
    NAME,
    col("Status", doc="Whether the node is ready, and whether it takes new pods."),
    col("Roles", doc="The roles the node's labels give it."),
    AGE,
    col("Version", doc=ref("core.v1.NodeSystemInfo", "kubeletVersion")),
    wide("Internal-IP", doc=ref("core.v1.NodeStatus", "addresses")),
    wide("External-IP", doc=ref("core.v1.NodeStatus", "addresses")),
    wide("OS-Image", doc=ref("core.v1.NodeSystemInfo", "osImage")),
    wide("Kernel-Version", doc=ref("core.v1.NodeSystemInfo", "kernelVersion")),
    wide("Container-Runtime", doc=ref("core.v1.NodeSystemInfo", "containerRuntimeVersion")),
), _node)

NAMESPACE = Printer((
    NAME, col("Status", doc=ref("core.v1.NamespaceStatus", "phase")), AGE,
), lambda o, now: [name_of(o), s(o, "status", "phase"), age(o, now)])

# -- events -----------------------------------------------------------------------------------

_EVENTS_V1 = (("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
              ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
              ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"))


def core_event(o: Obj) -> Obj:
    """An Event under core/v1 field names, whichever group served it."""
    new_api = o.get("apiVersion") == "events.k8s.io/v1"
    if not new_api and ("involvedObject" in o or not any(k in o for k, _ in _EVENTS_V1)):
        return o
    out = {k: v for k, v in o.items() if k not in {a for a, _ in _EVENTS_V1}}
    for new, core in _EVENTS_V1:
        if new in o:
            out[core] = o[new]
    return out


def _event(o: Obj, now: datetime.datetime) -> Cells:
    ev = core_event(o)
    first_ts = ev.get("firstTimestamp") if parse_time(ev.get("firstTimestamp")) else ev.get("eventTime")
    first = since(first_ts, now)
    last = since(ev.get("lastTimestamp"), now) if parse_time(ev.get("lastTimestamp")) else first
    count = n(ev, "count")
    series = ev.get("series")
    if series is not None:
        last = since(g(series, "lastObservedTime"), now)
        count = n(series, "count")
    elif count == 0:
        count = 1  # events of the new API carry no count when they happened once
    involved = d(ev, "involvedObject")
    kind = s(involved, "kind").lower()
    target = f"{kind}/{s(involved, 'name')}" if s(involved, "name") else kind
    component = s(ev, "source", "component") or s(ev, "reportingComponent")
    instance = s(ev, "source", "host") or s(ev, "reportingInstance")
    source = f"{component}, {instance}" if instance else component
    return [last, s(ev, "type"), s(ev, "reason"), target, s(involved, "fieldPath"), source,
            trim_space(ev.get("message")), first, count, name_of(ev)]


EVENT = Printer((
    col("Last Seen", doc=ref("core.v1.Event", "lastTimestamp")),
    col("Type", doc=ref("core.v1.Event", "type")),
    col("Reason", doc=ref("core.v1.Event", "reason")),
    col("Object", doc=ref("core.v1.Event", "involvedObject")),
    wide("Subobject", doc=ref("core.v1.ObjectReference", "fieldPath")),
    wide("Source", doc=ref("core.v1.Event", "source")),
    col("Message", doc=ref("core.v1.Event", "message")),
    wide("First Seen", doc=ref("core.v1.Event", "firstTimestamp")),
    wide("Count", doc=ref("core.v1.Event", "count")),
    Column("Name", priority=1, format="name", doc=f"@{META}.name"),
), _event)

# -- configuration and identity ---------------------------------------------------------------


def _count(o: Obj, *fields: str) -> int:
    return sum(len(v) for f in fields if isinstance(v := o.get(f), (dict, list)))


CONFIG_MAP = Printer((
    NAME, col("Data", doc=ref("core.v1.ConfigMap", "data")), AGE,
), lambda o, now: [name_of(o), _count(o, "data", "binaryData"), age(o, now)])

SECRET = Printer((
    NAME, col("Type", doc=ref("core.v1.Secret", "type")), col("Data", doc=ref("core.v1.Secret", "data")), AGE,
), lambda o, now: [name_of(o), s(o, "type"), _count(o, "data"), age(o, now)])

# 1.33 still shows how many secrets a service account lists
SERVICE_ACCOUNT = Printer((
    NAME, col("Secrets", doc=ref("core.v1.ServiceAccount", "secrets")), AGE,
), lambda o, now: [name_of(o), _count(o, "secrets"), age(o, now)])

LEASE = Printer((
    NAME, col("Holder", doc=ref("coordination.v1.LeaseSpec", "holderIdentity")), AGE,
), lambda o, now: [name_of(o), s(o, "spec", "holderIdentity"), age(o, now)])

LEASE_CANDIDATE = Printer((
    NAME,
    col("LeaseName", doc=ref("coordination.v1alpha2.LeaseCandidateSpec", "leaseName")),
    col("BinaryVersion", doc=ref("coordination.v1alpha2.LeaseCandidateSpec", "binaryVersion")),
    col("EmulationVersion", doc=ref("coordination.v1alpha2.LeaseCandidateSpec", "emulationVersion")),
    AGE,
), lambda o, now: [name_of(o), s(o, "spec", "leaseName"), s(o, "spec", "binaryVersion"),
                   s(o, "spec", "emulationVersion"), age(o, now)])

# -- quotas and health ------------------------------------------------------------------------


def quota_columns(o: Obj) -> tuple[str, str]:
    """REQUEST and LIMIT: `name: used/hard` for every hard limit, `limits.*` in the second."""
    hard, used = d(o, "status", "hard"), d(o, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        parts = name.split(".")
        target = limits if len(parts) > 1 and parts[0] == "limits" else requests
        target.append(f"{name}: {quantity_string(used.get(name))}/{quantity_string(hard[name])}")
    return ", ".join(requests), ", ".join(limits)


RESOURCE_QUOTA = Printer((
    NAME,
    col("Request", doc="The quota's limits on requested resources: used/hard."),
    col("Limit", doc="The quota's limits on resource limits: used/hard."),
    AGE,
), lambda o, now: [name_of(o), *quota_columns(o), age(o, now)])


def _component_status(o: Obj, now: datetime.datetime) -> Cells:
    for c in lst(o, "conditions"):
        if isinstance(c, dict) and c.get("type") == "Healthy":
            word = "Healthy" if c.get("status") == "True" else "Unhealthy"
            return [name_of(o), word, s(c, "message"), s(c, "error")]
    return [name_of(o), "Unknown", "", ""]


COMPONENT_STATUS = Printer((
    NAME,
    col("Status", doc="Whether the component reports itself healthy."),
    col("Message", doc="What the component's health condition says."),
    col("Error", doc="The error the component's health condition reports."),
), _component_status)

# -- RBAC and scheduling ----------------------------------------------------------------------


def subjects(binding: Obj) -> tuple[str, str, str]:
    users, groups, sas = [], [], []
    for sub in lst(binding, "subjects"):
        if not isinstance(sub, dict):
            continue
        kind = sub.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s(sub, 'namespace')}/{s(sub, 'name')}")
        elif kind == "User":
            users.append(s(sub, "name"))
        elif kind == "Group":
            groups.append(s(sub, "name"))
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def _binding(o: Obj, now: datetime.datetime) -> Cells:
    role = d(o, "roleRef")
    return [name_of(o), f"{s(role, 'kind')}/{s(role, 'name')}", age(o, now), *subjects(o)]


def _binding_printer(what: str) -> Printer:
    return Printer((
        NAME,
        col("Role", doc=ref(f"rbac.v1.{what}", "roleRef")),
        AGE,
        wide("Users", doc=f"The users the {what} names."),
        wide("Groups", doc=f"The groups the {what} names."),
        wide("ServiceAccounts", doc=f"The service accounts the {what} names."),
    ), _binding)


ROLE_BINDING = _binding_printer("RoleBinding")
CLUSTER_ROLE_BINDING = _binding_printer("ClusterRoleBinding")


def _priority_class(o: Obj, now: datetime.datetime) -> Cells:
    policy = o.get("preemptionPolicy")
    return [name_of(o), n(o, "value"), o.get("globalDefault") is True, age(o, now),
            policy if isinstance(policy, str) else ""]


PRIORITY_CLASS = Printer((
    NAME,
    col("Value", "integer", ref("scheduling.v1.PriorityClass", "value")),
    col("Global-Default", "boolean", ref("scheduling.v1.PriorityClass", "globalDefault")),
    AGE,
    col("PreemptionPolicy", doc=ref("scheduling.v1.PriorityClass", "preemptionPolicy")),
), _priority_class)

RUNTIME_CLASS = Printer((
    NAME, col("Handler", doc=ref("node.v1.RuntimeClass", "handler")), AGE,
), lambda o, now: [name_of(o), s(o, "handler"), age(o, now)])

# -- admission, certificates, flow control ----------------------------------------------------

_WEBHOOKS = Printer((
    NAME, col("Webhooks", "integer", "How many webhooks the configuration registers."), AGE,
), lambda o, now: [name_of(o), _count(o, "webhooks"), age(o, now)])


def _param_kind(o: Obj) -> str:
    kind = g(o, "spec", "paramKind")
    return f"{s(kind, 'apiVersion')}/{s(kind, 'kind')}" if isinstance(kind, dict) else "<unset>"


VALIDATING_ADMISSION_POLICY = Printer((
    NAME,
    col("Validations", "integer", "How many validation rules the policy has."),
    col("ParamKind", doc="The kind of the objects that parameterize the policy."),
    AGE,
), lambda o, now: [name_of(o), len(lst(o, "spec", "validations")), _param_kind(o), age(o, now)])


def csr_condition(o: Obj) -> str:
    kinds = {s(c, "type") for c in lst(o, "status", "conditions") if isinstance(c, dict)}
    word = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        word += ",Failed"
    if s(o, "status", "certificate"):
        word += ",Issued"
    return word


def _csr(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    seconds = spec.get("expirationSeconds")
    duration = "<none>" if seconds is None else human_duration(n(spec, "expirationSeconds"))
    return [name_of(o), age(o, now), s(spec, "signerName") or "<none>", s(spec, "username"), duration,
            csr_condition(o)]


CERTIFICATE_SIGNING_REQUEST = Printer((
    NAME, AGE,
    col("SignerName", doc=ref("certificates.v1.CertificateSigningRequestSpec", "signerName")),
    col("Requestor", doc=ref("certificates.v1.CertificateSigningRequestSpec", "request")),
    col("RequestedDuration", doc=ref("certificates.v1.CertificateSigningRequestSpec", "expirationSeconds")),
    col("Condition", doc=ref("certificates.v1.CertificateSigningRequestStatus", "conditions")),
), _csr)


def _flow_schema(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    method = g(spec, "distinguisherMethod")
    dangling = "?"
    for c in lst(o, "status", "conditions"):
        if isinstance(c, dict) and c.get("type") == "Dangling":
            dangling = s(c, "status")
            break
    return [name_of(o), s(spec, "priorityLevelConfiguration", "name"), n(spec, "matchingPrecedence"),
            s(method, "type") if isinstance(method, dict) else "<none>", age(o, now), dangling]


FLOW_SCHEMA = Printer((
    NAME,
    col("PriorityLevel", doc=ref("flowcontrol.v1.PriorityLevelConfigurationReference", "name")),
    col("MatchingPrecedence", doc=ref("flowcontrol.v1.FlowSchemaSpec", "matchingPrecedence")),
    col("DistinguisherMethod", doc=ref("flowcontrol.v1.FlowSchemaSpec", "distinguisherMethod")),
    AGE,
    col("MissingPL", doc="Whether the priority level the schema names is missing."),
), _flow_schema)


def _priority_level(o: Obj, now: datetime.datetime) -> Cells:
    limited = g(o, "spec", "limited")
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    length: Any = "<none>"
    if isinstance(limited, dict):
        shares = n(limited, "nominalConcurrencyShares")
        queuing = g(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues, hand, length = n(queuing, "queues"), n(queuing, "handSize"), n(queuing, "queueLengthLimit")
    return [name_of(o), s(o, "spec", "type"), shares, queues, hand, length, age(o, now)]


PRIORITY_LEVEL_CONFIGURATION = Printer((
    NAME,
    col("Type", doc=ref("flowcontrol.v1.PriorityLevelConfigurationSpec", "type")),
    col("NominalConcurrencyShares",
        doc=ref("flowcontrol.v1.LimitedPriorityLevelConfiguration", "nominalConcurrencyShares")),
    col("Queues", doc=ref("flowcontrol.v1.QueuingConfiguration", "queues")),
    col("HandSize", doc=ref("flowcontrol.v1.QueuingConfiguration", "handSize")),
    col("QueueLengthLimit", doc=ref("flowcontrol.v1.QueuingConfiguration", "queueLengthLimit")),
    AGE,
), _priority_level)


def flow_schema_order(o: Obj) -> tuple[int, str]:
    """Upstream lists flow schemas by matching precedence, then name."""
    return n(o, "spec", "matchingPrecedence"), name_of(o)


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Node"): NODE,
    ("", "Namespace"): NAMESPACE,
    ("", "Event"): EVENT,
    ("events.k8s.io", "Event"): EVENT,
    ("", "ConfigMap"): CONFIG_MAP,
    ("", "Secret"): SECRET,
    ("", "ServiceAccount"): SERVICE_ACCOUNT,
    ("", "ResourceQuota"): RESOURCE_QUOTA,
    ("", "ComponentStatus"): COMPONENT_STATUS,
    ("coordination.k8s.io", "Lease"): LEASE,
    ("coordination.k8s.io", "LeaseCandidate"): LEASE_CANDIDATE,
    ("rbac.authorization.k8s.io", "RoleBinding"): ROLE_BINDING,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): CLUSTER_ROLE_BINDING,
    ("scheduling.k8s.io", "PriorityClass"): PRIORITY_CLASS,
    ("node.k8s.io", "RuntimeClass"): RUNTIME_CLASS,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _WEBHOOKS,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _WEBHOOKS,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): VALIDATING_ADMISSION_POLICY,
    ("certificates.k8s.io", "CertificateSigningRequest"): CERTIFICATE_SIGNING_REQUEST,
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): FLOW_SCHEMA,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): PRIORITY_LEVEL_CONFIGURATION,
}

# kinds whose lists upstream sorts before printing
ROW_ORDER = {("flowcontrol.apiserver.k8s.io", "FlowSchema"): flow_schema_order}
