"""ResourceQuota and LimitRange as a user meets them: 403s with upstream's messages, usage in
`kubectl describe quota`, defaults filled in (real kubectl, simulated node)."""

from __future__ import annotations

import json

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture("--sim-nodes", "1")

LIMITED_POD = ('{"spec":{"containers":[{"name":"%s","image":"x","resources":'
               '{"requests":{"cpu":"600m"},"limits":{"memory":"512Mi"}}}]}}')


def _used(cluster, ns):
    res = cluster.kubectl("get", "quota", "compute", "-n", ns, "-o", "json")
    return (json.loads(res.stdout).get("status") or {}).get("used")


def test_quota_refuses_what_exceeds_it_and_gives_back_on_delete(cluster):
    cluster.kubectl("create", "namespace", "qa")
    cluster.kubectl("create", "quota", "compute", "-n", "qa", "--hard=pods=2,requests.cpu=1,limits.memory=1Gi")
    assert wait_for(lambda: _used(cluster, "qa") == {"pods": "0", "requests.cpu": "0", "limits.memory": "0"})

    res = cluster.kubectl("run", "bare", "-n", "qa", "--image=x", "--restart=Never", check=False)
    assert res.returncode != 0
    assert 'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: bare; ' \
           "requests.cpu for: bare" in res.stderr
    cluster.kubectl("run", "b", "-n", "qa", "--image=x", "--restart=Never", f"--overrides={LIMITED_POD % 'b'}")
    assert _used(cluster, "qa") == {"pods": "1", "requests.cpu": "600m", "limits.memory": "512Mi"}
    res = cluster.kubectl("run", "c", "-n", "qa", "--image=x", "--restart=Never",
                          f"--overrides={LIMITED_POD % 'c'}", check=False)
    assert res.returncode != 0
    assert 'pods "c" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, ' \
           "used: requests.cpu=600m, limited: requests.cpu=1" in res.stderr
    assert cluster.kubectl("get", "pod", "c", "-n", "qa", check=False).returncode != 0  # nothing stored
    # --dry-run=server is checked but not charged
    cluster.kubectl("create", "configmap", "x", "-n", "qa", "--dry-run=server")
    out = cluster.kubectl("describe", "quota", "compute", "-n", "qa").stdout
    assert "requests.cpu   600m   1" in out

    cluster.kubectl("delete", "pod", "b", "-n", "qa", "--wait=false")
    assert wait_for(lambda: _used(cluster, "qa") == {"pods": "0", "requests.cpu": "0", "limits.memory": "0"})
    cluster.kubectl("run", "c", "-n", "qa", "--image=x", "--restart=Never", f"--overrides={LIMITED_POD % 'c'}")


def test_object_count_quota(cluster):
    cluster.kubectl("create", "namespace", "counted")
    cluster.kubectl("create", "quota", "objects", "-n", "counted", "--hard=configmaps=2,count/deployments.apps=1")
    cluster.kubectl("create", "deployment", "one", "-n", "counted", "--image=x")
    res = cluster.kubectl("create", "deployment", "two", "-n", "counted", "--image=x", check=False)
    assert "exceeded quota: objects, requested: count/deployments.apps=1" in res.stderr
    cluster.kubectl("create", "configmap", "c0", "-n", "counted")
    cluster.kubectl("create", "configmap", "c1", "-n", "counted")
    res = cluster.kubectl("create", "configmap", "c2", "-n", "counted", check=False)
    assert "exceeded quota: objects, requested: configmaps=1, used: configmaps=2, limited: configmaps=2" in res.stderr


def test_limit_range_defaults_and_maximums(cluster):
    cluster.kubectl("create", "namespace", "lr")
    cluster.kubectl("apply", "-n", "lr", "-f", "-", input="""
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    max: {cpu: "1"}
""")
    lr = json.loads(cluster.kubectl("get", "limitrange", "defaults", "-n", "lr", "-o", "json").stdout)
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "500m", "memory": "256Mi"}
    cluster.kubectl("run", "d", "-n", "lr", "--image=x", "--restart=Never")
    pod = json.loads(cluster.kubectl("get", "pod", "d", "-n", "lr", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                                         "requests": {"cpu": "500m", "memory": "256Mi"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container d; cpu, memory limit for container d"
    res = cluster.kubectl("run", "e", "-n", "lr", "--image=x", "--restart=Never",
                          '--overrides={"spec":{"containers":[{"name":"e","image":"x","resources":'
                          '{"limits":{"cpu":"2"}}}]}}', check=False)
    assert res.returncode != 0
    assert 'pods "e" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in res.stderr
