"""No sequence of what a team does around updates loses a byte of its work.

Sequences of steps drive one team's repository through the operations that meet in practice: edits, commits, files
git ignores, edits hidden from `git status` by skip-worktree, and updates to each template version, some killed
(SIGKILL or SIGTERM) at a random git command of theirs. After every step, every line the team wrote is still in
its file, every ignored file and every hidden edit is byte for byte as the team left it, and no update left the
repository without either finishing, putting itself back, or leaving a journal the next update acts on.

What this proves beyond test_interruptions (each kill point once, on a clean repository) and test_update (each
guarantee alone): the guarantees compose, whatever the order of the operations.
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import budget, git
from tests.template_versions import HANDLER, SERVICE, build_template_versions, copy_project, make_team_project
from tests.test_interruptions import update_killed

pytestmark = pytest.mark.slow

# Files the team edits, each with a line its format takes as a comment.
EDITED = {HANDLER: "// {}", "README.md": "{}", "docs/runbooks.md": "{}", "deploy/base/config.env": "# {}"}
HIDDEN = "deploy/overlays/dev/kustomization.yaml"
VERSIONS = ("v2.0.0", "v3.0.0")


@dataclass
class Team:
    """What the team has made so far: the lines it wrote, its ignored files, its hidden edit."""

    lines: dict[str, list[str]] = field(default_factory=lambda: {path: [] for path in EDITED})
    ignored: dict[str, bytes] = field(default_factory=dict)
    hidden: bytes | None = None
    count: int = 0

    def mark(self) -> str:
        self.count += 1
        return f"team-mark-{self.count}"


class TeamAroundUpdates:
    """One team's repository, and the operations a step of a sequence applies to it."""

    def __init__(self, team_project: Path, scratch: Path) -> None:
        for leftover in scratch.iterdir():  # the previous example's
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        self.scratch = scratch
        self.project = copy_project(team_project, scratch / SERVICE)
        self.team = Team()

    def edit(self, path: str, then_commit: bool) -> None:
        mark = self.team.mark()
        file = self.project / path
        if file.is_file():
            file.write_text(file.read_text() + EDITED[path].format(mark) + "\n")
            self.team.lines[path].append(mark)
        if then_commit:
            self.commit()

    def commit(self) -> None:
        git(self.project, "add", "--all")
        git(self.project, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "the team's work")

    def build(self) -> None:
        name = f"bin/{self.team.mark()}"
        (self.project / "bin").mkdir(exist_ok=True)
        (self.project / name).write_bytes(name.encode())
        self.team.ignored[name] = name.encode()

    def hide_an_edit(self) -> None:
        if self.team.hidden is not None or not (self.project / HIDDEN).is_file():
            return
        git(self.project, "update-index", "--skip-worktree", HIDDEN)
        file = self.project / HIDDEN
        file.write_text(file.read_text() + f"# {self.team.mark()}\n")
        self.team.hidden = file.read_bytes()

    def update(self, commit_first: bool, version: str, kill_at: int, name: str) -> None:
        if commit_first:  # as a team does before an update; otherwise a dirty repository is refused
            self.commit()
        run = update_killed(self.project, self.scratch, kill_at=kill_at, signal_name=name, vcs_ref=version)
        assert "Traceback" not in run.stderr, run.stderr
        killed = -signal.SIGKILL if name == "KILL" else 128 + signal.SIGTERM
        assert run.returncode in (0, 2, 3, 4, killed), run.stderr

    def check_no_team_byte_is_lost(self) -> None:
        for path, marks in self.team.lines.items():
            text = (self.project / path).read_text() if (self.project / path).is_file() else ""
            missing = [mark for mark in marks if mark not in text]
            assert not missing, f"{path} lost the team's lines {missing}"
        for name, content in self.team.ignored.items():
            assert (self.project / name).read_bytes() == content, f"the ignored {name} changed"
        if self.team.hidden is not None:
            assert (self.project / HIDDEN).read_bytes() == self.team.hidden, "the hidden edit changed"


# One step: its operation's name and arguments. Updates are drawn twice as often as each other operation; most
# commit the team's work first; half of them run to their end, the others are killed at one of their git commands
# (about 400).
UPDATE = st.tuples(
    st.just("update"),
    st.booleans(),
    st.sampled_from(VERSIONS),
    st.one_of(st.just(0), st.integers(1, 450)),
    st.sampled_from(["KILL", "TERM"]),
)
STEPS = st.lists(
    st.one_of(
        UPDATE,
        st.tuples(st.just("edit"), st.sampled_from(sorted(EDITED)), st.booleans()),
        UPDATE,
        st.tuples(st.just("hide_an_edit")),
        st.tuples(st.just("build")),
        st.tuples(st.just("commit")),
    ),
    min_size=8,
    max_size=12,
)


@pytest.fixture(scope="module")
def team_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = build_template_versions(tmp_path_factory.mktemp("template") / "gosvc")
    return make_team_project(template, tmp_path_factory.mktemp("team") / SERVICE)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each sequence's repository lives; emptied before each."""
    return tmp_path_factory.mktemp("sequence")


@settings(max_examples=budget(3))
@given(steps=STEPS)
def test_no_sequence_of_edits_commits_and_killed_updates_loses_team_work(
    team_project: Path, scratch: Path, steps: list[tuple[Any, ...]]
) -> None:
    team = TeamAroundUpdates(team_project, scratch)
    for name, *arguments in steps:
        getattr(team, name)(*arguments)
        team.check_no_team_byte_is_lost()
