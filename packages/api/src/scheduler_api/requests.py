"""The request class of the app: a body JSON cannot decode is the client's error, not a crash."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException


class ApiRequest(Request[Any, Any, Any]):
    """Litestar's request, with every way a JSON body can fail to decode answered 400.

    Litestar turns malformed JSON into a 400 already; bytes that are not UTF-8 and nesting deeper
    than the decoder's recursion limit escape it as `UnicodeDecodeError` and `RecursionError`.
    """

    async def json(self) -> Any:
        """The decoded JSON body; `SerializationException` (a 400) when it cannot be decoded."""
        try:
            return await super().json()
        except UnicodeDecodeError as exc:
            raise SerializationException(
                f"the request body is not valid UTF-8 (byte {exc.object[exc.start]:#04x} at {exc.start})"
            ) from exc
        except RecursionError as exc:
            raise SerializationException("the request body is nested too deeply to decode") from exc
