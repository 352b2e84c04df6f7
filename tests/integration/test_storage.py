"""Persistent volumes on simulated nodes, driven with real kubectl: the k3s default class
waits for the first pod and provisions a volume on its node, static volumes bind at once,
claims in use are protected, reclaim policies act when claims go, and the scheduler says
why a pod with claims waits."""

from __future__ import annotations

import json

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture("--sim-nodes", "3")


def get(cluster, *args):
    res = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(res.stdout) if res.returncode == 0 else None


def apply(cluster, *objs):
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def claim(name, ns, size="1Gi", **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}}


def volume(name, size="2Gi", policy="Retain", **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/srv/{name}"}, **spec}}


def pod(name, ns, claim_name, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "nginx"}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}], **spec}}


def phase(cluster, kind, name, ns=None):
    obj = get(cluster, kind, name, *(["-n", ns] if ns else []))
    return (obj or {}).get("status", {}).get("phase")


def events(cluster, ns, name):
    out = get(cluster, "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")
    return [(e["reason"], e["message"]) for e in out["items"]]


def test_default_class_waits_for_the_first_pod_and_provisions_on_its_node(cluster):
    ns = "dynamic"
    cluster.kubectl("create", "namespace", ns)
    sc = cluster.kubectl("get", "sc").stdout.splitlines()
    assert sc[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    assert sc[1].split()[:6] == ["local-path", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
                                 "false"]

    apply(cluster, claim("data", ns))
    pvc = get(cluster, "pvc", "data", "-n", ns)
    assert pvc["spec"]["storageClassName"] == "local-path"  # DefaultStorageClass admission
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert wait_for(lambda: ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")
                    in events(cluster, ns, "data"))
    assert phase(cluster, "pvc", "data", ns) == "Pending" and not get(cluster, "pv")["items"]

    apply(cluster, pod("app", ns, "data"))
    assert wait_for(lambda: phase(cluster, "pod", "app", ns) == "Running", 30)
    node = get(cluster, "pod", "app", "-n", ns)["spec"]["nodeName"]
    pvc = get(cluster, "pvc", "data", "-n", ns)
    name = f"pvc-{pvc['metadata']['uid']}"
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    assert pvc["spec"]["volumeName"] == name
    ann = pvc["metadata"]["annotations"]
    assert ann["volume.kubernetes.io/selected-node"] == node
    assert ann["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
    assert ann["pv.kubernetes.io/bind-completed"] == "yes" and ann["pv.kubernetes.io/bound-by-controller"] == "yes"
    pv = get(cluster, "pv", name)
    hostname = get(cluster, "node", node)["metadata"]["labels"]["kubernetes.io/hostname"]
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [hostname]}]}]
    assert pv["spec"]["hostPath"] == {"path": str(cluster.data_dir / "storage" / f"{name}_{ns}_data"),
                                      "type": "DirectoryOrCreate"}
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    assert (pv["status"]["phase"], pv["spec"]["claimRef"]["name"], pv["spec"]["persistentVolumeReclaimPolicy"]) == \
        ("Bound", "data", "Delete")
    reasons = [r for r, _ in events(cluster, ns, "data")]
    assert {"ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"} <= set(reasons)

    rows = cluster.kubectl("get", "pv,pvc", "-n", ns).stdout.splitlines()
    assert rows[0].split() == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM",
                               "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]
    assert rows[1].split()[:7] == [f"persistentvolume/{name}", "1Gi", "RWO", "Delete", "Bound", f"{ns}/data",
                                   "local-path"]
    claim_rows = rows[rows.index("") + 1:]
    assert claim_rows[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                                     "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert claim_rows[1].split()[:6] == ["persistentvolumeclaim/data", "Bound", name, "1Gi", "RWO", "local-path"]

    # a claim in use is not removed until its pod is; then the Delete policy removes the volume
    cluster.kubectl("delete", "pvc", "data", "-n", ns, "--wait=false")
    assert wait_for(lambda: "Terminating" in cluster.kubectl("get", "pvc", "data", "-n", ns).stdout)
    assert phase(cluster, "pvc", "data", ns) == "Bound" and get(cluster, "pv", name) is not None
    cluster.kubectl("delete", "pod", "app", "-n", ns, "--wait=false")
    assert wait_for(lambda: get(cluster, "pvc", "data", "-n", ns) is None and get(cluster, "pv", name) is None, 30)


def test_static_volumes_bind_at_once_and_are_released_by_policy(cluster):
    ns = "static"
    cluster.kubectl("create", "namespace", ns)
    apply(cluster,
          {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "manual"},
           "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate", "reclaimPolicy": "Retain"},
          volume("st-small", "1Gi"), volume("st-big", "10Gi", policy="Delete"),
          volume("st-manual", "5Gi", storageClassName="manual"),
          claim("plain", ns, "500Mi", storageClassName=""), claim("large", ns, "8Gi", storageClassName=""),
          claim("classy", ns, "1Gi", storageClassName="manual"),
          claim("too-big", ns, "100Gi", storageClassName=""))
    assert wait_for(lambda: all(phase(cluster, "pvc", n, ns) == "Bound" for n in ("plain", "large", "classy")), 30)
    assert get(cluster, "pvc", "plain", "-n", ns)["spec"]["volumeName"] == "st-small"  # the smallest that fits
    assert get(cluster, "pvc", "large", "-n", ns)["spec"]["volumeName"] == "st-big"
    assert get(cluster, "pvc", "classy", "-n", ns)["spec"]["volumeName"] == "st-manual"
    row = cluster.kubectl("get", "pv", "st-small").stdout.splitlines()[1].split()
    assert row[:6] == ["st-small", "1Gi", "RWO", "Retain", "Bound", f"{ns}/plain"]
    assert wait_for(lambda: ("FailedBinding", "no persistent volumes available for this claim and no storage class is set")
                    in events(cluster, ns, "too-big"))
    assert phase(cluster, "pvc", "too-big", ns) == "Pending"

    # a pod using a bound claim runs where the volume is reachable: anywhere, for these
    apply(cluster, pod("user", ns, "plain"))
    assert wait_for(lambda: phase(cluster, "pod", "user", ns) == "Running", 30)
    cluster.kubectl("delete", "pod", "user", "-n", ns)

    cluster.kubectl("delete", "pvc", "plain", "large", "-n", ns)
    assert wait_for(lambda: phase(cluster, "pv", "st-small") == "Released", 30)
    assert get(cluster, "pv", "st-small")["spec"]["claimRef"]["name"] == "plain"  # kept for the admin
    # Delete on a volume no provisioner made fails, as upstream's has no deleter for it
    assert wait_for(lambda: phase(cluster, "pv", "st-big") == "Failed", 30)
    assert ("VolumeFailedDelete", 'error getting deleter volume plugin for volume "st-big": no deletable volume plugin matched') \
        in events(cluster, "default", "st-big")


