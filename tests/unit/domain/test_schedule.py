"""Cron arithmetic: field formats, aliases, per-task time zones, DST gaps and overlaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler_domain import has_seconds, next_fire_after, normalize_cron, parse_timezone
from scheduler_domain.schedule import last_fire_before
from scheduler_errors import InvalidInput
from scheduler_testing import a_task

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires_between(expression: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in (start, end], by chaining `next_fire_after` as the dispatcher does."""
    found: list[datetime] = []
    moment = next_fire_after(expression, timezone, start)
    while moment <= end:
        found.append(moment)
        moment = next_fire_after(expression, timezone, moment)
    return found


def test_five_fields_fire_on_the_minute() -> None:
    assert next_fire_after("*/15 * * * *", "UTC", utc(2026, 1, 5, 10, 7, 30)) == utc(2026, 1, 5, 10, 15)


def test_next_fire_is_strictly_after_the_given_moment() -> None:
    assert next_fire_after("0 * * * *", "UTC", utc(2026, 1, 5, 10, 0)) == utc(2026, 1, 5, 11, 0)


def test_six_fields_put_seconds_first_and_fire_every_second() -> None:
    start = utc(2026, 1, 5, 10, 0, 0)

    fires = fires_between("* * * * * *", "UTC", start, start + timedelta(seconds=5))

    assert fires == [start + timedelta(seconds=n) for n in range(1, 6)]
    assert has_seconds("* * * * * *")
    assert not has_seconds("* * * * *")


def test_six_fields_with_a_seconds_step() -> None:
    start = utc(2026, 1, 5, 10, 0, 0)

    fires = fires_between("*/20 * * * * *", "UTC", start, start + timedelta(minutes=1))

    assert fires == [start + timedelta(seconds=s) for s in (20, 40, 60)]


def test_the_first_field_of_six_is_the_second() -> None:
    # "30 5 * * * *": second 30 of minute 5 of every hour.
    assert next_fire_after("30 5 * * * *", "UTC", utc(2026, 1, 5, 10, 0)) == utc(2026, 1, 5, 10, 5, 30)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", utc(2026, 1, 1, 11, 0)),
        ("@daily", utc(2026, 1, 2)),
        ("@midnight", utc(2026, 1, 2)),
        ("@weekly", utc(2026, 1, 4)),  # 2026-01-01 is a Thursday; weeks start on Sunday
        ("@monthly", utc(2026, 2, 1)),
        ("@yearly", utc(2027, 1, 1)),
        ("@annually", utc(2027, 1, 1)),
        ("@HOURLY", utc(2026, 1, 1, 11, 0)),
    ],
)
def test_aliases(alias: str, expected: datetime) -> None:
    assert next_fire_after(alias, "UTC", utc(2026, 1, 1, 10, 20)) == expected


@pytest.mark.parametrize(
    ("alias", "expansion"),
    [("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@weekly", "0 0 * * 0"), ("@yearly", "0 0 1 1 *")],
)
def test_normalize_expands_aliases(alias: str, expansion: str) -> None:
    assert normalize_cron(alias) == expansion


def test_normalize_collapses_whitespace() -> None:
    assert normalize_cron("  0   9 *\t* 1-5 ") == "0 9 * * 1-5"


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "* * * *",
        "* * * * * * *",
        "61 * * * *",
        "* 24 * * *",
        "* * 32 * *",
        "* * * 13 *",
        "0 0 30 2 *",
        "every day",
        "@fortnightly",
        "*/0 * * * *",
    ],
)
def test_invalid_expressions_are_rejected_naming_the_schedule(expression: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_cron(expression)

    assert [error.field for error in caught.value.errors] == ["schedule"]
    assert caught.value.detail.startswith("schedule:")


def test_the_field_named_in_the_error_can_be_chosen() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_cron("nope", field="cron")

    assert caught.value.errors[0].field == "cron"


def test_a_task_with_an_invalid_schedule_is_rejected_naming_the_schedule() -> None:
    with pytest.raises(InvalidInput) as caught:
        a_task(schedule="99 * * * *")

    assert caught.value.errors[0].field == "schedule"


class TestTimeZones:
    def test_nine_in_new_york_is_fourteen_utc_in_winter(self) -> None:
        assert next_fire_after("0 9 * * *", "America/New_York", utc(2026, 1, 10)) == utc(2026, 1, 10, 14)

    def test_nine_in_new_york_is_thirteen_utc_in_summer(self) -> None:
        assert next_fire_after("0 9 * * *", "America/New_York", utc(2026, 7, 10)) == utc(2026, 7, 10, 13)

    def test_a_task_fires_in_its_own_zone(self) -> None:
        task = a_task(schedule="0 9 * * *", timezone="Asia/Tokyo")

        assert task.first_fire_after(utc(2026, 1, 9, 23)) == utc(2026, 1, 10, 0)

    @pytest.mark.parametrize(
        "name", ["Mars/Olympus_Mons", "", "../etc/passwd", "/usr/share/zoneinfo/UTC", "America", "US", "utc "]
    )
    def test_unknown_zones_are_rejected(self, name: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_timezone(name)

        assert caught.value.errors[0].field == "timezone"

    def test_a_task_in_an_unknown_zone_is_rejected(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            a_task(schedule="0 9 * * *", timezone="Europe/Atlantis")

        assert caught.value.errors[0].field == "timezone"

    def test_next_fire_in_an_unknown_zone_is_rejected(self) -> None:
        with pytest.raises(InvalidInput):
            next_fire_after("0 9 * * *", "Nowhere/Land", utc(2026, 1, 1))

    def test_known_zones_resolve(self) -> None:
        assert parse_timezone("Europe/Berlin") == BERLIN


class TestSpringForward:
    """Europe/Berlin skips 02:00-03:00 local on 2026-03-29 (01:00 UTC)."""

    @pytest.mark.parametrize("expression", ["30 2 * * *", "0 30 2 * * *"])
    def test_a_time_in_the_gap_fires_once_at_the_first_instant_after_the_gap(self, expression: str) -> None:
        fires = fires_between(expression, "Europe/Berlin", utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))

        on_the_day = [f for f in fires if f.astimezone(BERLIN).date().isoformat() == "2026-03-29"]
        assert on_the_day == [utc(2026, 3, 29, 1)]
        assert on_the_day[0].astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"

    def test_the_days_around_the_gap_fire_at_the_wall_clock_time(self) -> None:
        fires = fires_between("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))

        assert fires == [
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1),
            utc(2026, 3, 30, 0, 30),
            utc(2026, 3, 31, 0, 30),
        ]


class TestFallBack:
    """America/New_York repeats 01:00-02:00 local on 2026-11-01 (05:00-07:00 UTC)."""

    @pytest.mark.parametrize("expression", ["30 1 * * *", "0 30 1 * * *"])
    def test_a_repeated_time_fires_exactly_once_at_its_first_occurrence(self, expression: str) -> None:
        fires = fires_between(expression, "America/New_York", utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))

        assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
        on_the_day = [f for f in fires if f.astimezone(NEW_YORK).date().isoformat() == "2026-11-01"]
        assert on_the_day == [utc(2026, 11, 1, 5, 30)]

    @pytest.mark.parametrize("expression", ["30 1 * * *", "0 30 1 * * *"])
    @pytest.mark.parametrize("minute", [0, 15, 29, 30, 59])
    def test_from_inside_the_repeated_hour_the_next_fire_is_the_next_day(
        self, expression: str, minute: int
    ) -> None:
        second_one_oclock = utc(2026, 11, 1, 6, minute)  # 01:xx EST, the second pass

        assert next_fire_after(expression, "America/New_York", second_one_oclock) == utc(2026, 11, 2, 6, 30)

    def test_an_hourly_schedule_fires_every_real_hour_through_the_overlap(self) -> None:
        fires = fires_between("0 * * * *", "America/New_York", utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 8))

        assert fires == [utc(2026, 11, 1, h) for h in (5, 6, 7, 8)]


class TestLastFireBefore:
    def test_strictly_before(self) -> None:
        assert last_fire_before("0 * * * *", "UTC", utc(2026, 1, 5, 10)) == utc(2026, 1, 5, 9)
        assert last_fire_before("0 * * * *", "UTC", utc(2026, 1, 5, 10, 0, 1)) == utc(2026, 1, 5, 10)

    def test_in_the_task_zone(self) -> None:
        assert last_fire_before("0 9 * * *", "America/New_York", utc(2026, 7, 10, 20)) == utc(2026, 7, 10, 13)

    def test_every_second(self) -> None:
        moment = utc(2026, 1, 5, 10, 0, 5)

        assert last_fire_before("* * * * * *", "UTC", moment) == moment - timedelta(seconds=1)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
EXPRESSIONS = [
    "30 1 * * *",
    "30 2 * * *",
    "0 30 1 * * *",
    "0 30 2 * * *",
    "*/7 * * * *",
    "0 0 * * 0",
    "15 * * * *",
]
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(expression=st.sampled_from(EXPRESSIONS), zone=st.sampled_from(ZONES), moment=MOMENTS)
def test_next_fire_is_always_after_and_last_fire_always_before(
    expression: str, zone: str, moment: datetime
) -> None:
    after = next_fire_after(expression, zone, moment)
    before = last_fire_before(expression, zone, moment)

    assert after > moment
    assert before is not None
    assert before < moment
    assert after.tzinfo is UTC
    # nothing fires between them but the moment itself
    assert next_fire_after(expression, zone, before) in (moment, after)
