"""An alert channel that mails each notice, in plain text, through an SMTP server.

The standard library's `smtplib` runs in a thread, each send on a connection of its own (alerts
are rare), bounded by the channel's timeout on every socket operation. A thread cannot be stopped,
and a mail its caller stopped waiting for may still arrive, so the channel tells the caller how
long a send may take in all (`longest_send_seconds`): each SMTP exchange at most `timeout`.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from scheduler_errors import Unavailable
from scheduler_foundation import AlertNotice


class EmailChannel:
    """Sends each notice from `sender` to `recipients` through `host:port`, over TLS and with a
    login when configured: `starttls` upgrades a plain connection (usually port 587),
    `implicit_tls` speaks TLS from the first byte (SMTPS, usually port 465). Either checks the
    server's certificate against the system's CAs (or `tls_context`'s)."""

    kind = "email"

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str = "",
        password: str = "",
        starttls: bool = False,
        implicit_tls: bool = False,
        timeout: float = 5.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = tuple(recipients)
        self._username = username
        self._password = password
        if starttls and implicit_tls:
            raise ValueError("choose one of starttls and implicit_tls")
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._timeout = timeout
        self._tls_context = tls_context

    @property
    def longest_send_seconds(self) -> float:
        """The longest a send takes by its socket timeouts: connecting (and the TLS handshake),
        the greeting, EHLO, STARTTLS and EHLO again, the login, MAIL, RCPT per recipient, DATA
        and the message, QUIT (each at most `timeout`), and a second for the thread to report."""
        exchanges = 10 + len(self._recipients) + (2 if self._username else 0)
        return exchanges * self._timeout + 1.0

    def message(self, notice: AlertNotice) -> EmailMessage:
        """The mail of `notice`: its `text` as the first line, then each field on a line."""
        message = EmailMessage()
        message["Subject"] = f"[{notice.state.upper()}] {notice.rule} ({notice.severity})"
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        lines = [
            notice.text,
            "",
            f"rule: {notice.rule}",
            f"state: {notice.state}",
            f"severity: {notice.severity}",
            f"metric: {notice.metric} = {notice.value:g}",
            f"condition: {notice.comparison} {notice.threshold:g} for {notice.for_seconds:g}s",
            f"since: {notice.since.isoformat()}",
            f"at: {notice.at.isoformat()}",
        ]
        message.set_content("\n".join(lines) + "\n")
        return message

    async def send(self, notice: AlertNotice) -> None:
        """See `AlertChannel.send`."""
        message = self.message(notice)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (smtplib.SMTPException, OSError) as exc:
            where = f"email channel {self.name!r} through {self._host}:{self._port}"
            raise Unavailable(f"{where} failed ({_reason(exc)})") from exc

    def _deliver(self, message: EmailMessage) -> None:
        with self._connect() as smtp:
            if self._starttls:
                smtp.starttls(context=self._context())
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message, from_addr=self._sender, to_addrs=list(self._recipients))

    def _connect(self) -> smtplib.SMTP:
        if self._implicit_tls:
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=self._context())
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()


def _reason(exc: BaseException) -> str:
    """What went wrong, in the server's words when it answered (never the password we sent)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        said = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"{type(exc).__name__}: {exc.smtp_code} {said}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"every recipient refused: {', '.join(exc.recipients)}"
    return f"{type(exc).__name__}: {exc}"
