"""Built-in admission: what upstream's default admission plugins do to a write.

NamespaceLifecycle (no new objects in missing or terminating namespaces), Service address
and port allocation, Priority (spec.priority from priorityClassName), the ServiceAccount
default for pods, and DefaultTolerationSeconds (pods tolerate a not-ready or unreachable
node for 300 s before the taint eviction controller removes them).
"""

from __future__ import annotations

from typing import Any

from ..api import errors
from ..api.registry import Resource
from .allocators import ServiceAllocator
from .objects import Objects, WriteOptions

SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}


class Admission:
    def __init__(self, objects: Objects, allocator: ServiceAllocator, not_ready_toleration_seconds: int = 300,
                 unreachable_toleration_seconds: int = 300) -> None:
        self.objects = objects
        self.allocator = allocator
        self.default_tolerations = {"node.kubernetes.io/not-ready": not_ready_toleration_seconds,
                                    "node.kubernetes.io/unreachable": unreachable_toleration_seconds}
        reg = objects.registry
        self.namespaces = reg.get("", "v1", "namespaces")
        self.priority_classes = reg.get("scheduling.k8s.io", "v1", "priorityclasses")

    def install(self) -> None:
        self.objects.admit.append(self.admit)

    async def admit(
        self, r: Resource, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions
    ) -> dict[str, Any]:
        if old is None and r.namespaced:
            self._namespace_lifecycle(r, obj)
        if r.crd is None and r.group == "":
            if r.kind == "Service" and opts.subresource == "":
                self._service(obj, old, reserve=not opts.dry_run)
            elif r.kind == "Pod" and old is None:
                self._pod(obj)
        return obj

    def _namespace_lifecycle(self, r: Resource, obj: dict[str, Any]) -> None:
        assert self.namespaces is not None
        ns = obj["metadata"].get("namespace")
        if not ns:
            return
        cur = self.objects.cache.get(self.namespaces.key(None, ns))
        if cur is None:
            raise errors.not_found("namespaces", ns)
        if cur.obj.get("status", {}).get("phase") == "Terminating" or cur.obj["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f'{r.plural} "{obj["metadata"].get("name", "")}" is forbidden: unable to create new content '
                f"in namespace {ns} because it is being terminated",
                name=obj["metadata"].get("name", ""), group=r.group, kind=r.plural,
                causes=[{"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                         "field": "metadata.namespace"}],
            )

    def _service(self, svc: dict[str, Any], old: dict[str, Any] | None, reserve: bool = True) -> None:
        spec = svc.setdefault("spec", {})
        meta = svc["metadata"]
        stype = spec.get("type", "ClusterIP")
        if stype == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        else:
            old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
            want = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
            if old_ip and old_ip != "None" and want in (None, "", old_ip):
                ip = old_ip
            elif want == "None":
                ip = "None"
            elif old_ip and want and want != old_ip:
                ip = want  # validation reports the immutable field
            else:
                ip = self.allocator.allocate_ip(want or None, meta.get("uid"), meta.get("name", ""), reserve)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        self.allocator.allocate_node_ports(svc, old, reserve)

    def _pod(self, pod: dict[str, Any]) -> None:
        spec = pod.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec["serviceAccount"] = spec["serviceAccountName"]
        self._default_tolerations(spec)
        name = spec.get("priorityClassName")
        if name:
            value = SYSTEM_PRIORITY_CLASSES.get(name)
            policy = "PreemptLowerPriority"
            if value is None and self.priority_classes is not None:
                pc = self.objects.cache.get(self.priority_classes.key(None, name))
                if pc is None:
                    raise errors.Forbidden(
                        f'pods "{pod["metadata"].get("name", "")}" is forbidden: no PriorityClass with name {name} was found',
                        name=pod["metadata"].get("name", ""), kind="pods")
                value = int(pc.obj.get("value", 0))
                policy = pc.obj.get("preemptionPolicy", policy)
            spec["priority"] = value
            spec.setdefault("preemptionPolicy", policy)
        else:
            default = self._global_default()
            if default is not None:
                spec["priorityClassName"] = default["metadata"]["name"]
                spec["priority"] = int(default.get("value", 0))
                spec.setdefault("preemptionPolicy", default.get("preemptionPolicy", "PreemptLowerPriority"))
            else:
                spec.setdefault("priority", 0)

    def _default_tolerations(self, spec: dict[str, Any]) -> None:
        tolerations = list(spec.get("tolerations") or [])
        for key, seconds in self.default_tolerations.items():
            if any((t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
                   and t.get("effect") in ("NoExecute", "", None) for t in tolerations):
                continue  # the pod already says how long it tolerates this
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
        spec["tolerations"] = tolerations

    def _global_default(self) -> dict[str, Any] | None:
        if self.priority_classes is None:
            return None
        for o in self.objects.cache.list(self.priority_classes.key(None), None):
            if o.obj.get("globalDefault"):
                return o.obj
        return None
