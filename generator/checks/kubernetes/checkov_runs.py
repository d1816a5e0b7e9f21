"""checkov runs through one long-lived process per gosvc process (see checkov_server.py).

A repository's checkov check starts checkov once; a matrix, a fleet or a test session checks many repositories,
and each start spent most of its CPU importing checkov (2.2 of 2.9 CPU-seconds on a default repository). The
server imports it once and forks a run per request; a run sees what the checkov command would see: the same
arguments, folder and environment (the server's is the environment of the toolbox it was started from, at its
start). Runs are one at a time.
A server that died is started again for the next run; the run it died in reports why, as a failed command does.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import tempfile
import threading
from pathlib import Path

from generator.tools import Toolbox

_SERVER = Path(__file__).with_name("checkov_server.py")


class _Server:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._interpreter: Path | None = None

    def run(self, arguments: tuple[str, ...], cwd: Path, toolbox: Toolbox) -> subprocess.CompletedProcess[str]:
        argv = ["checkov", *arguments]
        with self._lock, tempfile.TemporaryDirectory(prefix="gosvc-checkov-output-") as scratch:
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            request = {"cwd": str(cwd), "argv": list(arguments), "stdout": str(out), "stderr": str(err)}
            process = self._started(toolbox)
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
                returncode = int(json.loads(answer)["returncode"])
            except (OSError, ValueError, KeyError, TypeError):
                self.stop()
                return subprocess.CompletedProcess(argv, 70, "", "the checkov server stopped during the run")
            return subprocess.CompletedProcess(argv, returncode, _read(out), _read(err))

    def _started(self, toolbox: Toolbox) -> subprocess.Popen[str]:
        # Found on every run, as the command would be: a checkov that went missing is reported missing, and
        # another toolbox (whose checkov lives in its own folder) gets a server of its own.
        interpreter = toolbox.find("checkov").parent / "python"
        if interpreter != self._interpreter:
            self.stop()
        if self._process is None or self._process.poll() is not None:
            self._interpreter = interpreter
            self._process = subprocess.Popen(
                [str(interpreter), str(_SERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=toolbox.environment(),
            )
        return self._process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


_server = _Server()
atexit.register(_server.stop)


def run_checkov(*arguments: str, cwd: Path, toolbox: Toolbox) -> subprocess.CompletedProcess[str]:
    """The checkov of `toolbox` with `arguments` in `cwd`, as the command would run there; the caller judges the
    exit status."""
    return _server.run(arguments, cwd, toolbox)
