"""Defaults and validation of built-in kinds match upstream's."""

from __future__ import annotations

from nanokube.api import defaults, schema, validation
from nanokube.api.registry import Registry

REG = Registry()
S = schema.load()


def r(plural, group="", version="v1"):
    return REG.get(group, version, plural)


def deployment(**spec):
    base = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    base["spec"].update(spec)
    return base


def test_deployment_and_pod_template_defaults():
    out = defaults.apply_defaults(r("deployments", "apps"), deployment())
    spec = out["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["terminationGracePeriodSeconds"] == 30 and pod["schedulerName"] == "default-scheduler"
    c = pod["containers"][0]
    assert c["imagePullPolicy"] == "Always" and c["terminationMessagePath"] == "/dev/termination-log"


def test_image_pull_policy_by_tag():
    assert defaults._pull_policy("nginx:1.27") == "IfNotPresent"
    assert defaults._pull_policy("registry:5000/nginx") == "Always"
    assert defaults._pull_policy("nginx:latest") == "Always"
    assert defaults._pull_policy("nginx@sha256:abc") == "IfNotPresent"


def test_service_secret_namespace_defaults():
    svc = defaults.apply_defaults(r("services"), {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    sec = defaults.apply_defaults(r("secrets"), {"metadata": {"name": "s"}, "stringData": {"a": "hi"}, "data": {"b": "eA=="}})
    assert sec["type"] == "Opaque" and sec["data"] == {"a": "aGk=", "b": "eA=="} and "stringData" not in sec
    ns = defaults.apply_defaults(r("namespaces"), {"metadata": {"name": "x"}})
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "x"


def test_job_selector_generated_from_uid():
    job = {"metadata": {"name": "j", "uid": "u1"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}}
    out = defaults.apply_defaults(r("jobs", "batch"), job)
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}
    assert out["spec"]["template"]["metadata"]["labels"]["job-name"] == "j"
    assert out["spec"]["completions"] == 1 and out["spec"]["backoffLimit"] == 6


def fields(errs):
    return [e.field for e in errs]


def test_validation_catches_what_users_hit():
    d = r("deployments", "apps")
    assert validation.validate(d, deployment()) == []
    bad = deployment(replicas=-1)
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["containers"].append({"name": "c"})
    assert fields(validation.validate(d, bad)) == [
        "spec.template.metadata.labels", "spec.replicas", "spec.template.spec.containers[1].name",
        "spec.template.spec.containers[1].image"]
    old = deployment()
    new = deployment(selector={"matchLabels": {"app": "d", "x": "y"}})
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert "spec.selector" in fields(validation.validate(d, new, old))
    svc = {"metadata": {"name": "1svc", "namespace": "ns"}, "spec": {"type": "Weird", "ports": [{"port": 70000}]}}
    assert fields(validation.validate(r("services"), svc)) == ["metadata.name", "spec.type", "spec.ports[0].port"]
    cm = {"metadata": {"name": "c", "namespace": "ns", "labels": {"-bad": "x"}}, "data": {"bad key": "v"}}
    assert fields(validation.validate(r("configmaps"), cm)) == ["metadata.labels", "data[bad key]"]
    tls = {"metadata": {"name": "t", "namespace": "ns"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
    assert fields(validation.validate(r("secrets"), tls)) == ["data[tls.key]"]


def test_pod_spec_is_immutable_except_image():
    p = r("pods")
    old = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    new = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    assert validation.validate(p, new, old) == []
    new["spec"]["containers"][0]["command"] = ["x"]
    assert fields(validation.validate(p, new, old)) == ["spec"]


def test_claim_spec_is_immutable_but_binding_and_a_first_class_may_be_set():
    c = r("persistentvolumeclaims")
    old = {"metadata": {"name": "c", "namespace": "ns"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    new = {"metadata": old["metadata"], "spec": dict(old["spec"], volumeName="pv1", storageClassName="local-path")}
    assert validation.validate(c, new, old) == []
    again = {"metadata": old["metadata"], "spec": dict(new["spec"], volumeName="pv2", storageClassName="other")}
    assert fields(validation.validate(c, again, new)) == ["spec"]


def test_persistent_volume_validation():
    v = r("persistentvolumes")
    ok = {"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                              "hostPath": {"path": "/srv/pv"}}}
    assert validation.validate(v, ok) == []
    bad = {"metadata": {"name": "pv"}, "spec": {"accessModes": ["Sometimes"], "persistentVolumeReclaimPolicy": "Keep"}}
    assert fields(validation.validate(v, bad)) == ["spec.capacity", "spec.accessModes", "spec",
                                                    "spec.persistentVolumeReclaimPolicy"]
    moved = {"metadata": ok["metadata"], "spec": dict(ok["spec"], hostPath={"path": "/elsewhere"})}
    assert fields(validation.validate(v, moved, ok)) == ["spec.persistentvolumesource"]


def test_strict_decoding_checks():
    node = S.for_kind("apps", "v1", "Deployment")
    obj = deployment(bogus=1)
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    obj["metadata"]["labels"] = {"any": "label"}
    assert sorted(validation.unknown_fields(S, node, obj)) == ["spec.bogus", "spec.template.spec.containers[0].imagee"]
    assert validation.duplicate_fields(b'{"spec":{"replicas":1,"replicas":2}}') == ["replicas"]
