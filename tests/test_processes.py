"""The ports servers are started on: what makes a check fail with "address already in use" on a busy machine."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterable

import pytest

from generator.runtime import processes


def test_a_free_port_is_below_the_range_the_kernel_hands_out() -> None:
    """Outgoing connections and Docker's published ports take ports from the ephemeral range at any moment: a port
    picked there can be gone before the server binds it (a CI run lost prometheus-e2e to this)."""
    first_ephemeral = processes._first_ephemeral_port()
    ports = {processes.free_port() for _ in range(50)}
    assert all(processes.LOWEST_PORT <= port < first_ephemeral for port in ports)
    assert len(ports) > 1, "every call chose the same port: parallel lanes would collide"


def test_a_port_someone_listens_on_is_never_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(processes, "_CHOOSER", _Choosing([busy, busy, processes.LOWEST_PORT + 7]))
        assert processes.free_port() == processes.LOWEST_PORT + 7


def test_no_free_port_is_an_error_not_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        monkeypatch.setattr(processes, "_CHOOSER", _Choosing(itertools.repeat(taken.getsockname()[1])))
        with pytest.raises(OSError, match="no free TCP port"):
            processes.free_port()


class _Choosing:
    """Stands in for the random chooser: the ports to try, in order."""

    def __init__(self, ports: Iterable[int]) -> None:
        self.ports = iter(ports)

    def randrange(self, *_: int) -> int:
        return next(self.ports)
