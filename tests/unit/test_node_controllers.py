"""Pure decisions of the node lifecycle, taint eviction, node IPAM and pod GC controllers."""

from __future__ import annotations

import datetime

import pytest

from nanokube.controllers.nodeipam import CIDRSet
from nanokube.controllers.nodelifecycle import (
    NOT_READY,
    UNREACHABLE,
    NodeLifecycleSettings,
    TokenBucket,
    conditions_unknown,
    desired_taints,
    no_execute_taint,
    zone_rate,
    zone_state,
)
from nanokube.controllers.podgc import out_of_service, terminated_to_delete
from nanokube.controllers.tainteviction import eviction_time

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def node(ready="True", taints=None, **spec):
    return {"metadata": {"name": "n1"},
            "spec": {"taints": taints or [], **spec},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": "2026-01-01T11:00:00Z"},
                                      {"type": "MemoryPressure", "status": "False"}]}}


def test_silent_node_conditions_go_unknown_once():
    conds = conditions_unknown(node(), NOW)
    by = {c["type"]: c for c in conds}
    assert by["Ready"]["status"] == "Unknown" and by["Ready"]["reason"] == "NodeStatusUnknown"
    assert by["Ready"]["lastHeartbeatTime"] == "2026-01-01T11:00:00Z"  # the kubelet's last word stays
    assert by["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    n = node()
    n["status"]["conditions"] = conds
    assert conditions_unknown(n, NOW) is None


def test_taints_follow_readiness_and_keep_the_users_own():
    user = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    n = node(ready="Unknown", taints=[user])
    taints = desired_taints(n, no_execute_taint(n), NOW)
    assert user in taints
    assert {"key": UNREACHABLE, "effect": "NoSchedule"} in taints
    assert {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T12:00:00Z"} in taints
    # readiness back: the condition taints go, the user's stays
    n2 = node(ready="True", taints=taints)
    assert desired_taints(n2, no_execute_taint(n2), NOW) == [user]
    n3 = node(ready="False", unschedulable=True)
    keys = {(t["key"], t["effect"]) for t in desired_taints(n3, no_execute_taint(n3), NOW)}
    assert keys == {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute"),
                    ("node.kubernetes.io/unschedulable", "NoSchedule")}


def test_time_added_is_kept_while_the_taint_stays():
    old = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2025-12-31T00:00:00Z"}
    n = node(ready="Unknown", taints=[old])
    assert old in desired_taints(n, UNREACHABLE, NOW)


def test_zone_states_and_rates():
    s = NodeLifecycleSettings()
    assert zone_state(10, 1, 0.55) == "Normal"
    assert zone_state(2, 3, 0.55) == "PartialDisruption"
    assert zone_state(1, 2, 0.55) == "Normal"  # two down is never a disruption
    assert zone_state(0, 4, 0.55) == "FullDisruption"
    assert zone_rate("Normal", 10, s) == 0.1
    assert zone_rate("PartialDisruption", 10, s) == 0.0
    assert zone_rate("PartialDisruption", 100, s) == 0.01


def test_token_bucket_allows_a_burst_of_one_then_the_rate():
    t = [0.0]
    b = TokenBucket(0.1, lambda: t[0])
    assert b.try_acquire(0.1) and not b.try_acquire(0.1)
    t[0] = 9.0
    assert not b.try_acquire(0.1)
    t[0] = 10.5
    assert b.try_acquire(0.1)
    assert not TokenBucket(0.0, lambda: 100.0).try_acquire(0.0)


def pod(tolerations):
    return {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "tolerations": tolerations}}


def test_eviction_time_from_tolerations():
    taint = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T11:59:00Z"}
    n = node(taints=[taint, {"key": "x", "effect": "NoSchedule"}])
    assert eviction_time(pod([]), n, NOW) == NOW
    limited = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
    assert eviction_time(pod(limited), n, NOW) == datetime.datetime(2026, 1, 1, 12, 4, tzinfo=datetime.UTC)
    forever = [{"operator": "Exists"}]
    assert eviction_time(pod(forever), n, NOW) is None
    assert eviction_time(pod([]), node(), NOW) is None


def test_cidr_set_allocates_round_robin_and_reuses_released():
    s = CIDRSet("10.42.0.0/16", 24)
    assert s.occupy("10.42.0.0/24") and not s.occupy("192.168.0.0/24") and not s.occupy("10.42.1.0/25")
    assert s.allocate() == "10.42.1.0/24"
    assert s.allocate() == "10.42.2.0/24"
    s.release("10.42.1.0/24")
    small = CIDRSet("10.0.0.0/30", 31)
    assert [small.allocate(), small.allocate(), small.allocate()] == ["10.0.0.0/31", "10.0.0.2/31", None]
    with pytest.raises(ValueError):
        CIDRSet("10.0.0.0/16", 8)


def test_pod_gc_deletes_the_oldest_finished_pods_over_the_threshold():
    def p(name, phase, created):
        return {"metadata": {"name": name, "creationTimestamp": created}, "status": {"phase": phase}}

    pods = [p("a", "Succeeded", "2026-01-03"), p("b", "Failed", "2026-01-01"), p("c", "Running", "2025-01-01"),
            p("d", "Succeeded", "2026-01-02")]
    assert [x["metadata"]["name"] for x in terminated_to_delete(pods, 1)] == ["b", "d"]
    assert terminated_to_delete(pods, 3) == [] and terminated_to_delete(pods, 0) == []


def test_out_of_service_needs_the_taint_and_a_not_ready_node():
    taint = [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]
    assert out_of_service(node(ready="False", taints=taint))
    assert not out_of_service(node(ready="True", taints=taint))
    assert not out_of_service(node(ready="False"))
