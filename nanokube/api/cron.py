"""Cron schedules as upstream's CronJob controller reads them (the robfig/cron v3 standard
parser), pure: parse a schedule, then ask for the next time after an instant.

The grammar: five fields (minute hour day-of-month month day-of-week), each a comma list of
`*`/`?`, a number or name, a range `a-b`, and an optional step `/n` (`a/n` means `a-max/n`);
months JAN-DEC and days SUN-SAT by name, any case; day-of-week 0-6. The macros @yearly,
@annually, @monthly, @weekly, @daily, @midnight, @hourly and `@every <duration>`. A leading
`TZ=<zone>` or `CRON_TZ=<zone>` pins the zone (the API refuses it in new CronJobs, in favour
of spec.timeZone, but old objects may still carry it).

Day-of-month and day-of-week combine as in Vixie cron: when both are restricted a day
matching either one fires; when one of them starts with `*` both must match.

Next times are computed in the schedule's zone the way robfig does it - field by field, on
absolute time, with Go's rules for wall-clock times that fall into a DST gap or overlap - so
that a schedule fires at the same instants here as under kube-controller-manager: a time
skipped by a spring-forward gap does not fire that day, a time repeated by a fall-back
overlap fires twice. A schedule with no zone runs in the zone of the instant it is asked
about.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_MONTH_NAMES = {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAY_NAMES = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


class CronError(ValueError):
    """A schedule that does not parse; the message is robfig's."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


_MINUTES = _Bounds(0, 59, {})
_HOURS = _Bounds(0, 23, {})
_DOM = _Bounds(1, 31, {})
_MONTHS = _Bounds(1, 12, _MONTH_NAMES)
_DOW = _Bounds(0, 6, _DAY_NAMES)


def load_zone(name: str) -> datetime.tzinfo:
    """An IANA zone by name, as Go's time.LoadLocation: "" and "UTC" are UTC."""
    if name in ("", "UTC"):
        return datetime.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"unknown time zone {name}") from e


# -- time arithmetic in Go's manner ---------------------------------------------------------


def _offset(unix: int, zone: datetime.tzinfo) -> int:
    off = datetime.datetime.fromtimestamp(unix, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _local(unix: int, zone: datetime.tzinfo) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix, zone)


def go_date(year: int, month: int, day: int, hour: int, minute: int, second: int, zone: datetime.tzinfo) -> int:
    """Go's time.Date as a unix time: out-of-range fields roll over, and a wall-clock time in
    a DST gap or overlap resolves the way Go resolves it (the zone period of the wall time
    read as UTC, corrected once if the result falls outside it)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    days = datetime.date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    wall = days * 86400 + hour * 3600 + minute * 60 + second
    off = _offset(wall, zone)
    corrected = _offset(wall - off, zone)
    if corrected != off:
        off = corrected
    return wall - off


# -- schedules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A parsed five-field schedule (or a descriptor that stands for one)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int]
    months: frozenset[int]
    dow: frozenset[int]
    dom_star: bool
    dow_star: bool
    zone: datetime.tzinfo | None = None  # None: the zone of the instant asked about

    def _day_matches(self, t: datetime.datetime) -> bool:
        dom = t.day in self.dom
        dow = (t.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first time strictly after `after` (whole seconds) that the schedule fires,
        in `after`'s zone; None when there is none within five years (e.g. 30 February)."""
        if after.tzinfo is None:
            raise ValueError("next() needs an aware datetime")
        zone = self.zone or after.tzinfo
        unix = math.floor(after.timestamp()) + 1
        added = False
        year_limit = _local(unix, zone).year + 5
        while True:
            t = _local(unix, zone)
            if t.year > year_limit:
                return None
            wrapped = False
            while t.month not in self.months:
                if not added:
                    added = True
                    unix = go_date(t.year, t.month, 1, 0, 0, 0, zone)
                    t = _local(unix, zone)
                unix = go_date(t.year, t.month + 1, t.day, t.hour, t.minute, t.second, zone)
                t = _local(unix, zone)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    unix = go_date(t.year, t.month, t.day, 0, 0, 0, zone)
                    t = _local(unix, zone)
                unix = go_date(t.year, t.month, t.day + 1, t.hour, t.minute, t.second, zone)
                t = _local(unix, zone)
                if t.hour != 0:  # midnight moved by DST: back to the day's start
                    unix += (24 - t.hour) * 3600 if t.hour > 12 else -t.hour * 3600
                    t = _local(unix, zone)
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.hour not in self.hours:
                if not added:
                    added = True
                    unix = go_date(t.year, t.month, t.day, t.hour, 0, 0, zone)
                unix += 3600
                t = _local(unix, zone)
                if t.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.minute not in self.minutes:
                if not added:
                    added = True
                    unix -= unix % 60
                unix += 60
                t = _local(unix, zone)
                if t.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            if t.second != 0:  # the seconds field of a standard schedule is always 0
                added = True
                unix += 60 - t.second
                continue
            return t.astimezone(after.tzinfo)


