"""Cron expressions and next-fire arithmetic, per IANA time zone, safe across DST changes.

Format: five fields (`minute hour day month weekday`), or six with **seconds first**
(`second minute hour day month weekday`), or one of the aliases `@yearly`, `@annually`,
`@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Fires are computed in the task's time
zone by cronsim: a wall-clock time that does not exist (02:30 on a spring-forward day) fires at
the first instant after the gap; a time that occurs twice (fall-back) fires once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from scheduler_errors import InvalidInput

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def parse_timezone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name`, or `InvalidInput` naming `field`."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder such as `America`
        raise InvalidInput.for_field(field, f"unknown IANA time zone {name!r}") from exc


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    if not name or name.startswith(("/", ".")):
        raise ValueError(name)
    return ZoneInfo(name)


def normalize_cron(expression: str, *, field: str = "schedule") -> str:
    """The expression with aliases expanded; `InvalidInput` naming `field` when it is not valid."""
    text = " ".join(expression.split())
    text = ALIASES.get(text.lower(), text)
    if len(text.split(" ")) not in (5, 6):
        hint = "use 5 fields, 6 with seconds first, or an alias like @hourly"
        raise InvalidInput.for_field(field, f"{expression!r} is not a cron expression: {hint}")
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise InvalidInput.for_field(field, f"{expression!r} is not a valid cron expression: {exc}") from exc
    return text


def next_fire_after(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire of `expression` strictly after `after`, in UTC."""
    for fire in _fires(expression, timezone, after, reverse=False):
        # cronsim works on the wall clock: from inside a repeated hour it can name the first
        # occurrence of a time, which is before `after`.
        if fire > after:
            return fire
    raise InvalidInput.for_field("schedule", f"{expression!r} never fires after {after.isoformat()}")


def last_fire_before(expression: str, timezone: str, before: datetime) -> datetime | None:
    """The last fire of `expression` strictly before `before`, in UTC, or None if there is none."""
    for fire in _fires(expression, timezone, before, reverse=True):
        if fire < before:
            return fire
    return None


def _fires(expression: str, timezone: str, start: datetime, *, reverse: bool) -> Iterator[datetime]:
    """Fires from `start` onwards (or backwards), in UTC.

    cronsim applies the wall-clock DST rule (a skipped time fires at the first minute after the
    gap, a repeated one fires once) only to five-field expressions at fixed times; six-field
    expressions at fixed times (minute and hour not `*`) get the same rule here.
    """
    text = normalize_cron(expression)
    zone = parse_timezone(timezone)
    local = start.astimezone(zone)
    fields = text.split(" ")
    if len(fields) == 6 and not fields[1].startswith("*") and not fields[2].startswith("*"):
        for wall in CronSim(text, local.replace(tzinfo=None), reverse=reverse):
            yield _on_wall_clock(wall, zone).astimezone(UTC)
    else:
        for fire in CronSim(text, local, reverse=reverse):
            yield fire.astimezone(UTC)


def _on_wall_clock(wall: datetime, zone: ZoneInfo) -> datetime:
    """`wall` in `zone`: a repeated time at its first occurrence, a skipped one after the gap."""
    moment = wall.replace(tzinfo=zone, fold=0)
    while moment != moment.astimezone(UTC).astimezone(zone):
        moment += timedelta(minutes=1)
    return moment


def has_seconds(expression: str) -> bool:
    """True for a six-field expression (which can fire more than once a minute)."""
    return len(normalize_cron(expression).split(" ")) == 6
