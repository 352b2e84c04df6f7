"""Real kubectl, several releases, against a real server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import textwrap
import time

import pytest

from .conftest import kubectl_binary

VERSIONS = ["1.27", "1.30", "1.33"]


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 2, ns: str = "default") -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          namespace: {ns}
          labels: {{app: {name}}}
        spec:
          replicas: {replicas}
          selector:
            matchLabels: {{app: {name}}}
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              containers:
              - name: web
                image: {image}
                ports:
                - containerPort: 80
        """)


@pytest.mark.parametrize("version", VERSIONS + [None])
def test_version_reports_the_served_release(server, version):
    out = server.kubectl("version", "-o", "json", version=version).stdout
    info = json.loads(out)["serverVersion"]
    assert info["major"] == "1" and info["minor"] == "33"
    assert info["gitVersion"].startswith("v1.33.") and "+nanokube" in info["gitVersion"]


@pytest.mark.parametrize("version", VERSIONS)
def test_api_resources_and_versions(server, version):
    out = server.kubectl("api-resources", version=version).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "po" in lines["pods"] and "deploy" in lines["deployments"]
    assert "apps/v1" in lines["deployments"] and "true" in lines["deployments"]
    assert "Namespace" in lines["namespaces"] and "false" in lines["namespaces"]
    wide = server.kubectl("api-resources", "-o", "wide", version=version).stdout
    assert "all" in [l for l in wide.splitlines() if l.startswith("pods ")][0]
    versions = server.kubectl("api-versions", version=version).stdout.split()
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v2", "autoscaling/v1", "rbac.authorization.k8s.io/v1"):
        assert gv in versions


@pytest.mark.parametrize("version", VERSIONS)
def test_client_side_apply_is_idempotent(server, version):
    ns = f"csa-{version.replace('.', '')}"
    server.kubectl("create", "namespace", ns, version=version)
    manifest = deployment("web", ns=ns)
    out = server.kubectl("apply", "-f", "-", input=manifest, version=version).stdout
    assert "deployment.apps/web created" in out
    out = server.kubectl("apply", "-f", "-", input=manifest, version=version).stdout
    assert "deployment.apps/web unchanged" in out
    out = server.kubectl("apply", "-f", "-", input=deployment("web", "nginx:1.28", ns=ns), version=version).stdout
    assert "deployment.apps/web configured" in out
    got = json.loads(server.kubectl("get", "deploy", "web", "-n", ns, "-o", "json", version=version).stdout)
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert got["metadata"]["generation"] == 2
    # defaults upstream applies
    assert got["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert got["spec"]["template"]["spec"]["restartPolicy"] == "Always"


@pytest.mark.parametrize("version", VERSIONS)
def test_server_side_apply_conflicts_and_force(server, version):
    ns = f"ssa-{version.replace('.', '')}"
    server.kubectl("create", "namespace", ns, version=version)
    manifest = deployment("api", ns=ns)
    out = server.kubectl("apply", "--server-side", "-f", "-", input=manifest, version=version).stdout
    assert "serverside-applied" in out
    server.kubectl("scale", "deploy/api", "-n", ns, "--replicas=5", version=version)
    res = server.kubectl("apply", "--server-side", "-f", "-", input=manifest, version=version, check=False)
    assert res.returncode != 0
    assert "conflict" in res.stderr.lower() and ".spec.replicas" in res.stderr
    out = server.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest,
                         version=version).stdout
    assert "serverside-applied" in out
    got = json.loads(server.kubectl("get", "deploy", "api", "-n", ns, "-o", "json", "--show-managed-fields",
                                    version=version).stdout)
    assert got["spec"]["replicas"] == 2
    managers = {e["manager"] for e in got["metadata"]["managedFields"]}
    assert "kubectl" in managers


