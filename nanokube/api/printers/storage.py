"""Rows of volumes, claims and the storage.k8s.io kinds.

Capacities are quantities in canonical form; access modes print in upstream's fixed order
(RWO, ROX, RWX, RWOP) whatever order the object lists them in. The storage class of a
volume or claim still honours the beta annotation before the field.
"""

from __future__ import annotations

import datetime
from typing import Any

from .base import (
    AGE, NAME, Cells, Column, Obj, Printer, age, col, d, g, lst, name_of, quantity_string, ref, s, wide,
)

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[Any]) -> str:
    return ",".join(short for mode, short in _MODES if mode in modes)


def _storage_class(o: Obj) -> str:
    annotations = d(o, "metadata", "annotations")
    if _BETA_CLASS in annotations:
        return str(annotations[_BETA_CLASS])
    return s(o, "spec", "storageClassName")


def _optional(v: Any) -> str:
    return v if isinstance(v, str) else "<unset>"


def _pv(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    claim = spec.get("claimRef")
    claim_text = f"{s(claim, 'namespace')}/{s(claim, 'name')}" if isinstance(claim, dict) else ""
    phase = "Terminating" if g(o, "metadata", "deletionTimestamp") is not None else s(o, "status", "phase")
    return [name_of(o), quantity_string(g(spec, "capacity", "storage")), access_modes(lst(spec, "accessModes")),
            s(spec, "persistentVolumeReclaimPolicy"), phase, claim_text, _storage_class(o),
            _optional(spec.get("volumeAttributesClassName")), s(o, "status", "reason"), age(o, now),
            _optional(spec.get("volumeMode"))]


PERSISTENT_VOLUME = Printer((
    NAME,
    col("Capacity", doc=ref("core.v1.PersistentVolumeSpec", "capacity")),
    col("Access Modes", doc=ref("core.v1.PersistentVolumeSpec", "accessModes")),
    col("Reclaim Policy", doc=ref("core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
    col("Status", doc=ref("core.v1.PersistentVolumeStatus", "phase")),
    col("Claim", doc=ref("core.v1.PersistentVolumeSpec", "claimRef")),
    col("StorageClass", doc="The storage class the volume belongs to."),
    col("VolumeAttributesClass", doc="The volume attributes class the volume uses."),
    col("Reason", doc=ref("core.v1.PersistentVolumeStatus", "reason")),
    AGE,
    wide("VolumeMode", doc=ref("core.v1.PersistentVolumeSpec", "volumeMode")),
), _pv)


def _pvc(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    phase = "Terminating" if g(o, "metadata", "deletionTimestamp") is not None else s(o, "status", "phase")
    capacity = modes = ""
    if s(spec, "volumeName"):
        modes = access_modes(lst(o, "status", "accessModes"))
        capacity = quantity_string(g(o, "status", "capacity", "storage"))
    return [name_of(o), phase, s(spec, "volumeName"), capacity, modes, _storage_class(o),
            _optional(spec.get("volumeAttributesClassName")), age(o, now), _optional(spec.get("volumeMode"))]


PERSISTENT_VOLUME_CLAIM = Printer((
    NAME,
    col("Status", doc=ref("core.v1.PersistentVolumeClaimStatus", "phase")),
    col("Volume", doc=ref("core.v1.PersistentVolumeClaimSpec", "volumeName")),
    col("Capacity", doc=ref("core.v1.PersistentVolumeClaimStatus", "capacity")),
    col("Access Modes", doc=ref("core.v1.PersistentVolumeClaimStatus", "accessModes")),
    col("StorageClass", doc="The storage class the claim asks for."),
    col("VolumeAttributesClass", doc="The volume attributes class the claim asks for."),
    AGE,
    wide("VolumeMode", doc=ref("core.v1.PersistentVolumeClaimSpec", "volumeMode")),
), _pvc)


def _is_default(o: Obj, *keys: str) -> bool:
    annotations = d(o, "metadata", "annotations")
    return any(annotations.get(k) == "true" for k in keys)


def _storage_class_row(o: Obj, now: datetime.datetime) -> Cells:
    name = name_of(o)
    if _is_default(o, "storageclass.kubernetes.io/is-default-class",
                   "storageclass.beta.kubernetes.io/is-default-class"):
        name += " (default)"
    return [name, s(o, "provisioner"), s(o, "reclaimPolicy") or "Delete", s(o, "volumeBindingMode") or "Immediate",
            o.get("allowVolumeExpansion") is True, age(o, now)]


STORAGE_CLASS = Printer((
    NAME,
    col("Provisioner", doc=ref("storage.v1.StorageClass", "provisioner")),
    col("ReclaimPolicy", doc=ref("storage.v1.StorageClass", "reclaimPolicy")),
    col("VolumeBindingMode", doc=ref("storage.v1.StorageClass", "volumeBindingMode")),
    col("AllowVolumeExpansion", doc=ref("storage.v1.StorageClass", "allowVolumeExpansion")),
    AGE,
), _storage_class_row)


def _volume_attributes_class(o: Obj, now: datetime.datetime) -> Cells:
    name = name_of(o)
    if _is_default(o, "storage.kubernetes.io/is-default-class"):
        name += " (default)"
    return [name, s(o, "driverName"), age(o, now)]


VOLUME_ATTRIBUTES_CLASS = Printer((
    NAME, col("DriverName", doc=ref("storage.v1beta1.VolumeAttributesClass", "driverName")), AGE,
), _volume_attributes_class)

VOLUME_ATTACHMENT = Printer((
    NAME,
    # upstream flags this column as a name column too
    Column("Attacher", format="name", doc=ref("storage.v1.VolumeAttachmentSpec", "attacher")),
    col("PV", doc=ref("storage.v1.VolumeAttachmentSource", "persistentVolumeName")),
    col("Node", doc=ref("storage.v1.VolumeAttachmentSpec", "nodeName")),
    col("Attached", "boolean", ref("storage.v1.VolumeAttachmentStatus", "attached")),
    AGE,
), lambda o, now: [name_of(o), s(o, "spec", "attacher"), s(o, "spec", "source", "persistentVolumeName"),
                   s(o, "spec", "nodeName"), g(o, "status", "attached") is True, age(o, now)])


def _csi_driver(o: Obj, now: datetime.datetime) -> Cells:
    spec = d(o, "spec")
    tokens = "<unset>"
    if spec.get("tokenRequests") is not None:
        tokens = ",".join(s(t, "audience") for t in lst(spec, "tokenRequests"))
    modes = ",".join(m for m in lst(spec, "volumeLifecycleModes") if isinstance(m, str)) or "<none>"
    return [name_of(o), spec.get("attachRequired") is not False, spec.get("podInfoOnMount") is True,
            spec.get("storageCapacity") is True, tokens, spec.get("requiresRepublish") is True, modes, age(o, now)]


CSI_DRIVER = Printer((
    NAME,
    col("AttachRequired", "boolean", ref("storage.v1.CSIDriverSpec", "attachRequired")),
    col("PodInfoOnMount", "boolean", ref("storage.v1.CSIDriverSpec", "podInfoOnMount")),
    col("StorageCapacity", "boolean", ref("storage.v1.CSIDriverSpec", "storageCapacity")),
    col("TokenRequests", doc=ref("storage.v1.CSIDriverSpec", "tokenRequests")),
    col("RequiresRepublish", "boolean", ref("storage.v1.CSIDriverSpec", "requiresRepublish")),
    col("Modes", doc=ref("storage.v1.CSIDriverSpec", "volumeLifecycleModes")),
    AGE,
), _csi_driver)

CSI_NODE = Printer((
    NAME, col("Drivers", "integer", "How many CSI drivers are registered on the node."), AGE,
), lambda o, now: [name_of(o), len(lst(o, "spec", "drivers")), age(o, now)])

CSI_STORAGE_CAPACITY = Printer((
    NAME,
    col("StorageClassName", doc=ref("storage.v1.CSIStorageCapacity", "storageClassName")),
    col("Capacity", doc=ref("storage.v1.CSIStorageCapacity", "capacity")),
), lambda o, now: [name_of(o), s(o, "storageClassName"),
                   "<unset>" if o.get("capacity") is None else quantity_string(o.get("capacity"))])

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "PersistentVolume"): PERSISTENT_VOLUME,
    ("", "PersistentVolumeClaim"): PERSISTENT_VOLUME_CLAIM,
    ("storage.k8s.io", "StorageClass"): STORAGE_CLASS,
    ("storage.k8s.io", "VolumeAttributesClass"): VOLUME_ATTRIBUTES_CLASS,
    ("storage.k8s.io", "VolumeAttachment"): VOLUME_ATTACHMENT,
    ("storage.k8s.io", "CSIDriver"): CSI_DRIVER,
    ("storage.k8s.io", "CSINode"): CSI_NODE,
    ("storage.k8s.io", "CSIStorageCapacity"): CSI_STORAGE_CAPACITY,
}
