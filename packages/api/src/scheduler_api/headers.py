"""Security headers on every answer of the app.

Answers carry secrets: the key of a new API key, task arguments that may hold credentials. So
every answer says that no cache may keep it (`Cache-Control: no-store`) and no browser may sniff
its type, frame it or run anything it holds. The pages under `/schema` (the OpenAPI document
and its viewers, which load scripts and styles) keep only `nosniff`.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

DOCS_PREFIX = "/schema"

#: Set on every answer but the documentation pages, unless the route set the header itself.
API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
#: Set on the documentation pages.
DOCS_HEADERS = {"X-Content-Type-Options": "nosniff"}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A Litestar `before_send` hook: adds the headers above to the start of each HTTP answer."""
    if message["type"] != "http.response.start":
        return
    path = scope.get("path", "")
    wanted = DOCS_HEADERS if path == DOCS_PREFIX or path.startswith(f"{DOCS_PREFIX}/") else API_HEADERS
    headers = MutableScopeHeaders.from_message(message)
    for name, value in wanted.items():
        if name not in headers:
            headers[name] = value
