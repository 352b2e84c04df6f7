"""batch/v1 kinds: Jobs (counts, completion modes, pod failure and success policies, the
generated selector) and CronJobs (a schedule that parses, an IANA timeZone)."""

from __future__ import annotations

import itertools
import re
from typing import Any

from .. import cron
from ..errors import OMIT_VALUE, FieldError
from ..selectors import label_key_error, label_selector_from_dict
from . import core
from . import meta as m
from .workloads import _immutable, _non_negative, _selector

Obj = dict[str, Any]

_MAX_PARALLELISM_INDEXED = 100_000
_MAX_FAILED_INDEXES = 100_000
_COMPLETIONS_SOFT_LIMIT = 100_000
_MAX_POLICY_RULES = 20
_MAX_EXIT_CODES = 255
_MAX_POD_CONDITIONS = 20
_MAX_SUCCESS_RULES = 20
_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_TIME_ZONE_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _quoted(values: tuple[str, ...]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _indexes_count(text: str, completions: int) -> tuple[int, str | None]:
    """How many indexes "1,3-5" names, or why it is malformed (ordered, below completions)."""
    count, last = 0, -1
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return 0, f"cannot convert string to integer for index: {part!r}"
        first, end = int(bounds[0]), int(bounds[-1])
        if end >= completions:
            return 0, f"too large index: {end!r}"
        if first <= last or end < first:
            return 0, f"non-increasing order, previous: {last}, current: {first}"
        count += end - first + 1
        last = end
    return count, None


def _pod_failure_policy(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    if len(rules) > _MAX_POLICY_RULES:
        errs.append(FieldError("too_many", f"{path}.rules", f"must have at most {_MAX_POLICY_RULES} items", len(rules)))
    tspec = (spec.get("template") or {}).get("spec") or {}
    names = {c.get("name") for c in (tspec.get("containers") or []) + (tspec.get("initContainers") or [])}
    for i, rule in enumerate(rules):
        rpath = f"{path}.rules[{i}]"
        action = rule.get("action")
        if not action:
            errs.append(FieldError("required", f"{rpath}.action", f"valid values: {_quoted(_ACTIONS)}"))
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            errs.append(FieldError("invalid", f"{rpath}.action", "requires the backoffLimitPerIndex to be set", action))
        elif action not in _ACTIONS:
            errs.append(FieldError("not_supported", f"{rpath}.action",
                                   "supported values: " + ", ".join(f'"{a}"' for a in _ACTIONS), action))
        codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if codes is not None:
            errs += _on_exit_codes(codes, f"{rpath}.onExitCodes", names)
        for j, pattern in enumerate(conditions or []):
            ppath = f"{rpath}.onPodConditions[{j}]"
            why = label_key_error(str(pattern.get("type") or ""))
            if why:
                errs.append(FieldError("invalid", f"{ppath}.type", why, pattern.get("type")))
            if pattern.get("status") not in ("True", "False", "Unknown"):
                errs.append(FieldError("not_supported", f"{ppath}.status", 'supported values: "False", "True", "Unknown"',
                                       pattern.get("status")))
        if len(conditions or []) > _MAX_POD_CONDITIONS:
            errs.append(FieldError("too_many", f"{rpath}.onPodConditions", f"must have at most {_MAX_POD_CONDITIONS} items"))
        if codes is not None and conditions:
            errs.append(FieldError("invalid", rpath, "specifying both OnExitCodes and OnPodConditions is not supported",
                                   OMIT_VALUE))
        if codes is None and not conditions:
            errs.append(FieldError("invalid", rpath, "specifying one of OnExitCodes and OnPodConditions is required",
                                   OMIT_VALUE))
    return errs


def _on_exit_codes(req: Obj, path: str, names: set[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    op = req.get("operator")
    if not op:
        errs.append(FieldError("required", f"{path}.operator", 'valid values: ["In" "NotIn"]'))
    elif op not in ("In", "NotIn"):
        errs.append(FieldError("not_supported", f"{path}.operator", 'supported values: "In", "NotIn"', op))
    if req.get("containerName") is not None and req["containerName"] not in names:
        errs.append(FieldError("invalid", f"{path}.containerName",
                               "must be one of the container or initContainer names in the pod template",
                               req["containerName"]))
    values = req.get("values") or []
    if not values:
        errs.append(FieldError("invalid", f"{path}.values", "at least one value is required", values))
    elif len(values) > _MAX_EXIT_CODES:
        errs.append(FieldError("too_many", f"{path}.values", f"must have at most {_MAX_EXIT_CODES} items"))
    for j, v in enumerate(values):
        if op == "In" and v == 0:
            errs.append(FieldError("invalid", f"{path}.values[{j}]", "must not be 0 for the In operator", v))
        if v in values[:j]:
            errs.append(FieldError("duplicate", f"{path}.values[{j}]", value=v))
    if any(a > b for a, b in itertools.pairwise(values)):
        errs.append(FieldError("invalid", f"{path}.values", "must be ordered", values))
    return errs


def _success_policy(spec: Obj, path: str) -> list[FieldError]:
    policy = spec.get("successPolicy") or {}
    if spec.get("completionMode") != "Indexed":
        return [FieldError("invalid", path, "requires indexed completion mode", policy)]
    errs: list[FieldError] = []
    rules = policy.get("rules") or []
    if not rules:
        errs.append(FieldError("required", f"{path}.rules",
                               "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > _MAX_SUCCESS_RULES:
        errs.append(FieldError("too_many", f"{path}.rules", f"must have at most {_MAX_SUCCESS_RULES} items"))
    completions = int(spec.get("completions") or 0)
    for i, rule in enumerate(rules):
        rpath = f"{path}.rules[{i}]"
        indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if indexes is None and count is None:
            errs.append(FieldError("required", rpath, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if indexes is not None:
            total, why = _indexes_count(str(indexes), completions)
            if why:
                errs.append(FieldError("invalid", f"{rpath}.succeededIndexes", f"error parsing succeededIndexes: {why}", indexes))
        if count is not None:
            _non_negative(rule, "succeededCount", errs, rpath)
            if isinstance(count, int) and count > completions:
                errs.append(FieldError("invalid", f"{rpath}.succeededCount",
                                       f"must be less than or equal to {completions} (the number of specified completions)", count))
            if isinstance(count, int) and indexes is not None and count > total:
                errs.append(FieldError("invalid", f"{rpath}.succeededCount", "must be less than or equal to "
                                       f"{total} (the number of indexes in the specified succeededIndexes field)", count))
    return errs


def job_spec(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex", "maxFailedIndexes"):
        _non_negative(spec, f, errs, path)
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(FieldError("required", f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode", "NonIndexed")
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(FieldError("not_supported", f"{path}.completionMode", 'supported values: "NonIndexed", "Indexed"', mode))
    if mode == "Indexed":
        if spec.get("completions") is None:
            errs.append(FieldError("required", f"{path}.completions", "when completion mode is Indexed"))
        parallelism = spec.get("parallelism")
        if isinstance(parallelism, int) and parallelism > _MAX_PARALLELISM_INDEXED:
            errs.append(FieldError("invalid", f"{path}.parallelism", f"must be less than or equal to "
                                   f"{_MAX_PARALLELISM_INDEXED} when completion mode is Indexed", parallelism))
        max_failed, completions = spec.get("maxFailedIndexes"), spec.get("completions")
        if isinstance(max_failed, int) and isinstance(completions, int) and max_failed > completions:
            errs.append(FieldError("invalid", f"{path}.maxFailedIndexes", "must be less than or equal to completions", max_failed))
        if isinstance(max_failed, int) and max_failed > _MAX_FAILED_INDEXES:
            errs.append(FieldError("invalid", f"{path}.maxFailedIndexes",
                                   f"must be less than or equal to {_MAX_FAILED_INDEXES}", max_failed))
        if isinstance(completions, int) and completions > _COMPLETIONS_SOFT_LIMIT and \
                spec.get("backoffLimitPerIndex") is not None and max_failed is None:
            errs.append(FieldError("required", f"{path}.maxFailedIndexes",
                                   f"must be specified when completions is above {_COMPLETIONS_SOFT_LIMIT}"))
    else:
        for f in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(f) is not None:
                errs.append(FieldError("invalid", f"{path}.{f}", "requires indexed completion mode", spec[f]))
    if spec.get("podFailurePolicy") is not None:
        errs += _pod_failure_policy(spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        errs += _success_policy(spec, f"{path}.successPolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if spec.get("podFailurePolicy") is not None and replacement != "Failed":
            errs.append(FieldError("not_supported", f"{path}.podReplacementPolicy", 'supported values: "Failed"', replacement))
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            errs.append(FieldError("not_supported", f"{path}.podReplacementPolicy", 'supported values: "Failed", "TerminatingOrFailed"',
                                   replacement))
    errs += core.pod_template(spec.get("template"), f"{path}.template")
    rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    rp_path = f"{path}.template.spec.restartPolicy"
    if rp in (None, "", "Always"):
        errs.append(FieldError("required", rp_path, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(FieldError("not_supported", rp_path, 'supported values: "OnFailure", "Never"', rp))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(FieldError("invalid", rp_path, 'only "Never" is supported when podFailurePolicy is specified', rp))
    return errs


def _generated_selector(obj: Obj) -> list[FieldError]:
    """Unless manualSelector, the template carries the generated labels and the selector
    selects exactly them."""
    spec, meta = obj.get("spec") or {}, obj.get("metadata") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    if not meta.get("uid"):
        return [FieldError("required", "metadata.uid")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    expected = {"controller-uid": meta["uid"], "job-name": meta.get("name", ""),
                "batch.kubernetes.io/controller-uid": meta["uid"], "batch.kubernetes.io/job-name": meta.get("name", "")}
    errs: list[FieldError] = []
    for key, want in expected.items():
        path = f"spec.template.metadata.labels[{key}]"
        if key not in labels:
            errs.append(FieldError("required", path, want))
        elif labels[key] != want:
            errs.append(FieldError("invalid", path, f"must be '{want}'", labels))
    try:
        matches = label_selector_from_dict(spec["selector"]).matches(expected)
    except Exception:
        matches = True  # a malformed selector is reported by the selector checks
    if not matches:
        errs.append(FieldError("invalid", "spec.selector", "`selector` not auto-generated", spec["selector"]))
    return errs


def job(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs = job_spec(spec, "spec")
    if spec.get("selector") is None:
        errs.append(FieldError("required", "spec.selector"))
    else:
        _selector(spec, "job", errs)
    errs += _generated_selector(obj)
    name, completions = (obj.get("metadata") or {}).get("name") or "", spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        hostname = f"{name}-{completions - 1}"
        if m.dns_label(hostname):
            errs.append(FieldError("invalid", "metadata.name",
                                   f"will not able to create pod with invalid DNS label: {hostname}", name))
    if old is not None:
        ospec = old.get("spec") or {}
        for f in ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
            _immutable(spec.get(f), ospec.get(f), f"spec.{f}", errs)
        if spec.get("completionMode") == "Indexed" and completions != ospec.get("completions"):
            if completions is not None and completions != spec.get("parallelism"):
                errs.append(FieldError("invalid", "spec.completions",
                                       "can only be modified in tandem with spec.parallelism", completions))
        else:
            _immutable(completions, ospec.get("completions"), "spec.completions", errs)
        if not ospec.get("suspend"):
            _immutable(spec.get("template"), ospec.get("template"), "spec.template", errs)
    return errs


def time_zone(zone: Any, path: str) -> list[FieldError]:
    """An IANA zone name the controller can load (not "Local")."""
    if zone is None:
        return []
    if zone == "":
        return [FieldError("invalid", path, "timeZone must be nil or non-empty string", zone)]
    for part in str(zone).split("/"):
        if part in (".", "..") or part.startswith("-") or not _TIME_ZONE_PART.match(part):
            return [FieldError("invalid", path, f"unknown time zone {zone}", zone)]
    errs = []
    if str(zone).lower() == "local":
        errs.append(FieldError("invalid", path, "timeZone must be an explicit time zone as defined in "
                                                "https://www.iana.org/time-zones", zone))
    if zone != "Local":  # Go's LoadLocation knows "Local" (the process's zone)
        try:
            cron.load_zone(str(zone))
        except cron.CronError as e:
            errs.append(FieldError("invalid", path, str(e), zone))
    return errs


def cronjob(obj: Obj, old: Obj | None) -> list[FieldError]:
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    ospec = (old or {}).get("spec") or {}
    schedule = spec.get("schedule")
    if not schedule:
        errs.append(FieldError("required", "spec.schedule"))
    else:
        try:
            cron.parse(str(schedule))
        except cron.CronError as e:
            errs.append(FieldError("invalid", "spec.schedule", str(e), schedule))
        tz_allowed = old is not None and "TZ" in str(ospec.get("schedule") or "")
        if tz_allowed and "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(FieldError("invalid", "spec.schedule", "cannot use both timeZone field and TZ or CRON_TZ in schedule", schedule))
        elif not tz_allowed and "TZ" in schedule:
            errs.append(FieldError("invalid", "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead", schedule))
    if old is None or ospec.get("timeZone") != spec.get("timeZone"):
        errs += time_zone(spec.get("timeZone"), "spec.timeZone")
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy not in ("Allow", "Forbid", "Replace"):
        errs.append(FieldError("not_supported", "spec.concurrencyPolicy", 'supported values: "Allow", "Forbid", "Replace"', policy))
    for f in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        _non_negative(spec, f, errs)
    template = spec.get("jobTemplate")
    if not isinstance(template, dict):
        errs.append(FieldError("required", "spec.jobTemplate"))
    else:
        jspec = template.get("spec") or {}
        errs += job_spec(jspec, "spec.jobTemplate.spec")
        if jspec.get("selector") is not None:
            errs.append(FieldError("invalid", "spec.jobTemplate.spec.selector", "`selector` will be auto-generated",
                                   jspec["selector"]))
        if jspec.get("manualSelector"):
            errs.append(FieldError("not_supported", "spec.jobTemplate.spec.manualSelector", 'supported values: "nil", "false"',
                                   jspec["manualSelector"]))
    name = (obj.get("metadata") or {}).get("name") or ""
    if old is None and len(name) > 52:
        errs.append(FieldError("invalid", "metadata.name", "must be no more than 52 characters", name))
    return errs
