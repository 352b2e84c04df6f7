"""The simulated kubelet's pod lifecycle, driven by a fake clock."""

from nanokube.simnodes.lifecycle import EXIT_CODE, RUN_SECONDS, PodRecord, SimConfig, backoff, step
from nanokube.simnodes.nodes import fallback_pod_cidr, node_ip, parse_taint

import pytest

CFG = SimConfig(start_seconds=1.0, job_run_seconds=5.0, backoff_base=10.0, backoff_max=40.0)
WALL = "2026-01-01T00:00:00Z"


def pod(**ann):
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "annotations": ann},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "img"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def apply(p, s):
    if s.status is not None:
        p["status"] = s.status
    return p


def test_creating_then_running_forever():
    p, rec = pod(), PodRecord("u1", seen=0.0)
    s = step(p, rec, 0.0, WALL, CFG)
    assert s.status["phase"] == "Pending" and s.again == 1.0
    assert s.status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    apply(p, s)
    assert step(p, rec, 0.5, WALL, CFG).status is None  # nothing new to say while creating
    s = step(p, rec, 1.0, WALL, CFG)
    assert s.status["phase"] == "Running" and s.again is None
    ready = {c["type"]: c["status"] for c in s.status["conditions"]}
    assert ready["Ready"] == "True" and ready["ContainersReady"] == "True"
    assert s.status["qosClass"] == "BestEffort"
    apply(p, s)
    assert step(p, rec, 100.0, WALL, CFG).status is None


def test_readiness_taken_away_by_others_is_reported_again():
    p, rec = pod(), PodRecord("u1", seen=0.0)
    apply(p, step(p, rec, 0.0, WALL, CFG))
    apply(p, step(p, rec, 1.0, WALL, CFG))
    rec.extra["written_rv"] = "7"
    p["metadata"]["resourceVersion"] = "7"
    assert step(p, rec, 2.0, WALL, CFG).status is None
    # the node lifecycle controller marked the pod not ready while the node looked lost
    ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "False"
    p["metadata"]["resourceVersion"] = "9"
    s = step(p, rec, 3.0, WALL, CFG)
    assert s.status is not None and {c["type"]: c["status"] for c in s.status["conditions"]}["Ready"] == "True"
    # an older version (our own earlier write arriving late) is not a reason to write again
    p["metadata"]["resourceVersion"] = "5"
    assert step(p, rec, 4.0, WALL, CFG).status is None


def test_job_pods_succeed_after_the_simulated_run():
    p, rec = pod(), PodRecord("u1", seen=0.0)
    p["metadata"]["ownerReferences"] = [{"kind": "Job", "name": "j", "uid": "x", "controller": True}]
    p["spec"]["restartPolicy"] = "Never"
    apply(p, step(p, rec, 0.0, WALL, CFG))
    s = step(p, rec, 1.0, WALL, CFG)
    assert s.again == 5.0
    apply(p, s)
    s = step(p, rec, 6.0, WALL, CFG)
    assert s.status["phase"] == "Succeeded"
    term = s.status["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"


def test_exit_code_and_restart_policy():
    p, rec = pod(**{RUN_SECONDS: "2", EXIT_CODE: "3"}), PodRecord("u1", seen=0.0)
    p["spec"]["restartPolicy"] = "Never"
    apply(p, step(p, rec, 0.0, WALL, CFG))
    apply(p, step(p, rec, 1.0, WALL, CFG))
    s = step(p, rec, 3.0, WALL, CFG)
    assert s.status["phase"] == "Failed"
    assert s.status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_crash_loop_back_off_doubles_and_caps():
    p, rec = pod(**{RUN_SECONDS: "1", EXIT_CODE: "1"}), PodRecord("u1", seen=0.0)
    apply(p, step(p, rec, 0.0, WALL, CFG))
    apply(p, step(p, rec, 1.0, WALL, CFG))  # running
    s = step(p, rec, 2.0, WALL, CFG)  # first exit: restarted at once
    assert s.status["phase"] == "Running" and s.status["containerStatuses"][0]["restartCount"] == 1
    s = step(p, rec, 3.0, WALL, CFG)  # second exit: back-off 10 s
    assert s.again == 10.0
    cs = s.status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["lastState"]["terminated"]["exitCode"] == 1
    assert step(p, rec, 12.9, WALL, CFG).status is None
    assert step(p, rec, 13.0, WALL, CFG).status["containerStatuses"][0]["state"].get("running")
    assert [backoff(n, CFG) for n in range(1, 6)] == [0.0, 10.0, 20.0, 40.0, 40.0]


def test_graceful_deletion_reports_terminal_status_then_deletes():
    cfg = SimConfig(start_seconds=0.0, stop_seconds=3.0)
    p, rec = pod(), PodRecord("u1", seen=0.0)
    apply(p, step(p, rec, 0.0, WALL, cfg))
    p["metadata"].update(deletionTimestamp=WALL, deletionGracePeriodSeconds=30)
    s = step(p, rec, 1.0, WALL, cfg)
    assert s.status is None and not s.delete and s.again == 3.0
    s = step(p, rec, 4.0, WALL, cfg)
    assert s.delete and s.status["phase"] == "Succeeded"
    p["metadata"]["deletionGracePeriodSeconds"] = 0  # a zero grace period cuts the stop time
    rec2 = PodRecord("u1", seen=0.0)
    assert step(p, rec2, 0.0, WALL, cfg).delete


def test_other_conditions_survive_and_transition_times_are_kept():
    p, rec = pod(), PodRecord("u1", seen=0.0)
    p["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True"},
                                 {"type": "PodScheduled", "status": "True", "lastTransitionTime": "then"}]
    s = step(p, rec, 0.0, "now", CFG)
    conds = {c["type"]: c for c in s.status["conditions"]}
    assert conds["DisruptionTarget"]["status"] == "True"
    assert conds["PodScheduled"]["lastTransitionTime"] == "then"
    assert conds["Ready"]["lastTransitionTime"] == "now"


def test_node_addresses_and_taints():
    assert node_ip(0) == "10.240.0.1" and node_ip(300) == "10.240.1.45"
    assert fallback_pod_cidr(2) == "10.128.2.0/24"
    assert parse_taint("gpu=yes:NoSchedule") == {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    assert parse_taint("dedicated:NoExecute") == {"key": "dedicated", "effect": "NoExecute"}
    with pytest.raises(ValueError):
        parse_taint("x=y:Sometimes")
