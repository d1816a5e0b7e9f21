"""Every base image's Dockerfile builds on a real engine, and its container serves as a pod would run it.

Base images are pulled, unless GOSVC_OFFLINE_STANDINS=1 (as CI sets it on a
machine no registry answers) asks for local stand-ins. The terminal summary
says which, with each image's build time and size, so CI output never hides
that an image was a stand-in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from generator.images.build import (
    NONROOT_USER,
    BuiltImage,
    Served,
    build_image,
    plan_dockerfile,
    serve_and_probe,
)
from generator.images.engine import Engine, EngineMissingError, EngineUnavailableError, find_engine
from generator.images.standin_recipes import StandInError
from generator.images.standins import BaseImage, BaseImages, Source, offline_standins, standin_tag
from generator.matrix.variants import choices
from generator.project.answers_file import read_answers
from generator.project.ports import service_ports
from generator.runtime.errors import GosvcError
from generator.template.render import NewProject
from generator.tools import Toolbox

VERSION = "gosvc-image-test"
# GOSVC_IMAGE_BUILD=cold measures builds as on a fresh machine (no layer cache, empty Go caches of their own).
COLD = os.environ.get("GOSVC_IMAGE_BUILD", "") == "cold"
Render = Callable[..., NewProject]
CHAINGUARD = "cgr.dev/chainguard/static@sha256:6b35c7e7084349b3a71e70219f61ea49b22d663b89b0ea07474e5b44cbc70860"


@dataclass
class ImageSession:
    """The engine (or why there is none), the base images resolved once, and what each build measured."""

    engine: Engine | None
    engine_error: str
    base_images: BaseImages | None
    results: dict[str, tuple[BuiltImage, Served | None]] = field(default_factory=dict)

    def require_engine(self) -> tuple[Engine, BaseImages]:
        if self.engine is None or self.base_images is None:
            pytest.fail(f"image builds need a running docker engine: {self.engine_error}", pytrace=False)
        return self.engine, self.base_images

    # Registered as a pytest plugin by the fixture below, so the summary shows even with -q.
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.base_images is None:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "image builds" + (" (cold)" if COLD else ""))
        write(f"{'base_image':<12} {'build s':>8} {'size MiB':>9} {'healthy s':>10}  {'user':<12} bases")
        for variant, (built, served) in self.results.items():
            healthy = f"{served.seconds_to_healthy:10.2f}" if served else f"{'-':>10}"
            bases = ", ".join(f"{image.ref.split('@')[0]} {_provenance(image)}" for image in built.base_images)
            write(f"{variant:<12} {built.seconds:8.1f} {built.size_mib:9.1f} {healthy}  {built.user:<12} {bases}")
        resolved = self.base_images.resolved
        standins = [image for image in resolved if not image.is_real]
        write(f"base images: {len(resolved) - len(standins)} real, {len(standins)} stand-ins")
        for image in resolved:
            write(f"  {image.describe()}")
        for error in sorted({image.pull_error for image in standins}):
            write(f"  not pulled: {error}")
        unverified = sorted(image.ref for image in standins if "@sha256:" in image.ref)
        if unverified:
            write("digests pinned in the Dockerfiles that could not be verified against their registry here:")
            for ref in unverified:
                write(f"  {ref}")
        changes = sorted({change for built, _ in self.results.values() for change in built.changes})
        if changes:
            write("Dockerfiles built as changed copies:")
            for change in changes:
                write(f"  {change}")


def _provenance(image: BaseImage) -> str:
    return "(real)" if image.is_real else "(stand-in)"


@pytest.fixture(scope="session")
def images(request: pytest.FixtureRequest) -> Iterator[ImageSession]:
    try:
        engine = find_engine()
    except GosvcError as error:
        session = ImageSession(engine=None, engine_error=str(error), base_images=None)
    else:
        base_images = BaseImages(engine, standins=offline_standins())
        session = ImageSession(engine=engine, engine_error="", base_images=base_images)
    request.config.pluginmanager.register(session, "gosvc-image-report")
    yield session


@pytest.mark.slow
@pytest.mark.parametrize("base_image", choices()["base_image"])
def test_image_builds_and_serves(base_image: str, render: Render, images: ImageSession) -> None:
    engine, base_images = images.require_engine()
    project = render({"base_image": base_image}).dest
    tag = f"gosvc-test/orders-api:{base_image}"
    try:
        built = build_image(engine, project, tag, base_images=base_images, build_args={"VERSION": VERSION}, cold=COLD)
    except GosvcError as error:
        pytest.fail(str(error), pytrace=False)
    images.results[base_image] = (built, None)
    try:
        served = serve_and_probe(engine, tag, *service_ports(read_answers(project)), Toolbox.default())
    except GosvcError as error:
        pytest.fail(str(error), pytrace=False)
    images.results[base_image] = (built, served)

    assert built.user == NONROOT_USER
    assert served.config_user == NONROOT_USER
    assert served.process_uids, "the container runs no process"
    assert set(served.process_uids) == {NONROOT_USER.split(":")[0]}
    assert served.healthz_status == 200
    assert served.readyz_status == 200
    assert served.metrics_status == 200
    assert served.metrics_on_api_port_status == 404, "metrics have a port of their own"
    assert served.health == "healthy", "the image's HEALTHCHECK runs the healthcheck command"
    assert re.search(r"^go_goroutines \d+$", served.metrics, re.MULTILINE), served.metrics[:2000]
    assert re.search(r'^http_requests_total\{[^}]*route="/healthz"[^}]*\} [1-9]', served.metrics, re.MULTILINE)
    # Stopped as the kubelet stops a pod: SIGTERM, then SIGKILL (exit code 137) when the grace period ends (the
    # Kubernetes default, shorter than the Deployment's). Exit code 0 is a drain within it, however long it took.
    assert served.exit_code == 0, "SIGTERM drains and exits cleanly, before the grace period ends"
    assert re.search(rf'^build_info\{{[^}}]*version="{VERSION}"[^}}]*\}} 1$', served.metrics, re.MULTILINE)


class _FakeBaseImages(BaseImages):
    """Resolves without an engine: nothing pulls; every image is a stand-in under `standin_tag`."""

    def __init__(self) -> None:
        self._resolved = {}
        self._pull_errors = {}

    def pull_error(self, ref: str) -> str:
        return f"no registry serves {ref}"

    def ensure(self, ref: str) -> BaseImage:
        return BaseImage(ref, standin_tag(ref), Source.STANDIN, holds="test files")


def test_digest_pins_and_syntax_line_are_replaced_and_said() -> None:
    dockerfile = (
        "# syntax=docker/dockerfile:1\n\n"
        "FROM golang:1.26 AS build\nRUN go version\n"
        f"FROM {CHAINGUARD}\nCOPY --from=build /x /x\n"
        "FROM build AS again\n"
        "FROM scratch\n"
    )
    plan = plan_dockerfile(dockerfile, _FakeBaseImages())
    assert plan.text.splitlines()[:2] == ["", "FROM golang:1.26 AS build"]
    assert "FROM gosvc-standin/chainguard-static:sha256-6b35c7e70843\n" in plan.text
    assert "FROM build AS again\nFROM scratch\n" in plan.text
    assert [image.ref for image in plan.base_images] == ["golang:1.26", CHAINGUARD]
    assert len(plan.changes) == 2
    assert "# syntax=docker/dockerfile:1" in plan.changes[0]
    assert CHAINGUARD in plan.changes[1]


def test_no_docker_client_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOSVC_DOCKER", str(tmp_path / "docker"))
    with pytest.raises(EngineMissingError, match="not an executable docker client"):
        find_engine()


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = tmp_path / "docker"
    client.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    client.chmod(0o755)
    monkeypatch.setenv("GOSVC_DOCKER", str(client))
    with pytest.raises(EngineUnavailableError, match=r"no docker engine answers .*start it as root"):
        find_engine()


def test_an_image_no_registry_serves_needs_offline_standins_and_none_is_pulled_with_them(tmp_path: Path) -> None:
    """Without --offline-standins a failed pull is an error that says how to go on; with it nothing is pulled."""
    log = tmp_path / "docker.log"
    client = tmp_path / "docker"
    client.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "no registry answers" >&2\nexit 1\n')
    client.chmod(0o755)
    engine = Engine(str(client))

    with pytest.raises(StandInError, match=r"cannot pull golang:1\.26 \(no registry answers\); .*--offline-standins"):
        BaseImages(engine, standins=False).ensure("golang:1.26")
    assert "pull --quiet golang:1.26" in log.read_text()

    log.unlink()
    assert BaseImages(engine, standins=True).pull_error("golang:1.26") == "pulling is off"
    assert not log.exists(), "with stand-ins asked for, no registry is tried"
