"""Text that every store keeps: PostgreSQL refuses the NUL character in text and in JSON alike.

Refusing it here, for every store, names the field at fault; left to the database, SQLite would
keep what PostgreSQL refuses, and PostgreSQL's refusal names no field.
"""

from __future__ import annotations

from scheduler_errors import InvalidInput

NUL = "\x00"
#: What a NUL becomes where text must be kept rather than refused (a request's path, in the audit log).
NUL_STANDS_IN = "\ufffd"
#: A place named in an error stops growing past this many characters, ending in an ellipsis.
MAX_PLACE_LENGTH = 200


def check_storable(field: str, value: object) -> None:
    """`InvalidInput` when `value` (text, or JSON: its keys and strings at any depth) holds a NUL.

    The error names the place: `field`, or a dotted path below it (`arguments.env`, `tags[0]`).
    Iterative, so that nesting as deep as a JSON decoder accepts cannot exhaust the stack.
    """
    pending: list[tuple[str, object]] = [(field, value)]
    while pending:
        place, item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                raise InvalidInput.for_field(place, "must not contain the NUL character (\\u0000)")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and NUL in key:
                    raise InvalidInput.for_field(place, "no key may contain the NUL character (\\u0000)")
                pending.append((_below(place, f".{key}"), inner))
        elif isinstance(item, list | tuple):
            pending.extend((_below(place, f"[{index}]"), inner) for index, inner in enumerate(item))


def holds_nul(text: str) -> bool:
    """True when `text` could not be stored (nor compared, by PostgreSQL) as it is."""
    return NUL in text


def storable_text(text: str) -> str:
    """`text` with each NUL replaced by U+FFFD, for text that must be kept whatever it holds."""
    return text.replace(NUL, NUL_STANDS_IN)


def _below(place: str, step: str) -> str:
    if place.endswith("…"):
        return place
    return f"{place}{step}" if len(place) + len(step) <= MAX_PLACE_LENGTH else f"{place}…"