@dataclass(frozen=True)
class Every:
    """`@every <duration>`: a constant delay, whole seconds, at least one."""

    seconds: int

    def next(self, after: datetime.datetime) -> datetime.datetime | None:
        return datetime.datetime.fromtimestamp(math.floor(after.timestamp()) + self.seconds, after.tzinfo)


CronSchedule = Schedule | Every


# -- parsing ----------------------------------------------------------------------------------


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    n = int(text)
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {text}")
    return n


def _int_or_name(text: str, b: _Bounds) -> int:
    if b.names and text.lower() in b.names:
        return b.names[text.lower()]
    return _parse_int(text)


def _range(expr: str, b: _Bounds) -> tuple[set[int], bool]:
    """One comma-separated term: its values, and whether it counts as `*`."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = b.low, b.high, True
    else:
        start = _int_or_name(low_high[0], b)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = b.high
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _field(text: str, b: _Bounds) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for term in (t for t in text.split(",") if t):
        got, is_star = _range(term, b)
        values |= got
        star = star or is_star
    return frozenset(values), star


_ANY_HOUR = frozenset(range(24))
_ANY_DOM, _ANY_MONTH, _ANY_DOW = frozenset(range(1, 32)), frozenset(range(1, 13)), frozenset(range(7))
_ZERO, _ONE = frozenset({0}), frozenset({1})


def _descriptor(spec: str, zone: datetime.tzinfo | None) -> CronSchedule:
    if spec in ("@yearly", "@annually"):
        return Schedule(_ZERO, _ZERO, _ONE, _ONE, _ANY_DOW, False, True, zone)
    if spec == "@monthly":
        return Schedule(_ZERO, _ZERO, _ONE, _ANY_MONTH, _ANY_DOW, False, True, zone)
    if spec == "@weekly":
        return Schedule(_ZERO, _ZERO, _ANY_DOM, _ANY_MONTH, _ZERO, True, False, zone)
    if spec in ("@daily", "@midnight"):
        return Schedule(_ZERO, _ZERO, _ANY_DOM, _ANY_MONTH, _ANY_DOW, True, True, zone)
    if spec == "@hourly":
        return Schedule(_ZERO, _ANY_HOUR, _ANY_DOM, _ANY_MONTH, _ANY_DOW, True, True, zone)
    if spec.startswith("@every "):
        text = spec[len("@every "):]
        try:
            seconds = parse_go_duration(text)
        except ValueError as e:
            raise CronError(f"failed to parse duration {spec}: {e}") from e
        return Every(max(1, math.floor(seconds)))
    raise CronError(f"unrecognized descriptor: {spec}")


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("1h30m", "90s", "1.5h", "-2m")."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(f'time: invalid duration "{text}"')
    total = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    return -total if text.startswith("-") else total


def parse(spec: str) -> CronSchedule:
    """A schedule as robfig's ParseStandard reads it; CronError says what is wrong."""
    if not spec:
        raise CronError("empty spec string")
    zone: datetime.tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.index("=") + 1: space if space >= 0 else len(spec)]
        try:
            zone = load_zone(name)
        except CronError as e:
            raise CronError(f"provided bad location {name}: {e}") from e
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    minutes, _ = _field(fields[0], _MINUTES)
    hours, _ = _field(fields[1], _HOURS)
    dom, dom_star = _field(fields[2], _DOM)
    months, _ = _field(fields[3], _MONTHS)
    dow, dow_star = _field(fields[4], _DOW)
    return Schedule(minutes, hours, dom, months, dow, dom_star, dow_star, zone)
