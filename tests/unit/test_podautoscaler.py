"""The autoscaler's replica arithmetic: tolerance, utilization, stabilization and policies."""

from __future__ import annotations

from fractions import Fraction

import pytest

from nanokube.controllers.podautoscaler import rate_limited, replicas_for_ratio, stabilized, utilization_ratio


def test_ratio_within_tolerance_keeps_the_count():
    assert replicas_for_ratio(1.05, 4, 4) == 4
    assert replicas_for_ratio(1.5, 4, 4) == 6
    assert replicas_for_ratio(0.5, 4, 4) == 2
    assert replicas_for_ratio(0.01, 4, 4) == 1


def test_utilization_over_pods_with_requests():
    usage = {"a": Fraction(1, 2), "b": Fraction(1, 2), "c": Fraction(1)}
    requests = {"a": Fraction(1), "b": Fraction(1)}  # c has no request: left out
    assert utilization_ratio(usage, requests, 50) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        utilization_ratio(usage, {}, 50)


def test_scale_down_waits_for_the_window_scale_up_does_not():
    recs = [(0.0, 10), (100.0, 6)]
    assert stabilized(recs, 200.0, 4, 10, {}) == 10  # 10 was recommended 200 s ago: hold
    assert stabilized(recs, 301.0, 4, 10, {}) == 6  # beyond the 300 s window only 6 remains
    assert stabilized(recs, 200.0, 12, 10, {}) == 12  # up at once (window 0)
    assert stabilized(recs, 200.0, 4, 10, {"scaleDown": {"stabilizationWindowSeconds": 0}}) == 4


def test_default_and_custom_policies():
    assert rate_limited(100, 10, {}) == 20  # double ...
    assert rate_limited(100, 1, {}) == 5  # ... or four more, whichever is more
    assert rate_limited(1, 10, {}) == 1
    slow = {"scaleDown": {"policies": [{"type": "Pods", "value": 1}]}}
    assert rate_limited(1, 10, slow) == 9
    assert rate_limited(20, 10, {"scaleUp": {"selectPolicy": "Disabled"}}) == 10
