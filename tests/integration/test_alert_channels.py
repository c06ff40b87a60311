"""The alert channels against real servers: an HTTP server in a thread, and aiosmtpd's SMTP server."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler_app.alerting import alert_channel
from scheduler_application import AlertEvaluator, AlertMetrics, AlertRule, SystemOverview
from scheduler_config import AlertChannelConfig
from scheduler_errors import Unavailable
from scheduler_foundation import AlertNotice
from scheduler_infrastructure.alerts import EmailChannel, SlackChannel, WebhookChannel
from scheduler_testing import FakeClock, FakeTaskRepository, FakeTaskRunRepository, FakeWorkerRepository
from tests.worker_fixtures.http_server import serving, serving_with, unused_port

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
FIRING = AlertNotice(
    rule="no-workers",
    state="firing",
    severity="critical",
    metric="workers_online",
    value=0,
    threshold=1,
    comparison="below",
    since=T0,
    for_seconds=60,
    at=T0 + dt.timedelta(seconds=60),
)
SECRET_PATH = "/hooks/T0/B0/s3cret-path"


@dataclass
class Receiver:
    """What an HTTP receiver got, and the status it answers with."""

    status: int = 200
    bodies: list[Any] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver and its URL (with a secret path)."""
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.bodies.append(json.loads(body))
            got.content_types.append(self.headers.get("Content-Type", ""))
            got.paths.append(self.path)
            self.send_response(got.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with serving_with(Handler) as port:
        yield got, f"http://127.0.0.1:{port}{SECRET_PATH}"


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient() as made:
        yield made


async def test_the_webhook_receives_the_notice_as_json(receiver: tuple[Receiver, str], client: Any) -> None:
    got, url = receiver

    await WebhookChannel(name="hook", url=url, client=client).send(FIRING)

    assert got.paths == [SECRET_PATH]
    assert got.content_types == ["application/json"]
    assert got.bodies == [
        {
            "rule": "no-workers",
            "state": "firing",
            "severity": "critical",
            "metric": "workers_online",
            "value": 0,
            "threshold": 1,
            "comparison": "below",
            "since": "2026-01-05T12:00:00+00:00",
            "for_seconds": 60,
            "at": "2026-01-05T12:01:00+00:00",
            "text": FIRING.text,
        }
    ]
    assert FIRING.text == (
        "FIRING [critical] no-workers: workers_online = 0 (below 1 for 60s, since 2026-01-05T12:00:00+00:00)"
    )


async def test_slack_receives_the_text_in_its_incoming_webhook_format(
    receiver: tuple[Receiver, str], client: Any
) -> None:
    got, url = receiver
    resolved = dataclasses.replace(FIRING, state="resolved", value=2)

    await SlackChannel(name="chat", url=url, client=client).send(resolved)

    assert got.bodies == [
        {
            "text": "RESOLVED [critical] no-workers: workers_online = 2, no longer below 1 "
            "(since 2026-01-05T12:00:00+00:00)"
        }
    ]


@pytest.mark.parametrize("kind", [WebhookChannel, SlackChannel])
async def test_a_refusal_is_unavailable_and_names_no_secret(
    kind: type[WebhookChannel], receiver: tuple[Receiver, str], client: Any
) -> None:
    got, url = receiver
    got.status = 500

    with pytest.raises(Unavailable) as refused:
        await kind(name="ops", url=url, client=client).send(FIRING)

    assert "'ops'" in refused.value.detail
    assert "answered 500" in refused.value.detail
    assert "127.0.0.1" in refused.value.detail
    assert "s3cret" not in refused.value.detail


async def test_a_receiver_that_is_not_there_is_unavailable(client: Any) -> None:
    url = f"http://user:pass-s3cret@127.0.0.1:{unused_port()}{SECRET_PATH}"

    with pytest.raises(Unavailable, match="cannot be reached") as refused:
        await WebhookChannel(name="hook", url=url, client=client).send(FIRING)

    assert "s3cret" not in refused.value.detail


async def test_a_receiver_that_does_not_answer_in_time_is_unavailable(client: Any) -> None:
    with serving() as server:
        channel = WebhookChannel(name="hook", url=server.url("/slow"), client=client, timeout=0.3)

        with pytest.raises(Unavailable, match=r"did not answer within 0\.3s"):
            await channel.send(FIRING)


# ---------------------------------------------------------------- email


class Mailbox:
    """An aiosmtpd handler that keeps each message it is given, answering each recipient and the
    data `delay` seconds late."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.delay = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def only(login: str, password: str) -> Any:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535

    return authenticate


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Mailbox, int]]:
    """aiosmtpd on 127.0.0.1 at a free port, in its own thread, until the block ends."""
    mailbox = Mailbox()
    port = unused_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def mail_channel(port: int, timeout: float = 5, **options: Any) -> EmailChannel:
    return EmailChannel(
        name="mail",
        host="127.0.0.1",
        port=port,
        sender="scheduler@example.org",
        recipients=["ops@example.org", "oncall@example.org"],
        timeout=timeout,
        **options,
    )


async def test_the_email_carries_the_notice_in_plain_text() -> None:
    with smtp_server() as (mailbox, port):
        await mail_channel(port).send(FIRING)

    [(sender, recipients, message)] = mailbox.messages
    assert (sender, recipients) == ("scheduler@example.org", ["ops@example.org", "oncall@example.org"])
    assert message["Subject"] == "[FIRING] no-workers (critical)"
    assert message["To"] == "ops@example.org, oncall@example.org"
    assert message.get_content_type() == "text/plain"
    body = message.get_payload(decode=True).decode()
    assert body.splitlines()[0] == FIRING.text
    assert "metric: workers_online = 0" in body
    assert "condition: below 1 for 60s" in body


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS: TLS throughout
@pytest.mark.parametrize("mode", ["starttls", "implicit_tls"])
async def test_the_email_is_sent_over_tls_with_a_login(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], mode: str
) -> None:
    server_tls, client_tls = tls
    # aiosmtpd counts only STARTTLS as TLS for its AUTH rule
    options: dict[str, Any] = (
        {"tls_context": server_tls, "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": server_tls, "auth_require_tls": False}
    )
    with smtp_server(authenticator=only("scheduler", "mail-s3cret"), auth_required=True, **options) as (
        mailbox,
        port,
    ):
        channel = mail_channel(
            port, username="scheduler", password="mail-s3cret", tls_context=client_tls, **{mode: True}
        )
        await channel.send(FIRING)

    assert [message["Subject"] for _, _, message in mailbox.messages] == ["[FIRING] no-workers (critical)"]


async def test_implicit_tls_checks_the_servers_certificate(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, _ = tls
    refused = pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED")
    with smtp_server(ssl_context=server_tls) as (mailbox, port), refused:
        await mail_channel(port, implicit_tls=True).send(FIRING)  # the system's CAs: not ours

    assert mailbox.messages == []


async def test_the_implicit_tls_setting_reaches_the_channel(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, _ = tls
    with smtp_server(ssl_context=server_tls) as (_, port):
        settings = AlertChannelConfig(
            kind="email", smtp_host="127.0.0.1", smtp_port=port, sender="s@example.org", to=("o@example.org",)
        )
        no_client = lambda: pytest.fail("an email channel asked for an HTTP client")  # noqa: E731
        channel = alert_channel(
            "mail", msgspec.structs.replace(settings, implicit_tls=True), client=no_client, timeout=2
        )
        with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):  # it spoke TLS at once
            await channel.send(FIRING)


def test_starttls_and_implicit_tls_are_one_or_the_other() -> None:
    with pytest.raises(ValueError, match="one of"):
        mail_channel(25, starttls=True, implicit_tls=True)


async def test_a_refused_login_is_unavailable_and_does_not_show_the_password(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, client_tls = tls
    options = {"tls_context": server_tls, "require_starttls": True, "auth_required": True}
    with smtp_server(authenticator=only("scheduler", "right"), **options) as (mailbox, port):
        channel = mail_channel(
            port, username="scheduler", password="wrong-s3cret", starttls=True, tls_context=client_tls
        )
        with pytest.raises(Unavailable, match="535") as refused:
            await channel.send(FIRING)

    assert mailbox.messages == []
    assert "'mail'" in refused.value.detail
    assert "s3cret" not in refused.value.detail


async def test_a_server_that_is_not_there_is_unavailable() -> None:
    with pytest.raises(Unavailable, match=r"email channel 'mail' through 127\.0\.0\.1:\d+ failed"):
        await mail_channel(unused_port()).send(FIRING)


async def test_a_slow_mail_server_gets_the_mail_once_though_it_outlasts_the_notify_timeout() -> None:
    clock = FakeClock(T0)
    runs = FakeTaskRunRepository()
    overview = SystemOverview(tasks=FakeTaskRepository(runs), runs=runs, workers=FakeWorkerRepository())
    rule = AlertRule(
        name="no-workers",
        metric="workers_online",
        comparison="below",
        threshold=1,
        for_seconds=0,
        severity="critical",
        channels=("mail",),
    )
    with smtp_server() as (mailbox, port):
        mailbox.delay = 0.3  # each exchange answers within the timeout, the whole send (3 of them) not
        channel = mail_channel(port, timeout=0.5)
        evaluator = AlertEvaluator(
            rules=[rule],
            channels={"mail": channel},
            metrics=AlertMetrics(overview=overview, runs=runs, clock=clock),
            clock=clock,
            notify_timeout=0.5,
        )

        await evaluator.evaluate()
        await evaluator.evaluate()

    assert len(mailbox.messages) == 1
    assert evaluator.unsent("mail") == []
