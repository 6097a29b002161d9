"""What a service says when it refuses: one base for every refusal a user can cause.

A view catches :class:`ServiceError`, shows ``str(error)`` (translated into the reader's language
when it is turned into a string, since services pass lazy strings) beside the field or as a
flash, and answers with ``error.status``. ``error.code`` is a stable id for scripts, the command
line and tests; it is never shown instead of the message.

Raised inside a :func:`intake.services.transactions.transactional` function, a refusal also
rolls back everything that function wrote: a refused request changes nothing (DESIGN §1.8).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class ServiceError(Exception):
    """A refused request: ``str(error)`` is safe to show, in the reader's language."""

    status: int = 400
    code: str = "refused"

    def __init__(self, message: Any, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return str(self.message)


class CodedError(ServiceError):
    """A refusal named by a stable code, with its message in the subclass's ``MESSAGES``."""

    MESSAGES: dict[str, Any] = {}
    DEFAULT_MESSAGE: Any = _l("This could not be done. Nothing was saved.")

    def __init__(self, code: str, status: int | None = None) -> None:
        super().__init__(self.MESSAGES.get(code, self.DEFAULT_MESSAGE), status, code)
