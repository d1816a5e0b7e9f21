"""Termination signals as exceptions, so that work in progress is undone before the process ends.

A CI job killed by its timeout gets SIGTERM; a closed SSH session, SIGHUP. By
default either ends Python at once, in the middle of whatever it was writing.
Inside `terminations_raise()` they raise `Terminated` instead, which unwinds
like Ctrl-C does; `deferred()` holds them (and Ctrl-C) while a restore runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

TERMINATING = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Terminated(BaseException):
    """The process was asked to end by a signal; like KeyboardInterrupt, not an Exception."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _handled(handler: signal._HANDLER, signums: tuple[int, ...]) -> Iterator[None]:
    """`handler` for `signums` within the block (main thread only: Python runs handlers there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def terminations_raise() -> contextlib.AbstractContextManager[None]:
    """Within the block, SIGTERM, SIGHUP and SIGQUIT raise Terminated."""
    return _handled(_raise, TERMINATING)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold terminating signals and Ctrl-C until the block has run, then act on the first one that came."""
    pending: list[int] = []

    def remember(signum: int, _: FrameType | None) -> None:
        pending.append(signum)

    with _handled(remember, (*TERMINATING, signal.SIGINT)):
        yield
    if pending:
        if pending[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(pending[0])
