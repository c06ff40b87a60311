"""Settings from defaults, then a TOML file, then `SCHEDULER_<SECTION>__<KEY>` env vars."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from scheduler_config.secrets import SECRET_KEY_VAR, decrypt_tree
from scheduler_config.settings import AppConfig
from scheduler_errors import InvalidInput

ENV_PREFIX = "SCHEDULER_"
CONFIG_FILE_VAR = "SCHEDULER_CONFIG"
#: Env vars with the prefix that are not settings.
_NOT_SETTINGS = frozenset({CONFIG_FILE_VAR, SECRET_KEY_VAR})


def load_config(
    env: Mapping[str, str],
    *,
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AppConfig:
    """The settings, each source overriding the one before; `InvalidInput` names a bad setting.

    `path` defaults to the file named by `SCHEDULER_CONFIG`; `overrides` (dotted keys, e.g.
    `api.port` from CLI flags) win over everything. Values written `enc:v1:...` are decrypted
    with the key in `SCHEDULER_SECRET_KEY`.
    """
    layers: dict[str, Any] = {}
    file_path = path or (Path(env[CONFIG_FILE_VAR]) if env.get(CONFIG_FILE_VAR) else None)
    if file_path is not None:
        _merge(layers, _read_toml(file_path))
    _merge(layers, _from_env(env))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _merge(layers, _nest(dotted.split("."), value))
    plain = decrypt_tree(layers, env.get(SECRET_KEY_VAR))
    try:
        return msgspec.convert(plain, AppConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid setting: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput(f"config file {path} does not exist") from exc
    except OSError as exc:
        raise InvalidInput(f"config file {path} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"config file {path} is not UTF-8 text, as TOML must be ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from exc


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS or name.startswith("SCHEDULER_TEST_"):
            continue
        path = name.removeprefix(ENV_PREFIX).lower().split("__")
        _merge(found, _nest(path, _env_value(path[-1], raw)))
    return found


def _env_value(key: str, raw: str) -> Any:
    """Env values are text: lists come comma-separated, numbers and booleans as JSON."""
    if key in ("task_types", "cors_allow_origins"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, (int, float, bool)) else raw


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        nested = {key: nested}
    return nested


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
