"""Tables show upstream's columns and cells for every kind, and custom resources' columns."""

from __future__ import annotations

import datetime
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanokube.api import errors, printers, schema
from nanokube.api.printers import columnpath
from nanokube.api.printers.base import quantity_string
from nanokube.api.quantity import parse as parse_quantity
from nanokube.api.registry import BUILTIN, Registry, Resource

REG = Registry()
NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
T0 = "2026-01-01T11:00:00Z"  # an hour before NOW


def ago(seconds: int) -> str:
    return (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str = "x", **extra: object) -> dict:
    return {"name": name, "namespace": "default", "creationTimestamp": T0, **extra}


def res(plural: str, group: str = "", version: str = "v1") -> Resource:
    r = REG.get(group, version, plural)
    assert r is not None
    return r


def table(plural: str, obj: dict, group: str = "", version: str = "v1") -> tuple[list[str], list, dict]:
    t = printers.build_table(res(plural, group, version), [obj], now=NOW)
    return [c["name"] for c in t["columnDefinitions"]], t["rows"][0]["cells"], t


def cells(plural: str, obj: dict, group: str = "", version: str = "v1") -> list:
    return printers.cells(res(plural, group, version), obj, NOW)


# -- human durations --------------------------------------------------------------------------


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (0.9, "0s"), (-0.5, "0s"), (-1.5, "0s"), (-2, "<invalid>"), (5, "5s"), (119.9, "119s"),
    (120, "2m"), (125, "2m5s"), (599, "9m59s"), (600, "10m"), (10799, "179m"), (3 * 3600, "3h"),
    (3 * 3600 + 60, "3h1m"), (8 * 3600 - 1, "7h59m"), (8 * 3600, "8h"), (48 * 3600 - 1, "47h"),
    (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400 - 1, "7d23h"), (8 * 86400, "8d"),
    (729 * 86400, "729d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"), (int(2.5 * 365 * 86400), "2y182d"),
    (8 * 365 * 86400, "8y"), (20 * 365 * 86400 + 5, "20y"),
])
def test_human_duration_matches_upstream(seconds, text):
    assert printers.human_duration(seconds) == text


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


@given(st.integers(min_value=0, max_value=30 * 365 * 86400))
def test_human_duration_never_overstates_and_keeps_two_or_three_figures(seconds):
    text = printers.human_duration(seconds)
    parts = re.findall(r"(\d+)([smhdy])", text)
    assert "".join(f"{a}{b}" for a, b in parts) == text and 1 <= len(parts) <= 2
    shown = sum(int(a) * _UNITS[b] for a, b in parts)
    assert shown <= seconds
    # what is dropped is less than one unit of the smallest part shown
    assert seconds - shown < _UNITS[parts[-1][1]] or parts[-1][1] == "y"


# -- pods -------------------------------------------------------------------------------------


def pod(status: dict, spec: dict | None = None, **m: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta("p", **m),
            "spec": spec or {"containers": [{"name": "a", "image": "nginx"}]}, "status": status}


def pod_status(obj: dict) -> str:
    return cells("pods", obj)[2]


def test_pod_columns_and_a_running_pod():
    p = pod({"phase": "Running", "podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}],
             "conditions": [{"type": "Ready", "status": "True"}],
             "containerStatuses": [{"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}}]},
            {"containers": [{"name": "a"}], "nodeName": "n1"})
    names, row, t = table("pods", p)
    assert names == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert [c["type"] for c in t["columnDefinitions"]] == ["string"] * 9
    assert t["columnDefinitions"][0]["format"] == "name"
    assert row == ["p", "1/1", "Running", "0", "60m", "10.42.0.5", "n1", "<none>", "<none>"]
    assert "conditions" not in t["rows"][0]


def test_pod_restarts_show_when_the_last_one_was():
    p = pod({"phase": "Running", "containerStatuses": [
        {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}},
        {"name": "b", "ready": False, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(900)}}}]},
        {"containers": [{"name": "a"}, {"name": "b"}]})
    assert cells("pods", p)[1:4] == ["1/2", "CrashLoopBackOff", "3 (5m ago)"]
    # restarts without a recorded termination time are a bare count
    p["status"]["containerStatuses"][0].pop("lastState")
    p["status"]["containerStatuses"][1].pop("lastState")
    assert cells("pods", p)[3] == "3"


