"""The versions of a template: its release tags, the newest of them, and the version an update goes to."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.runtime.errors import InvalidInputError, TemplateSourceError
from generator.runtime.git import GitError, run
from generator.template.copier_internals import get_repo

_RELEASE = re.compile(r"^v?\d+\.\d+")


def version_tags(source: str) -> list[str]:
    """Tags of the template repository at `source` that are PEP 440 versions."""
    target = get_repo(source) or source  # expands gh:/gl: shortcuts and ~, as Copier does
    if Path(target).is_dir():
        target = str(Path(target).resolve())
    try:
        listed = run(Path(tempfile.gettempdir()), "ls-remote", "--tags", "--refs", "--", target)
    except GitError as error:
        raise TemplateSourceError(f"cannot list the versions of the template at {source}: {error}") from error
    tags = [line.split("\t", 1)[1].removeprefix("refs/tags/") for line in listed.splitlines() if "\t" in line]
    return [tag for tag in tags if parse_version(tag) is not None]


def newest_version(tags: Sequence[str]) -> str | None:
    """The highest release among `tags`, pre-releases aside, as Copier picks it."""
    releases = [(version, tag) for tag in tags if (version := parse_version(tag)) and not version.is_prerelease]
    return max(releases)[1] if releases else None


def parse_version(ref: str | None) -> Version | None:
    """A template ref as a version: a tag (v1.2.0) or what `git describe` gives past one (v1.2.0-3-gabc123)."""
    if not ref:
        return None
    base, _, described = ref.rpartition("-g")
    if base and described.isalnum():
        tag, _, distance = base.rpartition("-")
        if tag and distance.isdigit():
            try:
                return Version(f"{tag}.post{distance}+{described}")
            except InvalidVersion:
                return None
    try:
        return Version(ref)
    except InvalidVersion:
        return None


def target_version(source: str, vcs_ref: str | None) -> str | None:
    """The template version an update goes to, when it is a release at all (a branch or commit is not).

    A ref written like a release that the template never tagged is bad input.
    """
    tags = version_tags(source)
    if vcs_ref is None:
        return newest_version(tags)
    if vcs_ref in tags:
        return vcs_ref
    if _RELEASE.match(vcs_ref):
        known = ", ".join(sorted(tags, key=lambda tag: parse_version(tag) or Version("0"))) or "none"
        raise InvalidInputError(f"the template at {source} has no version {vcs_ref[:40]} (its versions: {known})")
    return None


def is_up_to_date(version: str, target: str | None) -> bool:
    current, wanted = parse_version(version), parse_version(target)
    return current is not None and wanted is not None and current >= wanted
