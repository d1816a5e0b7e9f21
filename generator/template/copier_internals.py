"""What gosvc needs of Copier beyond its public API, in one place: when Copier changes them, this module is the
one to adapt (its tests import each name)."""

from copier._template import Template
from copier._vcs import get_repo

__all__ = ["Template", "get_repo"]
"""Template: a template's questions and settings as Copier reads copier.yml (gosvc reads them to validate answers
and to know the team-owned files). get_repo: a template source as Copier resolves it (gh:/gl: shortcuts, ~)."""