def test_pods_wait_for_their_claims_with_upstreams_reasons(cluster):
    ns = "waiting"
    cluster.kubectl("create", "namespace", ns)
    apply(cluster, pod("orphan", ns, "later"))
    expected = ('0/3 nodes are available: persistentvolumeclaim "later" not found. '
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert wait_for(lambda: ("FailedScheduling", expected) in events(cluster, ns, "orphan"))
    apply(cluster, claim("later", ns))  # the claim appears: the pod is retried and its volume provisioned
    assert wait_for(lambda: phase(cluster, "pod", "orphan", ns) == "Running", 30)

    # a claim bound to a volume on one node keeps its pods there
    target = get(cluster, "pod", "orphan", "-n", ns)["spec"]["nodeName"]
    others = sorted(n["metadata"]["name"] for n in get(cluster, "nodes")["items"] if n["metadata"]["name"] != target)
    apply(cluster, pod("elsewhere", ns, "later", nodeSelector={"kubernetes.io/hostname": others[0]}))
    conflict = ("0/3 nodes are available: 1 node(s) had volume node affinity conflict, "
                "2 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert wait_for(lambda: ("FailedScheduling", conflict) in events(cluster, ns, "elsewhere"))

    # an unbound claim of a class that binds at once keeps the pod out until it is bound
    apply(cluster, claim("unbound", ns, storageClassName=""), pod("early", ns, "unbound"))
    unbound = ("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
               "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert wait_for(lambda: ("FailedScheduling", unbound) in events(cluster, ns, "early"))
    apply(cluster, volume("wt-late", "1Gi"))
    assert wait_for(lambda: phase(cluster, "pod", "early", ns) == "Running", 30)

    # a generic ephemeral volume gets its claim from the ephemeral volume controller
    eph = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "scratch", "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": "nginx"}],
                    "volumes": [{"name": "tmp", "ephemeral": {"volumeClaimTemplate": {"spec": {
                        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}]}}
    apply(cluster, eph)
    assert wait_for(lambda: phase(cluster, "pod", "scratch", ns) == "Running", 30)
    made = get(cluster, "pvc", "scratch-tmp", "-n", ns)
    assert made["status"]["phase"] == "Bound"
    assert [(r["kind"], r["name"], r["controller"]) for r in made["metadata"]["ownerReferences"]] == \
        [("Pod", "scratch", True)]
