"""Crash safety and watch resumption across restarts."""

from __future__ import annotations

import json
import signal
import threading
import time

from .rawhttp import Raw

CM = "/api/v1/namespaces/default/configmaps"


def _watch_lines(raw: Raw, path: str, seconds: int) -> list[dict]:
    code, body, _ = raw.request("GET", path + f"&timeoutSeconds={seconds}")
    assert code == 200, body
    if isinstance(body, dict):
        return [body]
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_kill_9_loses_no_acknowledged_write(tmp_path, launch):
    s = launch(tmp_path / "data")
    raw = Raw(s.kubeconfig)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            name = f"w{n}-{i}"
            try:
                code, _, _ = raw.request("POST", CM, {"metadata": {"name": name}, "data": {"v": "x" * 200}})
            except OSError:
                return
            if code == 201:
                with lock:
                    acked.append(name)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    s.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) > 100, f"only {len(acked)} writes were acknowledged"
    s2 = launch(s.data_dir)
    _, body, _ = Raw(s2.kubeconfig).request("GET", CM)
    stored = {i["metadata"]["name"] for i in body["items"]}
    missing = [n for n in acked if n not in stored]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


def test_watch_resumed_after_restart_gets_exactly_the_missed_events(tmp_path, launch):
    s = launch(tmp_path / "data", "--compaction-interval", "0")
    raw = Raw(s.kubeconfig)
    code, body, _ = raw.request("POST", CM, {"metadata": {"name": "seen"}})
    rv = body["metadata"]["resourceVersion"]
    raw.request("POST", CM, {"metadata": {"name": "missed"}})
    raw.request("PATCH", CM + "/seen", {"data": {"a": "1"}}, "application/merge-patch+json")
    raw.request("DELETE", CM + "/missed")
    s.stop()
    s2 = launch(s.data_dir, "--compaction-interval", "0")
    events = _watch_lines(Raw(s2.kubeconfig), CM + f"?watch=true&resourceVersion={rv}", 2)
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert got == [("ADDED", "missed"), ("MODIFIED", "seen"), ("DELETED", "missed")]


def test_watch_from_compacted_revision_is_410_expired(tmp_path, launch):
    s = launch(tmp_path / "data", "--compaction-interval", "0.3")
    raw = Raw(s.kubeconfig)
    code, body, _ = raw.request("POST", CM, {"metadata": {"name": "c"}})
    rv = body["metadata"]["resourceVersion"]
    for i in range(3):
        raw.request("PATCH", CM + "/c", {"data": {"i": str(i)}}, "application/merge-patch+json")
    deadline = time.monotonic() + 10
    while True:  # compaction runs in the background; wait until it has passed rv
        code, _, _ = raw.request("GET", CM + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
        if code == 410 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 410
    s.stop()
    s2 = launch(s.data_dir, "--compaction-interval", "0")
    events = _watch_lines(Raw(s2.kubeconfig), CM + f"?watch=true&resourceVersion={rv}", 2)
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    code, body, _ = Raw(s2.kubeconfig).request("GET", CM + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert code == 410 and body["reason"] == "Expired"
