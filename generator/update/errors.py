"""What can stop an update, each a kind of error the command line reports in one line."""

from __future__ import annotations

from generator.runtime.errors import GosvcError, InvalidInputError


class DirtyRepositoryError(InvalidInputError):
    """The repository has uncommitted changes, which an update could mix with its own."""


class UpdateRefusedError(InvalidInputError):
    """Copier declined to update (a downgrade, a version it cannot read...); nothing changed."""


class UpdateFailedError(GosvcError):
    """The update broke off; the repository was restored to its last commit."""


class OverlaysBrokenError(GosvcError):
    """After the update, a kustomization that built before no longer builds or no longer agrees with the base."""
