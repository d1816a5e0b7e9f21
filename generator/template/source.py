"""Where the template comes from, and what it asks."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier.errors import CopierError, DirtyLocalWarning
from packaging.version import Version
from pathspec import PathSpec
from pathspec import __version__ as pathspec_version

from generator import resources
from generator.runtime.errors import TemplateSourceError
from generator.template import compiled_templates
from generator.template.copier_internals import Template, get_repo
from generator.template.versions import parse_version

TEMPLATE_ENV_VAR = "GOSVC_TEMPLATE"


@dataclass(frozen=True)
class Question:
    """One question of copier.yml, as far as answers given up front need it."""

    name: str
    type: str
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TemplateConfig:
    """What gosvc reads from a template version's copier.yml."""

    questions: dict[str, Question]
    team_owned: tuple[str, ...]
    """The `_skip_if_exists` patterns: files created once, then the team's."""


def default_source() -> str:
    """The template to render when the user names none.

    $GOSVC_TEMPLATE wins; otherwise the git clone this package runs from (an
    editable install). Loose package files are never a source: without git,
    `copier update` could not find the template version later.
    """
    if from_env := os.environ.get(TEMPLATE_ENV_VAR):
        return from_env
    checkout = resources.CHECKOUT
    if (checkout / "copier.yml").is_file() and _git_state(checkout) != "none":
        return str(checkout)
    raise TemplateSourceError(
        "no template source: this gosvc is not installed from a git clone of the template; "
        f"pass --template URL-or-PATH or set {TEMPLATE_ENV_VAR}"
    )


def local_path(source: str) -> Path | None:
    """The folder of a template given as a local path, or None for a remote URL."""
    if "\0" in source:
        raise TemplateSourceError(f"the template source {source!r} holds a NUL byte")
    try:
        repo = get_repo(source)
        if repo is not None and repo.startswith(("git@", "ssh:")):
            return None
        if repo is not None and "://" in repo and not repo.startswith("file://"):
            return None
        return Path((repo or source).removeprefix("file://")).expanduser().absolute()
    except RuntimeError as error:  # ~user, for a user that does not exist
        raise TemplateSourceError(f"cannot find the template at {source}: {error}") from error


def canonical_source(source: str) -> str:
    """What the answers file records as the template's source: a location every clone of the service can update
    from. A template given by URL is that URL; a local clone is recorded by its git remote (`origin`, or its only
    remote), never by its path on this machine, which no other machine or checkout can reach."""
    folder = local_path(source)
    if folder is None:
        return source
    remotes = _git(folder, "remote").stdout.split()
    name = "origin" if "origin" in remotes else remotes[0] if len(remotes) == 1 else None
    if name is None:
        having = f"remotes {', '.join(remotes)} but none named origin" if remotes else "no git remote"
        raise TemplateSourceError(
            f"the template at {folder} has {having}: its path on this machine is all the answers file could record, "
            "and no other machine or checkout could update the service from it; give the template clone its URL "
            f"(`git -C {folder} remote add origin URL`) or pass the URL with --template"
        )
    url = _git(folder, "remote", "get-url", name).stdout.strip()
    remote_folder = local_path(url) if url else None
    if remote_folder is not None and not Path(url.removeprefix("file://")).expanduser().is_absolute():
        return str((folder / url).resolve())  # a remote given relative to the clone
    return url


def check_published(source: str, version: str) -> None:
    """Refuse a template version that the remote recorded for a local clone lacks, as far as the clone knows (its
    remote-tracking branches): a service made from an unpushed commit could never be updated from the remote."""
    folder = local_path(source)
    if folder is None or not version:
        return
    commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{version}^{{commit}}").stdout.strip()
    if commit and not _git(folder, "branch", "--remotes", "--contains", commit).stdout.strip():
        raise TemplateSourceError(
            f"the template version {version} of {folder} is on no branch of its remote (as far as this clone has "
            "fetched): a service made from it could not be updated from there; push it (git push) and try again"
        )


