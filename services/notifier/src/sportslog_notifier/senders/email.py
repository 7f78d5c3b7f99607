"""Email over SMTP with aiosmtplib (none / STARTTLS / implicit TLS, optional auth)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

import aiosmtplib

from sportslog_notifier.rendering import RenderedEmail
from sportslog_notifier.settings import NotifierSettings


class PermanentSendError(Exception):
    """The server refused this message for good (5xx): retrying cannot help."""


class EmailSender(Protocol):
    async def send(self, to: str, email: RenderedEmail, key: str) -> None: ...


def build_message(sender: str, to: str, email: RenderedEmail, key: str) -> EmailMessage:
    """`key` (the event id) makes the Message-ID: if a crash ever makes us send an email a
    second time, mail clients show one message, not two."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{key}@{domain}>"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpEmailSender:
    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, to: str, email: RenderedEmail, key: str) -> None:
        s = self._settings
        message = build_message(s.smtp_from, to, email, key)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_pass.get_secret_value() if s.smtp_pass else None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=s.smtp_timeout_seconds,
                cert_bundle=s.smtp_ca_file,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Only the recipient or this message can be wrong for good. A 5xx on login or
            # for our sender is our configuration: fix it and the queue goes through.
            codes = [r.code for r in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentSendError(f"recipient refused (SMTP {codes[0]})") from exc
            raise
        except aiosmtplib.SMTPDataError as exc:
            if 500 <= exc.code < 600:
                raise PermanentSendError(f"message refused (SMTP {exc.code})") from exc
            raise


def describe_failure(exc: BaseException) -> str:
    """What the delivery log and dead letters keep: the kind of failure and its status
    code, never the server's text (it often quotes the recipient's address or number)."""
    if isinstance(exc, PermanentSendError):
        return str(exc)
    status = getattr(exc, "status", None)  # an HTTP API (Twilio)
    if isinstance(status, int):
        return f"{type(exc).__name__} (HTTP {status})"
    code = getattr(exc, "code", None)  # SMTP
    return f"{type(exc).__name__} (SMTP {code})" if isinstance(code, int) else type(exc).__name__