@pytest.mark.parametrize("state,word", [
    ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
    ({"waiting": {"reason": "ImagePullBackOff", "message": "x"}}, "ImagePullBackOff"),
    ({"waiting": {}}, "Pending"),
    ({"terminated": {"exitCode": 0, "reason": "Completed"}}, "Completed"),
    ({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "OOMKilled"),
    ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
    ({"terminated": {"exitCode": 143, "signal": 15}}, "Signal:15"),
])
def test_pod_status_from_the_container(state, word):
    assert pod_status(pod({"phase": "Pending", "containerStatuses": [{"name": "a", "state": state}]})) == word


def test_pod_status_pending_and_evicted():
    assert cells("pods", pod({"phase": "Pending"}))[1:3] == ["0/1", "Pending"]
    assert pod_status(pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"})) == "Evicted"
    gated = pod({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
    assert pod_status(gated) == "SchedulingGated"


def _init_pod(*init_states: dict, conditions: list | None = None) -> dict:
    spec = {"initContainers": [{"name": f"i{i}"} for i in range(2)], "containers": [{"name": "a"}]}
    statuses = [{"name": f"i{i}", "restartCount": 1, "state": s} for i, s in enumerate(init_states)]
    return pod({"phase": "Pending", "initContainerStatuses": statuses, "conditions": conditions or [],
                "containerStatuses": [{"name": "a", "restartCount": 5,
                                       "state": {"waiting": {"reason": "PodInitializing"}}}]}, spec)


@pytest.mark.parametrize("states,word,restarts", [
    (({"running": {}}, {"waiting": {"reason": "PodInitializing"}}), "Init:0/2", "1"),
    (({"terminated": {"exitCode": 0}}, {"running": {}}), "Init:1/2", "2"),
    (({"terminated": {"exitCode": 0}}, {"waiting": {"reason": "PodInitializing"}}), "Init:1/2", "2"),
    (({"waiting": {"reason": "CrashLoopBackOff"}}, {"waiting": {}}), "Init:CrashLoopBackOff", "1"),
    (({"terminated": {"exitCode": 1, "reason": "Error"}}, {"waiting": {}}), "Init:Error", "1"),
    (({"terminated": {"exitCode": 3}}, {"waiting": {}}), "Init:ExitCode:3", "1"),
    (({"terminated": {"exitCode": 137, "signal": 9}}, {"waiting": {}}), "Init:Signal:9", "1"),
])
def test_pod_init_container_status(states, word, restarts):
    row = cells("pods", _init_pod(*states))
    # while initializing, only the init containers up to the one holding things up count restarts
    assert row[2:4] == [word, restarts]


def test_pod_done_initializing_counts_app_containers():
    p = _init_pod({"terminated": {"exitCode": 0}}, {"terminated": {"exitCode": 0}})
    assert cells("pods", p)[2:4] == ["PodInitializing", "5"]


def test_sidecars_count_towards_ready_and_restarts():
    spec = {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}],
            "containers": [{"name": "a"}]}
    p = pod({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
             "initContainerStatuses": [
                 {"name": "proxy", "started": True, "ready": True, "restartCount": 2, "state": {"running": {}}},
                 {"name": "setup", "restartCount": 4, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
             "containerStatuses": [{"name": "a", "ready": True, "restartCount": 1, "state": {"running": {}}}]}, spec)
    # the finished plain init container's restarts no longer count
    assert cells("pods", p)[1:4] == ["2/2", "Running", "3"]


def test_completed_pod_with_a_container_still_running():
    statuses = [{"name": "a", "ready": True, "state": {"running": {}}},
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    ready = pod({"phase": "Running", "containerStatuses": statuses,
                 "conditions": [{"type": "Ready", "status": "True"}]}, spec)
    assert cells("pods", ready)[1:3] == ["1/2", "Running"]
    assert pod_status(pod({"phase": "Running", "containerStatuses": statuses}, spec)) == "NotReady"


def test_deleted_pods():
    running = {"phase": "Running", "containerStatuses": [{"name": "a", "ready": True, "state": {"running": {}}}]}
    assert pod_status(pod(running, deletionTimestamp=T0)) == "Terminating"
    assert pod_status(pod(dict(running, reason="NodeLost"), deletionTimestamp=T0)) == "Unknown"
    done = {"phase": "Succeeded", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    assert pod_status(pod(done, deletionTimestamp=T0)) == "Completed"


def test_finished_pods_carry_a_completed_row_condition():
    t = printers.build_table(res("pods"), [pod({"phase": "Succeeded"}), pod({"phase": "Failed"})], now=NOW)
    assert [r["conditions"][0]["reason"] for r in t["rows"]] == ["Succeeded", "Failed"]
    assert all(r["conditions"][0]["type"] == "Completed" for r in t["rows"])


def test_pod_wide_cells():
    spec = {"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "g1"}, {"conditionType": "g2"}]}
    p = pod({"phase": "Pending", "podIP": "10.0.0.9", "nominatedNodeName": "n2",
             "conditions": [{"type": "g1", "status": "True"}, {"type": "g2", "status": "False"}]}, spec)
    assert cells("pods", p)[5:] == ["10.0.0.9", "<none>", "n2", "1/2"]


# -- services and networking ------------------------------------------------------------------


def svc(spec: dict, status: dict | None = None) -> dict:
    return {"metadata": meta("web"), "spec": spec, "status": status or {}}


def test_service_columns_and_node_ports():
    s = svc({"type": "NodePort", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "selector": {"app": "web", "a": "b"},
             "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]})
    names, row, _ = table("services", s)
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert row == ["web", "NodePort", "10.43.0.10", "<none>", "80:30080/TCP,53/UDP", "60m", "a=b,app=web"]


@pytest.mark.parametrize("spec,status,external", [
    ({"type": "ClusterIP"}, {}, "<none>"),
    ({"type": "ClusterIP", "externalIPs": ["1.2.3.4", "5.6.7.8"]}, {}, "1.2.3.4,5.6.7.8"),
    ({"type": "LoadBalancer"}, {}, "<pending>"),
    ({"type": "LoadBalancer"}, {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example.com"},
                                                             {"ip": "1.1.1.1"}, {"ip": "9.9.9.9"}]}},
     "1.1.1.1,9.9.9.9,lb.example.com"),
    ({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}, {"loadBalancer": {"ingress": [{"ip": "a-very-long.address.example.com"}]}},
     "a-very-long.address.example.com,5.5.5.5"),
    ({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}, {}, "5.5.5.5"),
    ({"type": "ExternalName", "externalName": "db.example.com"}, {}, "db.example.com"),
])
def test_service_external_ip(spec, status, external):
    assert cells("services", svc(spec, status))[3] == external


def test_service_cluster_ip_and_ports():
    row = cells("services", svc({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}))
    assert row[2] == "None" and row[4] == "<none>" and row[6] == "<none>"
    dual = svc({"type": "ClusterIP", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "fd00::1"],
                "ports": [{"port": 443, "protocol": "SCTP"}]})
    assert cells("services", dual)[2:5] == ["10.0.0.1", "<none>", "443/SCTP"]
    assert cells("services", svc({"type": "ExternalName", "externalName": "x.io"}))[2] == "<none>"


def test_endpoints():
    ep = {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::2"}], "ports": [{"name": "http", "port": 80}, {"port": 443}]}]}
    names, row, _ = table("endpoints", ep)
    assert names == ["Name", "Endpoints", "Age"]
    assert row == ["web", "10.0.0.1:80,[fd00::2]:80,10.0.0.1:443 + 1 more...", "60m"]
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}
    assert cells("endpoints", headless)[1] == "10.0.0.1"
    assert cells("endpoints", {"metadata": meta("e"), "subsets": [{"notReadyAddresses": [{"ip": "1.1.1.1"}]}]})[1] == ""
    assert cells("endpoints", {"metadata": meta("e")})[1] == "<none>"


def test_endpoint_slices():
    es = {"metadata": meta("web-abc"), "addressType": "IPv4",
          "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}],
          "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]}
    names, row, _ = table("endpointslices", es, "discovery.k8s.io")
    assert names == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert row == ["web-abc", "IPv4", "80,named,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60m"]
    assert cells("endpointslices", {"metadata": meta()}, "discovery.k8s.io")[2:4] == ["<unset>", "<unset>"]


def test_ingress_and_ingress_class():
    ing = {"metadata": meta("web"), "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.io"]}], "rules": [
        {"host": "a.io"}, {}, {"host": "b.io"}, {"host": "c.io"}, {"host": "d.io"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}]}}}
    names, row, _ = table("ingresses", ing, "networking.k8s.io")
    assert names == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert row == ["web", "nginx", "a.io,b.io,c.io + 2 more...", "10.0.0.9,lb.example.com", "80, 443", "60m"]
    bare = {"metadata": meta("i"), "spec": {"defaultBackend": {}}}
    assert cells("ingresses", bare, "networking.k8s.io")[1:5] == ["<none>", "*", "", "80"]
    cls = {"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}
    assert cells("ingressclasses", cls, "networking.k8s.io") == [
        "nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p", "60m"]


def test_network_policy_selector():
    np = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert cells("networkpolicies", np, "networking.k8s.io") == ["deny", "<none>", "60m"]
    np["spec"]["podSelector"] = {"matchLabels": {"role": "db"},
                                 "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}
    assert cells("networkpolicies", np, "networking.k8s.io")[1] == "env in (dev,prod),role=db"


# -- workloads --------------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}


def test_deployment():
    dep = {"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    names, row, t = table("deployments", dep, "apps")
    assert names == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert row == ["web", "2/3", 3, 2, "60m", "web,log", "nginx:1.27,busybox", "app=web"]
    assert [c["priority"] for c in t["columnDefinitions"]][-3:] == [1, 1, 1]
    dep["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}
    assert cells("deployments", dep, "apps")[-1] == "<invalid>"


def test_replica_sets_and_controllers():
    rs = {"metadata": meta("web-1"), "spec": {"replicas": 2, "template": TEMPLATE, "selector": {
        "matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b", "a"]},
                                                            {"key": "canary", "operator": "DoesNotExist"}]}},
          "status": {"replicas": 2, "readyReplicas": 1}}
    names, row, t = table("replicasets", rs, "apps")
    assert names == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    assert [c["type"] for c in t["columnDefinitions"]][1:4] == ["integer"] * 3
    assert row == ["web-1", 2, 2, 1, "60m", "web,log", "nginx:1.27,busybox", "app=web,!canary,tier notin (a,b)"]
    rc = {"metadata": meta("old"), "spec": {"selector": {"b": "2", "a": "1"}, "template": TEMPLATE}}
    assert cells("replicationcontrollers", rc) == ["old", 1, 0, 0, "60m", "web,log", "nginx:1.27,busybox", "a=1,b=2"]


def test_statefulset_and_daemonset():
    sts = {"metadata": meta("db"), "spec": {"replicas": 3, "template": TEMPLATE}, "status": {"readyReplicas": 3}}
    names, row, _ = table("statefulsets", sts, "apps")
    assert names == ["Name", "Ready", "Age", "Containers", "Images"]
    assert row == ["db", "3/3", "60m", "web,log", "nginx:1.27,busybox"]
    ds = {"metadata": meta("agent"), "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
        "spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "agent:1"}]}}},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    names, row, _ = table("daemonsets", ds, "apps")
    assert names == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
                     "Containers", "Images", "Selector"]
    assert row == ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "60m", "a", "agent:1", "app=agent"]


def job(spec: dict | None = None, status: dict | None = None, **m: object) -> dict:
    return {"metadata": meta("pi", **m), "spec": {"template": TEMPLATE, "selector": {"matchLabels": {"job": "pi"}},
                                                 **(spec or {})}, "status": status or {}}


def test_job_columns_completions_and_duration():
    names, row, _ = table("jobs", job({"completions": 3, "parallelism": 2},
                                      {"succeeded": 1, "startTime": ago(190)}), "batch")
    assert names == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]
    assert row == ["pi", "Running", "1/3", "3m10s", "60m", "web,log", "nginx:1.27,busybox", "job=pi"]
    assert cells("jobs", job({"parallelism": 4}, {"succeeded": 2}), "batch")[2:4] == ["2/1 of 4", ""]
    assert cells("jobs", job({"parallelism": 1}), "batch")[2] == "0/1"
    done = job({"completions": 1}, {"succeeded": 1, "startTime": ago(600), "completionTime": ago(555),
                                    "conditions": [{"type": "Complete", "status": "True"}]})
    assert cells("jobs", done, "batch")[1:4] == ["Complete", "1/1", "45s"]


@pytest.mark.parametrize("conditions,deleting,word", [
    ([{"type": "Failed", "status": "True"}, {"type": "Complete", "status": "True"}], False, "Complete"),
    ([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}], True, "Failed"),
    ([{"type": "Suspended", "status": "True"}], True, "Terminating"),
    ([{"type": "Suspended", "status": "True"}], False, "Suspended"),
    ([{"type": "Suspended", "status": "False"}, {"type": "FailureTarget", "status": "True"}], False, "FailureTarget"),
    ([{"type": "SuccessCriteriaMet", "status": "True"}], False, "Running"),  # shown only from 1.34
    ([{"type": "Complete", "status": "False"}, {"type": "Complete", "status": "True"}], False, "Running"),
])
def test_job_status_word(conditions, deleting, word):
    extra = {"deletionTimestamp": T0} if deleting else {}
    assert cells("jobs", job(status={"conditions": conditions}, **extra), "batch")[1] == word


