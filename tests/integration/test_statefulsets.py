"""StatefulSets on simulated nodes, driven with real kubectl: ordered creation with claims,
ordered scale-down, rolling updates with and without a partition, history and undo, and the
claim retention policy."""

from __future__ import annotations

import datetime
import json

from .conftest import cluster_fixture, wait_for
from .test_deployments import sample_during

cluster = cluster_fixture("--sim-nodes", "3")


def manifest(ns: str, name: str = "web", replicas: int = 3, **spec) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}],
                 **spec}})


def pods(cluster, ns, selector="app=web"):
    return json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]


def by_name(cluster, ns, selector="app=web"):
    return {p["metadata"]["name"]: p for p in pods(cluster, ns, selector)}


def ready(pod) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def ready_since(pod) -> str:
    return next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready")


def stamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def claims(cluster, ns) -> set[str]:
    out = cluster.kubectl("get", "pvc", "-n", ns, "-o", "json").stdout
    return {c["metadata"]["name"] for c in json.loads(out)["items"] if not c["metadata"].get("deletionTimestamp")}


def rollout(cluster, ns, name="web") -> str:
    return cluster.kubectl("rollout", "status", f"statefulset/{name}", "-n", ns, "--timeout=60s").stdout


def images(cluster, ns) -> dict[str, str]:
    return {n: p["spec"]["containers"][0]["image"] for n, p in by_name(cluster, ns).items()}


