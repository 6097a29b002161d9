"""A real SMTP server on loopback (aiosmtpd) that records what it accepted, and can be made
to stall, refuse for a while, take a message without ever acknowledging it, or stop and start
again on the same port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.raw)

    @property
    def body(self) -> str:
        """The decoded text of a single-part message, as a mail client shows it."""
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes), "a multipart message has no single body"
        return payload.decode()

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.stall_seconds = 0.0
        self.stalled = threading.Event()
        self.temporary_failures = 0
        # Answer DATA with ``refusal`` this many times (-1: always), e.g. "550 5.7.1 Relay denied".
        self.refusal = "550 5.7.1 Relaying denied"
        self.refusals_left = 0
        # Keep the message, then say nothing for this long (the client gives up first) — this
        # many times (-1: always): the server has the message, the sender never hears "250".
        self.silence_seconds = 0.0
        self.silences_left = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.stall_seconds:
            # One send caught mid-transaction: the client is killed before we answer, and a
            # message whose sender vanished before "250" is not accepted.
            stall, self.stall_seconds = self.stall_seconds, 0.0
            self.stalled.set()
            await asyncio.sleep(stall)
            return "451 4.3.0 Sender went away before acceptance"
        if self.temporary_failures:
            self.temporary_failures -= 1
            return "451 4.3.0 Try again later"
        if self.refusals_left:
            self.refusals_left -= 1 if self.refusals_left > 0 else 0
            return self.refusal
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        if self.silences_left:
            self.silences_left -= 1 if self.silences_left > 0 else 0
            await asyncio.sleep(self.silence_seconds)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self._controller: Controller | None = None

    def start(self) -> MailServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return self.messages

    def config(self) -> dict[str, Any]:
        return {
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_TIMEOUT": 5,
        }

    def env(self) -> dict[str, str]:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port), "MAIL_TIMEOUT": "5"}
