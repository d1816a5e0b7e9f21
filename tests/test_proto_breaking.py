"""The proto check's `buf breaking` always compares the API with a baseline, and says which.

A repository with a commit is compared with HEAD when the working tree changes
the API, else with HEAD~1; one without a commit (as `gosvc new` leaves it) with
the API as the template generated it; and when there is nothing to compare
with, the output says so in a note that a passing check still shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from generator.checks.proto import check_proto
from generator.project.answers_file import ANSWERS_FILE
from generator.runtime.outcome import NOTE
from generator.tools import Toolbox
from tests.conftest import Render, git

pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]  # buf and the protoc plugins

PROTO = Path("proto/hello/v1/hello.proto")


class Change(NamedTuple):
    """An edit of the API's .proto file (every `old` becomes `new`), and what buf breaking says of it."""

    old: str
    new: str
    said: str


# The rpc and its request and response messages, whose names buf lint derives from the rpc's.
RPC_RENAMED = Change("SayHello", "Greet", 'Previously present RPC "SayHello" on service "HelloService"')
FIELD_REMOVED = Change(
    "  string name = 1;\n", "", 'Previously present field "1" with name "name" on message "SayHelloRequest"'
)
BREAKING = {"rpc renamed": RPC_RENAMED, "field removed": FIELD_REMOVED}


@pytest.fixture
def repo(render: Render) -> Path:
    return render({"api": "grpc"}, git_repository=False).dest  # each test makes the git state it is about


def _break(repo: Path, change: Change) -> str:
    """Make `change` to the API, regenerate its Go code as `make proto` does, and return what buf will say."""
    text = (repo / PROTO).read_text()
    assert change.old in text
    (repo / PROTO).write_text(text.replace(change.old, change.new))
    generated = Toolbox.default().run("buf", "generate", cwd=repo)
    assert generated.returncode == 0, generated.stderr
    return change.said


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.mark.parametrize("change", list(BREAKING.values()), ids=list(BREAKING))
def test_a_breaking_change_in_the_working_tree_fails_against_head(repo: Path, change: Change) -> None:
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "generated")
    said = _break(repo, change)

    outcome = check_proto(repo, Toolbox.default())

    assert not outcome.passed
    assert outcome.output.startswith("buf breaking against HEAD (")
    assert "generated), which the working tree changes" in outcome.output
    assert said in outcome.output


def test_a_committed_breaking_change_fails_against_the_commit_before(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "generated")
    said = _break(repo, FIELD_REMOVED)
    _commit(repo, "drop the name")

    outcome = check_proto(repo, Toolbox.default())

    assert not outcome.passed
    assert outcome.output.startswith("buf breaking against HEAD~1 (")
    assert said in outcome.output


def test_an_unchanged_first_commit_is_its_own_baseline_and_the_output_says_so(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "generated")

    outcome = check_proto(repo, Toolbox.default())

    assert outcome.passed, outcome.output
    assert "buf breaking: no change breaks a client of HEAD (" in outcome.output
    assert "the first commit that holds the API" in outcome.output


@pytest.mark.parametrize("git_init", [False, True], ids=["no git repository", "no commit"])
def test_without_a_commit_the_baseline_is_the_api_as_generated(repo: Path, git_init: bool) -> None:
    if git_init:
        git(repo, "init", "-q", "-b", "main")
    untouched = check_proto(repo, Toolbox.default())
    said = _break(repo, RPC_RENAMED)

    broken = check_proto(repo, Toolbox.default())

    assert untouched.passed, untouched.output
    assert "buf breaking: no change breaks a client of the API as generated (the template " in untouched.output
    assert not broken.passed
    assert broken.output.startswith("buf breaking against the API as generated (the template ")
    assert said in broken.output


def test_without_any_baseline_the_check_says_so_in_a_note_a_pass_shows(repo: Path) -> None:
    (repo / ANSWERS_FILE).unlink()  # no commit, and nothing to render the API as generated from
    _break(repo, RPC_RENAMED)

    outcome = check_proto(repo, Toolbox.default())

    assert outcome.passed, outcome.output  # nothing says the change breaks a client: the note says why
    assert not outcome.cacheable, "a later run may have a baseline"
    notes = [line for line in outcome.output.splitlines() if line.startswith(NOTE)]
    assert notes == [f"{NOTE}buf breaking: no baseline: no commit holds the API and there is no {ANSWERS_FILE} to "
                     "render it as generated; commit the repository to give the next change one"]  # fmt: skip


def test_a_shallow_clone_without_the_commit_before_head_has_no_baseline_and_says_so(repo: Path, tmp_path: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "generated")
    _break(repo, RPC_RENAMED)
    _commit(repo, "rename the rpc")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", repo.as_uri(), str(clone))

    outcome = check_proto(clone, Toolbox.default())

    assert outcome.passed, outcome.output
    notes = [line for line in outcome.output.splitlines() if line.startswith(NOTE)]
    assert len(notes) == 1
    assert notes[0].startswith(f"{NOTE}buf breaking: no baseline: the working tree's API is HEAD's, and this shallow ")
