"""Building a generated repository's image with a real engine, and checking that its container serves.

The Dockerfile is built as the repository ships it. Where this machine cannot
have what it names (a base image pinned by registry digest, the `# syntax`
frontend image) and has to build a changed copy instead, every change is
listed in the result, never made silently.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generator.images.engine import Engine, EngineCommandError
from generator.images.standins import BaseImage, BaseImages
from generator.runtime.errors import GosvcError
from generator.runtime.processes import http_get
from generator.tools import Toolbox

NONROOT_USER = "65532:65532"
BUILD_TIMEOUT_SECONDS = 900.0
STARTUP_TIMEOUT_SECONDS = 30.0
DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds

_FROM = re.compile(
    r"^(?P<head>\s*FROM\s+(?:--platform=\S+\s+)?)(?P<ref>\S+)(?P<tail>(?:\s+AS\s+(?P<stage>\S+))?\s*)$", re.IGNORECASE
)
_SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(?P<ref>\S+)\s*$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^#\s*\w+\s*=")
_CACHE_MOUNT = re.compile(r"--mount=(?P<options>[^\s\\]*type=cache[^\s\\]*)")


class ImageBuildError(GosvcError):
    """`docker build` failed; the message ends with the build's output."""


class ContainerServeError(GosvcError):
    """The container did not start, or did not answer as a generated service must."""


@dataclass(frozen=True)
class BuiltImage:
    """An image built from a generated repository."""

    tag: str
    seconds: float
    size_bytes: int
    user: str  # Config.User of the image
    base_images: tuple[BaseImage, ...]
    changes: tuple[str, ...]  # how the Dockerfile built differs from the repository's, one sentence each
    log: str
    cold: bool = False

    @property
    def size_mib(self) -> float:
        return self.size_bytes / 2**20


@dataclass(frozen=True)
class Served:
    """What a running container answered through its published ports. A service without an HTTP API answers
    no /healthz, /readyz or /metrics on it: their statuses are None."""

    healthz_status: int | None
    readyz_status: int | None
    metrics_status: int
    metrics: str
    metrics_on_api_port_status: int | None
    seconds_to_healthy: float
    health: str  # what the image's own HEALTHCHECK reported: healthy, or why not
    config_user: str  # Config.User of the container
    process_uids: tuple[str, ...]  # effective user ids of its processes, as the host sees them
    stop_seconds: float  # from SIGTERM to the container's exit
    exit_code: int  # after SIGTERM; 0 is a clean shutdown
    grpc_health: tuple[tuple[str, str], ...] = ()  # health service name ("" the server) and what it answered


@dataclass(frozen=True)
class DockerfilePlan:
    """The Dockerfile text to build and how it differs from the repository's."""

    text: str
    base_images: tuple[BaseImage, ...]
    changes: tuple[str, ...]


def plan_dockerfile(text: str, base_images: BaseImages) -> DockerfilePlan:
    """Resolve every base image `text` names, and adapt it to what this engine can have."""
    lines = text.splitlines(keepends=True)
    changes: list[str] = []
    resolved: list[BaseImage] = []
    stages: set[str] = set()
    in_directives = True
    for index, line in enumerate(lines):
        if in_directives and (syntax := _SYNTAX.match(line)):
            frontend = syntax["ref"]
            pull_error = base_images.pull_error(frontend)
            if pull_error:
                lines[index] = ""
                changes.append(
                    f"dropped the `# syntax={frontend}` line: that frontend image cannot be pulled ({pull_error}), "
                    "so the engine's built-in Dockerfile frontend parses the file (it supports RUN cache mounts)"
                )
            continue
        in_directives = in_directives and bool(_DIRECTIVE.match(line))
        match = _FROM.match(line)
        if match is None:
            continue
        ref = match["ref"]
        if match["stage"]:
            stages.add(match["stage"].lower())
        if ref.lower() == "scratch" or ref.lower() in stages:
            continue
        image = base_images.ensure(ref)
        resolved.append(image)
        if image.local_ref != ref:
            lines[index] = f"{match['head']}{image.local_ref}{match['tail']}"
            if not lines[index].endswith("\n") and line.endswith("\n"):
                lines[index] += "\n"
            changes.append(
                f"FROM {ref} became FROM {image.local_ref}: that image cannot be pulled and no local image "
                "can carry its registry digest, so a stand-in under another tag takes its place"
            )
    return DockerfilePlan(text="".join(lines), base_images=tuple(resolved), changes=tuple(changes))


