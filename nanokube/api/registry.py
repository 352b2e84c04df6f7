"""The registry of kinds: every resource the API serves, with upstream's discovery facts.

One `Resource` per (group, version, resource). Scope, short names, categories, verbs and
subresources are upstream's, because kubectl reads them from discovery: `kubectl get all`
walks category "all", `po` and `deploy` come from short names.

Custom resources join at run time through `Registry.add`; built-ins are fixed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")
GET_UPDATE_PATCH = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""  # group/version of the response kind, "" = same as parent
    version: str = ""


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    singular: str = ""
    # where objects live: /registry/<storage_resource>/...; two versions of one resource
    # (autoscaling/v1 and v2) share it.
    storage_resource: str = ""
    # the group/version the object is stored in; others are converted on the way.
    storage_version: str = ""
    # custom resources carry their CRD's schema; built-ins are looked up by GVK.
    crd: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def storage_name(self) -> str:
        """The resource part of storage keys (upstream uses group-qualified names for CRs)."""
        if self.storage_resource:
            return self.storage_resource
        return self.plural

    @property
    def qualified(self) -> str:
        """`deployments.apps`, as messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def has_status(self) -> bool:
        return self.subresource("status") is not None

    def key(self, namespace: str | None, name: str | None = None) -> str:
        """The storage key (or key prefix when name is None) of an object."""
        base = f"/registry/{self.storage_key_base}/"
        if self.namespaced and namespace:
            base += f"{namespace}/"
        if name is not None:
            base += name
        return base

    @property
    def storage_key_base(self) -> str:
        if self.crd is not None:
            return f"{self.group}/{self.plural}"
        return self.storage_name


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, GET_UPDATE_PATCH)


_SCALE = Subresource("scale", "Scale", GET_UPDATE_PATCH, "autoscaling", "v1")


def _r(
    gv: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: Iterable[str] = (),
    cats: Iterable[str] = (),
    subs: Iterable[Subresource] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    storage: str = "",
    storage_version: str = "",
) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=tuple(short),
        categories=tuple(cats),
        verbs=verbs,
        subresources=tuple(subs),
        storage_resource=storage,
        storage_version=storage_version,
    )


# Order within a group-version is discovery order; kubectl get all follows it.
BUILTIN: tuple[Resource, ...] = (
    _r("v1", "bindings", "Binding", verbs=("create",)),
    _r("v1", "componentstatuses", "ComponentStatus", False, ["cs"], verbs=("get", "list")),
    _r("v1", "configmaps", "ConfigMap", short=["cm"]),
    _r("v1", "endpoints", "Endpoints", short=["ep"]),
    _r("v1", "events", "Event", short=["ev"]),
    _r("v1", "limitranges", "LimitRange", short=["limits"]),
    _r(
        "v1", "namespaces", "Namespace", False, ["ns"],
        subs=[Subresource("finalize", "Namespace", ("update",)), _status("Namespace")],
        verbs=NO_COLLECTION_DELETE,
    ),
    _r("v1", "nodes", "Node", False, ["no"], subs=[_status("Node")]),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"],
       subs=[_status("PersistentVolumeClaim")]),
    _r("v1", "persistentvolumes", "PersistentVolume", False, ["pv"],
       subs=[_status("PersistentVolume")]),
    _r(
        "v1", "pods", "Pod", short=["po"], cats=["all"],
        subs=[
            Subresource("binding", "Binding", ("create",)),
            Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
            _status("Pod"),
        ],
    ),
    _r("v1", "podtemplates", "PodTemplate"),
    _r("v1", "replicationcontrollers", "ReplicationController", short=["rc"], cats=["all"],
       subs=[_SCALE, _status("ReplicationController")]),
    _r("v1", "resourcequotas", "ResourceQuota", short=["quota"], subs=[_status("ResourceQuota")]),
    _r("v1", "secrets", "Secret"),
    _r("v1", "serviceaccounts", "ServiceAccount", short=["sa"]),
    _r("v1", "services", "Service", short=["svc"], cats=["all"], subs=[_status("Service")],
       verbs=NO_COLLECTION_DELETE),
    _r("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition",
       False, ["crd", "crds"], cats=["api-extensions"],
       subs=[_status("CustomResourceDefinition")]),
    _r("apps/v1", "controllerrevisions", "ControllerRevision"),
    _r("apps/v1", "daemonsets", "DaemonSet", short=["ds"], cats=["all"],
       subs=[_status("DaemonSet")]),
    _r("apps/v1", "deployments", "Deployment", short=["deploy"], cats=["all"],
       subs=[_SCALE, _status("Deployment")]),
    _r("apps/v1", "replicasets", "ReplicaSet", short=["rs"], cats=["all"],
       subs=[_SCALE, _status("ReplicaSet")]),
    _r("apps/v1", "statefulsets", "StatefulSet", short=["sts"], cats=["all"],
       subs=[_SCALE, _status("StatefulSet")]),
    _r("authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
       verbs=("create",)),
    _r("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"],
       cats=["all"], subs=[_status("HorizontalPodAutoscaler")], storage_version="autoscaling/v2"),
    _r("autoscaling/v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"],
       cats=["all"], subs=[_status("HorizontalPodAutoscaler")], storage_version="autoscaling/v2"),
    _r("batch/v1", "cronjobs", "CronJob", short=["cj"], cats=["all"], subs=[_status("CronJob")]),
    _r("batch/v1", "jobs", "Job", cats=["all"], subs=[_status("Job")]),
    _r("coordination.k8s.io/v1", "leases", "Lease"),
    _r("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    _r("events.k8s.io/v1", "events", "Event", short=["ev"], storage_version="v1"),
    _r("networking.k8s.io/v1", "ingressclasses", "IngressClass", False),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", short=["ing"], subs=[_status("Ingress")]),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", short=["netpol"]),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"],
       subs=[_status("PodDisruptionBudget")]),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role"),
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, ["pc"]),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", False, ["sc"]),
)

