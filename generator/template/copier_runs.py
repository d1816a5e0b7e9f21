"""The runs of Copier an update makes: `copier update` in place, with its migrations, and a render of the version
a repository was made from."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from copier import run_copy, run_update
from plumbum import local

from generator.template.source import copier_rendering


def update_in_place(
    project: Path,
    answers: Mapping[str, Any],
    *,
    vcs_ref: str | None,
    conflict: Literal["inline", "rej"],
    quiet: bool,
    moved_log_variable: str,
) -> frozenset[str]:
    """Run `copier update` on `project`; return the files its migrations moved elsewhere, relative to the project
    (the migrations write them, one per line, to the file named by $`moved_log_variable`)."""
    with tempfile.TemporaryDirectory(prefix="gosvc-moved-") as scratch:
        moved_log = Path(scratch) / "moved"
        # Copier runs migrations with plumbum's copy of the environment, not os.environ.
        with local.env(**{moved_log_variable: str(moved_log)}), copier_rendering():
            run_update(
                dst_path=project,
                data=dict(answers),
                defaults=True,
                overwrite=True,
                unsafe=True,
                conflict=conflict,
                vcs_ref=vcs_ref,
                quiet=quiet,
            )
        moved = moved_log.read_text(encoding="utf-8").splitlines() if moved_log.exists() else []
    return frozenset(filter(None, moved))


def render_version(source: str, version: str, answers: Mapping[str, Any], dest: Path) -> Path:
    """`dest` rendered by the template at `source`, at `version`, from `answers`, without running its tasks."""
    with copier_rendering():
        run_copy(
            src_path=source,
            dst_path=dest,
            data=dict(answers),
            vcs_ref=version,
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=True,
            skip_tasks=True,
        )
    return dest


class LazyRender:
    """`render_version` into a temporary folder, made the first time `path` is asked for (and removed with the
    block): an update needs the version a repository was made from only when the team moved or deleted files."""

    def __init__(self, source: str, version: str, answers: Mapping[str, Any]) -> None:
        self._arguments = (source, version, dict(answers))
        self._folder = tempfile.TemporaryDirectory(prefix="gosvc-previous-")
        self._rendered: Path | None = None

    def __enter__(self) -> LazyRender:
        return self

    def __exit__(self, *_: object) -> None:
        self._folder.cleanup()

    def path(self) -> Path:
        if self._rendered is None:
            source, version, answers = self._arguments
            self._rendered = render_version(source, version, answers, Path(self._folder.name) / "previous")
        return self._rendered
