"""The Job controller's decisions, as upstream's: index intervals, pending indexes, back-off,
pod failure policy, success policy, how many pods to run or remove, and the pods it makes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from nanokube.controllers import indexedjob as ix
from nanokube.controllers import jobutil as ju
from nanokube.api import timestamps

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def stamp(seconds: float) -> str:
    return timestamps.format_time(T0 + dt.timedelta(seconds=seconds))


def job(**spec) -> dict:
    base = {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "ns", "uid": "job-uid"}, "spec": base, "status": {}}


def pod(name: str, phase: str = "Running", index: int | None = None, exit_code: int | None = None,
        finished: float | None = None, finalizer: bool = True, ready: bool = False, **meta) -> dict:
    annotations = {} if index is None else {ju.COMPLETION_INDEX: str(index)}
    p = {"metadata": {"name": name, "uid": f"uid-{name}", "namespace": "ns", "annotations": annotations,
                      "creationTimestamp": stamp(0), "finalizers": [ju.TRACKING_FINALIZER] if finalizer else [], **meta},
         "spec": {"nodeName": "n1"},
         "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
    if exit_code is not None:
        p["status"]["containerStatuses"] = [{"name": "c", "state": {"terminated": {
            "exitCode": exit_code, "finishedAt": stamp(finished or 0)}}}]
    return p


# -- intervals --------------------------------------------------------------------------------

def test_intervals_are_written_as_upstream_writes_them():
    assert ix.format_indexes([(0, 4)]) == "0-4"
    assert ix.format_indexes([(1, 1), (3, 5), (7, 8)]) == "1,3-5,7,8"
    assert ix.parse_indexes("1,3-5,7,8", 10) == [(1, 1), (3, 5), (7, 8)]
    assert ix.parse_indexes("0-2,3,9", 5) == [(0, 3)]  # neighbours merge, out-of-range indexes go
    assert ix.parse_indexes("x,2", 5) == [(2, 2)]  # corrupt parts are skipped
    assert ix.with_indexes([(0, 1), (5, 5)], [2, 4, 9]) == [(0, 2), (4, 5), (9, 9)]
    assert ix.total([(0, 2), (4, 5)]) == 5 and ix.contains([(0, 2)], 2) and not ix.contains([(0, 2)], 3)


@given(st.sets(st.integers(0, 60)))
def test_intervals_round_trip_any_index_set(indexes):
    iv = ix.with_indexes([], sorted(indexes))
    assert ix.total(iv) == len(indexes)
    assert ix.parse_indexes(ix.format_indexes(iv), 100) == iv
    assert all(ix.contains(iv, i) == (i in indexes) for i in range(62))


# -- indexes ----------------------------------------------------------------------------------

def test_first_pending_indexes_skip_active_succeeded_and_failed():
    j = job(completionMode="Indexed", completions=8, parallelism=8)
    active = [pod("a", index=1), pod("b", index=4)]
    assert ix.first_pending_indexes(j, active, active, [(0, 0), (5, 5)], [(6, 6)], 3) == [2, 3, 7]
    assert ix.first_pending_indexes(j, active, active, [(0, 0)], None, 10) == [2, 3, 5, 6, 7]


def test_terminating_pods_hold_their_index_when_only_failed_pods_are_replaced():
    j = job(completionMode="Indexed", completions=3, parallelism=3, podReplacementPolicy="Failed")
    going = pod("t", index=0, deletionTimestamp=stamp(0))
    assert ix.first_pending_indexes(j, [going], [], [], None, 3) == [1, 2]
    j["spec"]["podReplacementPolicy"] = "TerminatingOrFailed"
    assert ix.first_pending_indexes(j, [going], [], [], None, 3) == [0, 1, 2]


def test_succeeded_indexes_count_pods_still_carrying_the_finalizer():
    j = job(completionMode="Indexed", completions=4)
    j["status"]["completedIndexes"] = "0"
    pods = [pod("a", "Succeeded", 2), pod("b", "Succeeded", 3, finalizer=False), pod("c", "Failed", 1),
            pod("d", "Succeeded", 9)]
    prev, now = ix.succeeded_indexes(j, pods)
    assert prev == [(0, 0)] and now == [(0, 0), (2, 2)]


def test_success_policy_rules():
    j = job(completionMode="Indexed", completions=6, successPolicy={"rules": [
        {"succeededIndexes": "0,2-3"}, {"succeededCount": 4}]})
    assert ix.match_success_policy(j, [(0, 0), (2, 3)]) == "Matched rules at index 0"
    assert ix.match_success_policy(j, [(0, 0), (4, 5)]) is None
    assert ix.match_success_policy(j, [(1, 1), (3, 5)]) == "Matched rules at index 1"
    j["spec"]["successPolicy"] = {"rules": [{"succeededIndexes": "0-3", "succeededCount": 2}]}
    assert ix.match_success_policy(j, [(1, 2)]) == "Matched rules at index 0"
    assert ix.match_success_policy(j, [(3, 5)]) is None


def test_per_index_failure_counts_carry_over_to_the_replacement():
    j = job(completionMode="Indexed", completions=2, backoffLimitPerIndex=1)
    failed = pod("f", "Failed", 0, exit_code=1, annotations={ju.COMPLETION_INDEX: "0", ju.INDEX_FAILURE_COUNT: "0"})
    assert ix.new_index_failure_counts(j, failed) == (1, 0)
    assert not ix.index_failed(j, failed)  # one failure allowed per index
    failed["metadata"]["annotations"][ju.INDEX_FAILURE_COUNT] = "1"
    assert ix.index_failed(j, failed)
    assert ix.failed_indexes(j, [failed]) == [(0, 0)]
    held = ix.pods_with_delayed_deletion(j, [failed], [], [], [], set())
    assert held == {0: failed}


# -- back-off ---------------------------------------------------------------------------------

def test_backoff_doubles_per_failure_and_is_capped():
    assert ju.backoff_left(0, None, T0, 10, 600) == 0
    assert ju.backoff_left(1, T0, T0, 10, 600) == 10
    assert ju.backoff_left(3, T0, T0 + dt.timedelta(seconds=15), 10, 600) == 25
    assert ju.backoff_left(20, T0, T0, 10, 600) == 600
    assert ju.backoff_left(2, T0, T0 + dt.timedelta(seconds=30), 10, 600) == 0


def test_backoff_record_resets_on_success_but_keeps_later_failures():
    rec = ju.next_backoff(ju.BackoffRecord(), [], [pod("a", "Failed", exit_code=1, finished=5)])
    assert rec == ju.BackoffRecord(1, T0 + dt.timedelta(seconds=5))
    rec = ju.next_backoff(rec, [], [pod("b", "Failed", exit_code=1, finished=9), pod("c", "Failed", exit_code=1, finished=7)])
    assert rec == ju.BackoffRecord(3, T0 + dt.timedelta(seconds=9))
    rec = ju.next_backoff(rec, [pod("s", "Succeeded", exit_code=0, finished=10)],
                          [pod("d", "Failed", exit_code=1, finished=8), pod("e", "Failed", exit_code=1, finished=12)])
    assert rec == ju.BackoffRecord(1, T0 + dt.timedelta(seconds=12))
    assert ju.next_backoff(rec, [pod("s2", "Succeeded", exit_code=0, finished=20)], []) == ju.BackoffRecord()


def test_finish_time_falls_back_to_readiness_then_deletion():
    p = pod("a", "Failed")
    p["status"]["conditions"][0]["lastTransitionTime"] = stamp(3)
    assert ju.finish_time(p) == T0 + dt.timedelta(seconds=3)
    p = pod("b", "Running", deletionTimestamp=stamp(40), deletionGracePeriodSeconds=30)
    p["status"]["conditions"] = []
    assert ju.finish_time(p) == T0 + dt.timedelta(seconds=10)


def test_restarts_count_against_backoff_limit_with_restart_policy_on_failure():
    j = job(backoffLimit=2)
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    p = pod("a")
    p["status"]["containerStatuses"] = [{"name": "c", "restartCount": 1}]
    assert not ju.past_backoff_limit_on_failure(j, [p])
    p["status"]["containerStatuses"][0]["restartCount"] = 2
    assert ju.past_backoff_limit_on_failure(j, [p])
    j["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert not ju.past_backoff_limit_on_failure(j, [p])


# -- pod failure policy -----------------------------------------------------------------------

def policy_job() -> dict:
    return job(podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 42]}},
    ]})


def test_pod_failure_policy_rules_in_order():
    j = policy_job()
    msg, count, action = ju.match_pod_failure_policy(j, pod("a", "Failed", exit_code=42))
    assert action == "FailJob" and count
    assert msg == "Container c for pod ns/a failed with exit code 42 matching FailJob rule at index 1"
    evicted = pod("b", "Failed", exit_code=42)
    evicted["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True"})
    assert ju.match_pod_failure_policy(j, evicted) == (None, False, "Ignore")
    assert ju.match_pod_failure_policy(j, pod("c", "Failed", exit_code=3)) == (None, True, "Count")
    assert ju.match_pod_failure_policy(j, pod("d", "Failed", exit_code=1)) == (None, True, None)
    assert ju.counted_failures(j, [evicted, pod("e", "Failed", exit_code=1)]) == 1
    assert ju.fail_job_message(j, [pod("f", "Running"), pod("g", "Failed", exit_code=42)]) is not None


def test_exit_code_zero_and_other_containers_never_match():
    j = policy_job()
    j["spec"]["podFailurePolicy"]["rules"][1]["onExitCodes"]["containerName"] = "other"
    assert ju.match_pod_failure_policy(j, pod("a", "Failed", exit_code=42))[2] is None
    j = job(podFailurePolicy={"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1]}}]})
    assert ju.match_pod_failure_policy(j, pod("b", "Failed", exit_code=0))[2] is None


def test_deleted_pods_count_as_failed_unless_only_failed_pods_are_replaced():
    deleted = pod("a", "Running", deletionTimestamp=stamp(1))
    assert ju.pod_failed(deleted, job())
    assert not ju.pod_failed(deleted, job(podReplacementPolicy="Failed"))
    assert not ju.pod_failed(pod("b", "Succeeded", deletionTimestamp=stamp(1)), job())


# -- how many pods ----------------------------------------------------------------------------

def test_want_active():
    assert ju.want_active(job(completions=5, parallelism=2), succeeded=0, active=0) == 2
    assert ju.want_active(job(completions=5, parallelism=2), succeeded=4, active=2) == 1
    assert ju.want_active(job(completions=5, parallelism=2), succeeded=6, active=0) == 0
    work_queue = job(completions=None, parallelism=3)
    assert ju.want_active(work_queue, succeeded=0, active=1) == 3
    assert ju.want_active(work_queue, succeeded=1, active=2) == 2  # once one succeeded, no new pods


def test_removal_prefers_unready_and_duplicate_or_invalid_indexes():
    j = job(completionMode="Indexed", completions=3, parallelism=3)
    a, b = pod("a", index=0, ready=True), pod("b", index=0)
    stray, unindexed, keep = pod("s", index=7), pod("u"), pod("k", index=1, ready=True)
    out = ju.active_pods_for_removal(j, [a, b, stray, unindexed, keep], 0)
    assert {p["metadata"]["name"] for p in out} == {"b", "s", "u"}
    nj = job(completions=5, parallelism=2)
    assert [p["metadata"]["name"] for p in ju.active_pods_for_removal(nj, [a, b, keep], 1)] == ["b"]


def test_new_pod_from_template():
    j = job(completionMode="Indexed", completions=3)
    j["spec"]["template"]["metadata"] = {"labels": {"app": "x"}, "annotations": {"sim.nanokube.io/run-seconds": "1"}}
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "job-uid", "controller": True,
           "blockOwnerDeletion": True}
    p = ju.new_pod(j, ref, 2)
    meta = p["metadata"]
    assert meta["generateName"] == "j-2-" and meta["ownerReferences"] == [ref]
    assert meta["finalizers"] == [ju.TRACKING_FINALIZER]
    assert meta["labels"] == {"app": "x", ju.COMPLETION_INDEX: "2"}
    assert meta["annotations"] == {"sim.nanokube.io/run-seconds": "1", ju.COMPLETION_INDEX: "2"}
    assert p["spec"]["hostname"] == "j-2"
    assert p["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}]
    plain = ju.new_pod(job(), ref, None)
    assert plain["metadata"]["generateName"] == "j-" and "hostname" not in plain["spec"]
    assert ju.generate_name("x" * 70, 12) == "x" * 54 + "-12-"


# -- status -----------------------------------------------------------------------------------

def test_uncounted_pods_move_to_counters_once_their_finalizer_is_gone():
    status = {"succeeded": 2, "uncountedTerminatedPods": {"succeeded": ["a", "b"], "failed": ["c"]}}
    assert ju.move_counted(status, {"b"})
    assert status == {"succeeded": 3, "failed": 1, "uncountedTerminatedPods": {"succeeded": ["b"]}}
    assert not ju.move_counted(status, {"b"})


def test_new_finished_pods_skip_counted_and_pending_removals():
    j = job()
    pods = [pod("a", "Succeeded"), pod("b", "Failed"), pod("c", "Succeeded", finalizer=False),
            pod("d", "Failed"), pod("e", "Running")]
    succeeded, failed = ju.new_finished_pods(j, pods, set(), {"uid-d"}, set())
    assert [p["metadata"]["name"] for p in succeeded] == ["a"] and [p["metadata"]["name"] for p in failed] == ["b"]
    succeeded, _ = ju.new_finished_pods(j, pods, set(), set(), {"uid-a"})
    assert succeeded == []


def test_wire_status_drops_zero_counters_and_keeps_the_pointer_fields():
    assert ju.wire_status({"active": 0, "succeeded": 0, "ready": 0, "terminating": 0, "completedIndexes": "",
                           "failedIndexes": None, "uncountedTerminatedPods": {}}) == \
        {"ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}


def test_deadline_left_only_while_running():
    j = job(activeDeadlineSeconds=30)
    assert ju.active_deadline_left(j, T0) is None  # not started
    j["status"]["startTime"] = stamp(0)
    assert ju.active_deadline_left(j, T0 + dt.timedelta(seconds=12)) == 18
    j["spec"]["suspend"] = True
    assert ju.active_deadline_left(j, T0 + dt.timedelta(seconds=40)) is None


def test_conditions_are_set_in_place_and_false_is_never_added_from_nothing():
    conds: list = []
    assert not ju.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", T0)
    assert ju.ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", T0)
    assert not ju.ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", T0)
    assert ju.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", T0)
    assert len(conds) == 1 and conds[0]["status"] == "False"
