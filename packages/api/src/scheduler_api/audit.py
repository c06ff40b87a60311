"""The audit log of the API: every write under `/api/v1` is recorded, in this one place.

Each write route declares how it is recorded, next to its permission:
`opt=requires(...) | audited("task.update", id_param="task_id", body_fields=...)`, or says why it
is not (`not_audited(reason)`). The app refuses to start when a POST, PUT, PATCH or DELETE route
under `/api/v1` declares neither. `audit_middleware` then records, once the route and the error
mapping have answered, one entry per request:

* who: the subject of the authenticated principal. A request refused before there is one (401,
  403) is no write and is not recorded: it has no actor to name, and anyone could flood the log.
* what: the action (`task.update`) and the resource `kind:id`, the kind being the action's first
  part; the id comes from a path parameter, or for a create from the `id` of the response (a
  create that failed names the kind alone, e.g. `task`).
* outcome: the HTTP status answered. Failures that got past authentication are recorded as well
  as successes: 400 (malformed body), 404, 409, 413, 422, 500, 503.
* from where: the client address of the connection. Forwarding headers (`X-Forwarded-For`) are
  not trusted: a proxy in front of the API shows as the source.
* detail: only what the route whitelists: named fields of a successful response (never one that
  holds a secret, such as the key of a new API key) and the NAMES of the fields a PATCH sets,
  never their values (a task's `arguments` may hold credentials).

The entry is stored before the last byte of the response goes out, so a client that has its
answer finds the entry in the log. A route whose use case can store the entry in the same
statement as its write asks for it with `pending_audit(request)` and hands it on (a manual
trigger on PostgreSQL: one commit, not two, and no run without its entry); the use case marks it
recorded when it did, and the middleware then stores nothing more, unless the answer was not the
success recorded (the route failed after its write): then an entry with the status answered
follows. It is offered only where the resource is known before the answer (`id_param`).

When storing the entry apart fails, the error is logged on this module's logger with who, what
and where, and the response goes out unchanged: the write has happened already, and a 500 would
both misreport it and invite a retry that repeats it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from msgspec import Struct

from scheduler_api.auth import principal_of
from scheduler_application import AuditTrail, PendingAudit

AUDIT_OPT = "audit"
_EXCHANGE_STATE = "audit_exchange"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_log = logging.getLogger(__name__)
_JSON_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])


class Audited(Struct, frozen=True, kw_only=True):
    """How a write route is recorded: see `audited`."""

    action: str
    id_param: str | None = None
    response_detail: tuple[tuple[str, str], ...] = ()
    body_fields: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        """The kind of resource the action is on: `task` for `task.update`."""
        return self.action.partition(".")[0]


class NotAudited(Struct, frozen=True, kw_only=True):
    """A write route deliberately left out of the audit log, and why."""

    reason: str


def audited(
    action: str,
    *,
    id_param: str | None = None,
    response_detail: Mapping[str, str] | None = None,
    body_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """The route option that records a write route in the audit log.

    `action` is `kind.verb` (`task.create`). `id_param` names the path parameter holding the
    resource's id; without one (a create) the id is the `id` of the response. `response_detail`
    maps detail keys to fields of a successful response to copy (`{"run_id": "id"}`).
    `body_fields` are the request-body fields whose presence is recorded, by name only.
    """
    rule = Audited(
        action=action,
        id_param=id_param,
        response_detail=tuple((response_detail or {}).items()),
        body_fields=frozenset(body_fields),
    )
    return {AUDIT_OPT: rule}


def not_audited(reason: str) -> dict[str, Any]:
    """The route option of a write route left out of the audit log on purpose, saying why."""
    return {AUDIT_OPT: NotAudited(reason=reason)}


def audit_rule_of(handler: BaseRouteHandler) -> Audited | NotAudited | None:
    """What a route handler declared about auditing, if anything."""
    rule = handler.opt.get(AUDIT_OPT)
    return rule if isinstance(rule, Audited | NotAudited) else None


def unaudited_writes(handlers: Iterable[BaseRouteHandler]) -> list[str]:
    """Names of the write handlers among `handlers` that declare neither `audited` nor `not_audited`."""
    return sorted(
        handler.handler_name
        for handler in handlers
        if WRITE_METHODS & set(getattr(handler, "http_methods", ())) and audit_rule_of(handler) is None
    )


def audit_middleware(trail: AuditTrail) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware recording each request to an `audited` route in `trail` (see above).

    Closures rather than a middleware object: Litestar deep-copies a Router when it registers it,
    and a copied trail would record into a copy of the store.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            rule = audit_rule_of(scope["route_handler"]) if scope["type"] == ScopeType.HTTP else None
            if isinstance(rule, Audited):
                await _Exchange(trail, rule, scope).run(app, receive, send)
            else:
                await app(scope, receive, send)

        return middleware

    return wrap


def pending_audit(connection: ASGIConnection[Any, Any, Any, Any]) -> PendingAudit | None:
    """The audit entry of this request, for its use case to store with its write (see above).

    None where there is none to offer: a route not audited, or whose resource is named by the
    answer, or a request without a principal.
    """
    exchange = connection.state.get(_EXCHANGE_STATE)
    return exchange.pending() if isinstance(exchange, _Exchange) else None


class _Exchange:
    """One request to an audited route: watches it pass, then records its entry."""

    def __init__(self, trail: AuditTrail, rule: Audited, scope: Scope) -> None:
        self._trail = trail
        self._rule = rule
        self._scope = scope
        self._status = 500
        self._request = bytearray()
        self._response = bytearray()
        self._pending: PendingAudit | None = None
        scope.setdefault("state", {})[_EXCHANGE_STATE] = self

    def pending(self) -> PendingAudit | None:
        """The entry for the request's use case to store with its write, once asked for."""
        principal = principal_of(ASGIConnection(self._scope))
        handler = self._scope["route_handler"]
        if self._rule.id_param is None or principal is None or not isinstance(handler, HTTPRouteHandler):
            return None
        client = self._scope.get("client")
        self._pending = self._trail.pending(
            principal.subject,
            self._rule.action,
            self._resource(),
            source_ip=client[0] if client else None,
            outcome=handler.status_code,
            detail=self._request_detail(),
        )
        return self._pending

    async def run(self, app: ASGIApp, receive: Receive, send: Send) -> None:
        """Pass the request on to `app`; store the entry before the last response message goes out."""

        async def watched_receive() -> ReceiveMessage:
            message = await receive()
            self._saw_request(message)
            return message

        async def watched_send(message: Message) -> None:
            if self._saw_response(message):
                await self._record()
            await send(message)

        await app(self._scope, watched_receive, watched_send)

    def _saw_request(self, message: ReceiveMessage) -> None:
        if self._rule.body_fields and message["type"] == "http.request":
            self._request += message.get("body", b"")

    def _saw_response(self, message: Message) -> bool:
        """Take note of a response message; True when it is the last one."""
        if message["type"] == "http.response.start":
            self._status = message["status"]
            return False
        if message["type"] != "http.response.body":
            return False
        if 200 <= self._status < 300 and (self._rule.id_param is None or self._rule.response_detail):
            self._response += message.get("body", b"")
        return not message.get("more_body", False)

    async def _record(self) -> None:
        principal = principal_of(ASGIConnection(self._scope))
        pending = self._pending
        if principal is None or (pending and pending.recorded and pending.entry.outcome == self._status):
            return
        client = self._scope.get("client")
        source_ip = client[0] if client else None
        action = self._rule.action
        try:
            resource, detail = self._resource(), self._detail()
            await self._trail.record(
                principal.subject, action, resource, source_ip=source_ip, outcome=self._status, detail=detail
            )
        except Exception:
            _log.exception(
                "could not store the audit entry: %s did %s on %s from %s (%s)",
                principal.subject,
                action,
                self._scope["path"],
                source_ip,
                self._status,
            )

    def _resource(self) -> str:
        kind = self._rule.kind
        if self._rule.id_param is not None:
            return f"{kind}:{self._scope['path_params'][self._rule.id_param]}"
        created = _field(_json_object(self._response), "id")
        return kind if created is None else f"{kind}:{created}"

    def _detail(self) -> dict[str, Any]:
        response = _json_object(self._response)
        detail = {key: _field(response, name) for key, name in self._rule.response_detail if name in response}
        return detail | self._request_detail()

    def _request_detail(self) -> dict[str, Any]:
        if not self._rule.body_fields:
            return {}
        return {"fields": sorted(self._rule.body_fields.intersection(_json_object(self._request)))}


def _json_object(body: bytes | bytearray) -> dict[str, msgspec.Raw]:
    """The top-level fields of a JSON object, their values left undecoded; {} for anything else."""
    if not body:
        return {}
    try:
        return _JSON_OBJECT.decode(body)
    except msgspec.DecodeError:
        return {}


def _field(fields: Mapping[str, msgspec.Raw], name: str) -> Any:
    raw = fields.get(name)
    return None if raw is None else msgspec.json.decode(raw)
