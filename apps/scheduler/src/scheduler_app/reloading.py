"""Reloading the settings of a running process on SIGHUP (`kill -HUP <pid>`).

The settings are loaded again from the same sources as at start (defaults, the TOML file, the
environment the process started with, its command-line flags). The settings that can change while
the process runs are applied at once, by the parts that registered for them (`SettingsReload.live`);
every process applies `logging.level`. The others keep the values the process started with, and the
reload says by name which ones wait for a restart. Settings that do not load (a TOML error, a value
out of range) change nothing: the error is logged in one line and the process goes on as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from scheduler_config import AppConfig, changed_settings
from scheduler_errors import SchedulerError

logger = logging.getLogger(__name__)

Apply = Callable[[AppConfig], None]


class SettingsReload:
    """The settings of one process, loaded again on demand and applied where they can be."""

    def __init__(self, load: Callable[[], AppConfig], started_with: AppConfig) -> None:
        """`load` reads the settings from the sources the process started from."""
        self._load = load
        self._started_with = started_with
        self._current = started_with
        self._live: list[tuple[tuple[str, ...], Apply]] = []
        self.live("logging.level", apply=_apply_log_level)

    @property
    def current(self) -> AppConfig:
        """The settings last loaded (the live ones are in effect; see `reload`)."""
        return self._current

    def live(self, *names: str, apply: Apply) -> None:
        """Call `apply` with the new settings when one of `names` changes on a reload.

        A name is a setting (`api.rate_limit_per_second`) or a whole section (`alerts`).
        """
        self._live.append((names, apply))

    def reload(self) -> None:
        """Load the settings again and apply the live ones that changed; log what happened."""
        try:
            new = self._load()
        except SchedulerError as exc:
            logger.error("settings not reloaded, the process goes on with those it had: %s", exc)
            return
        changed = changed_settings(self._current, new)
        applied: list[str] = []
        for names, apply in self._live:
            touched = [name for name in changed if _covers(names, name)]
            if touched and self._applied(apply, new, touched):
                applied += touched
        waiting = [
            name
            for name in changed_settings(self._started_with, new)
            if not any(_covers(names, name) for names, _ in self._live)
        ]
        self._current = new
        extra = {"applied": sorted(set(applied)), "restart_needed": waiting}
        if waiting:
            logger.warning("settings reloaded; some apply only after a restart", extra=extra)
        else:
            logger.info("settings reloaded", extra=extra)

    @staticmethod
    def _applied(apply: Apply, new: AppConfig, names: list[str]) -> bool:
        try:
            apply(new)
        except Exception:
            logger.exception("could not apply the reloaded settings %s", ", ".join(names))
            return False
        return True


def _covers(names: tuple[str, ...], setting: str) -> bool:
    return any(setting == name or setting.startswith(f"{name}.") for name in names)


def _apply_log_level(config: AppConfig) -> None:
    logging.getLogger().setLevel(config.logging.level.upper())
