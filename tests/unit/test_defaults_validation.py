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


# -- batch/v1 ---------------------------------------------------------------------------------

POD_TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}


def batch_errors(plural: str, obj: dict, old: dict | None = None) -> list[str]:
    res = r(plural, "batch")
    return [e.message() for e in validation.validate(res, defaults.apply_defaults(res, obj), old)]


def a_job(**spec) -> dict:
    return {"metadata": {"name": "j", "namespace": "ns", "uid": "u1"}, "spec": {"template": POD_TEMPLATE, **spec}}


def a_cronjob(**spec) -> dict:
    return {"metadata": {"name": "cj", "namespace": "ns", "uid": "u2"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": POD_TEMPLATE}}, **spec}}


def test_job_selector_generation_keeps_user_labels_and_adds_the_uid():
    job = a_job(template={"metadata": {"labels": {"app": "x"}}, **POD_TEMPLATE})
    out = defaults.apply_defaults(r("jobs", "batch"), job)
    labels = out["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "x", "job-name": "j", "batch.kubernetes.io/job-name": "j",
                      "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"}
    assert out["metadata"]["labels"] == labels
    # a selector of the user's own is refused unless manualSelector says so
    assert batch_errors("jobs", a_job(selector={"matchLabels": {"app": "x"}},
                                      template={"metadata": {"labels": {"app": "x"}}, **POD_TEMPLATE})) == \
        ["spec.selector: Invalid value: {'matchLabels': {'app': 'x', 'batch.kubernetes.io/controller-uid': 'u1'}}: "
         "`selector` not auto-generated"]
    assert batch_errors("jobs", a_job(manualSelector=True, selector={"matchLabels": {"app": "x"}},
                                      template={"metadata": {"labels": {"app": "x"}}, **POD_TEMPLATE})) == []


def test_job_defaults_for_per_index_limits_and_pod_conditions():
    out = defaults.apply_defaults(r("jobs", "batch"), a_job(
        completionMode="Indexed", completions=3, backoffLimitPerIndex=1,
        podFailurePolicy={"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}))
    spec = out["spec"]
    assert spec["backoffLimit"] == 2**31 - 1 and spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]


def test_job_validation():
    no_policy = {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert batch_errors("jobs", a_job(template=no_policy)) == \
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']
    on_failure = {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}
    errs = batch_errors("jobs", a_job(template=on_failure, podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "nope", "operator": "In", "values": [0, 3, 2]}},
        {"action": "Explode", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]},
         "onPodConditions": [{"type": "DisruptionTarget"}]}]}))
    assert errs == [
        'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": '
        "must be one of the container or initContainer names in the pod template",
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
        "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0, 3, 2]: must be ordered",
        'spec.podFailurePolicy.rules[1].action: Unsupported value: "Explode": supported values: '
        '"Count", "FailIndex", "FailJob", "Ignore"',
        'spec.podFailurePolicy.rules[2].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set',
        "spec.podFailurePolicy.rules[2]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified',
    ]
    assert batch_errors("jobs", a_job(backoffLimitPerIndex=1, maxFailedIndexes=1)) == [
        "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"]
    assert batch_errors("jobs", a_job(completionMode="Indexed", completions=2, parallelism=2,
                                      successPolicy={"rules": [{"succeededIndexes": "0-5", "succeededCount": 3}]})) == [
        'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-5": error parsing succeededIndexes: too large index: 5',
        "spec.successPolicy.rules[0].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of specified completions)",
        "spec.successPolicy.rules[0].succeededCount: Invalid value: 3: must be less than or equal to 0 "
        "(the number of indexes in the specified succeededIndexes field)"]
    long_name = a_job(completionMode="Indexed", completions=100)
    long_name["metadata"]["name"] = "x" * 62
    assert any("will not able to create pod with invalid DNS label" in e for e in batch_errors("jobs", long_name))


def test_job_updates():
    res = r("jobs", "batch")
    old = defaults.apply_defaults(res, a_job(completionMode="Indexed", completions=2, parallelism=2))
    grown = dict(old, spec=dict(old["spec"], completions=4, parallelism=4))
    assert validation.validate(res, grown, old) == []  # elastic indexed jobs
    uneven = dict(old, spec=dict(old["spec"], completions=4))
    assert [e.message() for e in validation.validate(res, uneven, old)] == [
        "spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"]
    suspended = dict(old, spec=dict(old["spec"], suspend=True))
    assert validation.validate(res, suspended, old) == []


def test_cronjob_schedule_and_time_zone_validation():
    assert batch_errors("cronjobs", a_cronjob()) == []
    assert batch_errors("cronjobs", a_cronjob(schedule="@every 1h", timeZone="Europe/Berlin")) == []
    assert batch_errors("cronjobs", a_cronjob(schedule="*/5 * * *", timeZone="Mars/Olympus")) == [
        'spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]',
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    assert batch_errors("cronjobs", a_cronjob(schedule="CRON_TZ=UTC 0 * * * *")) == [
        'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']
    assert batch_errors("cronjobs", a_cronjob(timeZone="Local")) == [
        'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in '
        "https://www.iana.org/time-zones"]
    assert batch_errors("cronjobs", a_cronjob(timeZone="../etc/passwd")) == [
        'spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd']
    assert batch_errors("cronjobs", a_cronjob(schedule="61 * * * *")) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']
    cj = a_cronjob()
    cj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    cj["metadata"]["name"] = "c" * 53
    assert batch_errors("cronjobs", cj) == [
        "spec.jobTemplate.spec.selector: Invalid value: {'matchLabels': {'a': 'b'}}: `selector` will be auto-generated",
        'metadata.name: Invalid value: "' + "c" * 53 + '": must be no more than 52 characters']
    # an old object that already has TZ in its schedule may keep it
    res = r("cronjobs", "batch")
    old = defaults.apply_defaults(res, a_cronjob(schedule="TZ=UTC 0 * * * *"))
    assert validation.validate(res, dict(old, spec=dict(old["spec"], suspend=True)), old) == []
