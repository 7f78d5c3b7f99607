"""Mail that a containerised SMTP sink kept (deploy/images/mailsink.Containerfile: aiosmtpd's
Mailbox handler), read from its Maildir on the host: the same API as the SMTP fake, so the
e2e journeys run against either."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from sportslog_testing.smtp import MailSource, ReceivedMail


class MaildirMail(MailSource):
    def __init__(self, path: Path) -> None:
        self.path = path / "inbox"  # the Maildir the sink makes in its mounted /var/mail

    @property
    def messages(self) -> list[ReceivedMail]:
        files = [
            f
            for sub in ("new", "cur")
            if (self.path / sub).is_dir()
            for f in (self.path / sub).iterdir()
        ]
        received = []
        for file in files:
            parsed = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            # aiosmtpd's Mailbox handler records the envelope in X-MailFrom / X-RcptTo.
            rcpt = [a.strip() for a in str(parsed.get("X-RcptTo", "")).split(",") if a.strip()]
            sender = str(parsed.get("X-MailFrom", ""))
            received.append(ReceivedMail(sender, rcpt, parsed, file.stat().st_mtime))
        return sorted(received, key=lambda mail: mail.received_at)
