"""The `api.cors_allow_origins` setting: origins written as browsers send them."""

from __future__ import annotations

import re

from scheduler_errors import InvalidInput

#: An origin: http or https, a host (a name, an IPv4 or a bracketed IPv6 address), maybe a port.
_ORIGIN = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.I)
_ORIGIN_FORM = (
    "give each as scheme://host[:port], http or https, without path, query or trailing slash"
    " (e.g. https://app.example.com, http://localhost:3000), or '*' alone for any origin"
)


def check_cors_origins(origins: tuple[str, ...]) -> None:
    """`InvalidInput` naming `api.cors_allow_origins` for an entry that is not an origin."""
    if "*" in origins and len(origins) > 1:
        raise InvalidInput.for_field("api.cors_allow_origins", f"'*' must be the only entry: {_ORIGIN_FORM}")
    for origin in origins:
        if origin != "*":
            _check_origin(origin)


def _check_origin(origin: str) -> None:
    """`origin` must be one, written as browsers send it (else it would silently match none)."""
    found = _ORIGIN.fullmatch(origin)
    shown = "an entry with user@" if "@" in origin else repr(origin)  # never echo a password
    if found is None or not 0 < int(found[3] or 80) < 65536:
        raise InvalidInput.for_field("api.cors_allow_origins", f"{shown} is not an origin: {_ORIGIN_FORM}")
    scheme, host, port = found[1].lower(), found[2].lower(), found[3]
    default_port = 80 if scheme == "http" else 443
    same = f"{scheme}://{host}" + ("" if port is None or int(port) == default_port else f":{int(port)}")
    if origin != same:
        raise InvalidInput.for_field(
            "api.cors_allow_origins", f"{shown} would match no browser, which sends it as {same!r}"
        )
