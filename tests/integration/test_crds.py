"""CustomResourceDefinitions driven by real kubectl."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
        additionalPrinterColumns:
        - {name: Size, type: string, jsonPath: .spec.size}
        - {name: Replicas, type: integer, jsonPath: .spec.replicas}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: string, enum: [small, large]}
                  replicas: {type: integer, minimum: 0, default: 1}
              status:
                type: object
                properties:
                  replicas: {type: integer}
    """)


def widget(name: str, size: str = "small") -> str:
    return textwrap.dedent(f"""\
        apiVersion: example.com/v1
        kind: Widget
        metadata: {{name: {name}}}
        spec: {{size: {size}, unknownField: 3}}
        """)


@pytest.fixture(scope="module")
def crd_ready(server):
    server.kubectl("apply", "-f", "-", input=CRD)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = json.loads(server.kubectl("get", "crd", "widgets.example.com", "-o", "json").stdout)
        conds = {c["type"]: c["status"] for c in got.get("status", {}).get("conditions", [])}
        if conds.get("Established") == "True":
            return server
        time.sleep(0.1)
    raise AssertionError("the CRD was not established")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_custom_resources_end_to_end(crd_ready, version):
    s = crd_ready
    ns = f"crd-{version.replace('.', '')}"
    s.kubectl("create", "namespace", ns, version=version)
    assert "widget.example.com/w1 created" in s.kubectl("apply", "-n", ns, "--validate=false", "-f", "-",
                                                           input=widget("w1"), version=version).stdout
    table = s.kubectl("get", "wd", "-n", ns, version=version).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "REPLICAS"]
    assert table[1].split() == ["w1", "small", "1"]
    obj = json.loads(s.kubectl("get", "widget", "w1", "-n", ns, "-o", "json", version=version).stdout)
    assert obj["spec"] == {"size": "small", "replicas": 1}  # pruned and defaulted
    assert obj["metadata"]["generation"] == 1
    bad = s.kubectl("apply", "-n", ns, "--validate=false", "-f", "-", input=widget("w2", "huge"),
                    version=version, check=False)
    assert bad.returncode != 0 and "spec.size" in bad.stderr and "Unsupported value" in bad.stderr
    assert "scaled" in s.kubectl("scale", "widget/w1", "-n", ns, "--replicas=4", version=version).stdout
    assert json.loads(s.kubectl("get", "widget", "w1", "-n", ns, "-o", "json", version=version).stdout)["spec"]["replicas"] == 4
    resources = s.kubectl("api-resources", "--api-group=example.com", version=version).stdout
    assert "widgets" in resources and "wd" in resources
    assert 'widget.example.com "w1" deleted' in s.kubectl("delete", "widget", "w1", "-n", ns, version=version).stdout


def test_explain_custom_resource(crd_ready):
    out = crd_ready.kubectl("explain", "widgets.spec", version="1.33").stdout
    assert "size" in out and "replicas" in out


def test_invalid_crd_is_422(server):
    bad = CRD.replace("name: widgets.example.com", "name: wrong.example.com")
    res = server.kubectl("apply", "-f", "-", input=bad, check=False)
    assert res.returncode != 0 and "metadata.name" in res.stderr


def test_custom_resource_put_needs_resource_version(crd_ready):
    from .rawhttp import Raw

    raw = Raw(crd_ready.kubeconfig)
    base = "/apis/example.com/v1/namespaces/default/widgets"
    code, created, _ = raw.request("POST", base, {"apiVersion": "example.com/v1", "kind": "Widget",
                                                  "metadata": {"name": "pinned"}, "spec": {"size": "small"}})
    assert code == 201
    created["metadata"].pop("resourceVersion")
    code, body, _ = raw.request("PUT", base + "/pinned", created)
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.resourceVersion"
