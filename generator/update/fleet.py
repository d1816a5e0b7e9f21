"""Every service repository under a folder: which template version each is at, and updating them all.

A repository belongs to the fleet when its answers file names this template as
its source. Updates run in parallel, each in its own `gosvc update` process:
Copier changes the working directory while it works, so two updates must not
share a process, and a crash in one cannot touch another.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from generator import resources
from generator.project.answers_file import ANSWERS_FILE, read_answers
from generator.runtime import git
from generator.runtime.errors import GosvcError, InvalidInputError, one_line
from generator.template.preset import Preset, drift
from generator.template.source import default_source
from generator.template.versions import is_up_to_date, newest_version, target_version, version_tags
from generator.update import journal
from generator.update.plan import FieldChange
from generator.update.project import load_project
from generator.update.repository import EXIT_BEHIND, EXIT_CONFLICTS, EXIT_NOT_APPLIED
from generator.update.verify import EXIT_CHECKS_BROKEN

Outcome = Literal[
    "updated", "up to date", "conflicts", "not applied", "checks broken", "refused (dirty)", "failed", "skipped"
]

# Folders never searched for repositories: they hold dependencies or tool caches, not services.
_NOT_SEARCHED = {".git", "node_modules", "vendor", ".venv", "__pycache__"}
_NO_TURN = contextlib.nullcontext()
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


@dataclass(frozen=True)
class RepoStatus:
    """One repository found under the fleet's root."""

    path: Path
    service_name: str | None = None
    version: str | None = None
    newest: str | None = None
    dirty: bool | None = None
    worktree: Path | None = None
    """The git work tree holding the repository (several generated projects may share one)."""
    skipped: str | None = None
    """Why the repository is not updated from this template, if it is not."""
    attention: bool = False
    """Whether someone must look at it: unreadable, or an update of it was interrupted or is running."""
    interrupted: bool = False
    """An update of it was killed half-way; the next update puts it back first."""
    conflicted: bool = False
    """It holds conflicts an update left, unresolved (unmerged in git, or conflict markers committed)."""
    drifted: tuple[str, ...] | None = None
    """The locked answers of the preset it no longer has (None: no preset asked for, or not read)."""

    def as_json(self, *, with_preset: bool) -> dict[str, Any]:
        """The repository's row of `gosvc fleet status --json`; `drifted` only when a preset was asked for."""
        return {
            "path": str(self.path),
            "service_name": self.service_name,
            "version": self.version,
            "newest": self.newest,
            "clean": None if self.dirty is None else not self.dirty,
            "state": self.state,
            "skipped": self.skipped,
            "attention": self.attention,
            **({"drifted": None if self.drifted is None else list(self.drifted)} if with_preset else {}),
        }

    @property
    def state(self) -> str:
        if self.skipped:
            return "skipped"
        if self.interrupted:
            return "interrupted update"
        if self.conflicted:
            return "conflicts"
        if is_up_to_date(self.version or "", self.newest):
            return "up to date"
        return "outdated" if self.newest else "unknown"


@dataclass(frozen=True)
class FleetStatus:
    root: Path
    template: str
    newest: str | None
    repos: tuple[RepoStatus, ...]

    def as_json(self, *, with_preset: bool) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "template": self.template,
            "newest": self.newest,
            "repos": [repo.as_json(with_preset=with_preset) for repo in self.repos],
        }


@dataclass(frozen=True)
class RepoUpdate:
    """How the update of one repository ended."""

    path: Path
    service_name: str | None
    outcome: Outcome
    reason: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    conflicts: tuple[str, ...] = ()
    not_applied: tuple[str, ...] = ()
    """Files whose template changes the update left out (see `gosvc update`)."""
    recovered: str | None = None
    """How an interrupted earlier update was undone first, if one was."""
    attention: bool = False
    """Skipped for a reason someone must look at (unreadable, an update running)."""
    planned: bool = False
    """Only planned: nothing was written."""
    changes: tuple[str, ...] = ()
    """With a plan: each file's change, then each deployed field's, as `gosvc update --plan` prints them."""
    broken: tuple[str, ...] = ()
    """With --verify: the checks that passed before the update and fail after it."""

    def as_json(self) -> dict[str, Any]:
        renamed = {"from_version": "from", "to_version": "to"}
        return {renamed.get(item.name, item.name): _plain(getattr(self, item.name)) for item in fields(self)}


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it."""
    return str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value


Progress = Callable[[RepoUpdate, int, int], None]


def find_repos(root: Path) -> list[Path]:
    """Folders under `root` holding a Copier answers file, at any depth: services inside a monorepo's folders
    or inside another service's repository are found too."""
    return [path for path, _ in _walk(root)]


def _walk(root: Path) -> list[tuple[Path, str | None]]:
    """Each repository under `root`, and each folder that could not be searched with the reason."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder")
    found: list[tuple[Path, str | None]] = []

    def unreadable(error: OSError) -> None:
        found.append((Path(error.filename or root), f"cannot search this folder: {error.strerror or error}"))

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        if ANSWERS_FILE in files:
            found.append((Path(folder), None))
        dirs[:] = sorted(name for name in dirs if name not in _NOT_SEARCHED)
    return sorted(found)


def fleet_status(
    root: Path, *, template: str | None = None, jobs: int = 4, preset: Preset | None = None
) -> FleetStatus:
    """The template version, newest version and cleanliness of every repository under `root`, and with a
    preset, the locked answers each drifted from (a repository that drifted needs attention)."""
    source = template or default_source()
    newest = newest_version(version_tags(source))
    walked = _walk(root)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        statuses = tuple(pool.map(lambda entry: _status(entry[0], entry[1], source, newest), walked))
    if preset is not None:
        statuses = tuple(_with_drift(status, preset) for status in statuses)
    return FleetStatus(root=Path(root).absolute(), template=source, newest=newest, repos=statuses)


def fleet_status_exit_status(status: FleetStatus) -> int:
    """1 when a repository needs attention (unreadable, an update interrupted or running), else 3 when one has
    conflicts left unresolved, else 5 (EXIT_BEHIND) when one is behind the newest template version, else 0."""
    if any(repo.attention for repo in status.repos):
        return 1
    if any(repo.conflicted for repo in status.repos):
        return EXIT_CONFLICTS
    return EXIT_BEHIND if any(repo.state == "outdated" for repo in status.repos) else 0


def fleet_update(
    root: Path,
    *,
    template: str | None = None,
    jobs: int = 2,
    vcs_ref: str | None = None,
    progress: Progress | None = None,
    plan: bool = False,
    verify: bool = False,
) -> tuple[RepoUpdate, ...]:
    """Update every outdated repository of the fleet under `root`, `jobs` at a time.

    Each repository gets the guarantees of `gosvc update`: a dirty one is
    refused, a failed one is restored. One repository's failure is reported in
    its line and never stops the others. With `plan`, nothing is written: each
    line says what the update would do; with `verify`, each update runs the checks its changes concern.
    """
    if jobs < 1:
        raise InvalidInputError(f"--jobs must be at least 1 (got {jobs})")
    status = fleet_status(root, template=template, jobs=jobs)
    target = target_version(status.template, vcs_ref) if vcs_ref else status.newest
    # Projects sharing a work tree take turns: an update restores the whole work tree when it fails.
    turns = {repo.worktree: threading.Lock() for repo in status.repos if repo.worktree}
    flags = (*(["--plan"] if plan else []), *(["--verify"] if verify else []))
    results: list[RepoUpdate] = []
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [
            pool.submit(_update_one, repo, target, vcs_ref, turns[repo.worktree] if repo.worktree else _NO_TURN, flags)
            for repo in status.repos
        ]
        for done, future in enumerate(as_completed(futures), start=1):
            results.append(future.result())
            if progress is not None:
                progress(results[-1], done, len(futures))
    finally:
        # On Ctrl-C, start nothing more; running updates get the signal too and restore their repository.
        pool.shutdown(wait=True, cancel_futures=True)
    return tuple(sorted(results, key=lambda result: result.path))


def fleet_exit_status(results: Sequence[RepoUpdate]) -> int:
    """1 when a repository failed, was refused or needs attention, else 3 when one has conflicts, else 6 when an
    update broke a check, else 4 when one was left without some template changes, else 0."""
    outcomes = {result.outcome for result in results}
    if outcomes & {"failed", "refused (dirty)"} or any(result.attention for result in results):
        return 1
    if "conflicts" in outcomes:
        return EXIT_CONFLICTS
    if "checks broken" in outcomes:
        return EXIT_CHECKS_BROKEN
    return EXIT_NOT_APPLIED if "not applied" in outcomes else 0


def same_template(recorded: str, source: str, recorded_in: Path) -> bool:
    """Whether a `_src_path` names the template at `source` (local paths and git URLs alike)."""
    return _normalized(recorded, recorded_in) == _normalized(source, Path.cwd())


def _normalized(source: str, relative_to: Path) -> str:
    text = source.strip()
    for short, prefix in (("gh:", "https://github.com/"), ("gl:", "https://gitlab.com/")):
        if text.startswith(short):
            text = prefix + text.removeprefix(short)
    text = text.removeprefix("git+")
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        return _host_and_path(text.split("://", 1)[1])
    elif _SCP_LIKE.match(text):
        return _host_and_path(text.replace(":", "/", 1))
    return (relative_to / Path(text).expanduser()).resolve().as_posix()


def _host_and_path(location: str) -> str:
    """`host/owner/name` of a git URL, without credentials, port or .git suffix."""
    host, _, path = location.partition("/")
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower()
    return f"{host}/{path.strip('/').removesuffix('.git')}"


def _with_drift(status: RepoStatus, preset: Preset) -> RepoStatus:
    if status.skipped and status.service_name is None:
        return status  # its answers could not be read
    try:
        found = drift(preset, read_answers(status.path))
    except GosvcError:
        return status
    locked = tuple(sorted(found.locked))
    return dataclasses.replace(status, drifted=locked, attention=status.attention or bool(locked))


def _status(repo: Path, unsearchable: str | None, source: str, newest: str | None) -> RepoStatus:
    """One repository's row; whatever is wrong with it is the row's reason, never an error of the fleet."""
    if unsearchable:
        return RepoStatus(path=repo, skipped=unsearchable, attention=True)
    try:
        return _read_status(repo, source, newest)
    except GosvcError as error:
        return RepoStatus(path=repo, skipped=f"unreadable: {one_line(str(error), 300)}", attention=True)
    except Exception as error:  # a bug must cost one repository, not the fleet
        reason = f"unreadable: {type(error).__name__}: {one_line(str(error), 300)}"
        return RepoStatus(path=repo, skipped=reason, attention=True)


def _read_status(repo: Path, source: str, newest: str | None) -> RepoStatus:
    try:
        project = load_project(repo)
    except GosvcError as error:
        return RepoStatus(path=repo, skipped=f"unreadable answers: {one_line(str(error), 300)}", attention=True)
    if not same_template(project.source, source, repo):
        return RepoStatus(
            path=repo,
            service_name=project.service_name,
            version=project.version,
            skipped=f"other template: {project.source}",
        )
    try:
        worktree: Path | None = git.toplevel(repo)
    except git.DubiousOwnershipError as error:  # git's safe.directory refusal, not a missing repository
        return RepoStatus(
            path=repo,
            service_name=project.service_name,
            version=project.version,
            skipped=one_line(str(error), 300),
            attention=True,
        )
    except GosvcError:
        worktree = None
    if worktree is None:
        return RepoStatus(
            path=repo,
            service_name=project.service_name,
            version=project.version,
            skipped="not in a git repository",
            attention=True,
        )
    interrupted = journal.read(worktree) is not None
    running = journal.is_locked(worktree)
    return RepoStatus(
        path=repo,
        service_name=project.service_name,
        version=project.version,
        newest=newest,
        dirty=git.is_dirty(repo),
        worktree=worktree,
        skipped="an update of it is running" if running else None,
        attention=interrupted or running,
        interrupted=interrupted,
        conflicted=bool(git.unmerged_paths(repo)),
    )


def _update_one(
    repo: RepoStatus,
    target: str | None,
    vcs_ref: str | None,
    turn: contextlib.AbstractContextManager[Any],
    flags: Sequence[str] = (),
) -> RepoUpdate:
    def ended(outcome: Outcome, reason: str | None = None, **details: Any) -> RepoUpdate:
        return RepoUpdate(path=repo.path, service_name=repo.service_name, outcome=outcome, reason=reason, **details)

    if repo.skipped:
        return ended("skipped", repo.skipped, attention=repo.attention)
    try:
        if target is not None and is_up_to_date(repo.version or "", target) and not repo.interrupted:
            return ended("up to date", from_version=repo.version, to_version=repo.version)
        with turn:
            if repo.dirty and not repo.interrupted:
                return ended("refused (dirty)", "uncommitted changes", from_version=repo.version)
            report = run_update_process(repo.path, vcs_ref, flags)
    except GosvcError as error:
        return ended("failed", one_line(str(error)), from_version=repo.version)
    except Exception as error:  # a bug must cost one repository, not the fleet
        return ended("failed", one_line(f"{type(error).__name__}: {error}"), from_version=repo.version)
    outcome: Outcome = report["status"]
    return ended(
        outcome,
        from_version=report.get("from"),
        to_version=report.get("to"),
        conflicts=tuple(conflict["path"] for conflict in report.get("conflicts", [])),
        not_applied=tuple(item["path"] for item in report.get("not_applied", [])),
        recovered=report.get("recovered"),
        planned=bool(report.get("planned")),
        changes=tuple(f"{item['change']} {item['path']}" for item in report.get("files", []))
        + tuple(str(FieldChange(**item)) for item in report.get("objects", [])),
        broken=tuple(item["check"] for item in (report.get("verification") or {}).get("broken", [])),
    )


def run_update_process(repo: Path, vcs_ref: str | None, flags: Sequence[str]) -> dict[str, Any]:
    """`gosvc update --json FLAGS` on one repository, in a process of its own (Copier changes the working directory
    of the process it runs in): its report, or GosvcError with the reason it failed."""
    command = [sys.executable, "-m", "generator", "update", str(repo), "--json", *flags]
    if vcs_ref:
        command += ["--vcs-ref", vcs_ref]
    python_path = os.pathsep.join(filter(None, [str(resources.CHECKOUT), os.environ.get("PYTHONPATH")]))
    finished = subprocess.run(
        command,
        cwd=repo,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": python_path},
    )
    if finished.returncode in (0, EXIT_CONFLICTS, EXIT_NOT_APPLIED, EXIT_CHECKS_BROKEN):
        try:
            report: dict[str, Any] = json.loads(finished.stdout)
        except json.JSONDecodeError as error:
            raise GosvcError(f"gosvc update printed no report ({error})") from error
        return report
    raise GosvcError(_last_message(finished.stderr) or f"gosvc update exited {finished.returncode}")


def _last_message(stderr: str) -> str:
    lines: Iterator[str] = (line.strip() for line in reversed(stderr.splitlines()))
    for line in lines:
        if line:
            return line.removeprefix("gosvc: ")
    return ""
