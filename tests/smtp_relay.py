"""A real aiosmtpd relay for delivery tests that also knows its open connections, and can
SIGKILL a sending process the moment it has received a chosen number of messages."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from .test_smtp import READY, Relay, free_port


class KillingRelay(Relay):
    """Records messages like ``Relay``; kills ``victim`` at the ``kill_at``-th message.

    ``mode`` ``data``: in the DATA handler, after the message is recorded, before the answer
    (the sender cannot know it went out). ``rcpt``: at the RCPT of the next message (the
    previous one was answered, this one never sent).
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.victim: int | None = None
        self.kill_at: int | None = None
        self.mode = "data"
        self.open = 0
        self.quiet = threading.Condition(self.lock)

    def _kill(self) -> None:
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = self.kill_at = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mode == "rcpt" and self.kill_at is not None and self.total >= self.kill_at:
            self._kill()
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.total += len(envelope.rcpt_tos)
        if self.mode == "data" and self.kill_at is not None and self.total >= self.kill_at:
            self._kill()
        return answer

    def opened(self) -> None:
        with self.lock:
            self.open += 1

    def closed(self) -> None:
        with self.lock:
            self.open -= 1
            self.quiet.notify_all()

    def settle(self, timeout: float = 600.0) -> None:
        """Wait until every connection is closed: nothing more can arrive from a dead sender."""
        with self.lock:
            assert self.quiet.wait_for(lambda: self.open == 0, timeout), "connections stay open"


class _Counted(SMTP):
    def connection_made(self, transport: Any) -> None:
        self.event_handler.opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.event_handler.closed()


class CountingController(Controller):
    """A Controller whose sessions report opening and closing to the handler."""

    def factory(self) -> SMTP:
        return _Counted(self.handler, **self.SMTP_kwargs)


def start_relay() -> tuple[KillingRelay, CountingController]:
    handler = KillingRelay()
    controller = CountingController(
        handler, hostname="127.0.0.1", port=free_port(), ready_timeout=READY
    )
    controller.start()
    return handler, controller
