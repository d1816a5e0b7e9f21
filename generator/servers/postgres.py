"""A PostgreSQL server on loopback for the checks of a repository with a database: initdb into a scratch folder,
the server on a free port, a database of its own for each check that asks, dropped afterwards.

PostgreSQL refuses to run as root: as root (CI), the data folder belongs to the `postgres` user the Debian
package creates, and initdb and the server run as that user. The server trusts every local connection: it
listens on 127.0.0.1 only, and lives as long as the run of checks. Durability is traded for speed (no fsync),
which changes nothing a check proves.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.runtime.errors import GosvcError
from generator.runtime.processes import Server, free_port, start
from generator.tools import Toolbox

SUPERUSER = "postgres"
"""The role initdb creates, and the user the server runs as under root."""
READY_TIMEOUT_SECONDS = 30
SQL_TIMEOUT_SECONDS = 30


class PostgresError(GosvcError):
    """The local server did not start, or refused a statement."""


@dataclass
class Postgres:
    """A running server: its admin URL (the superuser on database postgres), and the databases made on it."""

    port: int
    psql: Path
    _made: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its output, unaligned and without headers."""
        argv = [str(self.psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database)]
        try:
            done = subprocess.run(
                [*argv, "-c", statement], capture_output=True, text=True, timeout=SQL_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise PostgresError(f"psql: {statement!r} took over {SQL_TIMEOUT_SECONDS}s") from error
        if done.returncode != 0:
            raise PostgresError(f"psql: {statement!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    @contextlib.contextmanager
    def database(self, purpose: str) -> Iterator[str]:
        """A new empty database for `purpose` (letters and dashes), dropped when the block ends: its URL."""
        name = f"{purpose.replace('-', '_')}_{os.getpid()}_{next(self._made)}"
        self.sql(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def refuse_connections(self, url: str) -> None:
        """Make the database of `url` go away for its clients, as a failed-over or stopped server does: it refuses
        new connections and ends every session it has. Other databases of the server, other checks', go on."""
        name = database_of(url)
        self.sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        self.sql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'")

    def accept_connections(self, url: str) -> None:
        self.sql(f'ALTER DATABASE "{database_of(url)}" ALLOW_CONNECTIONS true')


class SharedPostgres:
    """One server for a whole run of checks (a matrix, a test session), started by the first check that asks
    for it, so that a run whose results are all kept, or without a database, starts none; stopped by `close`."""

    def __init__(self, toolbox: Toolbox) -> None:
        self._toolbox = toolbox
        self._stack = contextlib.ExitStack()
        self._server: Postgres | None = None
        self._lock = threading.Lock()

    def get(self) -> Postgres:
        with self._lock:
            if self._server is None:
                self._server = self._stack.enter_context(local_postgres(self._toolbox))
            return self._server

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._server = None

    def __enter__(self) -> SharedPostgres:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def database_of(url: str) -> str:
    """The database a URL of this server names."""
    return url.rsplit("/", 1)[1].split("?", 1)[0]


@contextlib.contextmanager
def local_postgres(toolbox: Toolbox) -> Iterator[Postgres]:
    """A PostgreSQL server of the machine's installation on a free loopback port, in a scratch folder removed
    afterwards."""
    initdb = toolbox.find("initdb")
    server_binary = initdb.resolve().parent / "postgres"
    scratch = Path(tempfile.mkdtemp(prefix="gosvc-postgres-"))
    as_user = _unprivileged(scratch)
    server: Server | None = None
    try:
        data = scratch / "data"
        initialised = subprocess.run(
            [*as_user, str(initdb), "-D", str(data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-sync"],
            capture_output=True,
            text=True,
            check=False,
        )
        if initialised.returncode != 0:
            raise PostgresError(f"initdb failed: {(initialised.stdout + initialised.stderr).strip()[-2000:]}")
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(scratch),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        flags = [f"--{key}={value}" for key, value in settings.items()]
        server = start("postgres", [*as_user, str(server_binary), "-D", str(data), *flags], scratch / "server.log")
        postgres = Postgres(port, toolbox.find("psql"))
        _wait_until_ready(postgres, server)
        yield postgres
    finally:
        if server is not None:
            # A fast shutdown ends the sessions still open; SIGTERM alone would wait for them to end.
            pg_ctl = [str(server_binary.parent / "pg_ctl"), "stop", "-D", str(scratch / "data"), "-m", "fast", "-w"]
            subprocess.run([*as_user, *pg_ctl], capture_output=True, check=False)
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _unprivileged(scratch: Path) -> Sequence[str]:
    """The prefix that runs a command as the unprivileged user the server needs, with `scratch` handed to it; none
    when gosvc itself is not root."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError as error:
        raise PostgresError(
            f"PostgreSQL does not run as root, and there is no {SUPERUSER!r} user to run it as: install PostgreSQL "
            "from the distribution's package (Debian: apt-get install postgresql), which creates it"
        ) from error
    os.chown(scratch, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", SUPERUSER, "--"]


def _wait_until_ready(postgres: Postgres, server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if server.exited() is not None:
            raise PostgresError(f"the PostgreSQL server exited with {server.exited()}:\n{server.output()}")
        try:
            postgres.sql("SELECT 1")
            return
        except PostgresError as error:
            if time.monotonic() > deadline:
                raise PostgresError(f"PostgreSQL did not answer within {READY_TIMEOUT_SECONDS}s: {error}") from error
        time.sleep(0.1)
