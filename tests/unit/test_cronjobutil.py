"""The CronJob controller's scheduling decisions with a fixed clock: the most recent unmet
time, startingDeadlineSeconds, too many missed times, requeue delays, the Jobs it makes and
the history it trims; and the TTL-after-finished arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from nanokube.api import cron
from nanokube.controllers import cronjobutil as cju
from nanokube.controllers import ttlafterfinished as ttl
from nanokube.api import timestamps

UTC = dt.UTC
CREATED = dt.datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


def at(minutes: float) -> dt.datetime:
    return CREATED + dt.timedelta(minutes=minutes)


def cronjob(schedule: str = "*/5 * * * *", last: dt.datetime | None = None, **spec) -> dict:
    cj = {"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": timestamps.format_time(CREATED)},
          "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "successfulJobsHistoryLimit": 3,
                   "failedJobsHistoryLimit": 1, "jobTemplate": {
                       "metadata": {"labels": {"app": "x"}, "annotations": {"note": "n"}},
                       "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c"}]}}}},
                   **spec},
          "status": {}}
    if last is not None:
        cj["status"]["lastScheduleTime"] = timestamps.format_time(last)
    return cj


def schedule(cj: dict) -> cron.CronSchedule:
    return cron.parse(cju.schedule_text(cj))


def test_nothing_due_before_the_first_schedule_time():
    cj = cronjob()
    assert cju.next_schedule_time(cj, at(2), schedule(cj)) == (None, False)
    # requeued just after 10:05 (100 ms of slack)
    assert cju.requeue_after(cj, at(2), schedule(cj)) == pytest.approx(2.5 * 60 + 0.1)


def test_the_most_recent_missed_time_is_the_one_run():
    cj = cronjob()
    scheduled, too_many = cju.next_schedule_time(cj, at(17), schedule(cj))
    assert scheduled == dt.datetime(2024, 5, 1, 10, 15, tzinfo=UTC) and not too_many
    cj = cronjob(last=dt.datetime(2024, 5, 1, 10, 15, tzinfo=UTC))
    assert cju.next_schedule_time(cj, at(17), schedule(cj)) == (None, False)
    assert cju.requeue_after(cj, at(17), schedule(cj)) == pytest.approx(2.5 * 60 + 0.1)


def test_starting_deadline_hides_times_missed_for_longer():
    cj = cronjob(startingDeadlineSeconds=60)
    assert cju.next_schedule_time(cj, at(17), schedule(cj)) == (None, False)  # 10:15 was 2.5 minutes ago
    assert cju.next_schedule_time(cj, at(15.25), schedule(cj))[0] == dt.datetime(2024, 5, 1, 10, 15, tzinfo=UTC)


def test_more_than_a_hundred_missed_times_are_reported_but_the_latest_still_runs():
    cj = cronjob("* * * * *")
    scheduled, too_many = cju.next_schedule_time(cj, at(500), schedule(cj))
    assert too_many and scheduled == dt.datetime(2024, 5, 1, 18, 20, tzinfo=UTC)
    scheduled, too_many = cju.next_schedule_time(cj, at(50), schedule(cj))
    assert not too_many and scheduled == dt.datetime(2024, 5, 1, 10, 50, tzinfo=UTC)


def test_irregular_schedules_find_the_exact_most_recent_time():
    cj = cronjob("30 6-16/4 * * 1-5")  # 06:30, 10:30, 14:30 on weekdays; 1 May 2024 is a Wednesday
    recent = cju.most_recent_schedule_time(cj, dt.datetime(2024, 5, 6, 12, tzinfo=UTC), schedule(cj), True)
    assert recent.time == dt.datetime(2024, 5, 6, 10, 30, tzinfo=UTC)
    assert recent.missed == cju.Missed.FEW


def test_a_schedule_that_never_fires_is_an_error():
    cj = cronjob("0 0 31 2 *")
    with pytest.raises(cron.CronError):
        cju.next_schedule_time(cj, at(10), schedule(cj))
    assert cju.requeue_after(cj, at(10), schedule(cj)) is None


def test_time_zone_is_used_for_the_schedule_and_the_annotation():
    cj = cronjob("0 9 * * *", timeZone="Europe/Berlin")
    assert cju.schedule_text(cj) == "TZ=Europe/Berlin 0 9 * * *"
    scheduled, _ = cju.next_schedule_time(cj, dt.datetime(2024, 5, 2, 7, 30, tzinfo=UTC), schedule(cj))
    assert scheduled == dt.datetime(2024, 5, 2, 7, 0, tzinfo=UTC)  # 09:00 CEST
    job = cju.job_from_template(cj, scheduled)
    assert job["metadata"]["annotations"][cju.SCHEDULED_TIMESTAMP] == "2024-05-02T09:00:00+02:00"
    assert cju.schedule_text(cronjob("0 9 * * *", timeZone="Mars/Olympus")) == "0 9 * * *"


def test_job_from_template():
    cj = cronjob()
    job = cju.job_from_template(cj, dt.datetime(2024, 5, 1, 10, 15, tzinfo=UTC))
    meta = job["metadata"]
    assert meta["name"] == f"cj-{int(dt.datetime(2024, 5, 1, 10, 15, tzinfo=UTC).timestamp()) // 60}"
    assert meta["labels"] == {"app": "x"}
    assert meta["annotations"] == {"note": "n", cju.SCHEDULED_TIMESTAMP: "2024-05-01T10:15:00Z"}
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "cj-uid",
                                        "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"] == cj["spec"]["jobTemplate"]["spec"] and job["spec"] is not cj["spec"]["jobTemplate"]["spec"]


def finished_job(name: str, kind: str, start_minute: int | None) -> dict:
    status: dict = {"conditions": [{"type": kind, "status": "True"}]}
    if start_minute is not None:
        status["startTime"] = timestamps.format_time(at(start_minute))
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}"}, "status": status}


def test_history_limits_delete_the_oldest_finished_jobs():
    cj = cronjob()
    jobs = [finished_job("s1", "Complete", 1), finished_job("s2", "Complete", 2), finished_job("s0", "Complete", None),
            finished_job("s3", "Complete", 3), finished_job("s4", "Complete", 4),
            finished_job("f1", "Failed", 1), finished_job("f2", "Failed", 2),
            {"metadata": {"name": "running", "namespace": "ns", "uid": "u-r"}, "status": {}}]
    assert [j["metadata"]["name"] for j in cju.jobs_to_delete(cj, jobs)] == ["s1", "s2", "f1"]
    cj["spec"]["successfulJobsHistoryLimit"] = 0
    assert len(cju.jobs_to_delete(cj, jobs)) == 6
    del cj["spec"]["successfulJobsHistoryLimit"], cj["spec"]["failedJobsHistoryLimit"]
    assert cju.jobs_to_delete(cj, jobs) == []


def test_active_list_helpers():
    cj = cronjob()
    cj["status"]["active"] = [{"name": "a", "namespace": "ns", "uid": "1"}, {"name": "b", "namespace": "ns", "uid": "2"}]
    assert cju.in_active(cj, "2") and cju.in_active_by_name(cj, "a", "ns") and not cju.in_active_by_name(cj, "a", "x")
    cju.remove_active(cj, "1")
    assert [r["name"] for r in cj["status"]["active"]] == ["b"]


def test_ttl_counts_from_the_finished_condition():
    job = {"metadata": {"name": "j", "namespace": "ns"}, "spec": {"ttlSecondsAfterFinished": 30},
           "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z"}]}}
    now = dt.datetime(2024, 5, 1, 10, 0, 20, tzinfo=UTC)
    assert ttl.needs_cleanup(job) and ttl.time_left(job, now) == 10
    assert ttl.time_left(job, now + dt.timedelta(seconds=15)) == -5
    job["status"]["conditions"][0]["status"] = "False"
    assert not ttl.needs_cleanup(job) and ttl.time_left(job, now) is None
    job["status"]["conditions"][0].update(type="Failed", status="True")
    assert ttl.needs_cleanup(job)
    job["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:01Z"
    assert not ttl.needs_cleanup(job)
