"""A local SMTP sink (aiosmtpd on a free loopback port) and the inbox it fills."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from sandbox.children import free_port

SENDER = "Sandbox <no-reply@sandbox.test>"


@dataclass(frozen=True)
class InboxMessage:
    to: str
    sender: str
    subject: str
    body: str
    received_at: str

    def to_json(self) -> dict[str, str]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


class Inbox:
    """Every message the sink received, one entry per recipient."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[InboxMessage] = []

    def add(self, message: InboxMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def messages(self, to: str | None = None) -> list[InboxMessage]:
        """All messages, or those addressed to ``to`` (case-insensitive)."""
        with self._lock:
            if to is None:
                return list(self._messages)
            return [m for m in self._messages if m.to.lower() == to.strip().lower()]

    def delete_where(self, predicate: Callable[[InboxMessage], bool]) -> int:
        """Remove the messages ``predicate(message)`` accepts; return how many."""
        with self._lock:
            kept = [m for m in self._messages if not predicate(m)]
            removed = len(self._messages) - len(kept)
            self._messages = kept
            return removed


class _InboxHandler:
    """aiosmtpd handler: parses each DATA into the inbox."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(raw, policy=policy.default)
        body_part = parsed.get_body(preferencelist=("plain",)) if parsed.is_multipart() else parsed
        body = body_part.get_content() if body_part is not None else ""
        received_at = datetime.now(UTC).isoformat()
        for rcpt in envelope.rcpt_tos:
            self.inbox.add(
                InboxMessage(
                    to=rcpt,
                    sender=str(parsed.get("From", envelope.mail_from or "")),
                    subject=str(parsed.get("Subject", "")),
                    body=str(body).strip(),
                    received_at=received_at,
                )
            )
        return "250 Message accepted for delivery"


class MailSink:
    """The SMTP sink: a thread running aiosmtpd, bound to loopback only."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.inbox = Inbox()
        self._controller = Controller(_InboxHandler(self.inbox), hostname=host, port=self.port)
        self._running = False

    def start(self) -> None:
        self._controller.start()
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def is_running(self) -> bool:
        thread = getattr(self._controller, "_thread", None)
        return self._running and thread is not None and thread.is_alive()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one plain-text message through the sink, over real SMTP."""
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=5) as client:
            client.send_message(message)
