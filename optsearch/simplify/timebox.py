"""A hard time limit for sympy work, which can otherwise run for minutes on rare inputs.

Sympy is pure Python, so a SIGALRM handler can interrupt it between bytecodes. The
exception derives from BaseException so that no ``except Exception`` inside sympy swallows
it. Off the main thread, or when another interval timer is already running (an outer
limit), the block runs without a new timer and the callers' cooperative checks still apply.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class SympyTimeout(BaseException):
    """The time limit of a :func:`hard_limit` block ran out."""


def _raise(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise SympyTimeout()


@contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`SympyTimeout` in the block once ``seconds`` have passed."""
    if seconds <= 0:
        raise SympyTimeout()
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
