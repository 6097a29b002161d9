"""The one transaction pattern of the services (STYLE §5): a service function owns its unit of
work. Decorated with :func:`transactional`, it commits when it returns and rolls back when it
raises, so views never commit or roll back. A transactional function that calls another joins
the caller's transaction: only the outermost one commits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from intake.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

_depth: ContextVar[int] = ContextVar("transaction_depth", default=0)


@contextmanager
def transaction() -> Iterator[None]:
    """Commit at the end of the outermost block; roll back everything on any exception."""
    depth = _depth.get()
    token = _depth.set(depth + 1)
    try:
        yield
        if depth == 0:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _depth.reset(token)


def outermost() -> bool:
    """Whether the running transactional function is the outermost one (it will commit), so it
    may end the transaction with its last statement (``audit.record_all(commit=True)``)."""
    return _depth.get() <= 1


def transactional(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` as one transaction (or inside the caller's)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction():
            return function(*args, **kwargs)

    return wrapper