# Groups in the order /apis lists them; the first version listed is the preferred one.
GROUP_ORDER = (
    "",
    "apps",
    "events.k8s.io",
    "autoscaling",
    "batch",
    "authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
)
VERSION_ORDER = {"autoscaling": ("v2", "v1")}


class Registry:
    """Lookup of resources by group/version/plural and by kind; mutable for CRDs."""

    def __init__(self, resources: Iterable[Resource] = BUILTIN) -> None:
        self._by_gvr: dict[tuple[str, str, str], Resource] = {}
        self._by_gvk: dict[tuple[str, str, str], Resource] = {}
        self.generation = 0  # bumped on every change, so caches of discovery can tell
        for r in resources:
            self.add(r)

    def add(self, r: Resource) -> None:
        self._by_gvr[(r.group, r.version, r.plural)] = r
        self._by_gvk[(r.group, r.version, r.kind)] = r
        self.generation += 1

    def remove_group_resource(self, group: str, plural: str) -> None:
        for key in [k for k in self._by_gvr if k[0] == group and k[2] == plural]:
            r = self._by_gvr.pop(key)
            self._by_gvk.pop((r.group, r.version, r.kind), None)
        self.generation += 1

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def require(self, group: str, version: str, plural: str) -> Resource:
        """A resource that must exist (built-ins named in code)."""
        r = self._by_gvr.get((group, version, plural))
        if r is None:
            raise KeyError(f"{plural}.{group}/{version} is not a served resource")
        return r

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def by_api_version(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        return self.by_kind(group, version, kind)

    def all(self) -> list[Resource]:
        return list(self._by_gvr.values())

    def groups(self) -> list[tuple[str, list[str]]]:
        """[(group, [versions, preferred first])] in discovery order."""
        seen: dict[str, list[str]] = {}
        for r in self._by_gvr.values():
            versions = seen.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        ordered = [g for g in GROUP_ORDER if g in seen] + sorted(
            g for g in seen if g not in GROUP_ORDER
        )
        out = []
        for g in ordered:
            versions = seen[g]
            pref = VERSION_ORDER.get(g)
            if pref:
                versions = sorted(versions, key=lambda v: pref.index(v) if v in pref else 99)
            else:
                versions = sorted(versions, key=_version_priority)
            out.append((g, versions))
        return out

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._by_gvr.values() if r.group == group and r.version == version]


def _version_priority(version: str) -> tuple[int, int, int]:
    """Upstream's version ordering: GA before beta before alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