def test_ordered_creation_scale_down_rolling_update_and_undo(cluster):
    ns = "ordered"
    cluster.kubectl("create", "namespace", ns)

    # every sample taken while the set comes up: a pod exists only once its predecessor is ready
    def sample():
        return {n: ready(p) for n, p in by_name(cluster, ns).items()}

    seen = sample_during(sample, lambda: (cluster.kubectl("apply", "-f", "-", input=manifest(ns)),
                                          rollout(cluster, ns)))
    for snapshot in seen:
        for n in (1, 2):
            if f"web-{n}" in snapshot:
                assert snapshot.get(f"web-{n - 1}"), f"web-{n} existed before web-{n - 1} was ready: {snapshot}"
    assert any(len(s) == 1 for s in seen), "the pods did not come up one at a time"
    live = by_name(cluster, ns)
    assert sorted(live) == ["web-0", "web-1", "web-2"]
    for n in (1, 2):
        assert stamp(live[f"web-{n}"]["metadata"]["creationTimestamp"]) >= stamp(ready_since(live[f"web-{n - 1}"]))
    created = [live[f"web-{n}"]["metadata"]["creationTimestamp"] for n in range(3)]
    assert created == sorted(created)
    web1 = live["web-1"]
    assert web1["spec"]["hostname"] == "web-1" and web1["spec"]["subdomain"] == "web"
    assert web1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert web1["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in web1["spec"]["volumes"]
    assert claims(cluster, ns) == {"www-web-0", "www-web-1", "www-web-2"}
    events = cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    messages = {e["message"] for e in json.loads(events)["items"]}
    assert "create Pod web-0 in StatefulSet web successful" in messages
    assert "create Claim www-web-0 Pod web-0 in StatefulSet web success" in messages

    # scale down: web-2 goes (entirely) before web-1 starts terminating
    def going():
        return {n: bool(p["metadata"].get("deletionTimestamp")) for n, p in by_name(cluster, ns).items()}

    seen = sample_during(going, lambda: (cluster.kubectl("scale", "statefulset/web", "--replicas=1", "-n", ns),
                                         wait_for(lambda: sorted(by_name(cluster, ns)) == ["web-0"], 30)))
    assert sorted(by_name(cluster, ns)) == ["web-0"]
    for snapshot in seen:
        if snapshot.get("web-1") or "web-1" not in snapshot:
            assert "web-2" not in snapshot, f"web-1 went before web-2: {snapshot}"
    assert claims(cluster, ns) == {"www-web-0", "www-web-1", "www-web-2"}  # Retain is the default

    # back to three, then a new image rolls every pod to the new revision, highest ordinal first
    cluster.kubectl("scale", "statefulset/web", "--replicas=3", "-n", ns)
    rollout(cluster, ns)
    first = cluster.kubectl("get", "sts", "web", "-n", ns, "-o", "jsonpath={.status.updateRevision}").stdout

    def old_ones():
        return sorted(n for n, image in images(cluster, ns).items() if image == "nginx:1.26")

    seen = sample_during(old_ones, lambda: (cluster.kubectl("set", "image", "statefulset/web", "nginx=nginx:1.27",
                                                            "-n", ns), rollout(cluster, ns)))
    order = [tuple(s) for s in seen]
    assert ("web-0", "web-1") in order or ("web-0",) in order, "not replaced from the highest ordinal down"
    assert ("web-1", "web-2") not in order and ("web-2",) not in order
    sts = json.loads(cluster.kubectl("get", "sts", "web", "-n", ns, "-o", "json").stdout)
    status = sts["status"]
    assert status["updateRevision"] != first and status["currentRevision"] == status["updateRevision"]
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"], status["currentReplicas"],
            status["availableReplicas"]) == (3, 3, 3, 3, 3)
    assert status["observedGeneration"] == sts["metadata"]["generation"]
    assert set(images(cluster, ns).values()) == {"nginx:1.27"}
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods(cluster, ns)} == \
        {status["updateRevision"]}

    # history and undo work from ControllerRevisions
    history = cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    detail = cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns, "--revision=1").stdout
    assert "nginx:1.26" in detail
    cluster.kubectl("rollout", "undo", "statefulset/web", "-n", ns)
    rollout(cluster, ns)
    assert wait_for(lambda: set(images(cluster, ns).values()) == {"nginx:1.26"}, 30)
    history = cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    revisions = json.loads(cluster.kubectl("get", "controllerrevisions", "-n", ns, "-o", "json").stdout)["items"]
    assert len(revisions) == 2 and {r["metadata"]["name"] for r in revisions} >= {first}

    # a partition holds the lower ordinals back
    cluster.kubectl("patch", "statefulset/web", "-n", ns, "-p",
                    '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    cluster.kubectl("set", "image", "statefulset/web", "nginx=nginx:1.28", "-n", ns)
    out = rollout(cluster, ns)
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    assert images(cluster, ns) == {"web-0": "nginx:1.26", "web-1": "nginx:1.26", "web-2": "nginx:1.28"}
    status = json.loads(cluster.kubectl("get", "sts", "web", "-n", ns, "-o", "json").stdout)["status"]
    assert (status["updatedReplicas"], status["currentReplicas"]) == (1, 2)
    assert status["currentRevision"] != status["updateRevision"]


def test_parallel_pods_and_claim_retention(cluster):
    ns = "parallel"
    cluster.kubectl("create", "namespace", ns)
    retention = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    cluster.kubectl("apply", "-f", "-", input=manifest(ns, "db", 3, podManagementPolicy="Parallel",
                                                       persistentVolumeClaimRetentionPolicy=retention))
    rollout(cluster, ns, "db")
    live = by_name(cluster, ns, "app=db")
    assert sorted(live) == ["db-0", "db-1", "db-2"]
    # Parallel: all three were created without waiting for each other
    assert stamp(live["db-2"]["metadata"]["creationTimestamp"]) <= stamp(ready_since(live["db-0"]))
    pvc = json.loads(cluster.kubectl("get", "pvc", "www-db-0", "-n", ns, "-o", "json").stdout)
    assert [r["kind"] for r in pvc["metadata"]["ownerReferences"]] == ["StatefulSet"]

    cluster.kubectl("scale", "statefulset/db", "--replicas=1", "-n", ns)
    assert wait_for(lambda: sorted(by_name(cluster, ns, "app=db")) == ["db-0"], 30)
    # whenScaled=Delete: the claims of removed pods go with them
    assert wait_for(lambda: claims(cluster, ns) == {"www-db-0"}, 30), claims(cluster, ns)

    # whenDeleted=Delete: the remaining claims go with the set
    cluster.kubectl("delete", "statefulset/db", "-n", ns)
    assert wait_for(lambda: not claims(cluster, ns) and not by_name(cluster, ns, "app=db"), 30)
