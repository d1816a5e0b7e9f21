"""What a run of checks is given: one typed object the CLI builds, not settings passed through the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from generator.checks.cache import ResultCache
from generator.images.standins import offline_standins
from generator.project.answers_file import read_answers
from generator.servers.postgres import SharedPostgres
from generator.template.preset import preset_path
from generator.tools import Toolbox


@dataclass(frozen=True)
class CheckContext:
    """The repository under check and the settings of this run. A check reads only the fields it declares in
    `Check.uses`; those fields are part of its results' cache key."""

    repo: Path
    offline_standins: bool = False
    """Base images are never pulled: local images or stand-ins serve (`--offline-standins`)."""
    kube_context: str = ""
    """A kubeconfig context the kubernetes-server check dry-runs against, instead of local control planes."""
    preset: Path | None = None
    """The organisation preset whose locked answers the preset check holds the repository to."""
    postgres: SharedPostgres | None = field(default=None, compare=False)
    """The PostgreSQL server the checks of a repository with a database make their databases on, shared by the
    run instead of each check starting its own: like `planes`, where the databases are changes no result."""
    planes: Mapping[str, Path] = field(default_factory=dict, compare=False)
    """Running local control planes by Kubernetes version, which the kubernetes-server check applies into instead of
    starting its own: where the objects are applied does not change the result, so it is not in any key."""
    cache: ResultCache | None = field(default=None, compare=False)
    """Where results are kept and found by the content of what each check reads; None runs every check."""
    tools: Toolbox = field(default_factory=Toolbox.default, compare=False)
    """Where the checks find the tools they run: the user's tools folder unless given another. The versions of the
    tools a check declares key its results, so the folder itself is in no key."""

    @cached_property
    def answers(self) -> dict[str, Any]:
        """The repository's answers file, read once for every check of the run (read-only by convention); a
        missing or unreadable one fails each check that reads it, with the reason."""
        return read_answers(self.repo)

    @classmethod
    def from_environment(cls, repo: Path, **given: Any) -> CheckContext:
        """The settings `given`, and for the others the user's defaults: $GOSVC_OFFLINE_STANDINS and $GOSVC_PRESET,
        read here and nowhere else; and the user's tools folder, which Toolbox.default reads from $GOSVC_TOOLS."""
        preset = preset_path(None)
        defaults = cls(repo, offline_standins=offline_standins(), preset=preset.absolute() if preset else None)
        return dataclasses.replace(defaults, **given)

    def setting(self, name: str) -> str:
        """The value of one setting, as it enters a cache key; a preset is keyed by its content, not its name."""
        if name == "preset":
            if self.preset is None:
                return ""
            try:
                return self.preset.read_text(encoding="utf-8")
            except OSError as error:
                return f"unreadable: {error}"
        return str(getattr(self, name))
