"""What a pod asks for and is limited to, as one sum per resource.

Upstream's rule, used by the scheduler (requests), ResourceQuota (requests and limits) and
LimitRange (per pod): the sum over app containers, at least the largest init container
(restartable sidecars run alongside everything started after them, so they add up), plus the
pod overhead. Values are exact (Fractions of the base unit: cores, bytes, counts).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import quantity

Obj = dict[str, Any]


def _values(container: Obj, which: str, missing: dict[str, Fraction] | None = None) -> dict[str, Fraction]:
    out: dict[str, Fraction] = dict(missing or {})
    for k, v in ((container.get("resources") or {}).get(which) or {}).items():
        if quantity.is_valid(v):
            out[k] = quantity.parse(v)
    return out


# What the scheduler's scores count for a container that requests no cpu or memory, so that
# best-effort pods still spread (upstream's non-zero requests: 100m cpu, 200 MB memory).
NONZERO_DEFAULTS = {"cpu": Fraction(1, 10), "memory": Fraction(200 * 1024 * 1024)}


def pod_resources(pod: Obj, which: str = "requests", missing: dict[str, Fraction] | None = None) -> dict[str, Fraction]:
    """The pod's effective `requests` or `limits` per resource name; `missing` gives the value
    counted for a container that does not set a resource (NONZERO_DEFAULTS for scoring)."""
    spec = pod.get("spec") or {}
    total: dict[str, Fraction] = {}
    for c in spec.get("containers") or []:
        for k, v in _values(c, which, missing).items():
            total[k] = total.get(k, Fraction(0)) + v
    sidecars: dict[str, Fraction] = {}  # restartable init containers started so far
    init_peak: dict[str, Fraction] = {}
    for c in spec.get("initContainers") or []:
        own = _values(c, which, missing)
        if c.get("restartPolicy") == "Always":
            for k, v in own.items():
                total[k] = total.get(k, Fraction(0)) + v
                sidecars[k] = sidecars.get(k, Fraction(0)) + v
            during = dict(sidecars)
        else:
            during = {k: own.get(k, Fraction(0)) + sidecars.get(k, Fraction(0)) for k in set(own) | set(sidecars)}
        for k, v in during.items():
            init_peak[k] = max(init_peak.get(k, Fraction(0)), v)
    for k, v in init_peak.items():
        total[k] = max(total.get(k, Fraction(0)), v)
    for k, v in (spec.get("overhead") or {}).items():
        if quantity.is_valid(v):
            total[k] = total.get(k, Fraction(0)) + quantity.parse(v)
    return total
