"""The container engine gosvc builds and runs images with: Docker's client, with BuildKit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.runtime.errors import GosvcError, ToolMissingError

CLIENT_ENV_VAR = "GOSVC_DOCKER"
# Debian's client builds with BuildKit on its own; a client from elsewhere may need the buildx plugin.
PREFERRED_CLIENT = Path("/usr/bin/docker")
INSTALL_HINT = (
    "install Docker (on Debian: apt-get install docker.io, then start dockerd as root; bash .ci/docker.sh does both)"
)


class EngineMissingError(ToolMissingError):
    """No docker client is installed."""


class EngineUnavailableError(ToolMissingError):
    """The docker client is there but no engine answers it: for the checks, a tool that is missing."""


class EngineCommandError(GosvcError):
    """A docker command failed; its output is part of the message."""

    def __init__(self, what: str, output: str) -> None:
        super().__init__(f"{what}:\n{output.rstrip()}" if output.strip() else what)
        self.output = output


@dataclass(frozen=True)
class Engine:
    """A docker client known to reach a running engine."""

    client: str

    def run(
        self,
        *args: str,
        stdin_path: Path | None = None,
        timeout: float | None = None,
        what: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS`; raise EngineCommandError naming `what` when it fails and `check` holds."""
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        description = what or f"docker {' '.join(args[:2])} failed"
        try:
            if stdin_path is None:
                result = subprocess.run(
                    [self.client, *args],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            else:
                with stdin_path.open("rb") as stdin:
                    raw = subprocess.run(
                        [self.client, *args],
                        env=env,
                        stdin=stdin,
                        capture_output=True,
                        timeout=timeout,
                        check=False,
                    )
                result = subprocess.CompletedProcess(raw.args, raw.returncode, _text(raw.stdout), _text(raw.stderr))
        except subprocess.TimeoutExpired as error:
            output = _text(error.stdout) + _text(error.stderr)
            raise EngineCommandError(f"{description} (no answer within {timeout:.0f}s)", output) from error
        if check and result.returncode != 0:
            raise EngineCommandError(description, result.stdout + result.stderr)
        return result

    def image_config(self, ref: str) -> dict[str, Any] | None:
        """`docker image inspect` of a local image, or None when the local store lacks it."""
        result = self.run("image", "inspect", ref, check=False)
        if result.returncode != 0:
            return None
        inspected = json.loads(result.stdout)
        return inspected[0] if inspected else None


def find_engine(timeout: float = 30) -> Engine:
    """The docker client to use, after checking that an engine answers it."""
    client = _find_client()
    try:
        result = subprocess.run(
            [client, "info", "--format", "{{.ServerVersion}}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise EngineUnavailableError(
            f"the docker engine did not answer `{client} info` within {timeout:.0f}s"
        ) from error
    if result.returncode != 0 or not result.stdout.strip():
        raise EngineUnavailableError(
            f"no docker engine answers {client}: {(result.stderr or result.stdout).strip()}; "
            "start it as root (dockerd, or bash .ci/docker.sh)"
        )
    return Engine(client=client)


def _find_client() -> str:
    if configured := os.environ.get(CLIENT_ENV_VAR):
        if shutil.which(configured) is None:
            raise EngineMissingError(f"{CLIENT_ENV_VAR}={configured} is not an executable docker client")
        return configured
    if PREFERRED_CLIENT.is_file() and os.access(PREFERRED_CLIENT, os.X_OK):
        return str(PREFERRED_CLIENT)
    if found := shutil.which("docker"):
        return found
    raise EngineMissingError(f"building images needs docker, which is not installed: {INSTALL_HINT}")


def _text(output: bytes | str | None) -> str:
    if output is None:
        return ""
    return output if isinstance(output, str) else output.decode(errors="replace")
