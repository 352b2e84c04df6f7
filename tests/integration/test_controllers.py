"""`nanokube server`: the API server plus the controller-manager as a child process."""

from __future__ import annotations

import json
import time


from .conftest import cluster_fixture, wait_for


cluster = cluster_fixture()




def test_every_namespace_gets_a_default_service_account(cluster):
    cluster.kubectl("create", "namespace", "team-a")
    assert wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", "team-a", check=False).returncode == 0)
    cluster.kubectl("delete", "sa", "default", "-n", "team-a")
    assert wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", "team-a", check=False).returncode == 0)


def test_deleting_a_namespace_deletes_its_content_then_the_namespace(cluster):
    cluster.kubectl("create", "namespace", "doomed")
    cluster.kubectl("create", "configmap", "c1", "-n", "doomed")
    cluster.kubectl("create", "deployment", "d1", "--image=nginx", "-n", "doomed")
    # an object with a finalizer keeps the namespace (and says so) until the finalizer goes
    cluster.kubectl("patch", "cm", "c1", "-n", "doomed", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    cluster.kubectl("delete", "namespace", "doomed", "--wait=false")

    def conditions():
        ns = json.loads(cluster.kubectl("get", "ns", "doomed", "-o", "json").stdout)
        return {c["type"]: c for c in ns.get("status", {}).get("conditions", [])}

    conds = wait_for(lambda: conditions().get("NamespaceFinalizersRemaining", {}).get("status") == "True" and conditions())
    assert "example.com/hold" in conds["NamespaceFinalizersRemaining"]["message"]
    assert cluster.kubectl("get", "deploy", "-n", "doomed", "-o", "name").stdout.strip() == ""
    res = cluster.kubectl("create", "configmap", "late", "-n", "doomed", check=False)
    assert res.returncode != 0 and "being terminated" in res.stderr
    cluster.kubectl("patch", "cm", "c1", "-n", "doomed", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    assert wait_for(lambda: cluster.kubectl("get", "ns", "doomed", check=False).returncode != 0)


def test_two_controller_managers_one_leader_and_take_over(server, tmp_path):
    import subprocess
    import sys

    def start(identity_log):
        return subprocess.Popen(
            [sys.executable, "-m", "nanokube", "controller-manager", "--kubeconfig", str(server.kubeconfig),
             "--leader-elect-lease-duration", "2", "--leader-elect-renew-deadline", "1.5",
             "--leader-elect-retry-period", "0.2"],
            stdout=open(identity_log, "wb"), stderr=subprocess.STDOUT)

    def holder():
        res = server.kubectl("get", "lease", "kube-controller-manager", "-n", "kube-system", "-o",
                             "jsonpath={.spec.holderIdentity}", check=False)
        return res.stdout.strip() if res.returncode == 0 else ""

    a = start(tmp_path / "a.log")
    b = start(tmp_path / "b.log")
    try:
        first = wait_for(holder)
        assert first
        leaders = [p for p, log in ((a, tmp_path / "a.log"), (b, tmp_path / "b.log"))
                   if wait_for(lambda log=log: "controllers running" in log.read_text(), 3)]
        assert len(leaders) == 1, "exactly one controller-manager acts"
        leaders[0].kill()
        killed = time.monotonic()
        second = wait_for(lambda: (h := holder()) != first and h)
        assert second and second != first
        assert time.monotonic() - killed < 2 + 3  # the lease duration plus a few retries
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


def _owner_and_dependent(cluster, ns: str, dep_finalizer: bool = False) -> str:
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "configmap", "owner", "-n", ns)
    uid = cluster.kubectl("get", "cm", "owner", "-n", ns, "-o", "jsonpath={.metadata.uid}").stdout
    dep = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "dependent", "namespace": ns,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid,
                                             "controller": True, "blockOwnerDeletion": True}]}}
    if dep_finalizer:
        dep["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.kubectl("apply", "-f", "-", input=json.dumps(dep))
    return uid


def _exists(cluster, ns: str, name: str) -> bool:
    return cluster.kubectl("get", "cm", name, "-n", ns, check=False).returncode == 0


def test_background_deletion_removes_dependents(cluster):
    _owner_and_dependent(cluster, "gc-bg")
    cluster.kubectl("delete", "cm", "owner", "-n", "gc-bg", "--cascade=background")
    assert wait_for(lambda: not _exists(cluster, "gc-bg", "dependent"))


def test_orphan_deletion_keeps_dependents_without_the_reference(cluster):
    _owner_and_dependent(cluster, "gc-orphan")
    cluster.kubectl("delete", "cm", "owner", "-n", "gc-orphan", "--cascade=orphan")
    assert wait_for(lambda: not _exists(cluster, "gc-orphan", "owner"))
    refs = cluster.kubectl("get", "cm", "dependent", "-n", "gc-orphan", "-o",
                           "jsonpath={.metadata.ownerReferences}").stdout
    assert refs == ""


def test_foreground_deletion_waits_for_blocking_dependents(cluster):
    _owner_and_dependent(cluster, "gc-fg", dep_finalizer=True)
    cluster.kubectl("delete", "cm", "owner", "-n", "gc-fg", "--cascade=foreground", "--wait=false")
    assert wait_for(lambda: cluster.kubectl("get", "cm", "dependent", "-n", "gc-fg", "-o",
                                            "jsonpath={.metadata.deletionTimestamp}").stdout != "")
    owner = json.loads(cluster.kubectl("get", "cm", "owner", "-n", "gc-fg", "-o", "json").stdout)
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"] and owner["metadata"]["deletionTimestamp"]
    cluster.kubectl("patch", "cm", "dependent", "-n", "gc-fg", "--type=json", "-p",
                    '[{"op":"remove","path":"/metadata/finalizers"}]')
    assert wait_for(lambda: not _exists(cluster, "gc-fg", "dependent") and not _exists(cluster, "gc-fg", "owner"))


RS = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: rs-test}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
"""


def _pods(cluster, ns: str) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]


def test_replicaset_converges_adopts_and_replaces(cluster):
    ns = "rs-test"
    cluster.kubectl("create", "namespace", ns)
    # an orphan pod the selector matches is adopted rather than a new one created
    cluster.kubectl("run", "stray", "--image=busybox", "--labels=app=web", "-n", ns)
    cluster.kubectl("apply", "-f", "-", input=RS)
    assert wait_for(lambda: len(_pods(cluster, ns)) == 3)
    pods = _pods(cluster, ns)
    assert "stray" in [p["metadata"]["name"] for p in pods]
    uid = cluster.kubectl("get", "rs", "web", "-n", ns, "-o", "jsonpath={.metadata.uid}").stdout
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == uid for p in pods)
    assert wait_for(lambda: cluster.kubectl("get", "rs", "web", "-n", ns, "-o",
                                            "jsonpath={.status.replicas}").stdout == "3")
    cluster.kubectl("scale", "rs", "web", "--replicas=1", "-n", ns)
    assert wait_for(lambda: len(_pods(cluster, ns)) == 1)
    victim = _pods(cluster, ns)[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", victim, "-n", ns)
    assert wait_for(lambda: [p["metadata"]["name"] for p in _pods(cluster, ns)] not in ([], [victim]))
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=web").stdout
    assert "SuccessfulCreate" in events and "SuccessfulDelete" in events
    cluster.kubectl("delete", "rs", "web", "-n", ns)
    assert wait_for(lambda: _pods(cluster, ns) == [])


RC = """
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: busybox}]}
"""


def test_replication_controller_converges_and_scales(cluster):
    ns = "rc-test"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", "-n", ns, input=RC)
    assert wait_for(lambda: len(_pods(cluster, ns)) == 2)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in _pods(cluster, ns))
    cluster.kubectl("scale", "rc", "legacy", "--replicas=3", "-n", ns)
    assert wait_for(lambda: len(_pods(cluster, ns)) == 3)
    assert wait_for(lambda: cluster.kubectl("get", "rc", "legacy", "-n", ns, "-o",
                                            "jsonpath={.status.replicas}").stdout == "3")
    cluster.kubectl("delete", "rc", "legacy", "-n", ns)
    assert wait_for(lambda: _pods(cluster, ns) == [])