@pytest.mark.parametrize("version", VERSIONS)
def test_get_output_formats(server, version):
    ns = f"get-{version.replace('.', '')}"
    server.kubectl("create", "namespace", ns, version=version)
    for i in range(3):
        server.kubectl("create", "configmap", f"cm{i}", f"--from-literal=k{i}=v", "-n", ns, version=version)
    server.kubectl("label", "cm", "cm1", "tier=gold", "-n", ns, version=version)
    table = server.kubectl("get", "cm", "-n", ns, version=version).stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert [l.split()[0] for l in table[1:]] == ["cm0", "cm1", "cm2", "kube-root-ca.crt"][: len(table) - 1]
    assert server.kubectl("get", "cm", "-n", ns, "-l", "tier=gold", "-o", "name", version=version).stdout.split() == ["configmap/cm1"]
    assert server.kubectl("get", "cm", "-n", ns, "--field-selector", "metadata.name=cm2", "-o",
                          "jsonpath={.items[*].metadata.name}", version=version).stdout == "cm2"
    out = server.kubectl("get", "cm", "-n", ns, "--chunk-size=1", "-o", "custom-columns=N:.metadata.name,D:.data",
                         version=version).stdout.splitlines()
    assert out[0].split() == ["N", "D"] and len(out) >= 4
    everything = server.kubectl("get", "cm", "-A", version=version).stdout
    assert "NAMESPACE" in everything.splitlines()[0] and ns in everything
    yml = server.kubectl("get", "cm", "cm0", "-n", ns, "-o", "yaml", version=version).stdout
    assert "k0: v" in yml
    wide = server.kubectl("get", "deploy", "-A", "-o", "wide", version=version).stdout.splitlines()[0].split()
    assert wide[:6] == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "CONTAINERS" in wide and "SELECTOR" in wide


