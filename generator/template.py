"""Where the template comes from, and what it asks."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier._template import Template
from copier.errors import CopierError, DirtyLocalWarning

from generator.errors import TemplateSourceError

TEMPLATE_ENV_VAR = "GOSVC_TEMPLATE"


@dataclass(frozen=True)
class Question:
    """One question of copier.yml, as far as answers given up front need it."""

    name: str
    type: str
    choices: tuple[Any, ...] = ()


def default_source() -> str:
    """The template to render when the user names none.

    $GOSVC_TEMPLATE wins; otherwise the git clone this package runs from (an
    editable install). Loose package files are never a source: without git,
    `copier update` could not find the template version later.
    """
    if from_env := os.environ.get(TEMPLATE_ENV_VAR):
        return from_env
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "copier.yml").is_file() and _is_git_work_tree(checkout):
        return str(checkout)
    raise TemplateSourceError(
        "no template source: this gosvc is not installed from a git clone of the template; "
        f"pass --template URL-or-PATH or set {TEMPLATE_ENV_VAR}"
    )


def _is_git_work_tree(path: Path) -> bool:
    result = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


@contextlib.contextmanager
def uncommitted_template_changes_allowed() -> Iterator[None]:
    """Render from a template clone with uncommitted changes without Copier's warning about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        yield


def load_questions(source: str, vcs_ref: str | None) -> dict[str, Question]:
    """The questions of the template at `source` and `vcs_ref`."""
    template = Template(url=source, ref=vcs_ref)
    try:
        # Copier tells about the ref it picks again when it renders; say it once.
        with uncommitted_template_changes_allowed(), contextlib.redirect_stderr(io.StringIO()):
            questions = template.questions_data
    except (CopierError, OSError, ValueError) as error:
        raise TemplateSourceError(f"cannot read the template at {source}: {error}") from error
    finally:
        template._cleanup()
    return {name: _question(name, spec) for name, spec in questions.items()}


def _question(name: str, spec: dict[str, Any]) -> Question:
    choices = spec.get("choices") or ()
    if isinstance(choices, dict):
        choices = tuple(choices.values())
    return Question(name=name, type=str(spec.get("type", "str")), choices=tuple(choices))
