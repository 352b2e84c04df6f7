"""Services get Endpoints and EndpointSlices listing the pods they select (real kubectl,
simulated nodes)."""

from __future__ import annotations

import json
from urllib.parse import urlparse

from .conftest import cluster_fixture, wait_for

cluster = cluster_fixture("--sim-nodes", "2")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  selector: {app: shop}
  ports: [{name: web, port: 80, targetPort: http}]
"""


def _json(cluster, *args):
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def _endpoint_ips(cluster):
    ep = _json(cluster, "get", "endpoints", "shop")
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def _slice_ips(cluster):
    slices = _json(cluster, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop")["items"]
    return sorted(e["addresses"][0] for s in slices for e in s.get("endpoints") or []
                  if e["conditions"].get("ready"))


def _pod_ips(cluster):
    pods = _json(cluster, "get", "pods", "-l", "app=shop", "--field-selector=status.phase=Running")["items"]
    return sorted(p["status"]["podIP"] for p in pods if p["status"].get("podIP"))


def test_service_endpoints_follow_its_pods(cluster):
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    cluster.kubectl("rollout", "status", "deployment/shop", "--timeout=60s")
    assert wait_for(lambda: len(_pod_ips(cluster)) == 3 and _endpoint_ips(cluster) == _pod_ips(cluster))
    assert wait_for(lambda: _slice_ips(cluster) == _pod_ips(cluster))
    ep = _json(cluster, "get", "endpoints", "shop")
    assert ep["subsets"][0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    slice_ = _json(cluster, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop")["items"][0]
    assert slice_["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    # kubectl describe reads both (and crashed on slice ports without a name)
    out = cluster.kubectl("describe", "service", "shop").stdout
    assert "Endpoints:" in out and ":8080" in out

    cluster.kubectl("scale", "deployment/shop", "--replicas=1")
    assert wait_for(lambda: len(_pod_ips(cluster)) == 1 and _endpoint_ips(cluster) == _pod_ips(cluster))
    assert wait_for(lambda: _slice_ips(cluster) == _pod_ips(cluster))

    cluster.kubectl("delete", "service", "shop")
    assert wait_for(lambda: cluster.kubectl("get", "endpoints", "shop", check=False).returncode != 0)
    assert wait_for(lambda: not _json(cluster, "get", "endpointslices", "-l",
                                      "kubernetes.io/service-name=shop")["items"])
    cluster.kubectl("delete", "deployment", "shop")


def test_service_without_pods_has_an_empty_placeholder_slice(cluster):
    cluster.kubectl("create", "service", "clusterip", "lonely", "--tcp=80:80")
    slices = wait_for(lambda: _json(cluster, "get", "endpointslices", "-l",
                                    "kubernetes.io/service-name=lonely")["items"])
    assert len(slices) == 1 and not slices[0].get("endpoints")
    cluster.kubectl("delete", "service", "lonely")


def test_the_kubernetes_service_points_at_the_api_server(cluster):
    port = urlparse(cluster.url).port
    ep = _json(cluster, "get", "endpoints", "kubernetes", "-n", "default")
    assert ep["subsets"][0]["ports"][0]["port"] == port
    svc = _json(cluster, "get", "service", "kubernetes", "-n", "default")
    assert svc["spec"]["ports"][0]["targetPort"] == port
