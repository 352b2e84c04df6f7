"""Cron schedules parse and step as upstream's (robfig/cron v3 standard parser): fields,
names, steps, macros, day-of-month/day-of-week combination, and DST in a zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanokube.api import cron

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def times(spec: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    s = cron.parse(spec)
    out = []
    t: dt.datetime | None = start
    for _ in range(n):
        assert t is not None
        t = s.next(t)
        assert t is not None
        out.append(t)
    return out


def test_steps_ranges_lists_and_names():
    got = times("*/15 9-17 * JAN-mar mon-FRI", dt.datetime(2024, 1, 5, 16, 50, tzinfo=UTC), 5)
    assert got == [dt.datetime(2024, 1, 5, 17, m, tzinfo=UTC) for m in (0, 15, 30, 45)] + \
        [dt.datetime(2024, 1, 8, 9, 0, tzinfo=UTC)]  # Friday evening, then Monday morning
    assert times("5,10-12 * * * *", dt.datetime(2024, 1, 1, tzinfo=UTC), 4) == \
        [dt.datetime(2024, 1, 1, 0, m, tzinfo=UTC) for m in (5, 10, 11, 12)]
    # "a/n" means from a to the maximum in steps of n
    assert [t.minute for t in times("50/4 * * * *", dt.datetime(2024, 1, 1, tzinfo=UTC), 3)] == [50, 54, 58]
    assert times("? ? ? ? ?", dt.datetime(2024, 1, 1, tzinfo=UTC), 1) == [dt.datetime(2024, 1, 1, 0, 1, tzinfo=UTC)]


def test_next_is_strictly_after_and_whole_seconds():
    s = cron.parse("* * * * *")
    assert s.next(dt.datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)) == dt.datetime(2024, 1, 1, 10, 1, tzinfo=UTC)
    assert s.next(dt.datetime(2024, 1, 1, 10, 0, 59, 999999, tzinfo=UTC)) == dt.datetime(2024, 1, 1, 10, 1, tzinfo=UTC)


def test_day_of_month_or_day_of_week_unless_one_is_a_star():
    # both restricted: the 13th or any Friday
    got = times("0 0 13 * 5", dt.datetime(2024, 9, 1, tzinfo=UTC), 4)
    assert [t.day for t in got] == [6, 13, 20, 27]
    # day-of-week starred: both must hold (every 13th)
    assert [t.month for t in times("0 0 13 * *", dt.datetime(2024, 9, 1, tzinfo=UTC), 2)] == [9, 10]
    # "*/1" keeps the star; "*/2" does not, so it is ORed
    assert [t.day for t in times("0 0 1 * */1", dt.datetime(2024, 9, 2, tzinfo=UTC), 1)] == [1]
    assert [t.day for t in times("0 0 1 * */2", dt.datetime(2024, 9, 2, tzinfo=UTC), 2)] == [3, 5]


@pytest.mark.parametrize("spec,start,want", [
    ("@yearly", dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("@annually", dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)),
    ("@monthly", dt.datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC), dt.datetime(2024, 4, 1, tzinfo=UTC)),
    ("@weekly", dt.datetime(2024, 3, 6, tzinfo=UTC), dt.datetime(2024, 3, 10, tzinfo=UTC)),  # a Sunday
    ("@daily", dt.datetime(2024, 3, 6, 12, tzinfo=UTC), dt.datetime(2024, 3, 7, tzinfo=UTC)),
    ("@midnight", dt.datetime(2024, 3, 6, 12, tzinfo=UTC), dt.datetime(2024, 3, 7, tzinfo=UTC)),
    ("@hourly", dt.datetime(2024, 3, 6, 12, 30, tzinfo=UTC), dt.datetime(2024, 3, 6, 13, tzinfo=UTC)),
    ("@every 1h30m", dt.datetime(2024, 3, 6, 12, 30, 10, 5, tzinfo=UTC), dt.datetime(2024, 3, 6, 14, 0, 10, tzinfo=UTC)),
    ("@every 500ms", dt.datetime(2024, 3, 6, tzinfo=UTC), dt.datetime(2024, 3, 6, 0, 0, 1, tzinfo=UTC)),
    ("TZ=Europe/Berlin 0 9 * * *", dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 8, tzinfo=UTC)),
    ("CRON_TZ=Asia/Tokyo @daily", dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 15, tzinfo=UTC)),
])
def test_macros_every_and_zone_prefix(spec, start, want):
    got = cron.parse(spec).next(start)
    assert got == want
    assert got.tzinfo == start.tzinfo  # answered in the zone of the question


def test_a_day_that_never_comes_has_no_next_time():
    assert cron.parse("0 0 30 2 *").next(dt.datetime(2024, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize("spec,message", [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * 13 *", "end of range (13) above maximum (12): 13"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("* * * FOO *", 'failed to parse int from FOO: strconv.Atoi: parsing "FOO": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
    ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
])
def test_errors_say_what_robfig_says(spec, message):
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message


def test_spring_forward_skips_the_missing_time_that_day():
    # New York, 10 March 2024: 02:00 jumps to 03:00, so 02:30 does not happen that day
    got = times("30 2 * * *", dt.datetime(2024, 3, 9, 12, tzinfo=NY), 2)
    assert got == [dt.datetime(2024, 3, 11, 2, 30, tzinfo=NY), dt.datetime(2024, 3, 12, 2, 30, tzinfo=NY)]
    # hourly runs go from 01:00 EST straight to 03:00 EDT, one hour later
    got = times("0 * * * *", dt.datetime(2024, 3, 10, 0, 30, tzinfo=NY), 3)
    assert [t.astimezone(UTC).hour for t in got] == [6, 7, 8]
    assert [t.hour for t in got] == [1, 3, 4]


def test_fall_back_runs_the_repeated_time_twice():
    # New York, 3 November 2024: 01:00-02:00 happens twice (EDT, then EST)
    got = times("30 1 * * *", dt.datetime(2024, 11, 2, 12, tzinfo=NY), 3)
    assert [t.astimezone(UTC) for t in got] == [dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
                                                 dt.datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
                                                 dt.datetime(2024, 11, 4, 6, 30, tzinfo=UTC)]


def test_zone_of_the_schedule_wins_over_the_zone_asked_in():
    s = cron.parse("TZ=Europe/Berlin 0 9 * * *")
    summer = s.next(dt.datetime(2024, 7, 1, tzinfo=UTC))
    winter = s.next(dt.datetime(2024, 12, 1, tzinfo=UTC))
    assert (summer.hour, winter.hour) == (7, 8)  # 09:00 CEST and 09:00 CET in UTC
    # midnight in Berlin on the spring-forward day still exists (the gap is at 02:00)
    assert s.zone is not None
    assert cron.parse("TZ=Europe/Berlin 30 2 * * *").next(dt.datetime(2024, 3, 30, 12, tzinfo=BERLIN)) == \
        dt.datetime(2024, 4, 1, 2, 30, tzinfo=BERLIN)


def test_go_date_resolves_gaps_and_overlaps_like_go():
    # a wall time in a gap: Go lands on the far side for zones west of UTC, the near side east of it
    assert dt.datetime.fromtimestamp(cron.go_date(2024, 3, 10, 2, 30, 0, NY), NY) == dt.datetime(2024, 3, 10, 1, 30, tzinfo=NY)
    assert dt.datetime.fromtimestamp(cron.go_date(2024, 3, 31, 2, 30, 0, BERLIN), BERLIN).hour == 3
    # an overlapping wall time: the first (summer) occurrence
    assert cron.go_date(2024, 11, 3, 1, 30, 0, NY) == int(dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC).timestamp())
    # fields roll over
    assert cron.go_date(2024, 13, 32, 0, 0, 0, UTC) == int(dt.datetime(2025, 2, 1, tzinfo=UTC).timestamp())


# -- properties -------------------------------------------------------------------------------

def _term(low: int, high: int) -> st.SearchStrategy[str]:
    n = st.integers(low, high)
    return st.one_of(
        st.just("*"), n.map(str),
        st.tuples(n, n).map(lambda p: f"{min(p)}-{max(p)}"),
        st.tuples(n, st.integers(1, high - low + 1)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.integers(1, 7).map(lambda k: f"*/{k}"),
    )


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(_term(low, high), min_size=1, max_size=3).map(",".join)


SPECS = st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 6)).map(" ".join)
INSTANTS = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2035, 1, 1), timezones=st.just(UTC))


def _fires(s: cron.Schedule, t: dt.datetime) -> bool:
    dom, dow = t.day in s.dom, (t.isoweekday() % 7) in s.dow
    day = (dom and dow) if (s.dom_star or s.dow_star) else (dom or dow)
    return t.second == 0 and t.minute in s.minutes and t.hour in s.hours and t.month in s.months and day


@settings(max_examples=200, deadline=None)
@given(SPECS, INSTANTS)
def test_next_is_the_first_firing_minute_after(spec, start):
    s = cron.parse(spec)
    assert isinstance(s, cron.Schedule)
    got = s.next(start)
    first = start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    # brute force over the next three days, minute by minute
    expected = next((first + dt.timedelta(minutes=i) for i in range(3 * 1440)
                     if _fires(s, first + dt.timedelta(minutes=i))), None)
    if expected is not None:
        assert got == expected
    elif got is not None:
        assert got > first + dt.timedelta(days=3) and _fires(s, got)


@settings(max_examples=100, deadline=None)
@given(SPECS, INSTANTS, st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_in_any_zone_next_is_later_and_fires_on_local_fields(spec, start, zone):
    tz = ZoneInfo(zone)
    s = cron.parse(spec)
    assert isinstance(s, cron.Schedule)
    got = s.next(start.astimezone(tz))
    if got is not None:
        assert got > start
        assert _fires(s, got.astimezone(tz))
