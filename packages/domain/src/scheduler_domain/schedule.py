"""Cron expressions and next-fire arithmetic, per IANA time zone, safe across DST changes.

Format: five fields (`minute hour day month weekday`), or six with **seconds first**
(`second minute hour day month weekday`), or one of the aliases `@yearly`, `@annually`,
`@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Fires are computed in the task's time
zone by cronsim: a wall-clock time that does not exist (02:30 on a spring-forward day) fires at
the first instant after the gap; a time that occurs twice (fall-back) fires once.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    except (ZoneInfoNotFoundError, ValueError) as exc:
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
    zone = parse_timezone(timezone)
    local = after.astimezone(zone)
    fire: datetime = next(CronSim(normalize_cron(expression), local))
    return fire.astimezone(UTC)


def has_seconds(expression: str) -> bool:
    """True for a six-field expression (which can fire more than once a minute)."""
    return len(normalize_cron(expression).split(" ")) == 6