@pytest.mark.parametrize("version", VERSIONS)
def test_label_annotate_patch_replace_scale_delete(server, version):
    ns = f"edit-{version.replace('.', '')}"
    server.kubectl("create", "namespace", ns, version=version)
    server.kubectl("apply", "-f", "-", input=deployment("app", ns=ns), version=version)
    k = lambda *a, **kw: server.kubectl(*a, "-n", ns, version=version, **kw)
    assert "labeled" in k("label", "deploy", "app", "env=prod").stdout
    assert "annotate" in k("annotate", "deploy", "app", "note=hi").stdout  # 1.27 prints "annotate"
    assert "patched" in k("patch", "deploy", "app", "-p", '{"spec":{"replicas":3}}').stdout
    assert "no change" in k("patch", "deploy", "app", "-p", '{"spec":{"replicas":3}}').stdout
    k("patch", "deploy", "app", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    k("patch", "deploy", "app", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":4}]')
    got = json.loads(k("get", "deploy", "app", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 4 and got["metadata"]["labels"]["m"] == "1"
    assert got["metadata"]["labels"]["env"] == "prod" and got["metadata"]["annotations"]["note"] == "hi"
    # strategic merge keeps the other containers
    k("patch", "deploy", "app", "-p",
      '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    got = json.loads(k("get", "deploy", "app", "-o", "json").stdout)
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["side", "web"] or \
        sorted(c["name"] for c in got["spec"]["template"]["spec"]["containers"]) == ["side", "web"]
    got["spec"]["replicas"] = 1
    k("replace", "-f", "-", input=json.dumps(got))
    assert "scaled" in k("scale", "deploy", "app", "--replicas=6").stdout
    assert json.loads(k("get", "deploy", "app", "-o", "json").stdout)["spec"]["replicas"] == 6
    assert "created (server dry run)" in k("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server").stdout
    assert k("get", "cm", "dry", check=False).returncode != 0
    k("create", "configmap", "c1", "--from-literal=a=b")
    k("label", "cm", "c1", "kill=me")
    assert 'configmap "c1" deleted' in k("delete", "cm", "-l", "kill=me").stdout
    assert 'deployment.apps "app" deleted' in k("delete", "-f", "-", input=deployment("app", ns=ns)).stdout
    assert k("get", "deploy", "app", check=False).returncode != 0


@pytest.mark.parametrize("version", VERSIONS)
def test_validate_strict_rejects_unknown_fields(server, version):
    bad = deployment("strict").replace("    spec:\n      containers:", "    spec:\n      bogusField: 1\n      containers:")
    res = server.kubectl("apply", "--validate=strict", "-f", "-", input=bad, version=version, check=False)
    assert res.returncode != 0
    assert "bogusField" in res.stderr
    assert server.kubectl("get", "deploy", "strict", check=False).returncode != 0


@pytest.mark.parametrize("version", VERSIONS)
def test_explain(server, version):
    out = server.kubectl("explain", "deploy.spec.strategy", version=version).stdout
    assert "rollingUpdate" in out and "DeploymentStrategy" in out
    out = server.kubectl("explain", "pods", version=version).stdout
    assert "KIND:" in out and "Pod" in out


@pytest.mark.parametrize("version", VERSIONS)
def test_describe_and_get_all(server, version):
    ns = f"desc-{version.replace('.', '')}"
    server.kubectl("create", "namespace", ns, version=version)
    server.kubectl("create", "deployment", "d", "--image=nginx", "-n", ns, version=version)
    server.kubectl("create", "service", "clusterip", "s", "--tcp=80:8080", "-n", ns, version=version)
    out = server.kubectl("describe", "deploy", "d", "-n", ns, version=version).stdout
    assert "Name:" in out and "d" in out and "nginx" in out
    everything = server.kubectl("get", "all", "-n", ns, version=version).stdout
    assert "deployment.apps/d" in everything and "service/s" in everything
    svc = json.loads(server.kubectl("get", "svc", "s", "-n", ns, "-o", "json", version=version).stdout)
    assert svc["spec"]["clusterIP"].startswith("10.43.")


@pytest.mark.parametrize("version", ["1.33"])
def test_watch_output_events(server, version):
    ns = "watching"
    server.kubectl("create", "namespace", ns, check=False, version=version)
    server.kubectl("create", "configmap", "w0", "-n", ns, version=version)  # a row, so the header prints
    cmd = [kubectl_binary(version),
           f"--kubeconfig={server.kubeconfig}", "get", "cm", "-n", ns, "-w", "--output-watch-events",
           "--request-timeout=20s"]
    watcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fd = watcher.stdout.fileno()
    seen = ""

    def read_until(text: str, seconds: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and text not in seen:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                seen += os.read(fd, 65536).decode()

    try:
        read_until("w0", 10)  # the list is printed right before the watch starts
        server.kubectl("create", "configmap", "w1", "-n", ns, version=version)
        server.kubectl("label", "cm", "w1", "x=y", "-n", ns, version=version)
        server.kubectl("delete", "cm", "w1", "-n", ns, version=version)
        read_until("DELETED", 10)
        events = [line.split()[:2] for line in seen.splitlines()]
        assert ["ADDED", "w1"] in events and ["MODIFIED", "w1"] in events and ["DELETED", "w1"] in events, seen
    finally:
        watcher.kill()
        watcher.wait()


@pytest.mark.parametrize("version", VERSIONS)
def test_typed_create_subcommands(server, version):
    """kubectl 1.32+ sends these as protobuf; every one must be read back as created."""
    ns = f"typed-{version.replace('.', '')}"
    k = lambda *a: server.kubectl("-n", ns, *a, version=version)
    server.kubectl("create", "namespace", ns, version=version)
    k("create", "secret", "generic", "s1", "--from-literal=password=hunter2")
    k("create", "serviceaccount", "sa1")
    k("create", "job", "j1", "--image=busybox", "--", "echo", "hi")
    k("create", "cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *")
    k("create", "role", "r1", "--verb=get,list", "--resource=pods")
    k("create", "rolebinding", "rb1", "--role=r1", "--serviceaccount=" + ns + ":sa1")
    k("create", "quota", "q1", "--hard=pods=10")
    k("create", "poddisruptionbudget", "pdb1", "--selector=app=x", "--min-available=1")
    k("create", "ingress", "ing1", "--rule=example.com/=svc:80")
    k("create", "service", "nodeport", "np1", "--tcp=80:8080")
    k("create", "deployment", "d0", "--image=nginx", "--replicas=0")
    got = json.loads(k("get", "secret,sa,job,cronjob,role,rolebinding,quota,pdb,ingress,svc,deploy", "-o", "json").stdout)
    by_name = {i["metadata"]["name"]: i for i in got["items"]}
    assert by_name["s1"]["data"] == {"password": "aHVudGVyMg=="}
    assert by_name["j1"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert by_name["cj1"]["spec"]["schedule"] == "*/5 * * * *"
    assert by_name["r1"]["rules"][0]["verbs"] == ["get", "list"]
    assert by_name["rb1"]["subjects"][0]["name"] == "sa1"
    assert by_name["q1"]["spec"]["hard"] == {"pods": "10"}
    assert by_name["pdb1"]["spec"]["minAvailable"] == 1
    assert by_name["ing1"]["spec"]["rules"][0]["host"] == "example.com"
    assert 30000 <= by_name["np1"]["spec"]["ports"][0]["nodePort"] <= 32767
    assert by_name["d0"]["spec"]["replicas"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_auth_can_i(server, version):
    assert server.kubectl("auth", "can-i", "list", "pods", version=version).stdout.strip() == "yes"
    assert server.kubectl("auth", "can-i", "create", "deployments.apps", "-n", "kube-system",
                          version=version).stdout.strip() == "yes"
