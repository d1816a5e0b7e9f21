"""An update killed at any point loses nothing: SIGTERM and SIGHUP put the repository back at once; after
SIGKILL, the journal lets the next update put it back, and that update ends exactly as an uninterrupted one.

The kill points are deterministic: a `git` on PATH counts the git commands the
update runs (Copier's and gosvc's alike, some three hundred) and, at the Nth,
signals the update process, then lets the git command run on. After SIGKILL
that git command outlives the process that started it, as it would in a CI
job killed by its timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.update import journal
from tests.conftest import HANG_GUARD_SECONDS, budget, git
from tests.template_versions import (
    CONFIGMAP,
    HANDLER,
    SERVICE,
    TEAM_ENV,
    TEAM_GREETING,
    build_template_versions,
    commit_all,
    copy_project,
    fingerprint,
    make_team_project,
)

pytestmark = pytest.mark.slow

GOSVC = str(Path(sys.executable).parent / "gosvc")
REAL_GIT = shutil.which("git") or "/usr/bin/git"
COUNTING_GIT = """#!/bin/sh
count=$(( $(cat "$GIT_CALLS" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$GIT_CALLS"
if [ "$count" -eq "${KILL_AT:-0}" ]; then
    kill -s "$KILL_SIGNAL" "$(cat "$UPDATE_PID")"
    sleep 0.3
fi
exec "$REAL_GIT" "$@"
"""
POINTS = {"TERM": budget(3), "HUP": budget(2), "KILL": budget(5)}
"""How many kill points each signal is tried at, spread evenly over the update's git commands (SIGKILL, which
leaves a half-written repository to the journal, at the most; SIGTERM and SIGHUP share one handler). The long
profile tries each at twenty times as many points: nearly every git command."""


@dataclass(frozen=True)
class Killed:
    returncode: int
    stderr: str
    git_calls: int


def update_killed(
    project: Path, scratch: Path, *, kill_at: int = 0, signal_name: str = "TERM", vcs_ref: str | None = None
) -> Killed:
    """`gosvc update` of `project` (to `vcs_ref`), signalled at its `kill_at`th git command (never when 0)."""
    bin_dir = scratch / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "git").write_text(COUNTING_GIT)
    (bin_dir / "git").chmod(0o755)
    calls, pid_file = scratch / "git-calls", scratch / "update.pid"
    calls.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GIT_CALLS": str(calls),
        "KILL_AT": str(kill_at),
        "KILL_SIGNAL": signal_name,
        "UPDATE_PID": str(pid_file),
        "REAL_GIT": REAL_GIT,
    }
    launcher = 'echo $$ > "$UPDATE_PID"; exec "$0" update "$@" --json'
    finished = subprocess.run(
        ["sh", "-c", launcher, GOSVC, str(project), *(["--vcs-ref", vcs_ref] if vcs_ref else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    return Killed(finished.returncode, finished.stderr, int(calls.read_text()) if calls.exists() else 0)


def update(project: Path) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run([GOSVC, "update", str(project), "--json"], capture_output=True, text=True, check=False)
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}, result.stderr


@pytest.fixture(scope="module")
def team_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")
    return make_team_project(template, tmp_path_factory.mktemp("team") / SERVICE)


@pytest.fixture(scope="module")
def uninterrupted(team_project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], int]:
    """The fingerprint of the team's project updated without interruption, and how many git commands it took."""
    scratch = tmp_path_factory.mktemp("uninterrupted")
    project = copy_project(team_project, scratch / SERVICE)
    run = update_killed(project, scratch)
    assert run.returncode == 3, run.stderr  # the team's LOG_LEVEL edit collides with the newest template
    return fingerprint(project), run.git_calls


def _kill_point(total: int, index: int, count: int) -> int:
    """The git command at fraction index / (count - 1) of the update's `total`: the first, ..., the last."""
    return 1 + (total - 1) * index // (count - 1)


def _cases() -> list[tuple[str, int]]:
    # The positions are fractions of the update's git commands, resolved once the total is known.
    return [(name, index) for name, count in POINTS.items() for index in range(count)]


@pytest.mark.parametrize(("signal_name", "index"), _cases(), ids=[f"SIG{n}-{i}" for n, i in _cases()])
def test_an_update_killed_anywhere_loses_nothing(
    signal_name: str,
    index: int,
    team_project: Path,
    uninterrupted: tuple[dict[str, Any], int],
    tmp_path: Path,
) -> None:
    after, total = uninterrupted
    kill_at = _kill_point(total, index, POINTS[signal_name])
    project = copy_project(team_project, tmp_path / SERVICE)
    before = fingerprint(project)

    run = update_killed(project, tmp_path, kill_at=kill_at, signal_name=signal_name)

    assert run.git_calls >= kill_at, "the signal was sent"
    assert "Traceback" not in run.stderr
    interrupted = journal.read(project) is not None
    if signal_name == "KILL":
        assert run.returncode == -signal.SIGKILL
        assert interrupted or fingerprint(project) in (before, after), "a half-written repository has a journal"
    else:
        assert run.returncode == 128 + signal.Signals[f"SIG{signal_name}"], run.stderr
        assert run.stderr.strip() == f"gosvc: terminated by SIG{signal_name}"
        assert not interrupted
        assert fingerprint(project) == before, "put back exactly as it was"

    if fingerprint(project) == after:  # killed after it had finished: commit, and the next update has nothing to do
        commit_all(project, "template update")
        assert update(project)[0] == 0
        return
    status, report, stderr = update(project)

    assert status == 3, stderr
    assert ("interrupted" in (report.get("recovered") or "")) == interrupted
    assert fingerprint(project) == after, "the following update ends as an uninterrupted one"
    assert TEAM_GREETING in (project / HANDLER).read_text() and TEAM_ENV in (project / CONFIGMAP).read_text()


def _killed_while_writing(
    team_project: Path, uninterrupted: tuple[dict[str, Any], int], scratch: Path
) -> tuple[Path, journal.Journal]:
    """The team's project with an update SIGKILLed while it wrote the team's files: its last three git commands
    read the last file's bytes, record the index and find the journal to remove; it dies at the first."""
    _, total = uninterrupted
    project = copy_project(team_project, scratch / SERVICE)
    run = update_killed(project, scratch, kill_at=total - 2, signal_name="KILL")
    assert run.returncode == -signal.SIGKILL
    record = journal.read(project)
    assert record is not None and len(record.writes) >= 2, "killed while it wrote the team's files"
    return project, record


def test_work_made_after_a_killed_update_is_never_taken_for_the_updates(
    team_project: Path, uninterrupted: tuple[dict[str, Any], int], tmp_path: Path
) -> None:
    project, record = _killed_while_writing(team_project, uninterrupted, tmp_path)
    journaled = {write.path for write in record.writes}
    mine = next(path for path in git(project, "ls-files").splitlines() if path not in journaled)
    (project / mine).write_text((project / mine).read_text() + "# mine\n")
    (project / "bin").mkdir(exist_ok=True)
    (project / "bin" / SERVICE).write_bytes(b"a build the team made")  # ignored by .gitignore

    status, _, stderr = update(project)

    assert status == 2 and "uncommitted changes" in stderr, stderr
    assert (project / mine).read_text().endswith("# mine\n"), "the team's new edit is kept"
    assert (project / "bin" / SERVICE).read_bytes() == b"a build the team made", "an ignored file is kept"
    assert git(project, "status", "--porcelain").splitlines() == [f" M {mine}"], "only the update's writes went"
    assert journal.read(project) is None


def test_a_file_edited_after_a_killed_update_wrote_it_refuses_recovery(
    team_project: Path, uninterrupted: tuple[dict[str, Any], int], tmp_path: Path
) -> None:
    project, record = _killed_while_writing(team_project, uninterrupted, tmp_path)
    edited = next(
        write.path
        for write in record.writes
        if write.after and (project / write.path).is_file() and not write.path.endswith(".copier-answers.yml")
    )
    (project / edited).write_text("the team's edit, made after the kill\n")
    before = fingerprint(project)

    status, _, stderr = update(project)

    assert status == 2 and "changed since" in stderr and edited in stderr, stderr
    assert fingerprint(project) == before, "nothing was put back or overwritten"
    assert journal.read(project) is not None, "the journal stays until someone sorts the files out"