def test_cronjob():
    cj = {"metadata": meta("nightly"), "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "suspend": False,
                                                "jobTemplate": {"spec": {"template": TEMPLATE}}},
          "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(3 * 3600 + 120)}}
    names, row, t = table("cronjobs", cj, "batch")
    assert names == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers",
                     "Images", "Selector"]
    assert row == ["nightly", "0 3 * * *", "Europe/Berlin", "False", 1, "3h2m", "60m", "web,log",
                   "nginx:1.27,busybox", "<none>"]
    assert t["columnDefinitions"][3]["type"] == "boolean"
    cj["spec"].update(suspend=True, timeZone=None)
    cj["status"] = {}
    assert cells("cronjobs", cj, "batch")[2:6] == ["<none>", "True", 0, "<none>"]


def test_hpa_v2_targets():
    hpa = {"apiVersion": "autoscaling/v2", "metadata": meta("web"), "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1024Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
        "status": {"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "450m"}}}]}}
    names, row, _ = table("horizontalpodautoscalers", hpa, "autoscaling", "v2")
    assert names == ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    assert row == ["web", "Deployment/web", "cpu: 45%/80%, memory: <unknown>/1Gi + 1 more...", "2", 10, 3, "60m"]
    hpa["spec"]["metrics"] = hpa["spec"]["metrics"][2:]
    hpa["status"]["currentMetrics"] = [{"type": "Pods", "pods": {"current": {"averageValue": "500"}}}]
    hpa["spec"].pop("minReplicas")
    assert cells("horizontalpodautoscalers", hpa, "autoscaling", "v2")[2:4] == ["500/1k", "<unset>"]
    hpa["spec"]["metrics"] = [{"type": "External", "external": {"target": {"type": "Value", "value": "2"}}},
                              {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "3"}}}]
    hpa["status"]["currentMetrics"] = []
    assert cells("horizontalpodautoscalers", hpa, "autoscaling", "v2")[2] == "<unknown>/2, <unknown>/3 (avg)"
    hpa["spec"]["metrics"] = []
    assert cells("horizontalpodautoscalers", hpa, "autoscaling", "v2")[2] == "<none>"