def check_renderable(source: str, vcs_ref: str | None) -> None:
    """Refuse a local template that would give a repository no later update can use.

    The answers file records the template's git version: a folder that is not a
    git repository has none, and uncommitted changes that Copier would render
    (it does for the ref HEAD) exist in no commit an update could find.
    """
    folder = local_path(source)
    if folder is None:
        return
    if not folder.is_dir():
        raise TemplateSourceError(f"no template at {source}: there is no such folder")
    state = _git_state(folder)
    if state == "dubious":
        raise TemplateSourceError(
            f"git refuses to read the template at {folder}: it belongs to another user than the one running gosvc; "
            f"if you trust it, run `git config --global --add safe.directory {folder}` and try again"
        )
    if state == "none":
        raise TemplateSourceError(
            f"the template at {folder} is not a git repository: the answers file must record the template version a "
            "service was made from, or no update can find it; commit the template (`git init && git add -A && "
            "git commit`, then tag a version such as v1.0.0) or pass its git URL"
        )
    if vcs_ref in (None, "HEAD") and (vcs_ref == "HEAD" or not _has_version_tag(folder)):
        changed = _uncommitted(folder)
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            raise TemplateSourceError(
                f"the template at {folder} has uncommitted changes ({shown}), which gosvc would render: a service "
                "made from them records a template version that exists in no commit, so no update could use it; "
                "commit them, or render a committed version with --vcs-ref REF"
            )


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, errors="replace", check=False
    )


def _git_state(folder: Path) -> str:
    """ "repo" for a git work tree, "dubious" when git refuses it as someone else's, "none" otherwise."""
    result = _git(folder, "rev-parse", "--is-inside-work-tree")
    if result.returncode == 0 and result.stdout.strip() == "true":
        return "repo"
    return "dubious" if "dubious ownership" in result.stderr else "none"


def _has_version_tag(folder: Path) -> bool:
    tags = _git(folder, "tag", "--list").stdout.split()
    return any(parse_version(tag) is not None for tag in tags)


def _uncommitted(folder: Path) -> list[str]:
    listed = _git(folder, "status", "--porcelain", "--untracked-files=all").stdout
    return [line[3:] for line in listed.splitlines() if line.strip()]


@contextlib.contextmanager
def uncommitted_template_changes_allowed() -> Iterator[None]:
    """Render from a template clone with uncommitted changes without Copier's warning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        yield


@contextlib.contextmanager
def copier_rendering() -> Iterator[None]:
    """Around a Copier render: every template compiled once (generator.compiled_templates), and no warning about a
    template clone's uncommitted changes."""
    compiled_templates.install()
    with uncommitted_template_changes_allowed():
        yield


def load_config(source: str, vcs_ref: str | None) -> TemplateConfig:
    """The questions and team-owned files of the template at `source` and `vcs_ref`."""
    template = Template(url=source, ref=vcs_ref)
    try:
        # Copier tells about the ref it picks again when it renders; say it once.
        with uncommitted_template_changes_allowed(), contextlib.redirect_stderr(io.StringIO()):
            questions = template.questions_data
            team_owned = tuple(str(pattern) for pattern in template.skip_if_exists)
    except (CopierError, OSError, ValueError) as error:
        raise TemplateSourceError(f"cannot read the template at {source}: {error}") from error
    finally:
        template._cleanup()
    return TemplateConfig(
        questions={name: _question(name, spec) for name, spec in questions.items()}, team_owned=team_owned
    )


def team_owned_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """Whether a path (relative to the project) is team-owned, matched as Copier matches `_skip_if_exists`."""
    style = "gitignore" if Version(pathspec_version) >= Version("1.0.0") else "gitwildmatch"
    spec = PathSpec.from_lines(style, (unicodedata.normalize("NFD", pattern) for pattern in patterns))
    return lambda path: bool(spec.match_file(path))


def load_questions(source: str, vcs_ref: str | None) -> dict[str, Question]:
    """The questions of the template at `source` and `vcs_ref`."""
    return load_config(source, vcs_ref).questions


def _question(name: str, spec: dict[str, Any]) -> Question:
    choices = spec.get("choices") or ()
    if isinstance(choices, dict):
        choices = tuple(choices.values())
    return Question(name=name, type=str(spec.get("type", "str")), choices=tuple(choices))
