"""Local servers the checks start: free ports no other process is handed, output to a log file, stopped for sure."""

from __future__ import annotations

import random
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REQUEST_TIMEOUT_SECONDS = 2.0
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_FIRST_EPHEMERAL = 32768  # Linux's default, where /proc does not say
LOWEST_PORT = 20000  # above the ports well-known services listen on by default
PORT_ATTEMPTS = 100
_CHOOSER = random.SystemRandom()


@dataclass
class Server:
    """A started process, and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def exited(self) -> int | None:
        return self.process.poll()

    def output(self, lines: int | None = 30) -> str:
        """The last lines of what it wrote (None: all of it)."""
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return text if lines is None else "\n".join(text.rstrip().splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return int(self.process.returncode)


def start(name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> Server:
    """Start `argv` with its output to `log_path`."""
    log = log_path.open("wb")
    environment = None if env is None else dict(env)
    process = subprocess.Popen(
        list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
    )
    return Server(name, process, log)


def free_port() -> int:
    """A TCP port free on every interface now, below the kernel's ephemeral range.

    A port the kernel picks (bind to port 0) comes from the range it also gives every outgoing connection and every
    port Docker publishes, so on a busy machine it can be taken again before the server it was picked for binds it.
    A port below that range is only taken by someone who asks for it by number. The choice is random from the
    operating system, not from `random`, which Hypothesis seeds alike in every parallel lane.
    """
    first_ephemeral = _first_ephemeral_port()
    for _ in range(PORT_ATTEMPTS):
        port = _CHOOSER.randrange(LOWEST_PORT, first_ephemeral)
        with socket.socket() as probe:
            try:
                probe.bind(("", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free TCP port between {LOWEST_PORT} and {first_ephemeral} after {PORT_ATTEMPTS} tries")


def _first_ephemeral_port() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_FIRST_EPHEMERAL


def http_get(
    url: str, timeout: float = REQUEST_TIMEOUT_SECONDS, headers: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Status and body of a GET; status 0 and the reason when nothing answered."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(getattr(error, "reason", error))