def test_hpa_v1_prints_its_cpu_target():
    hpa = {"apiVersion": "autoscaling/v1", "metadata": meta("web"), "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 50}, "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 20}}
    assert cells("horizontalpodautoscalers", hpa, "autoscaling", "v1")[1:6] == [
        "Deployment/web", "cpu: 20%/50%", "1", 5, 1]
    hpa["status"] = {"currentReplicas": 0}
    assert cells("horizontalpodautoscalers", hpa, "autoscaling", "v1")[2] == "cpu: <unknown>/50%"


def test_pdb_controller_revision_and_pod_template():
    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    names, row, _ = table("poddisruptionbudgets", pdb, "policy")
    assert names == ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
    assert row == ["web", "50%", "N/A", 1, "60m"]
    assert cells("poddisruptionbudgets", {"metadata": meta(), "spec": {"maxUnavailable": 1}}, "policy")[1:3] == ["N/A", "1"]
    cr = {"metadata": meta("db-7d9f", ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}]), "revision": 3}
    assert table("controllerrevisions", cr, "apps")[:2] == (["Name", "Controller", "Revision", "Age"],
                                                          ["db-7d9f", "statefulset.apps/db", 3, "60m"])
    pt = {"metadata": meta("t"), "template": TEMPLATE}
    assert table("podtemplates", pt)[:2] == (["Name", "Containers", "Images", "Pod Labels"],
                                             ["t", "web,log", "nginx:1.27,busybox", "app=web"])


