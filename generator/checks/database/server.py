"""Where the checks of a repository with a database find their PostgreSQL server: the run's own, or one started
for the check alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from generator.checks.context import CheckContext
from generator.checks.steps import command
from generator.runtime.errors import GosvcError
from generator.runtime.outcome import Outcome
from generator.servers.postgres import Postgres, local_postgres

DATABASE_URL_UNREACHABLE = "postgres://check@127.0.0.1:1/none?connect_timeout=1"
"""A database URL that refuses every connection at once: the service starts, and is unready because of it."""


def has_database(context: CheckContext) -> bool:
    """Whether the repository's answers give the service a database."""
    try:
        database = context.answers.get("database", "none")
    except GosvcError:  # an unreadable answers file fails the checks that read it, with the reason
        return False
    return bool(database != "none")


@contextlib.contextmanager
def postgres_server(context: CheckContext) -> Iterator[Postgres]:
    """The run's server (run_checks gives every run one), else one for the block."""
    if context.postgres is not None:
        yield context.postgres.get()
        return
    with local_postgres(context.tools) as postgres:
        yield postgres


def go_test(context: CheckContext) -> Outcome:
    """`go test -race ./...`; with a database, against the run's server, and required: a test that needs the
    database fails without it instead of skipping. Go keeps a package's passing result by its test binary, the
    environment it read and the files it opened: a package no answer changes is tested once across variants (the
    Makefile's target runs every test every time, as a developer expects)."""
    run = command("go", "test", "-race", "./...")
    if not has_database(context):
        return run(context)
    with postgres_server(context) as postgres:
        return run(context, {"TEST_DATABASE_URL": postgres.admin_url, "TEST_DATABASE_REQUIRED": "1"})
