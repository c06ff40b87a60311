"""Hiding the secrets a task's definition may hold from those who may only read it.

A task's `arguments` carry what its executor needs, and that is often a credential: a shell
task's `env` (`DB_PASSWORD`), an HTTP task's `headers` (`Authorization`), a Python task's keyword
arguments (`api_token`). An HTTP task's URL may hold a password (`https://user:pass@host/`).
`masked_arguments` replaces the value of every entry whose name looks like a secret's, at any depth,
with `MASK`; `masked_url` the password of a URL. Names are matched, not values: a secret passed
under an innocent name (`env.X`) is not found, so the docs tell users to name secrets as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: What a hidden value reads as.
MASK = "***"

#: Parts of a name that mark its value as secret, compared in lower case with `-` and `_` removed,
#: so `DB_PASSWORD`, `dbPassword`, `X-Api-Key` and `private-key` all match.
SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "credential",
    "cookie",
    "signature",
)
_SEPARATORS = re.compile(r"[-_.\s]")


def is_secret_name(name: str) -> bool:
    """True when `name` (an env var, header or argument name) looks like a secret's."""
    plain = _SEPARATORS.sub("", name).lower()
    return any(part in plain for part in SECRET_NAME_PARTS)


def masked_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """`arguments` with the value of every secret-named entry, at any depth, replaced by `MASK`."""
    return {name: MASK if is_secret_name(name) else _masked(value) for name, value in arguments.items()}


def masked_url(url: str) -> str:
    """`url` with its password, if it has one, replaced by `MASK`; anything else unchanged."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping):
        return masked_arguments(value)
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value