# -- the rest of the cluster ------------------------------------------------------------------


def test_namespace_and_node():
    assert table("namespaces", {"metadata": meta("dev"), "status": {"phase": "Terminating"}})[:2] == (
        ["Name", "Status", "Age"], ["dev", "Terminating", "60m"])
    node = {"metadata": meta("n1", labels={"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "",
                                           "kubernetes.io/role": "edge", "node-role.kubernetes.io/etcd": "true"}),
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7"}}}
    names, row, _ = table("nodes", node)
    assert names == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
                     "Kernel-Version", "Container-Runtime"]
    assert row == ["n1", "Ready,SchedulingDisabled", "control-plane,edge,etcd", "60m", "v1.33.1", "10.0.0.2",
                   "<none>", "Debian GNU/Linux 12", "6.1.0", "containerd://1.7"]
    node["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    assert cells("nodes", node)[1] == "NotReady,SchedulingDisabled"
    assert cells("nodes", {"metadata": meta("bare")})[1:3] == ["Unknown", "<none>"]


def test_core_events():
    ev = {"metadata": meta("web.17a"), "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{a}"},
          "reason": "BackOff", "message": "  Back-off restarting failed container\n", "type": "Warning",
          "source": {"component": "kubelet", "host": "n1"}, "firstTimestamp": ago(3600), "lastTimestamp": ago(30),
          "count": 7}
    names, row, t = table("events", ev)
    assert names == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count",
                     "Name"]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]
    assert t["columnDefinitions"][-1]["format"] == "name"
    assert row == ["30s", "Warning", "BackOff", "pod/web", "spec.containers{a}", "kubelet, n1",
                   "Back-off restarting failed container", "60m", 7, "web.17a"]
    new_style = {"metadata": meta("e2"), "involvedObject": {"kind": "Node"}, "eventTime": ago(125) + "",
                 "reportingComponent": "scheduler", "reportingInstance": "cp-1", "type": "Normal", "reason": "X",
                 "series": {"count": 4, "lastObservedTime": ago(10)}}
    assert cells("events", new_style)[:9] == ["10s", "Normal", "X", "node", "", "scheduler, cp-1", "", "2m5s", 4]
    once = {"metadata": meta("e3"), "involvedObject": {"kind": "Pod", "name": "p"}, "eventTime": "2026-01-01T11:59:00.123456Z"}
    # ages truncate: 59.88 seconds is 59s
    assert cells("events", once)[0] == "59s" and cells("events", once)[7:9] == ["59s", 1]


def test_events_k8s_io_events_print_like_core_ones():
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("e"), "eventTime": ago(90),
          "regarding": {"kind": "Deployment", "name": "web"}, "note": "Scaled up", "reason": "ScalingReplicaSet",
          "type": "Normal", "reportingController": "deployment-controller", "reportingInstance": "",
          "deprecatedCount": 2, "deprecatedFirstTimestamp": ago(300), "deprecatedLastTimestamp": ago(90)}
    assert cells("events", ev, "events.k8s.io") == ["90s", "Normal", "ScalingReplicaSet", "deployment/web", "",
                                                    "deployment-controller", "Scaled up", "5m", 2, "e"]


def test_configuration_kinds():
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert table("configmaps", cm)[:2] == (["Name", "Data", "Age"], ["cfg", 3, "60m"])
    sec = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}, "stringData": {"x": "y"}}
    assert table("secrets", sec)[:2] == (["Name", "Type", "Data", "Age"], ["tls", "kubernetes.io/tls", 2, "60m"])
    sa = {"metadata": meta("default"), "secrets": [{"name": "t"}]}
    assert table("serviceaccounts", sa)[:2] == (["Name", "Secrets", "Age"], ["default", 1, "60m"])
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-1_abc"}}
    assert table("leases", lease, "coordination.k8s.io")[:2] == (["Name", "Holder", "Age"],
                                                               ["kube-scheduler", "cp-1_abc", "60m"])
    assert cells("leases", {"metadata": meta("l")}, "coordination.k8s.io")[1] == ""


