"""What changed between two loads of the settings, by dotted name, for a process reloading them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from scheduler_config.settings import AppConfig


def changed_settings(old: AppConfig, new: AppConfig) -> list[str]:
    """The dotted names (`api.rate_limit_per_second`) of the settings whose values differ, sorted.

    A list-valued setting (`alerts.rules`) is one setting: it differs when any part of it does.
    Only names are returned, never values: some of them are secrets.
    """
    before, after = _flat(msgspec.to_builtins(old)), _flat(msgspec.to_builtins(new))
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat
