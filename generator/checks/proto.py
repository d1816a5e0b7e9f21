"""The `proto` check: the gRPC API's contract, with buf and the pinned protoc plugins.

`buf lint` finds nothing in proto/; the Go code `buf generate` makes of it with
the pinned protoc-gen-go and protoc-gen-go-grpc is exactly the code in
internal/gen, so that nobody ships a contract the code does not implement; and
the working tree breaks no client of a baseline (`buf breaking`), which the
output names. `gosvc check` checks the working tree, so the baseline is:

- HEAD, when the working tree's API (buf.yaml, buf.lock, the .proto files)
  differs from HEAD's: the change is uncommitted, and HEAD is what clients may
  already have. HEAD~1 would miss a change that breaks what HEAD added.
- HEAD~1, when the working tree's API is HEAD's: the change to check is the
  last commit's, and HEAD would compare the API with itself and prove nothing.
  The generated repository's `make check-proto` makes the same choice in CI,
  where the working tree is always a commit.
- HEAD, when it is the first commit that holds the API: the API is as first
  recorded, and the output says so. A shallow clone that lacks the commit
  before HEAD has no baseline.
- The API as the template generated it, when no commit holds the API (no git
  repository, which is how `gosvc new` leaves a repository; no commit yet; a
  folder of a larger repository that does not track it): buf.yaml, buf.lock and
  the .proto files rendered again from the template and version the answers
  file names, with its answers. Only those files are rendered, in a process of
  their own (Copier changes its process's working directory, and other checks
  run in threads of this one); that takes about a second.

When there is no baseline (no answers file, a template that no longer renders,
a shallow clone), the output says so in a note, which the table shows even when
the check passes: the missing baseline is not a breaking change of the
repository, but it is never a silent pass.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.project.answers_file import ANSWERS_FILE, read_answers
from generator.runtime import git
from generator.runtime.errors import GosvcError, one_line
from generator.runtime.outcome import NOTE, Outcome
from generator.tools import Toolbox

GENERATED = Path("internal") / "gen"
BUF_CONFIG = "buf.yaml"
API_FILES = (BUF_CONFIG, "buf.lock", "*.proto")
"""What buf breaking reads, as git pathspecs relative to the repository (`*` matches across folders)."""


@dataclass(frozen=True)
class Baseline:
    """What `buf breaking` compares the working tree with: a buf input, and what it is, in words."""

    against: str
    name: str


class NoBaselineError(Exception):
    """Nothing to compare the API with; the message says why."""


def check_proto(repo: Path, toolbox: Toolbox) -> Outcome:
    # buf runs the plugins it finds on PATH, where the toolbox puts the pinned ones: fail now if they are missing.
    toolbox.find("protoc-gen-go")
    toolbox.find("protoc-gen-go-grpc")
    lint = toolbox.run("buf", "lint", cwd=repo)
    if lint.returncode != 0:
        return Outcome(False, f"buf lint:\n{(lint.stdout + lint.stderr).strip()}")
    with tempfile.TemporaryDirectory(prefix="gosvc-proto-") as scratch:
        generated = toolbox.run("buf", "generate", "--output", scratch, cwd=repo)
        if generated.returncode != 0:
            return Outcome(False, f"buf generate:\n{(generated.stdout + generated.stderr).strip()}")
        stale = _differences(Path(scratch) / GENERATED, repo / GENERATED)
    if stale:
        return Outcome(False, f"{GENERATED} is not what buf generates from proto/ (`make proto`): {', '.join(stale)}")
    report = ["buf lint: no findings", f"{GENERATED}: what buf generate makes of proto/"]
    with tempfile.TemporaryDirectory(prefix="gosvc-proto-baseline-") as scratch:
        try:
            baseline = find_baseline(repo, Path(scratch))
        except NoBaselineError as error:
            report.append(f"{NOTE}buf breaking: no baseline: {error}")
            return Outcome(True, "\n".join(report), cacheable=False)  # the next run may have one
        breaking = toolbox.run("buf", "breaking", "--against", baseline.against, cwd=repo)
    if breaking.returncode != 0:
        return Outcome(False, f"buf breaking against {baseline.name}:\n{(breaking.stdout + breaking.stderr).strip()}")
    report.append(f"buf breaking: no change breaks a client of {baseline.name}")
    return Outcome(True, "\n".join(report))


def find_baseline(repo: Path, scratch: Path) -> Baseline:
    """What the working tree's API is compared with (see the module's docstring); `scratch` may hold it."""
    try:
        recorded = _recorded_baseline(repo)
    except git.DubiousOwnershipError as error:
        raise NoBaselineError(f"{error}; its commits cannot be read") from error
    return recorded or _generated_baseline(repo, scratch)


def _recorded_baseline(repo: Path) -> Baseline | None:
    """The commit to compare with, or None when no commit holds the API (or there is no git repository)."""
    head = _commit_holding_api(repo, "HEAD")
    if head is None:
        return None
    if _api_differs_from(repo, head):
        return Baseline(_git_input(repo, head), f"HEAD ({_describe(repo, head)}), which the working tree changes")
    parent = _commit_holding_api(repo, "HEAD~1")
    if parent is not None:
        return Baseline(
            _git_input(repo, parent), f"HEAD~1 ({_describe(repo, parent)}): the working tree's API is HEAD's"
        )
    if _cut_off_at_head(repo):
        raise NoBaselineError(
            "the working tree's API is HEAD's, and this shallow clone does not have the commit before HEAD to "
            "compare it with (`git fetch --deepen=1` fetches it)"
        )
    return Baseline(
        _git_input(repo, head),
        f"HEAD ({_describe(repo, head)}), the first commit that holds the API: the working tree's API is as it "
        "recorded it",
    )


def _commit_holding_api(repo: Path, revision: str) -> str | None:
    """The commit `revision` names when it has this repository's buf.yaml, else None."""
    try:
        commit = git.run(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
        git.run(repo, "cat-file", "-e", f"{commit}:./{BUF_CONFIG}")
    except git.GitError:
        return None
    return commit


def _cut_off_at_head(repo: Path) -> bool:
    """Whether HEAD's parents are missing from a shallow clone (a CI checkout, say), not absent."""
    if git.run(repo, "rev-parse", "--is-shallow-repository").strip() != "true":
        return False
    try:
        git.run(repo, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}")
    except git.GitError:
        return True
    return False


def _api_differs_from(repo: Path, commit: str) -> bool:
    """Whether the API files of the working tree (new ones included) differ from those of `commit`."""
    changed = git.run(repo, "diff", "--name-only", commit, "--", *API_FILES)
    added = git.run(repo, "ls-files", "--others", "--exclude-standard", "--", *API_FILES)
    return bool(changed.strip() or added.strip())


def _git_input(repo: Path, commit: str) -> str:
    """The buf input of this repository's folder at `commit`; the folder may be inside a larger repository."""
    top = Path(git.run(repo, "rev-parse", "--show-toplevel").strip())
    folder = git.run(repo, "rev-parse", "--show-prefix").strip().rstrip("/")
    return f"{top / '.git'}#ref={commit}" + (f",subdir={folder}" if folder else "")


def _describe(repo: Path, commit: str) -> str:
    return git.run(repo, "log", "-1", "--format=%h %s", commit).strip()


def _generated_baseline(repo: Path, scratch: Path) -> Baseline:
    """The API files as the template generated them, rendered into `scratch`."""
    if not (repo / ANSWERS_FILE).is_file():
        raise NoBaselineError(
            f"no commit holds the API and there is no {ANSWERS_FILE} to render it as generated; commit the "
            "repository to give the next change one"
        )
    try:
        answers = read_answers(repo)
    except GosvcError as error:  # a broken answers file is the answers check's finding, not a breaking change
        raise NoBaselineError(f"no commit holds the API, and {error}") from error
    source, version = answers.get("_src_path"), answers.get("_commit")
    if not source or not version:
        raise NoBaselineError(f"no commit holds the API and {ANSWERS_FILE} names no template source and version")
    data = scratch / "answers.yml"
    data.write_text(yaml.safe_dump({key: value for key, value in answers.items() if not key.startswith("_")}))
    rendered = scratch / "generated"
    excluded = ["*", *(f"!{pattern}" for pattern in API_FILES)]
    copier = subprocess.run(
        [
            sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", "--trust", "--skip-tasks",
            "--vcs-ref", str(version), "--data-file", str(data),
            *(argument for pattern in excluded for argument in ("--exclude", pattern)),
            str(source), str(rendered),
        ],
        cwd=repo,  # a relative source is relative to the repository, as for `copier update`
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # a template that needs a password fails, never waits
    )  # fmt: skip
    template = f"the template {source} at {version}"
    if copier.returncode != 0:
        said = (copier.stderr.strip() or copier.stdout.strip() or f"exit {copier.returncode}").splitlines()[-1]
        raise NoBaselineError(f"no commit holds the API, and {template} does not render: {one_line(said)}")
    if not (rendered / BUF_CONFIG).is_file():
        raise NoBaselineError(f"no commit holds the API, and {template} renders no {BUF_CONFIG} with these answers")
    return Baseline(str(rendered), f"the API as generated ({template}; no commit holds the API)")


def _differences(expected: Path, actual: Path) -> list[str]:
    """The files under the two folders that differ, or that only one of them has."""
    found: list[str] = []

    def walk(compared: filecmp.dircmp[str], prefix: Path) -> None:
        found.extend(str(prefix / name) + " differs" for name in compared.diff_files)
        found.extend(str(prefix / name) + " is not generated" for name in compared.right_only)
        found.extend(str(prefix / name) + " is missing" for name in compared.left_only)
        for name, sub in compared.subdirs.items():
            walk(sub, prefix / name)

    if not actual.is_dir():
        return [f"{GENERATED} is missing"]
    walk(filecmp.dircmp(expected, actual, ignore=[]), GENERATED)
    return found