def build_image(
    engine: Engine,
    project: Path,
    tag: str,
    *,
    base_images: BaseImages,
    build_args: dict[str, str] | None = None,
    cold: bool = False,
    timeout: float = BUILD_TIMEOUT_SECONDS,
) -> BuiltImage:
    """Build `project`'s Dockerfile into `tag`, on the base images `base_images` resolves.

    A `cold` build measures what a fresh machine pays: no layer cache, and
    cache mounts of its own, so modules are downloaded and every package is
    compiled again, while the caches other builds share stay as they are.
    """
    dockerfile = project / "Dockerfile"
    try:
        original = dockerfile.read_text(encoding="utf-8")
    except OSError as error:
        raise ImageBuildError(f"cannot read {dockerfile}: {error.strerror}") from error
    plan = plan_dockerfile(original, base_images)
    if cold:
        plan = isolate_cache_mounts(plan, f"gosvc-cold-{uuid.uuid4().hex[:12]}")
    arg_flags = [flag for key, value in (build_args or {}).items() for flag in ("--build-arg", f"{key}={value}")]
    with _dockerfile_to_build(dockerfile, plan) as path:
        started = time.monotonic()
        try:
            result = engine.run(
                "build",
                "--progress=plain",
                "--file",
                str(path),
                "--tag",
                tag,
                *(["--no-cache"] if cold else []),
                *arg_flags,
                str(project),
                timeout=timeout,
                check=False,
            )
        except EngineCommandError as error:
            raise ImageBuildError(f"building {tag} from {project}: {error}") from error
        seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise ImageBuildError(f"docker build of {project} failed:\n{_tail(log)}")
    inspected = engine.image_config(tag)
    if inspected is None:
        raise ImageBuildError(f"docker build reported success but {tag} is not in the local image store")
    return BuiltImage(
        tag=tag,
        seconds=seconds,
        size_bytes=int(inspected.get("Size", 0)),
        user=str((inspected.get("Config") or {}).get("User") or ""),
        base_images=plan.base_images,
        changes=plan.changes,
        log=log,
        cold=cold,
    )


def isolate_cache_mounts(plan: DockerfilePlan, prefix: str) -> DockerfilePlan:
    """`plan` with each cache mount's id put under `prefix`: it starts empty and no other build shares it."""

    def own_id(match: re.Match[str]) -> str:
        options = dict(option.partition("=")[::2] for option in match["options"].split(","))
        options["id"] = f"{prefix}{options.get('id') or options.get('target') or options.get('dst', '')}"
        return "--mount=" + ",".join(f"{key}={value}" if value else key for key, value in options.items())

    return DockerfilePlan(
        text=_CACHE_MOUNT.sub(own_id, plan.text),
        base_images=plan.base_images,
        changes=(*plan.changes, "cold build: no layer cache, and cache mounts of its own that start empty"),
    )


def serve_and_probe(
    engine: Engine,
    image: str,
    port: int | None,
    metrics_port: int,
    toolbox: Toolbox,
    *,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    grpc_port: int | None = None,
    environment: Mapping[str, str] | None = None,
) -> Served:
    """Run `image` as a hardened pod would; call /healthz and /readyz on the HTTP API port `port` (None: the
    service serves gRPC alone) and /metrics on the metrics port, both published on loopback; wait for the
    image's own HEALTHCHECK to report the container healthy; with `grpc_port`, ask its gRPC health service about
    the server and about liveness, as the kubelet's gRPC probe does (the grpc-health-probe of `toolbox`), and
    without an HTTP port wait for liveness to answer SERVING first; then stop it as Kubernetes does, SIGTERM and
    SIGKILL after `grace_seconds`. `environment` is what the container is given besides its image's, as a pod's
    settings.

    The container runs with a read-only root file system, a /tmp tmpfs, no
    capabilities and no privilege escalation, as the user its image names.
    It is always removed afterwards.
    """
    name = f"gosvc-probe-{uuid.uuid4().hex[:12]}"
    try:
        engine.run(
            "run", "--detach", "--name", name,
            "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            *[argument for published in (port, metrics_port, grpc_port) if published
              for argument in ("--publish", f"127.0.0.1::{published}")],
            # The image's HEALTHCHECK, checked every second instead of every ten.
            "--health-interval", "1s", "--health-start-period", "1s",
            *[argument for key, value in (environment or {}).items() for argument in ("--env", f"{key}={value}")],
            image,
            timeout=60, what=f"cannot start a container of {image}",
        )  # fmt: skip
        metrics_url = f"http://{_published_address(engine, name, metrics_port)}"
        grpc_address = _published_address(engine, name, grpc_port) if grpc_port else ""
        started = time.monotonic()
        healthz = readyz = metrics_on_api_port_status = None
        if port:
            base_url = f"http://{_published_address(engine, name, port)}"
            healthz = _wait_until_healthy(engine, name, f"{base_url}/healthz", startup_timeout)
        else:
            _wait_until_healthy(engine, name, f"{grpc_address} (gRPC health of liveness)", startup_timeout,
                                lambda: grpc_health(grpc_address, "liveness", toolbox))  # fmt: skip
        seconds_to_healthy = time.monotonic() - started
        if port:
            readyz, _ = http_get(f"{base_url}/readyz")
            metrics_on_api_port_status, _ = http_get(f"{base_url}/metrics")
        metrics_status, metrics = http_get(f"{metrics_url}/metrics")
        health = _wait_for_health_check(engine, name, startup_timeout)
        services = ("", "liveness") if grpc_port else ()
        health_answers = tuple((service, grpc_health(grpc_address, service, toolbox)) for service in services)
        config_user = engine.run("inspect", "--format", "{{.Config.User}}", name).stdout.strip()
        top = engine.run("top", name, "-o", "pid,uid").stdout
        uids = tuple(line.split()[1] for line in top.splitlines()[1:] if len(line.split()) == 2)
        stopping = time.monotonic()
        engine.run("stop", "--time", str(grace_seconds), name, timeout=grace_seconds + 60.0)
        stop_seconds = time.monotonic() - stopping
        exit_code = int(engine.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() or -1)
    except EngineCommandError as error:
        raise _stopped(engine, name, "while being probed") or ContainerServeError(str(error)) from error
    finally:
        engine.run("rm", "--force", "--volumes", name, timeout=60, check=False)
    return Served(
        healthz_status=healthz,
        readyz_status=readyz,
        metrics_status=metrics_status,
        metrics=metrics,
        metrics_on_api_port_status=metrics_on_api_port_status,
        seconds_to_healthy=seconds_to_healthy,
        health=health,
        config_user=config_user,
        process_uids=uids,
        stop_seconds=stop_seconds,
        exit_code=exit_code,
        grpc_health=health_answers,
    )


