"""Jobs and CronJobs on simulated nodes, driven with real kubectl: parallel and indexed Jobs,
back-off limits, pod failure policies, deadlines, suspension, TTL after finishing, and a
CronJob controller run in-process on a fake clock against the real server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from nanokube.api.registry import Registry
from nanokube.client.config import load_kubeconfig
from nanokube.client.informer import Informer, by_namespace, by_owner_uid
from nanokube.client.rest import Client
from nanokube.controllers.cronjob import CronJobController
from nanokube.controllers.manager import ALL_CONTROLLERS

from .conftest import cluster_fixture, wait_for
from .test_deployments import sample_during

# the CronJob controller is left out of the cluster: the tests run it themselves, on a fake clock
cluster = cluster_fixture(
    "--sim-nodes", "2",
    "--kube-controller-manager-arg", "controllers=" + ",".join(n for n in ALL_CONTROLLERS if n != "cronjob"),
    "--kube-controller-manager-arg", "job-pod-failure-backoff=1s")

TEMPLATE = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}


def job_manifest(ns: str, name: str, annotations: dict[str, str] | None = None, **spec: Any) -> str:
    template = json.loads(json.dumps(TEMPLATE))
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns},
                       "spec": {"template": template, **spec}})


def get_json(cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def job_pods(cluster, ns: str, name: str) -> list[dict]:
    return get_json(cluster, "pods", "-n", ns, "-l", f"batch.kubernetes.io/job-name={name}")["items"]


def condition(job: dict, ctype: str) -> dict | None:
    return next((c for c in job.get("status", {}).get("conditions", []) if c["type"] == ctype), None)


def events(cluster, ns: str, name: str) -> list[tuple[str, str]]:
    """(reason, message) of each event about `name`, oldest first, repeated as often as it
    happened (the recorder counts repeats on one Event)."""
    items = get_json(cluster, "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["reason"], e["message"]) for e in sorted(items, key=lambda e: e["firstTimestamp"])
            for _ in range(e.get("count") or 1)]


def test_parallel_job_runs_at_most_parallelism_pods_until_completions(cluster):
    ns = "parallel"
    cluster.kubectl("create", "namespace", ns)

    def running():
        return sum(1 for p in job_pods(cluster, ns, "pi")
                   if p["status"].get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp"))

    seen = sample_during(running, lambda: (
        cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "pi", completions=5, parallelism=2)),
        cluster.kubectl("wait", "--for=condition=complete", "job/pi", "-n", ns, "--timeout=60s")))
    assert max(seen) == 2, f"pods running at once: {seen}"
    job = get_json(cluster, "job", "pi", "-n", ns)
    st = job["status"]
    assert st["succeeded"] == 5 and "active" not in st and st["ready"] == 0 and st["terminating"] == 0
    assert st["uncountedTerminatedPods"] == {} and st["completionTime"] >= st["startTime"]
    assert condition(job, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
    assert condition(job, "Complete")["message"] == "Reached expected number of succeeded pods"
    pods = job_pods(cluster, ns, "pi")
    assert len(pods) == 5 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    for p in pods:
        meta = p["metadata"]
        assert meta["name"].startswith("pi-") and len(meta["name"]) == len("pi-") + 5
        assert "finalizers" not in meta, "the tracking finalizer stays on a counted pod"
        assert meta["labels"]["batch.kubernetes.io/job-name"] == "pi" and meta["labels"]["job-name"] == "pi"
        assert meta["labels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
        assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi",
                                            "uid": job["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
    reasons = [r for r, _ in events(cluster, ns, "pi")]
    assert reasons.count("SuccessfulCreate") == 5 and reasons[-1] == "Completed"
    row = cluster.kubectl("get", "job", "pi", "-n", ns).stdout.splitlines()
    assert row[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row[1].split()[:3] == ["pi", "Complete", "5/5"]


def test_indexed_job_completes_every_index(cluster):
    ns = "indexed"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "idx", completions=5, parallelism=3,
                                                           completionMode="Indexed"))
    cluster.kubectl("wait", "--for=condition=complete", "job/idx", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "idx", "-n", ns)
    assert job["status"]["completedIndexes"] == "0-4" and job["status"]["succeeded"] == 5
    pods = job_pods(cluster, ns, "idx")
    by_index = {int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]): p for p in pods}
    assert sorted(by_index) == [0, 1, 2, 3, 4] and len(pods) == 5
    for i, p in by_index.items():
        assert p["metadata"]["name"].startswith(f"idx-{i}-")
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p["spec"]["hostname"] == f"idx-{i}"
        assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}} \
            in p["spec"]["containers"][0]["env"]


def test_failing_job_stops_at_its_backoff_limit(cluster):
    ns = "failing"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "bad", {"sim.nanokube.io/exit-code": "1"},
                                                           backoffLimit=2))
    cluster.kubectl("wait", "--for=condition=failed", "job/bad", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "bad", "-n", ns)
    assert job["status"]["failed"] == 3 and "succeeded" not in job["status"]
    assert condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    failed = condition(job, "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    pods = sorted(job_pods(cluster, ns, "bad"), key=lambda p: p["metadata"]["creationTimestamp"])
    assert len(pods) == 3 and all(p["status"]["phase"] == "Failed" for p in pods)
    # replacements wait out a back-off that doubles (1 s, then 2 s with the shortened flag)
    finished = [dt.datetime.fromisoformat(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
                                          .replace("Z", "+00:00")) for p in pods]
    created = [dt.datetime.fromisoformat(p["metadata"]["creationTimestamp"].replace("Z", "+00:00")) for p in pods]
    assert (created[1] - finished[0]).total_seconds() >= 1 and (created[2] - finished[1]).total_seconds() >= 2
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(cluster, ns, "bad")
    assert cluster.kubectl("get", "job", "bad", "-n", ns, "--no-headers").stdout.split()[1:3] == ["Failed", "0/1"]


def test_pod_failure_policy_fails_the_job_on_a_matching_exit_code(cluster):
    ns = "policy"
    cluster.kubectl("create", "namespace", ns)
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]}
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "pfp", {"sim.nanokube.io/exit-code": "42"},
                                                           backoffLimit=6, podFailurePolicy=policy))
    cluster.kubectl("wait", "--for=condition=failed", "job/pfp", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "pfp", "-n", ns)
    pods = job_pods(cluster, ns, "pfp")
    assert len(pods) == 1 and job["status"]["failed"] == 1  # no retry despite backoffLimit 6
    failed = condition(job, "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (f"Container c for pod {ns}/{pods[0]['metadata']['name']} failed with exit code 42 "
                                 "matching FailJob rule at index 0")
    # a podFailurePolicy means pods are only replaced once they have failed
    assert job["spec"]["podReplacementPolicy"] == "Failed"


def test_backoff_limit_per_index_fails_indexes_not_the_whole_job_at_once(cluster):
    ns = "perindex"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "flaky", {"sim.nanokube.io/exit-code": "3"},
                                                           completionMode="Indexed", completions=2, parallelism=2,
                                                           backoffLimitPerIndex=1))
    cluster.kubectl("wait", "--for=condition=failed", "job/flaky", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "flaky", "-n", ns)
    assert job["spec"]["backoffLimit"] == 2**31 - 1
    assert job["status"]["failedIndexes"] == "0,1" and job["status"]["failed"] == 4
    assert condition(job, "Failed")["reason"] == "FailedIndexes"
    pods = job_pods(cluster, ns, "flaky")
    counts = sorted((p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
                     p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"]) for p in pods)
    assert counts == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]  # each index retried once


def test_active_deadline_fails_a_job_and_removes_its_pods(cluster):
    ns = "deadline"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "slow", {"sim.nanokube.io/run-seconds": "300"},
                                                           parallelism=2, completions=4, activeDeadlineSeconds=3))
    cluster.kubectl("wait", "--for=condition=failed", "job/slow", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "slow", "-n", ns)
    assert condition(job, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(job, "Failed")["message"] == "Job was active longer than specified deadline"
    started = dt.datetime.fromisoformat(job["status"]["startTime"].replace("Z", "+00:00"))
    failed_at = dt.datetime.fromisoformat(condition(job, "FailureTarget")["lastTransitionTime"].replace("Z", "+00:00"))
    assert 3 <= (failed_at - started).total_seconds() < 10
    assert "active" not in job["status"] and job["status"]["terminating"] == 0
    assert wait_for(lambda: all(p["status"]["phase"] in ("Succeeded", "Failed") or p["metadata"].get("deletionTimestamp")
                                for p in job_pods(cluster, ns, "slow")))


def test_suspended_job_runs_nothing_until_resumed(cluster):
    ns = "suspend"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "later", {"sim.nanokube.io/run-seconds": "2"},
                                                           completions=2, parallelism=2, suspend=True))
    assert wait_for(lambda: condition(get_json(cluster, "job", "later", "-n", ns), "Suspended"))
    job = get_json(cluster, "job", "later", "-n", ns)
    assert condition(job, "Suspended")["status"] == "True" and condition(job, "Suspended")["reason"] == "JobSuspended"
    assert "startTime" not in job["status"] and job_pods(cluster, ns, "later") == []
    assert cluster.kubectl("get", "job", "later", "-n", ns, "--no-headers").stdout.split()[1] == "Suspended"
    cluster.kubectl("patch", "job", "later", "-n", ns, "-p", '{"spec":{"suspend":false}}')
    assert wait_for(lambda: len(job_pods(cluster, ns, "later")) == 2)
    # suspending a running Job deletes its pods; they count neither as succeeded nor as failed
    cluster.kubectl("patch", "job", "later", "-n", ns, "-p", '{"spec":{"suspend":true}}')
    assert wait_for(lambda: job_pods(cluster, ns, "later") == [], 30)
    job = get_json(cluster, "job", "later", "-n", ns)
    assert condition(job, "Suspended")["status"] == "True"
    assert "failed" not in job["status"] and "succeeded" not in job["status"]
    cluster.kubectl("patch", "job", "later", "-n", ns, "-p", '{"spec":{"suspend":false}}')
    cluster.kubectl("wait", "--for=condition=complete", "job/later", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "later", "-n", ns)
    assert condition(job, "Suspended")["status"] == "False" and condition(job, "Suspended")["reason"] == "JobResumed"
    reasons = [r for r, _ in events(cluster, ns, "later")]
    assert reasons.count("Suspended") == 2 and reasons.count("Resumed") == 2 and "SuccessfulDelete" in reasons


def test_ttl_after_finished_deletes_the_job_and_its_pods(cluster):
    ns = "ttl"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=job_manifest(ns, "brief", ttlSecondsAfterFinished=2))
    assert wait_for(lambda: job_pods(cluster, ns, "brief"))
    done = wait_for(lambda: cluster.kubectl("get", "job", "brief", "-n", ns, check=False).returncode != 0, 60)
    assert done, "the finished job was not deleted"
    assert wait_for(lambda: job_pods(cluster, ns, "brief") == [], 30)


def test_job_from_cronjob_and_the_printed_columns(cluster):
    ns = "manual"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("create", "cronjob", "nightly", "-n", ns, "--image=busybox:1.36", "--schedule=0 3 * * *")
    cluster.kubectl("create", "job", "by-hand", "-n", ns, "--from=cronjob/nightly")
    cluster.kubectl("wait", "--for=condition=complete", "job/by-hand", "-n", ns, "--timeout=60s")
    job = get_json(cluster, "job", "by-hand", "-n", ns)
    cj = get_json(cluster, "cronjob", "nightly", "-n", ns)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["uid"] == cj["metadata"]["uid"]
    out = cluster.kubectl("get", "jobs,cronjobs", "-n", ns).stdout.split("\n\n")
    jobs_table, cron_table = out[0].splitlines(), out[1].strip().splitlines()
    assert jobs_table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs_table[1].split()[:3] == ["job.batch/by-hand", "Complete", "1/1"]
    assert cron_table[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert cron_table[1].split()[:8] == ["cronjob.batch/nightly", "0", "3", "*", "*", "*", "<none>", "False"]
    assert cron_table[1].split()[8:10] == ["0", "<none>"]


def test_invalid_schedules_and_zones_are_refused(cluster):
    bad = json.dumps({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "bad", "namespace": "default"},
                      "spec": {"schedule": "*/5 * * *", "timeZone": "Mars/Olympus",
                               "jobTemplate": {"spec": {"template": TEMPLATE}}}})
    res = cluster.kubectl("apply", "-f", "-", input=bad, check=False)
    assert res.returncode != 0
    assert 'spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4' in res.stderr
    assert 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus' in res.stderr


# -- CronJobs on a fake clock ---------------------------------------------------------------------

REG = Registry()
JOBS = REG.require("batch", "v1", "jobs")
CRONJOBS = REG.require("batch", "v1", "cronjobs")


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.t = start

    def __call__(self) -> dt.datetime:
        return self.t

    def set(self, t: dt.datetime) -> None:
        self.t = t


async def until(check: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if result or asyncio.get_running_loop().time() > deadline:
            assert result, "condition not reached in time"
            return result
        await asyncio.sleep(0.05)


def cronjob_manifest(ns: str, name: str, schedule: str, annotations: dict[str, str] | None = None, **spec: Any) -> str:
    template = json.loads(json.dumps(TEMPLATE))
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return json.dumps({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns},
                       "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"cron": name}},
                                                                      "spec": {"template": template}}, **spec}})


def test_cronjob_creates_jobs_on_schedule_with_a_fake_clock(cluster):
    ns = "cron"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=cronjob_manifest(ns, "tick", "*/5 * * * *", successfulJobsHistoryLimit=1))
    cluster.kubectl("apply", "-f", "-", input=cronjob_manifest(
        ns, "slow", "*/5 * * * *", {"sim.nanokube.io/run-seconds": "300"}, concurrencyPolicy="Forbid"))
    cluster.kubectl("apply", "-f", "-", input=cronjob_manifest(ns, "late", "*/5 * * * *", startingDeadlineSeconds=60))
    created = dt.datetime.fromisoformat(get_json(cluster, "cronjob", "tick", "-n", ns)["metadata"]["creationTimestamp"]
                                        .replace("Z", "+00:00"))
    asyncio.run(_drive_cronjobs(cluster, ns, created))


async def _drive_cronjobs(cluster, ns: str, created: dt.datetime) -> None:
    # the first schedule time after creation, and the ones after it
    first = created.replace(second=0) + dt.timedelta(minutes=5 - created.minute % 5)
    marks = [first + dt.timedelta(minutes=5 * i) for i in range(4)]
    clock = FakeClock(created + dt.timedelta(seconds=1))
    async with Client(load_kubeconfig(cluster.kubeconfig)) as client:
        indexers = {"namespace": by_namespace, "owner": by_owner_uid}
        cronjobs, jobs = Informer(client, CRONJOBS, indexers=indexers), Informer(client, JOBS, indexers=indexers)
        controller = CronJobController(client, cronjobs, jobs, now=clock)
        cronjobs.start()
        jobs.start()
        try:
            await cronjobs.wait_synced(10)
            await jobs.wait_synced(10)

            def cj(name: str) -> dict:
                obj = cronjobs.get(f"{ns}/{name}")
                assert obj is not None
                return obj

            def owned(name: str) -> list[dict]:
                uid = cj(name)["metadata"]["uid"]
                return sorted((j for j in jobs.by_index("owner", uid) if not j["metadata"].get("deletionTimestamp")),
                              key=lambda j: j["metadata"]["name"])

            async def sync(name: str) -> float | None:
                """One sync, then wait until the informer has our status write (if any)."""
                rv = cj(name)["metadata"]["resourceVersion"]
                before = json.dumps(cj(name).get("status"))
                requeue = await controller.sync(f"{ns}/{name}")
                fresh = await client.get(CRONJOBS, name, ns)
                if json.dumps(fresh.get("status")) != before:
                    await until(lambda: cj(name)["metadata"]["resourceVersion"] != rv)
                return requeue

            # nothing is due before the first mark; the controller asks to come back just after it
            for name in ("tick", "slow", "late"):
                requeue = await sync(name)
                assert requeue is not None
                assert abs(requeue - ((first - clock()).total_seconds() + 0.1)) < 0.01
                assert owned(name) == []

            # at the first mark each CronJob starts one Job, named for the scheduled minute
            clock.set(marks[0] + dt.timedelta(seconds=2))
            for name in ("tick", "slow"):
                requeue = await sync(name)
                assert requeue is not None and abs(requeue - (5 * 60 - 2 + 0.1)) < 0.01
                await until(lambda n=name: len(owned(n)) == 1)
                job = owned(name)[0]
                assert job["metadata"]["name"] == f"{name}-{int(marks[0].timestamp()) // 60}"
                assert job["metadata"]["labels"]["cron"] == name
                assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
                    marks[0].strftime("%Y-%m-%dT%H:%M:%SZ")
                status = cj(name)["status"]
                assert [a["name"] for a in status["active"]] == [job["metadata"]["name"]]
                assert status["active"][0]["kind"] == "Job" and status["active"][0]["uid"] == job["metadata"]["uid"]
                assert status["lastScheduleTime"] == marks[0].strftime("%Y-%m-%dT%H:%M:%SZ")

            # startingDeadlineSeconds 60: a mark missed by more than a minute is skipped
            clock.set(marks[0] + dt.timedelta(seconds=90))
            await sync("late")
            assert owned("late") == [] and "lastScheduleTime" not in cj("late").get("status", {})

            # the tick Job finishes (the cluster's Job controller runs it): it leaves status.active,
            # and the next sync records lastSuccessfulTime
            first_tick = owned("tick")[0]["metadata"]["name"]
            await until(lambda: any(c["type"] == "Complete" for c in
                                    (jobs.get(f"{ns}/{first_tick}") or {}).get("status", {}).get("conditions", [])))
            await sync("tick")
            assert not cj("tick")["status"].get("active")
            await sync("tick")
            assert cj("tick")["status"]["lastSuccessfulTime"] == jobs.get(f"{ns}/{first_tick}")["status"]["completionTime"]

            # second mark: Forbid skips while the slow Job still runs; tick runs again, and its
            # history limit of one removes the first run once the second has finished
            clock.set(marks[1] + dt.timedelta(seconds=1))
            await sync("slow")
            assert len(owned("slow")) == 1
            await sync("tick")
            assert len(owned("tick")) == 2
            second_tick = owned("tick")[1]["metadata"]["name"]
            await until(lambda: any(c["type"] == "Complete" for c in
                                    (jobs.get(f"{ns}/{second_tick}") or {}).get("status", {}).get("conditions", [])))
            await sync("tick")
            await until(lambda: [j["metadata"]["name"] for j in owned("tick")] == [second_tick])

            # Replace: at the third mark the running slow Job is deleted and a new one started
            old_slow = owned("slow")[0]["metadata"]["name"]
            cluster.kubectl("patch", "cronjob", "slow", "-n", ns, "-p", '{"spec":{"concurrencyPolicy":"Replace"}}')
            await until(lambda: cj("slow")["spec"]["concurrencyPolicy"] == "Replace")
            clock.set(marks[2] + dt.timedelta(seconds=1))
            await sync("slow")
            await until(lambda: [j["metadata"]["name"] for j in owned("slow")] ==
                        [f"slow-{int(marks[2].timestamp()) // 60}"])
            assert [a["name"] for a in cj("slow")["status"]["active"]] == [f"slow-{int(marks[2].timestamp()) // 60}"]

            # suspended: nothing starts; and a clock far ahead runs only the latest missed time
            cluster.kubectl("patch", "cronjob", "tick", "-n", ns, "-p", '{"spec":{"suspend":true}}')
            await until(lambda: cj("tick")["spec"]["suspend"])
            clock.set(marks[3] + dt.timedelta(seconds=1))
            assert await sync("tick") is None
            assert len(owned("tick")) == 1
            cluster.kubectl("patch", "cronjob", "tick", "-n", ns, "-p", '{"spec":{"suspend":false}}')
            await until(lambda: not cj("tick")["spec"]["suspend"])
            far = marks[3] + dt.timedelta(hours=10, seconds=1)
            clock.set(far)
            await sync("tick")
            latest = far.replace(second=0) - dt.timedelta(minutes=far.minute % 5)
            assert cj("tick")["status"]["lastScheduleTime"] == latest.strftime("%Y-%m-%dT%H:%M:%SZ")
            await controller.events.flush()
            tick_events = [(r, m) for r, m in events(cluster, ns, "tick")]
            slow_events = [r for r, _ in events(cluster, ns, "slow")]
            assert ("TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                    "or check clock skew") in tick_events
            assert [r for r, _ in tick_events].count("SuccessfulCreate") == 3
            assert ("SuccessfulDelete", f"Deleted job {first_tick}") in tick_events
            assert "SawCompletedJob" in [r for r, _ in tick_events]
            assert "JobAlreadyActive" in slow_events and "SuccessfulDelete" in slow_events
            assert ("SuccessfulDelete", f"Deleted job {old_slow}") in events(cluster, ns, "slow")
        finally:
            await controller.events.stop()
            await cronjobs.stop()
            await jobs.stop()
