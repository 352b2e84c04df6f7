"""Prometheus metrics under upstream's names: requests by verb, resource and code, their
latency, open watches, and storage latency."""

from __future__ import annotations

import collections
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        self.sum += v
        self.count += 1
        for i, b in enumerate(BUCKETS):
            if v <= b:
                self.counts[i] += 1
                break


class Metrics:
    def __init__(self) -> None:
        self.requests: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
        self.latency: dict[tuple[str, str, str], Histogram] = {}
        self.open_watches: collections.Counter[tuple[str, str]] = collections.Counter()
        self.storage: dict[str, Histogram] = {}

    def request(self, verb: str, group: str, resource: str, code: int, seconds: float) -> None:
        self.requests[(verb, group, resource, str(code))] += 1
        if verb != "WATCH":
            h = self.latency.get((verb, group, resource))
            if h is None:
                h = self.latency[(verb, group, resource)] = Histogram()
            h.observe(seconds)

    def watchers(self, r: Any, delta: int) -> None:
        self.open_watches[(r.group, r.plural)] += delta

    def storage_op(self, op: str, seconds: float) -> None:
        h = self.storage.get(op)
        if h is None:
            h = self.storage[op] = Histogram()
        h.observe(seconds)

    def render(self) -> str:
        out = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out by verb, group, resource and HTTP response code.",
            "# TYPE apiserver_request_total counter",
        ]
        for (verb, group, resource, code), n in sorted(self.requests.items()):
            out.append(f'apiserver_request_total{{code="{code}",group="{group}",resource="{resource}",verb="{verb}"}} {n}')
        out += [
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, group and resource.",
            "# TYPE apiserver_request_duration_seconds histogram",
        ]
        for (verb, group, resource), h in sorted(self.latency.items()):
            out += _histogram("apiserver_request_duration_seconds", f'group="{group}",resource="{resource}",verb="{verb}"', h)
        out += [
            "# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests (watches).",
            "# TYPE apiserver_longrunning_requests gauge",
        ]
        for (group, resource), n in sorted(self.open_watches.items()):
            out.append(f'apiserver_longrunning_requests{{group="{group}",resource="{resource}",verb="WATCH"}} {n}')
        out += [
            "# HELP storage_request_duration_seconds Storage request latency in seconds by operation.",
            "# TYPE storage_request_duration_seconds histogram",
        ]
        for op, h in sorted(self.storage.items()):
            out += _histogram("storage_request_duration_seconds", f'operation="{op}"', h)
        return "\n".join(out) + "\n"


def _histogram(name: str, labels: str, h: Histogram) -> list[str]:
    lines = []
    acc = 0
    for b, c in zip(BUCKETS, h.counts):
        acc += c
        lines.append(f'{name}_bucket{{{labels},le="{b}"}} {acc}')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {h.count}')
    lines.append(f"{name}_sum{{{labels}}} {h.sum}")
    lines.append(f"{name}_count{{{labels}}} {h.count}")
    return lines