def grpc_health(address: str, service: str, toolbox: Toolbox) -> str:
    """What the gRPC health service at `address` answers about `service` (asked by the grpc-health-probe of
    `toolbox`): SERVING, or why not."""
    probe = subprocess.run(
        [str(toolbox.find("grpc-health-probe")), f"-addr={address}", f"-service={service}", "-connect-timeout=5s"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    said = (probe.stdout + probe.stderr).strip()
    return "SERVING" if probe.returncode == 0 else said or f"exit status {probe.returncode}"


@contextmanager
def _dockerfile_to_build(dockerfile: Path, plan: DockerfilePlan) -> Iterator[Path]:
    """The repository's Dockerfile itself, or a changed copy kept outside the build context."""
    if not plan.changes:
        yield dockerfile
        return
    with tempfile.TemporaryDirectory(prefix="gosvc-dockerfile-") as folder:
        copy = Path(folder) / "Dockerfile"
        copy.write_text(plan.text, encoding="utf-8")
        yield copy


def _published_address(engine: Engine, container: str, port: int) -> str:
    mapping = engine.run("port", container, f"{port}/tcp", what=f"container {container} publishes no port {port}")
    for line in mapping.stdout.splitlines():
        if line.startswith("127.0.0.1:"):
            return line.strip()
    raise ContainerServeError(f"container {container} did not publish port {port} on 127.0.0.1: {mapping.stdout!r}")


def _wait_until_healthy(
    engine: Engine, container: str, url: str, timeout: float, ask: Callable[[], str] | None = None
) -> int:
    """Ask until the container answers healthy: GET `url` until 200, or `ask` (`url` names what it asks) until
    SERVING."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    healthy = "SERVING" if ask else "200"
    while time.monotonic() < deadline:
        if ask:
            said = ask()
            if said == healthy:
                return 200
            last = said
        else:
            status, body = http_get(url)
            if status == 200:
                return status
            last = f"HTTP {status}: {body[:200]}" if status else body
        if stopped := _stopped(engine, container, f"before {url} answered {healthy}"):
            raise stopped
        time.sleep(0.25)
    logs = engine.run("logs", container, check=False)
    raise ContainerServeError(
        f"{url} did not answer {healthy} within {timeout:.0f}s (last: {last}); the container's output:\n"
        + _tail(logs.stdout + logs.stderr)
    )


def _wait_for_health_check(engine: Engine, container: str, timeout: float) -> str:
    """What the image's HEALTHCHECK says once it has run: "healthy", or the state and its last output."""
    deadline = time.monotonic() + timeout
    state = "no HEALTHCHECK result"
    while time.monotonic() < deadline:
        inspected = engine.run("inspect", "--format", "{{json .State.Health}}", container).stdout.strip()
        health = json.loads(inspected) if inspected and inspected != "null" else None
        if health is None:
            return "the image has no HEALTHCHECK"
        if health.get("Status") == "healthy":
            return "healthy"
        log = health.get("Log") or []
        state = f"{health.get('Status')}: {log[-1].get('Output', '').strip() if log else 'no check has run yet'}"
        time.sleep(0.25)
    return state


def _stopped(engine: Engine, container: str, when: str) -> ContainerServeError | None:
    """An error telling how the container ended and what it printed, or None while it runs."""
    state = engine.run("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container, check=False)
    status, _, code = state.stdout.strip().partition(" ")
    if state.returncode != 0 or status == "running":
        return None
    logs = engine.run("logs", container, check=False)
    return ContainerServeError(
        f"the container stopped ({status}, exit code {code}) {when}; its output:\n" + _tail(logs.stdout + logs.stderr)
    )


def _tail(text: str, lines: int = 60) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(kept)
