"""The pure decisions of the Endpoints and EndpointSlice controllers."""

from __future__ import annotations

from nanokube.controllers.endpoints import MAX_ADDRESSES, endpoints_subsets
from nanokube.controllers.endpointslice import desired_endpoints, plan_slices
from nanokube.controllers.endpointsutil import target_port


def svc(ports=None, selector=None, **spec):
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid"},
            "spec": {"selector": selector if selector is not None else {"app": "web"},
                     "ports": ports if ports is not None else [{"port": 80, "targetPort": "http"}], **spec}}


def pod(name, ip, ready=True, labels=None, port_name="http", port=8080, **meta):
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "labels": labels if labels is not None else {"app": "web"}, **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
                {"name": port_name, "containerPort": port}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_named_target_port_resolves_per_pod():
    p = {"targetPort": "http", "port": 80}
    assert target_port(p, pod("a", "10.0.0.1", port=8080)) == 8080
    assert target_port(p, pod("b", "10.0.0.2", port_name="web")) is None
    assert target_port({"port": 80}, pod("a", "10.0.0.1")) == 80
    assert target_port({"port": 80, "targetPort": 9000}, pod("a", "10.0.0.1")) == 9000


def test_ready_and_not_ready_addresses_grouped_by_resolved_ports():
    pods = [pod("a", "10.0.0.2"), pod("b", "10.0.0.1", ready=False), pod("c", "10.0.0.3", port=9090),
            pod("other", "10.0.0.9", labels={"app": "db"}), pod("noip", "")]
    subsets, truncated = endpoints_subsets(svc(), pods)
    assert not truncated
    by_port = {s["ports"][0]["port"]: s for s in subsets}
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.0.0.2"]
    assert [a["ip"] for a in by_port[8080]["notReadyAddresses"]] == ["10.0.0.1"]
    assert [a["targetRef"]["name"] for a in by_port[9090]["addresses"]] == ["c"]


def test_terminating_and_finished_pods_leave_endpoints_unless_published_not_ready():
    gone = pod("t", "10.0.0.1", deletionTimestamp="2026-01-01T00:00:00Z")
    done = pod("d", "10.0.0.2")
    done["status"]["phase"] = "Succeeded"
    assert endpoints_subsets(svc(), [gone, done]) == ([], False)
    subsets, _ = endpoints_subsets(svc(publishNotReadyAddresses=True), [gone, pod("nr", "10.0.0.3", ready=False)])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.1", "10.0.0.3"]


def test_endpoints_hold_at_most_the_capacity():
    pods = [pod(f"p{i}", f"10.1.{i // 250}.{i % 250}") for i in range(MAX_ADDRESSES + 5)]
    subsets, truncated = endpoints_subsets(svc(), pods)
    assert truncated and sum(len(s["addresses"]) for s in subsets) == MAX_ADDRESSES


def test_slices_keep_terminating_pods_with_conditions():
    gone = pod("t", "10.0.0.1", deletionTimestamp="2026-01-01T00:00:00Z")
    desired = desired_endpoints(svc(), [gone, pod("r", "10.0.0.2")], {"n1": "zone-a"})
    (ports, eps), = desired.values()
    assert ports == [{"name": "", "port": 8080, "protocol": "TCP"}]
    conds = {e["targetRef"]["name"]: e["conditions"] for e in eps}
    assert conds["t"] == {"ready": False, "serving": True, "terminating": True}
    assert conds["r"] == {"ready": True, "serving": True, "terminating": False}
    assert all(e["zone"] == "zone-a" for e in eps)


def _slice(name, eps, ports):
    return {"metadata": {"name": name, "uid": name}, "endpoints": eps, "ports": ports}


def test_plan_keeps_endpoints_in_place_and_fills_free_room():
    pods = [pod(f"p{i}", f"10.0.0.{i}") for i in range(1, 8)]
    desired = desired_endpoints(svc(), pods, {})
    (ports, eps), = desired.values()
    ups, creates, deletes = plan_slices([], desired, max_per_slice=3)
    assert not ups and not deletes and [len(e) for _, e in creates] == [3, 3, 1]
    # three slices as created; one pod goes, one comes: only the slices concerned change
    slices = [_slice(f"s{i}", e, p) for i, (p, e) in enumerate(creates)]
    pods2 = [p for p in pods if p["metadata"]["name"] != "p2"] + [pod("p9", "10.0.0.9")]
    ups, creates, deletes = plan_slices(slices, desired_endpoints(svc(), pods2, {}), max_per_slice=3)
    assert [u["metadata"]["name"] for u in ups] == ["s0"] and not creates and not deletes
    assert [e["targetRef"]["name"] for e in ups[0]["endpoints"]] == ["p1", "p3", "p9"]


def test_plan_deletes_emptied_slices_and_keeps_one_placeholder():
    desired = desired_endpoints(svc(), [pod("a", "10.0.0.1")], {})
    (ports, eps), = desired.values()
    slices = [_slice("s0", eps, ports), _slice("s1", [], [])]
    ups, creates, deletes = plan_slices(slices, {})
    assert not ups and not creates and [d["metadata"]["name"] for d in deletes] == ["s0"]
    ups, creates, deletes = plan_slices([], {})
    assert creates == [([], [])]
