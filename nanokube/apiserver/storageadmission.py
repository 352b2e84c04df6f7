"""Admission for storage: DefaultStorageClass and StorageObjectInUseProtection.

DefaultStorageClass: a claim created without `storageClassName` (the field absent, not "")
gets the cluster's default class — the StorageClass annotated
`storageclass.kubernetes.io/is-default-class: "true"`, the newest if several are — so
`kubectl apply` of a plain claim on k3s lands in `local-path`. `storageClassName: ""`
asks for no class and is left alone.

StorageObjectInUseProtection: new claims and volumes carry the `kubernetes.io/pvc-protection`
and `kubernetes.io/pv-protection` finalizers; the protection controllers remove them once
nothing uses the object, so deleting a claim a pod mounts waits for the pod.
"""

from __future__ import annotations

from typing import Any

from ..api.registry import Resource
from .objects import Objects, WriteOptions

Obj = dict[str, Any]
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")
FINALIZERS = {"PersistentVolumeClaim": "kubernetes.io/pvc-protection", "PersistentVolume": "kubernetes.io/pv-protection"}


class StorageAdmission:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.classes = objects.registry.require("storage.k8s.io", "v1", "storageclasses")

    def install(self) -> None:
        self.objects.admit.append(self.admit)

    async def admit(self, r: Resource, obj: Obj, old: Obj | None, opts: WriteOptions) -> Obj:
        if old is not None or opts.subresource or r.group != "" or r.kind not in FINALIZERS:
            return obj
        if r.kind == "PersistentVolumeClaim":
            self._default_class(obj)
        meta = obj.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZERS[r.kind] not in finalizers:
            meta["finalizers"] = [*finalizers, FINALIZERS[r.kind]]
        return obj

    def _default_class(self, pvc: Obj) -> None:
        spec = pvc.setdefault("spec", {})
        if spec.get("storageClassName") is not None or ANN_BETA_CLASS in (pvc["metadata"].get("annotations") or {}):
            return
        marked = [o.obj for o in self.objects.cache.list(self.classes.key(None), None)
                  if any((o.obj["metadata"].get("annotations") or {}).get(a) == "true" for a in DEFAULT_ANNOTATIONS)]
        if not marked:
            return
        marked.sort(key=lambda c: c["metadata"].get("name", ""))
        marked.sort(key=lambda c: c["metadata"].get("creationTimestamp", ""), reverse=True)
        spec["storageClassName"] = marked[0]["metadata"]["name"]
