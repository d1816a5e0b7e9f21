"""The `image` check: the repository's Dockerfile built by a real engine, and its container run as a pod.

The image must name a numeric, non-root user itself (not one forced at run
time); its container, read-only with every capability dropped, must answer
/healthz and /readyz on the HTTP API port, SERVING from the gRPC health
service about the server and about liveness where it serves gRPC, and
/metrics on the metrics port only; pass its own HEALTHCHECK; and exit 0
within the grace period after SIGTERM.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from generator.checks.context import CheckContext
from generator.checks.database.server import DATABASE_URL_UNREACHABLE, has_database
from generator.images.build import (
    DEFAULT_GRACE_SECONDS,
    BuiltImage,
    Served,
    build_image,
    serve_and_probe,
)
from generator.images.engine import find_engine
from generator.images.standins import BaseImages
from generator.project import kube
from generator.project.ports import grpc_port, service_ports
from generator.runtime.errors import GosvcError
from generator.runtime.outcome import NOTE, Outcome
from generator.tools import Toolbox

_NUMERIC_USER = re.compile(r"(?P<uid>[0-9]+)(:[0-9]+)?")


def check_image(context: CheckContext) -> Outcome:
    """With `context.offline_standins`, nothing is pulled: the base images are local images or stand-ins."""
    engine = find_engine()
    base_images = BaseImages(engine, standins=context.offline_standins)
    repo, answers = context.repo.resolve(), context.answers
    name = re.sub(r"[^a-z0-9]+", "-", repo.name.lower()).strip("-")[:100] or "service"
    tag = f"gosvc-check/{name}:{hashlib.sha256(str(repo).encode()).hexdigest()[:12]}"  # one per folder
    grace, grace_source, shutdown = _deployed_shutdown(repo, context.tools)
    report: list[str] = []
    database_down = has_database(context)
    if database_down:
        report.append(f"{NOTE}no database answers the container: it must serve, and be unready because of it")
    try:
        built = build_image(engine, repo, tag, base_images=base_images)
        report += _describe_build(built)
        served = serve_and_probe(
            engine,
            tag,
            *service_ports(answers),
            context.tools,
            grace_seconds=grace,
            grpc_port=grpc_port(answers),
            environment={**shutdown, **({"DATABASE_URL": DATABASE_URL_UNREACHABLE} if database_down else {})},
        )
    except GosvcError as error:
        return Outcome(False, "\n".join([str(error), *report]))
    finally:
        engine.run("image", "rm", "--force", tag, check=False)
    problems = _user_problems(built.user) + _serve_problems(served, grace, database_down)
    http = (
        f"/healthz {served.healthz_status}, /readyz {served.readyz_status}, /metrics {served.metrics_status} on the "
        f"metrics port and {served.metrics_on_api_port_status} on the API port"
        if served.healthz_status is not None
        else f"no HTTP API, /metrics {served.metrics_status} on the metrics port"
    )
    report.append(
        f"container: {http}; HEALTHCHECK {served.health}; up in {served.seconds_to_healthy:.1f}s; processes as uid "
        f"{', '.join(sorted(set(served.process_uids))) or 'none'}"
    )
    if served.grpc_health:
        said = (f"{service or 'server'} {status}" for service, status in served.grpc_health)
        report.append("gRPC health: " + ", ".join(said))
    report.append(
        f"SIGTERM: exit code {served.exit_code} after {served.stop_seconds:.1f}s "
        f"(grace period {grace}s, {grace_source}; "
        f"{', '.join(f'{key}={value}' for key, value in shutdown.items()) or 'the service defaults'})"
    )
    return Outcome(not problems, "\n".join([*problems, *report]))


def _describe_build(built: BuiltImage) -> list[str]:
    lines = [f"built in {built.seconds:.1f}s: {built.size_mib:.1f} MiB, user {built.user or '(none)'}"]
    lines += [f"base image {image.describe()}" for image in built.base_images]
    lines += [f"built as a changed copy: {change}" for change in built.changes]
    standins = [image.ref for image in built.base_images if not image.is_real]
    if standins:
        lines.append(f"{NOTE}built on local stand-ins, not the real base images: {', '.join(standins)}")
    return lines


def _user_problems(user: str) -> list[str]:
    match = _NUMERIC_USER.fullmatch(user)
    if match is None:
        return [f"the image's user is {user or 'unset (root)'}: it must be numeric (uid or uid:gid), so that "
                "Kubernetes can verify runAsNonRoot"]  # fmt: skip
    if int(match["uid"]) == 0:
        return ["the image's user is root (uid 0)"]
    return []


def _serve_problems(served: Served, grace: int, database_down: bool) -> list[str]:
    """With `database_down`, the service's database is unreachable: it must be unready, and alive."""
    problems = []
    serves_http = served.healthz_status is not None
    ready = 503 if database_down else 200
    for path, status, want in (("/healthz", served.healthz_status, 200), ("/readyz", served.readyz_status, ready)):
        if serves_http and status != want:
            problems.append(f"{path} answered {status or 'nothing'}, not {want}")
    if served.metrics_status != 200 or not re.search(r"^go_goroutines \d+$", served.metrics, re.MULTILINE):
        problems.append(f"/metrics on the metrics port answered {served.metrics_status} without Go runtime metrics")
    if serves_http and served.metrics_on_api_port_status != 404:
        problems.append(f"/metrics on the API port answered {served.metrics_on_api_port_status}: metrics are public")
    for service, said in served.grpc_health:
        unready = database_down and not service  # the server's own status follows readiness; liveness does not
        if unready and "NOT_SERVING" not in said:
            problems.append(f"the gRPC health service answered {said} about the server, not NOT_SERVING")
        elif not unready and said != "SERVING":
            problems.append(f"the gRPC health service answered {said} about {service or 'the server'}, not SERVING")
    if served.health != "healthy":
        problems.append(f"the image's HEALTHCHECK did not pass: {served.health}")
    if "0" in served.process_uids:
        problems.append("a process of the container runs as root")
    if served.exit_code != 0:
        problems.append(f"after SIGTERM the container exited with {served.exit_code}, not 0")
    if served.stop_seconds >= grace:
        problems.append(f"shutting down took {served.stop_seconds:.1f}s, the whole grace period ({grace}s)")
    return problems


_SHUTDOWN_SETTINGS = ("SHUTDOWN_DRAIN_DELAY", "SHUTDOWN_TIMEOUT")


def _deployed_shutdown(repo: Path, toolbox: Toolbox) -> tuple[int, str, dict[str, str]]:
    """The Deployment's terminationGracePeriodSeconds, where it came from, and the shutdown settings its ConfigMap
    gives the pod: the container is stopped as the pod would be (the service's own defaults are a local run's)."""
    base = kube.base_source(repo)
    try:
        rendered = kube.render_base(repo, toolbox)
    except kube.RenderError as error:
        return DEFAULT_GRACE_SECONDS, f"the Kubernetes default: {error}", {}
    settings = {key: str(value) for key, value in rendered.settings().items() if key in _SHUTDOWN_SETTINGS}
    for deployment in rendered.of_kind("Deployment"):
        seconds = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        return int(seconds), f"from the Deployment in {base}", settings
    return DEFAULT_GRACE_SECONDS, f"the Kubernetes default: no Deployment in {base}", settings
