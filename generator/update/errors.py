"""What can stop an update, each a kind of error the command line reports in one line, and how an error that broke
off an update is told to the user."""

from __future__ import annotations

from pathlib import Path

from generator.runtime.errors import GosvcError, InvalidInputError
from generator.template.copier_errors import as_gosvc_error, failed_task, is_copier_error, refused


class DirtyRepositoryError(InvalidInputError):
    """The repository has uncommitted changes, which an update could mix with its own."""


class UpdateRefusedError(InvalidInputError):
    """Copier declined to update (a downgrade, a version it cannot read...); nothing changed."""


class UpdateFailedError(GosvcError):
    """The update broke off; the repository was restored to its last commit."""


class OverlaysBrokenError(GosvcError):
    """After the update, a kustomization that built before no longer builds or no longer agrees with the base."""


def explain(error: Exception, project: Path, commit: str, *, answers_changed: bool) -> GosvcError:
    """`error`, which broke off the update of `project`, as the one-line error to report: what happened, that the
    repository is back at `commit`, and what to do."""
    restored = f"{project} is back at commit {commit[:12]}, as it was"
    if isinstance(error, OverlaysBrokenError):
        advice = (
            "the overlays are yours: make them build with the new answers in a commit, then update again"
            if answers_changed
            else "the overlays are yours: adapt them to the new template version in a commit, then update again"
        )
        kind = UpdateRefusedError if answers_changed else UpdateFailedError
        return kind(f"{error}; {restored}; {advice}")
    if (task := failed_task(error)) is not None:
        return UpdateFailedError(f"a template task or migration failed ({task}); {restored}")
    if (refusal := refused(error)) is not None:
        return UpdateRefusedError(f"copier refused the update: {refusal}; {restored}")
    if is_copier_error(error) or isinstance(error, ValueError):
        converted = as_gosvc_error(error)
        converted.args = (f"{converted}; {restored}",)
        return converted
    if isinstance(error, InvalidInputError):
        error.args = (f"{error}; {restored}",)
        return error
    if isinstance(error, GosvcError):
        return UpdateFailedError(f"{error}; {restored}")
    return UpdateFailedError(f"the update broke off ({type(error).__name__}: {error}); {restored}")