def test_resource_quota():
    q = {"metadata": meta("compute"), "spec": {"hard": {"pods": "99"}}, "status": {
        "hard": {"requests.memory": "1024Mi", "limits.cpu": "2", "pods": "10", "requests.cpu": "1", "limits.memory": "2Gi",
                 "count/deployments.apps": "5"},
        "used": {"requests.memory": "512Mi", "limits.cpu": "500m", "pods": "3", "requests.cpu": "0.5"}}}
    names, row, _ = table("resourcequotas", q)
    assert names == ["Name", "Request", "Limit", "Age"]
    assert row == ["compute",
                   "count/deployments.apps: 0/5, pods: 3/10, requests.cpu: 500m/1, requests.memory: 512Mi/1Gi",
                   "limits.cpu: 500m/2, limits.memory: 0/2Gi", "60m"]
    assert cells("resourcequotas", {"metadata": meta("q"), "spec": {"hard": {"pods": "1"}}}) == ["q", "", "", "60m"]


def test_volumes_and_claims():
    pv = {"metadata": meta("pv1", annotations={"volume.beta.kubernetes.io/storage-class": "old"}), "spec": {
        "capacity": {"storage": "10240Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast", "volumeMode": "Filesystem",
        "claimRef": {"namespace": "default", "name": "data"}}, "status": {"phase": "Bound"}}
    names, row, _ = table("persistentvolumes", pv)
    assert names == ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
                     "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]
    assert row == ["pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "old", "<unset>", "", "60m", "Filesystem"]
    pv["metadata"]["deletionTimestamp"] = T0
    assert cells("persistentvolumes", pv)[4] == "Terminating"
    pvc = {"metadata": meta("data"), "spec": {"storageClassName": "fast", "volumeName": "pv1",
                                             "volumeAttributesClassName": "gold", "volumeMode": "Block",
                                             "resources": {"requests": {"storage": "5Gi"}}},
           "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]}}
    names, row, _ = table("persistentvolumeclaims", pvc)
    assert names == ["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass",
                     "Age", "VolumeMode"]
    assert row == ["data", "Bound", "pv1", "10Gi", "RWOP", "fast", "gold", "60m", "Block"]
    pending = {"metadata": meta("new"), "spec": {"resources": {"requests": {"storage": "1Gi"}}},
               "status": {"phase": "Pending"}}
    assert cells("persistentvolumeclaims", pending)[1:7] == ["Pending", "", "", "", "", "<unset>"]


def test_rbac_bindings_and_default_tables():
    rb = {"metadata": meta("devs"), "roleRef": {"kind": "ClusterRole", "name": "edit"}, "subjects": [
        {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "team"}, {"kind": "User", "name": "bob"},
        {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}]}
    for plural in ("rolebindings", "clusterrolebindings"):
        names, row, _ = table(plural, rb, "rbac.authorization.k8s.io")
        assert names == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        assert row == ["devs", "ClusterRole/edit", "60m", "alice, bob", "team", "tools/ci"]
    for plural, group in (("roles", "rbac.authorization.k8s.io"), ("clusterroles", "rbac.authorization.k8s.io"),
                          ("limitranges", ""), ("customresourcedefinitions", "apiextensions.k8s.io")):
        names, row, t = table(plural, {"metadata": meta("r", creationTimestamp="2026-01-01T11:00:00.5+02:00")}, group)
        assert names == ["Name", "Created At"]
        assert t["columnDefinitions"][1]["type"] == "date"
        assert row == ["r", "2026-01-01T09:00:00Z"]
    assert cells("roles", {"metadata": {"name": "r"}}, "rbac.authorization.k8s.io") == ["r", "0001-01-01T00:00:00Z"]


def test_storage_and_priority_classes():
    sc = {"metadata": meta("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
          "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}
    names, row, _ = table("storageclasses", sc, "storage.k8s.io")
    assert names == ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"]
    assert row == ["standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "60m"]
    pc = {"metadata": meta("high"), "value": 1000000, "globalDefault": True, "preemptionPolicy": "Never"}
    names, row, t = table("priorityclasses", pc, "scheduling.k8s.io")
    assert names == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    assert row == ["high", 1000000, True, "60m", "Never"]
    assert [c["type"] for c in t["columnDefinitions"]][1:3] == ["integer", "boolean"]


def test_component_status():
    cs = {"metadata": {"name": "etcd-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    assert table("componentstatuses", cs)[:2] == (["Name", "Status", "Message", "Error"], ["etcd-0", "Healthy", "ok", ""])
    cs["conditions"] = [{"type": "Healthy", "status": "False", "error": "timeout"}]
    assert cells("componentstatuses", cs) == ["etcd-0", "Unhealthy", "", "timeout"]


def test_every_builtin_row_has_a_cell_per_column():
    obj = {"metadata": meta("x")}
    for r in BUILTIN:
        assert len(printers.cells(r, obj, NOW)) == len(printers.columns(r)), r.kind


def test_descriptions_come_from_the_api_schema():
    name_doc = schema.load().definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["name"]
    cols = printers.columns(res("pods"))
    assert cols[0]["description"] == name_doc["description"]
    assert all(c["description"] for r in BUILTIN for c in printers.columns(r))


# -- custom resources -------------------------------------------------------------------------


def crd_resource(columns: list | None, version: str = "v1") -> Resource:
    v: dict = {"name": version, "served": True, "storage": True}
    if columns is not None:
        v["additionalPrinterColumns"] = columns
    crd = {"metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "versions": [v]}}
    return Resource("example.com", version, "widgets", "Widget", True, crd=crd)


WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("w", labels={"app.kubernetes.io/name": "w"}),
          "spec": {"replicas": 2, "ratio": 1.5, "enabled": True, "size": 3.0, "tags": ["a", "b"],
                   "config": {"b": "<x>", "a": 1}, "nothing": None, "started": ago(150)},
          "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}}


def test_custom_resource_columns():
    cols = [
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "format": "int32"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
         "description": "Whether it is ready", "priority": 1},
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Count", "type": "number", "jsonPath": ".spec.replicas"},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.enabled"},
        {"name": "NotBool", "type": "boolean", "jsonPath": ".spec.replicas"},
        {"name": "Text", "type": "string", "jsonPath": ".spec.replicas"},
        {"name": "Json", "type": "string", "jsonPath": ".spec.config"},
        {"name": "Null", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.absent"},
        {"name": "First", "type": "string", "jsonPath": ".spec.tags[*]"},
        {"name": "Label", "type": "string", "jsonPath": ".metadata.labels.app\\.kubernetes\\.io/name"},
        {"name": "Started", "type": "date", "jsonPath": ".spec.started"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    t = printers.build_table(crd_resource(cols), [WIDGET], now=NOW)
    defs = t["columnDefinitions"]
    assert [c["name"] for c in defs] == ["Name"] + [c["name"] for c in cols]
    assert defs[0]["format"] == "name" and defs[1]["format"] == "int32" and defs[1]["type"] == "integer"
    assert defs[2]["priority"] == 1 and defs[2]["description"] == "Whether it is ready"
    assert defs[-1]["type"] == "date" and ".metadata.creationTimestamp" in defs[-1]["description"]
    assert ".spec.size" in defs[3]["description"]
    assert t["rows"][0]["cells"] == ["w", 2, "True", 3, 1.5, 2.0, True, None, "2", '{"a":1,"b":"\\u003cx\\u003e"}',
                                     "<no value>", None, "a", "w", "2m30s", "60m"]


def test_custom_resource_column_errors_leave_the_cell_empty():
    cols = [{"name": "OutOfRange", "type": "string", "jsonPath": ".spec.tags[5]"},
            {"name": "NotAList", "type": "string", "jsonPath": ".spec.replicas[0]"},
            {"name": "Mismatch", "type": "string", "jsonPath": ".status.conditions[?(@.status==1)].type"},
            {"name": "BadDate", "type": "date", "jsonPath": ".spec.tags[0]"},
            {"name": "NumDate", "type": "date", "jsonPath": ".spec.replicas"}]
    row = printers.cells(crd_resource(cols), WIDGET, NOW)
    assert row == ["w", None, None, None, "<invalid>", None]


def test_custom_resource_without_columns_shows_age():
    for cols in (None, []):
        t = printers.build_table(crd_resource(cols), [WIDGET], now=NOW)
        assert [(c["name"], c["type"]) for c in t["columnDefinitions"]] == [("Name", "string"), ("Age", "date")]
        assert t["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a timestamp")
        assert t["rows"][0]["cells"] == ["w", "60m"]


def test_custom_resource_columns_stop_at_an_unreadable_path():
    cols = [{"name": "A", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "B", "type": "string", "jsonPath": ".spec[bad"},
            {"name": "C", "type": "string", "jsonPath": ".spec.ratio"}]
    assert printers.cells(crd_resource(cols), WIDGET, NOW) == ["w", 2]
    assert [c["name"] for c in printers.columns(crd_resource(cols))] == ["Name", "A"]


# -- the JSONPath of printer columns -----------------------------------------------------------

DOC = {"a": {"b": [{"n": 1, "t": "x", "ok": True}, {"n": 2, "t": "y"}, {"n": 3, "t": "z", "ok": False}]},
       "m": {"k.io/x": "v", "k": {"io/x": "nested"}}, "s": "str", "nul": None}


@pytest.mark.parametrize("path,found", [
    (".a.b[1].n", [2]), (".a.b[-1].n", [3]), (".a.b[*].n", [1, 2, 3]), (".a.b[0:2].t", ["x", "y"]),
    (".a.b[::2].n", [1, 3]), (".a.b[0,2].n", [1, 3]), ('.a.b[?(@.t=="y")].n', [2]), ('.a.b[?(@.t!="y")].n', [1, 3]),
    (".a.b[?(@.n>1)].t", ["y", "z"]), (".a.b[?(@.n<=2)].t", ["x", "y"]), (".a.b[?(@.ok)].n", [1, 3]),
    (".a.b[?(@.ok==true)].n", [1]), (".m.k\\.io/x", ["v"]), (".m['k.io/x']", ["nested"]), ("$.s", ["str"]),
    (".nope.x", []), (".a.b.n", []), ("..n", [1, 2, 3]), (".a.b[2:2]", []), (".nul", [None]), (".m.*", ["v", {"io/x": "nested"}]),
])
def test_column_paths(path, found):
    assert columnpath.find(path, DOC) == found


@pytest.mark.parametrize("path", [".a.b[3]", ".a.b[-4]", ".s[0]", ".a[?(@.n==1)]", ".a.b[?(@.n==\"1\")]",
                                  ".a.b[?(@.ok<true)]", ".nul[?(@.x)]", ".a.b[x]", ".a.b[0"])
def test_column_path_errors(path):
    with pytest.raises(columnpath.PathError):
        columnpath.find(path, DOC)


_keys = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=6)
_leaves = st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())
_trees = st.recursive(_leaves, lambda kids: st.dictionaries(_keys, kids, max_size=4), max_leaves=20)


@given(st.dictionaries(_keys, _trees, min_size=1), st.data())
def test_field_paths_reach_what_plain_lookups_reach(doc, data):
    path: list[str] = []
    node: object = doc
    while isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(sorted(node)))
        path.append(key)
        node = node[key]
        if data.draw(st.booleans()):
            break
    assert columnpath.find("." + ".".join(path), doc) == [node]
    assert columnpath.find("." + ".".join([*path, "missing_key_"]), doc) == []


# -- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize("given_,shown", [
    ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("1.5Gi", "1536Mi"), ("100Mi", "100Mi"), ("0.5Ki", "512"),
    ("1Ki", "1Ki"), ("0.5", "500m"), ("1000m", "1"), ("1.5", "1500m"), ("2000", "2k"), ("1500", "1500"),
    ("10G", "10G"), ("1e3", "1e3"), ("1e5", "100e3"), ("1E6", "1e6"), ("0", "0"), ("0Gi", "0"), (5, "5"),
    ("0.0000000001", "1n"), ("100n", "100n"), ("12e-3", "12e-3"), ("12e-2", "120e-3"), (None, "0"), ("-2Gi", "-2Gi"),
])
def test_quantities_print_canonically(given_, shown):
    assert quantity_string(given_) == shown


_suffixes = st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti", "n", "u", "e3", "e-2", "E2"])


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999), _suffixes)
def test_canonical_quantities_keep_their_value_and_are_stable(whole, frac, suffix):
    text = f"{whole}.{frac}{suffix}" if frac else f"{whole}{suffix}"
    shown = quantity_string(text)
    exact = parse_quantity(text)
    rounded = Fraction(-((-exact.numerator * 10**9) // exact.denominator), 10**9)
    assert parse_quantity(shown) == rounded
    assert quantity_string(shown) == shown
    assert "." not in shown


# -- whole tables -----------------------------------------------------------------------------


def test_table_objects_and_metadata():
    p = pod({"phase": "Running"}, resourceVersion="42", labels={"app": "web"})
    r = res("pods")
    t = printers.build_table(r, [p], now=NOW)
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "42"}
    assert t["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                      "metadata": p["metadata"]}
    assert printers.build_table(r, [p], now=NOW, include_object="Object")["rows"][0]["object"] is p
    assert printers.build_table(r, [p], now=NOW, include_object="None")["rows"][0]["object"] is None
    listed = printers.build_table(r, [p, p], now=NOW, list_meta={"resourceVersion": "7", "continue": "abc"},
                                  version="v1beta1")
    assert listed["metadata"] == {"resourceVersion": "7", "continue": "abc"}
    assert listed["apiVersion"] == "meta.k8s.io/v1beta1"
    assert listed["rows"][1]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert printers.build_table(r, [], now=NOW)["rows"] == []
    with pytest.raises(errors.BadRequest, match='unrecognized includeObject value: "All"'):
        printers.build_table(r, [p], now=NOW, include_object="All")


def test_flow_schemas_are_listed_by_precedence():
    r = Resource("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", False)
    fs = [{"metadata": meta(nm), "spec": {"matchingPrecedence": prec, "priorityLevelConfiguration": {"name": "global"}}}
          for nm, prec in (("b", 500), ("catch-all", 10000), ("a", 500), ("exempt", 1))]
    t = printers.build_table(r, fs, now=NOW)
    assert [row["cells"][0] for row in t["rows"]] == ["exempt", "a", "b", "catch-all"]
    assert t["rows"][0]["cells"][1:] == ["global", 1, "<none>", "60m", "?"]


def test_shared_jsonpath_subset_still_reads_simple_paths():
    """The small evaluator CRD validation and field selectors share (printing has its own)."""
    from nanokube.api import jsonpath

    obj = {"a": {"b": [{"n": 1, "t": "x"}, {"n": 2, "t": "y"}]}, "m": {"k.io/x": "v"}}
    assert jsonpath.evaluate(".a.b[1].n", obj) == [2]
    assert jsonpath.evaluate(".a.b[*].n", obj) == [1, 2]
    assert jsonpath.evaluate('.a.b[?(@.t=="y")].n', obj) == [2]
    assert jsonpath.evaluate(".m['k.io/x']", obj) == ["v"]
    assert jsonpath.evaluate(".nope.x", obj) == []
