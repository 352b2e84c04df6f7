"""Deployments on simulated nodes, driven with real kubectl: rollouts, history, undo,
scaling, pause/resume, deletion with and without cascading."""

from __future__ import annotations

import json
import threading
import time


from .conftest import cluster_fixture, wait_for


cluster = cluster_fixture("--sim-nodes", "5")




def pods(cluster, ns, selector="app=web"):
    out = cluster.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout
    return json.loads(out)["items"]


def serving(pod) -> bool:
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))
    return ready and not pod["metadata"].get("deletionTimestamp")


def sample_during(sample, action) -> list:
    """Run `action` while another thread keeps calling `sample`; every sample taken."""
    seen: list = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            seen.append(sample())

    t = threading.Thread(target=loop)
    t.start()
    try:
        action()
    finally:
        stop.set()
        t.join()
    return seen


def rollout(cluster, ns, name="web"):
    res = cluster.kubectl("rollout", "status", f"deploy/{name}", "-n", ns, "--timeout=60s")
    assert "successfully rolled out" in res.stdout


def test_rollout_update_undo_history(cluster):
    ns = "roll"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "deployment", "web", "--image=nginx:1.26", "--replicas=3", "-n", ns)
    rollout(cluster, ns)
    assert len({p["spec"]["nodeName"] for p in pods(cluster, ns)}) >= 2, "spread over nodes"

    # while the image rolls, never fewer than replicas - maxUnavailable (3 - 0) pods serve
    seen = sample_during(lambda: sum(1 for p in pods(cluster, ns) if serving(p)), lambda: (
        cluster.kubectl("set", "image", "deploy/web", "nginx=nginx:1.27", "-n", ns), rollout(cluster, ns)))
    assert seen and min(seen) >= 3
    images = {p["spec"]["containers"][0]["image"] for p in pods(cluster, ns) if serving(p)}
    assert images == {"nginx:1.27"}

    history = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns)
    rollout(cluster, ns)
    assert wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods(cluster, ns) if serving(p)}
                    == {"nginx:1.26"} and len(pods(cluster, ns)) == 3)
    history = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    rs = json.loads(cluster.kubectl("get", "rs", "-n", ns, "-o", "json").stdout)["items"]
    assert len(rs) == 2 and all(r["metadata"]["name"].startswith("web-") for r in rs)
    d = json.loads(cluster.kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_scale_pause_resume_restart(cluster):
    ns = "scale"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
    rollout(cluster, ns)
    cluster.kubectl("scale", "deploy/web", "--replicas=10", "-n", ns)
    rollout(cluster, ns)
    assert len([p for p in pods(cluster, ns) if serving(p)]) == 10
    cluster.kubectl("scale", "deploy/web", "--replicas=2", "-n", ns)
    assert wait_for(lambda: len(pods(cluster, ns)) == 2)

    cluster.kubectl("rollout", "pause", "deploy/web", "-n", ns)
    cluster.kubectl("set", "image", "deploy/web", "nginx=nginx:2", "-n", ns)
    time.sleep(1)  # give the controller the chance to (wrongly) start a rollout
    assert len(json.loads(cluster.kubectl("get", "rs", "-n", ns, "-o", "json").stdout)["items"]) == 1
    cond = cluster.kubectl("get", "deploy", "web", "-n", ns, "-o",
                           "jsonpath={.status.conditions[?(@.type=='Progressing')].reason}").stdout
    assert cond == "DeploymentPaused"
    cluster.kubectl("rollout", "resume", "deploy/web", "-n", ns)
    rollout(cluster, ns)
    assert {p["spec"]["containers"][0]["image"] for p in pods(cluster, ns)} == {"nginx:2"}
    before = {p["metadata"]["name"] for p in pods(cluster, ns)}
    cluster.kubectl("rollout", "restart", "deploy/web", "-n", ns)
    rollout(cluster, ns)
    assert wait_for(lambda: len(pods(cluster, ns)) == 2 and not before & {p["metadata"]["name"] for p in pods(cluster, ns)})


def test_recreate_stops_old_pods_before_starting_new(cluster):
    ns = "recreate"
    cluster.kubectl("create", "namespace", ns)
    manifest = cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", ns,
                               "--dry-run=client", "-o", "json").stdout
    obj = json.loads(manifest)
    obj["spec"]["strategy"] = {"type": "Recreate"}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))
    rollout(cluster, ns)
    seen = sample_during(lambda: len({p["spec"]["containers"][0]["image"] for p in pods(cluster, ns)}), lambda: (
        cluster.kubectl("set", "image", "deploy/web", "nginx=nginx:2", "-n", ns), rollout(cluster, ns)))
    assert seen and max(seen) <= 1, "old and new pods never coexist under Recreate"


def test_delete_cascades_or_orphans(cluster):
    ns = "deldep"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", ns)
    cluster.kubectl("create", "deployment", "keep", "--image=nginx", "--replicas=2", "-n", ns)
    rollout(cluster, ns)
    rollout(cluster, ns, "keep")
    cluster.kubectl("delete", "deploy", "web", "-n", ns)
    assert wait_for(lambda: not pods(cluster, ns) and
                    not json.loads(cluster.kubectl("get", "rs", "-n", ns, "-l", "app=web", "-o", "json").stdout)["items"])
    cluster.kubectl("delete", "deploy", "keep", "-n", ns, "--cascade=orphan")
    time.sleep(1)
    kept = pods(cluster, ns, "app=keep")
    assert len(kept) == 2 and all(serving(p) for p in kept)
    rs = json.loads(cluster.kubectl("get", "rs", "-n", ns, "-l", "app=keep", "-o", "json").stdout)["items"]
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
