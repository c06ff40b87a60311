"""Encrypted settings: a value written as `enc:v1:<token>` is decrypted when settings load.

Tokens are Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the key in
`SCHEDULER_SECRET_KEY`, so a TOML file can be committed or shared without its secrets.
`scheduler config encrypt VALUE` makes a token; `scheduler config new-key` makes a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scheduler_errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SECRET_KEY_VAR = "SCHEDULER_SECRET_KEY"  # noqa: S105 - the name of the variable, not a secret
PREFIX = "enc:v1:"


def new_key() -> str:
    """A fresh random key for `SCHEDULER_SECRET_KEY`."""
    from cryptography.fernet import Fernet  # see `_fernet`

    return Fernet.generate_key().decode()


def encrypt(value: str, key: str) -> str:
    """`value` as an `enc:v1:` token under `key`."""
    return PREFIX + _fernet(key).encrypt(value.encode()).decode()


def decrypt_tree(settings: Mapping[str, Any], key: str | None, *, path: str = "") -> dict[str, Any]:
    """`settings` with every `enc:v1:` string decrypted; `InvalidInput` naming a bad one."""
    plain: dict[str, Any] = {}
    for name, value in settings.items():
        dotted = f"{path}{name}"
        if isinstance(value, Mapping):
            plain[name] = decrypt_tree(value, key, path=f"{dotted}.")
        elif isinstance(value, str) and value.startswith(PREFIX):
            plain[name] = _decrypt(value, key, dotted)
        else:
            plain[name] = value
    return plain


def _decrypt(token: str, key: str | None, field: str) -> str:
    if not key:
        raise InvalidInput.for_field(field, f"is encrypted, but {SECRET_KEY_VAR} is not set")
    from cryptography.fernet import InvalidToken  # see `_fernet`

    try:
        return _fernet(key).decrypt(token.removeprefix(PREFIX).encode()).decode()
    except InvalidToken as exc:
        raise InvalidInput.for_field(field, f"cannot be decrypted with {SECRET_KEY_VAR}") from exc


def _fernet(key: str) -> Fernet:
    # Imported on use: the OpenSSL bindings cost every process 8 MB, and only settings that
    # hold `enc:v1:` values need them.
    from cryptography.fernet import Fernet

    try:
        return Fernet(key.encode())
    except ValueError as exc:
        hint = "make one with `scheduler config new-key`"
        raise InvalidInput(f"{SECRET_KEY_VAR} is not a valid key: {hint}") from exc
