"""The `database` check: the service's binary against a real PostgreSQL server, as its pods run it.

Two processes run `migrate up` at once, as the init containers of replicas starting together do: both must
succeed, and each migration be applied once (the advisory lock). Every migration is then reverted with
`migrate down`, one at a time, and applied again: each Down must undo its Up. The service then serves on the
migrated database: it must be ready, answer the example's route (while the repository has it) and count the
greetings in the database; when its database goes away (it refuses connections and ends every session, as a
stopped or failed-over server does) the service must turn unready without a restart, and ready again once the
database is back. It must stop on SIGTERM with exit status 0, and never have logged a query run without a
deadline.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from generator.checks.context import CheckContext
from generator.checks.database.server import postgres_server
from generator.checks.prometheus import queries, traffic
from generator.images.build import grpc_health
from generator.project.ports import grpc_port, service_ports
from generator.runtime.outcome import NOTE, Outcome
from generator.runtime.processes import Server, free_port, http_get
from generator.servers.postgres import Postgres, PostgresError, database_of

MIGRATIONS = "internal/database/migrations"
EXAMPLE_ROUTE = re.compile(r"\.Handle(?:Func)?\(\s*\"POST /greetings/\{name\}\"")
"""The example's route, registered in the repository's code (not its tests) while the team keeps it."""
READINESS_TIMEOUT_SECONDS = 30.0
"""Readiness checks run every 5 seconds, each ping bounded by 2: a change shows within two periods; this is slack."""
NO_DEADLINE = "database query without a deadline"
POLL_SECONDS = 0.1


class DatabaseFailure(Exception):
    """What the service did wrong against its database, in a sentence."""


def check_database(context: CheckContext) -> Outcome:
    repo = context.repo.resolve()
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gosvc-database-") as folder:
        scratch = Path(folder)
        try:
            binary, _ = traffic.build_service(repo, scratch, context.tools)
            with postgres_server(context) as postgres, postgres.database("database-check") as url:
                _migrate(binary, url, postgres, _migration_count(repo), scratch, report)
                _serve(context, repo, binary, url, postgres, scratch, report)
        except (DatabaseFailure, queries.E2EFailure, PostgresError) as failure:
            return Outcome(False, "\n".join([str(failure), *report]))
    return Outcome(True, "\n".join(report))


def _migration_count(repo: Path) -> int:
    count = len(list((repo / MIGRATIONS).glob("*.sql")))
    if count == 0:
        raise DatabaseFailure(f"no migration in {MIGRATIONS}: the service's tables come from nowhere")
    return count


def _environment(url: str, scratch: Path) -> dict[str, str]:
    return {"DATABASE_URL": url, "SECRETS_DIR": str(scratch / "secrets"), "PATH": "/usr/bin:/bin"}


def _migrate(binary: Path, url: str, postgres: Postgres, count: int, scratch: Path, report: list[str]) -> None:
    started = time.monotonic()
    env = _environment(url, scratch)
    racing = [
        subprocess.Popen(
            [str(binary), "migrate", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=traffic.MIGRATE_TIMEOUT_SECONDS)[0] for process in racing]
    for process, output in zip(racing, outputs, strict=True):
        if process.returncode != 0:
            raise DatabaseFailure(f"migrate up (two processes at once) exited with {process.returncode}:\n{output}")
    applied = sum(output.count("OK ") for output in outputs)
    recorded = int(postgres.sql("SELECT count(*) FROM goose_db_version WHERE version_id > 0", database_of(url)))
    if applied != count or recorded != count:
        raise DatabaseFailure(
            f"two processes running migrate up at once applied {applied} migrations and recorded {recorded}, not "
            f"each of the {count} once:\n" + "\n".join(outputs)
        )
    report.append(f"migrate up from two processes at once: {count} migrations applied once each")
    for step in range(count):
        _run(binary, env, f"migrate down ({step + 1} of {count})", "migrate", "down")
    status = _run(binary, env, "migrate status", "migrate", "status")
    if "applied" in status or status.count("pending") != count:
        raise DatabaseFailure(f"after {count} migrate down, migrate status does not list each pending:\n{status}")
    _run(binary, env, "migrate up after down", "migrate", "up")
    report.append(
        f"every migration reverted by migrate down and applied again ({time.monotonic() - started:.1f}s in all)"
    )


def _run(binary: Path, env: dict[str, str], what: str, *arguments: str) -> str:
    done = subprocess.run(
        [str(binary), *arguments], env=env, capture_output=True, text=True, timeout=traffic.MIGRATE_TIMEOUT_SECONDS
    )
    if done.returncode != 0:
        raise DatabaseFailure(f"{what} exited with {done.returncode}:\n{(done.stdout + done.stderr).strip()}")
    return done.stdout


def _serve(
    context: CheckContext, repo: Path, binary: Path, url: str, postgres: Postgres, scratch: Path, report: list[str]
) -> None:
    http_port, _ = service_ports(context.answers)
    api_port, metrics_port = free_port() if http_port else None, free_port()
    rpc_port = free_port() if grpc_port(context.answers) else None
    settings = {**traffic.service_settings(repo), "DATABASE_URL": url}
    server = traffic.start_service(binary, settings, scratch, api_port, metrics_port, rpc_port, None, context.tools)
    try:
        api, address = f"http://127.0.0.1:{api_port}", f"127.0.0.1:{rpc_port}"

        def ready() -> bool:
            if api_port:
                return http_get(f"{api}/readyz")[0] == 200
            return grpc_health(address, "", context.tools) == "SERVING"

        how = "GET /readyz" if api_port else "the gRPC health service"
        seconds = _wait(server, "the service to be ready on its migrated database", ready)
        report.append(f"service ready on the migrated database after {seconds:.1f}s ({how})")
        if api_port:
            report.append(_example_route(repo, api, postgres, url))
        postgres.refuse_connections(url)
        seconds = _wait(server, "the service to turn unready once its database went away", lambda: not ready())
        report.append(f"database gone (connections refused, sessions ended): unready after {seconds:.1f}s")
        postgres.accept_connections(url)
        seconds = _wait(server, "the service to be ready again once its database was back", ready)
        report.append(f"database back: ready again after {seconds:.1f}s, without a restart")
    finally:
        exit_code = server.stop()
    log = Path(server.log.name).read_text(errors="replace")
    if exit_code != 0:
        raise DatabaseFailure(f"after SIGTERM the service exited with {exit_code}, not 0:\n{server.output()}")
    if NO_DEADLINE in log:
        lines = [line for line in log.splitlines() if NO_DEADLINE in line]
        raise DatabaseFailure("the service ran queries without a deadline:\n" + "\n".join(lines[:5]))
    report.append("stopped on SIGTERM with exit status 0; no query ran without a deadline")


def _example_route(repo: Path, api: str, postgres: Postgres, url: str) -> str:
    sources = (path.read_text(errors="replace") for path in repo.rglob("*.go") if not path.name.endswith("_test.go"))
    if not any(EXAMPLE_ROUTE.search(source) for source in sources):
        return f"{NOTE}the example's POST /greetings/{{name}} is not among the team's routes: not driven"
    said = [_post(f"{api}/greetings/gosvc-check") for _ in range(2)]
    times = [answer.get("times") for answer in said]
    if times != [1, 2]:
        raise DatabaseFailure(f"POST /greetings/gosvc-check twice answered {said}, not times 1 then 2")
    stored = postgres.sql("SELECT times FROM greetings WHERE name = 'gosvc-check'", database_of(url))
    if stored != "2":
        raise DatabaseFailure(f"after two greetings the greetings table holds {stored or 'no row'}, not 2")
    return "POST /greetings/{name} twice: times 1 then 2, and the table holds 2"


def _post(url: str) -> dict[str, object]:
    request = urllib.request.Request(url, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DatabaseFailure(f"POST {url}: {error}") from error
    return answer if isinstance(answer, dict) else {}


def _wait(server: Server, what: str, condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    while not condition():
        if server.exited() is not None:
            raise DatabaseFailure(f"the service exited with {server.exited()} waiting for {what}:\n{server.output()}")
        if time.monotonic() - started > READINESS_TIMEOUT_SECONDS:
            raise DatabaseFailure(f"timed out after {READINESS_TIMEOUT_SECONDS:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started
