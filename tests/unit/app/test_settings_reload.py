"""Reloading the settings of a running process: what is applied, what waits, what a bad load does."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import msgspec
import pytest

from scheduler_app.reloading import SettingsReload
from scheduler_config import ApiConfig, AppConfig, LoggingConfig, changed_settings
from scheduler_errors import InvalidInput

START = AppConfig(logging=LoggingConfig(level="INFO"))


class Sources:
    """What the next load finds: settings, or an error."""

    def __init__(self) -> None:
        self.next: AppConfig | Exception = START

    def load(self) -> AppConfig:
        if isinstance(self.next, Exception):
            raise self.next
        return self.next


@pytest.fixture
def sources() -> Sources:
    return Sources()


@pytest.fixture
def root_level() -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    yield
    root.setLevel(before)


def with_changes(config: AppConfig, **sections: dict[str, object]) -> AppConfig:
    replaced = {
        name: msgspec.structs.replace(getattr(config, name), **fields) for name, fields in sections.items()
    }
    return msgspec.structs.replace(config, **replaced)


def reloaded_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "scheduler_app.reloading"]


def test_changed_settings_names_each_setting_that_differs_and_only_those() -> None:
    new = with_changes(START, api={"port": 9090, "jwt_secret": "s" * 32}, logging={"level": "DEBUG"})

    assert changed_settings(START, new) == ["api.jwt_secret", "api.port", "logging.level"]
    assert changed_settings(START, START) == []


def test_a_list_setting_is_one_setting() -> None:
    new = with_changes(START, worker={"task_types": ("shell",)})

    assert changed_settings(START, new) == ["worker.task_types"]


@pytest.mark.usefixtures("root_level")
def test_the_log_level_is_applied_at_once(sources: Sources, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger().setLevel(logging.INFO)
    reload = SettingsReload(sources.load, START)
    sources.next = with_changes(START, logging={"level": "debug"})

    with caplog.at_level(logging.INFO, logger="scheduler_app.reloading"):
        reload.reload()

    assert logging.getLogger().level == logging.DEBUG
    [record] = reloaded_records(caplog)
    assert (record.levelno, record.getMessage()) == (logging.INFO, "settings reloaded")
    assert (record.applied, record.restart_needed) == (["logging.level"], [])  # type: ignore[attr-defined]
    assert reload.current.logging.level == "debug"


def test_a_setting_no_part_applies_is_reported_as_waiting_for_a_restart(
    sources: Sources, caplog: pytest.LogCaptureFixture
) -> None:
    reload = SettingsReload(sources.load, START)
    sources.next = with_changes(START, api={"port": 9090})

    with caplog.at_level(logging.INFO, logger="scheduler_app.reloading"):
        reload.reload()
        reload.reload()  # nothing new: the port still waits for the restart, and says so

    records = reloaded_records(caplog)
    assert [record.levelno for record in records] == [logging.WARNING] * 2
    assert [record.restart_needed for record in records] == [["api.port"]] * 2  # type: ignore[attr-defined]


def test_a_live_section_is_applied_once_per_reload_that_changes_it(sources: Sources) -> None:
    reload = SettingsReload(sources.load, START)
    seen: list[ApiConfig] = []
    reload.live("api", apply=lambda config: seen.append(config.api))
    first = with_changes(START, api={"rate_limit_per_second": 5.0, "rate_limit_burst": 10})
    sources.next = first

    reload.reload()
    reload.reload()

    assert seen == [first.api]


@pytest.mark.usefixtures("root_level")
def test_settings_that_do_not_load_change_nothing(sources: Sources, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger().setLevel(logging.INFO)
    reload = SettingsReload(sources.load, START)
    sources.next = InvalidInput.for_field("api.port", "must be between 1 and 65535")

    with caplog.at_level(logging.INFO, logger="scheduler_app.reloading"):
        reload.reload()

    [record] = reloaded_records(caplog)
    assert record.levelno == logging.ERROR
    assert "api.port" in record.getMessage()
    assert reload.current is START
    assert logging.getLogger().level == logging.INFO


@pytest.mark.usefixtures("root_level")
def test_a_part_that_fails_to_apply_does_not_stop_the_others(
    sources: Sources, caplog: pytest.LogCaptureFixture
) -> None:
    reload = SettingsReload(sources.load, START)

    def broken(config: AppConfig) -> None:
        raise RuntimeError("cannot")

    reload.live("api.rate_limit_per_second", apply=broken)
    sources.next = with_changes(START, api={"rate_limit_per_second": 5.0}, logging={"level": "WARNING"})

    with caplog.at_level(logging.INFO, logger="scheduler_app.reloading"):
        reload.reload()

    assert logging.getLogger().level == logging.WARNING
    failure, done = reloaded_records(caplog)
    assert "api.rate_limit_per_second" in failure.getMessage()
    assert done.applied == ["logging.level"]  # type: ignore[attr-defined]
