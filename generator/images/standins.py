"""Base images for image builds: the real ones, pulled; local stand-ins only when asked for.

By default each base image a Dockerfile names is pulled (or found locally
under its own name). A machine that reaches no container registry asks for
stand-ins (`--offline-standins`, or GOSVC_OFFLINE_STANDINS=1): then nothing
is pulled, and a minimal image holding what the real one has that matters
here (the Go toolchain for the builder; the users, CA certificates and /tmp
for the runtime images) is imported in its place. Which images were real and
which were stand-ins is always reported, never hidden.
"""

from __future__ import annotations

import enum
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.images.engine import Engine, EngineCommandError
from generator.images.rootfs import RootFs
from generator.images.standin_recipes import Recipe, StandInError, recipe_for

# Bump when what a stand-in holds changes: older stand-ins are then made anew.
RECIPE_VERSION = "3"
STANDIN_LABEL = "org.gosvc.standin"
HOLDS_LABEL = "org.gosvc.standin.holds"
DIGEST_STANDIN_REPOSITORY = "gosvc-standin"
PULL_TIMEOUT_SECONDS = 20.0


class Source(enum.Enum):
    PULLED = "real (pulled)"
    LOCAL = "real (already in the local image store)"
    STANDIN = "stand-in"


@dataclass(frozen=True)
class BaseImage:
    """One base image of a build, and where it came from."""

    ref: str  # as the Dockerfile names it
    local_ref: str  # what a FROM line must name to use it; differs from `ref` only for digest pins
    source: Source
    holds: str = ""  # what a stand-in holds
    created: bool = False  # a stand-in made by this run rather than found
    pull_error: str = ""

    @property
    def is_real(self) -> bool:
        return self.source is not Source.STANDIN

    def describe(self) -> str:
        """One line: real, or a stand-in and what it holds (the pull error is told apart, in `pull_error`)."""
        if self.is_real:
            return f"{self.ref}: {self.source.value}"
        made = "made now" if self.created else "made earlier"
        where = "" if self.local_ref == self.ref else f", tagged {self.local_ref}, which the build names instead"
        return f"{self.ref}: STAND-IN ({made}{where}) holding {self.holds}"


def standin_tag(ref: str) -> str:
    """The local tag a stand-in of `ref` gets: the name itself, except for digest pins no local image can match."""
    if "@" not in ref:
        return ref
    name, _, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    path = rest if slash and ("." in first or ":" in first or first == "localhost") else name  # drop the host
    repository = path.split(":")[0].replace("/", "-")
    return f"{DIGEST_STANDIN_REPOSITORY}/{repository}:{digest.replace(':', '-')[:19]}"


OFFLINE_STANDINS_ENV = "GOSVC_OFFLINE_STANDINS"
"""Set to 1 (as `--offline-standins` does), base images are never pulled: local images or stand-ins serve."""


def offline_standins() -> bool:
    """Whether this process was asked to build on stand-ins instead of pulling."""
    return os.environ.get(OFFLINE_STANDINS_ENV, "") not in ("", "0")


class BaseImages:
    """Resolves the base images of builds once each: pulled, found real, or made as stand-ins."""

    def __init__(self, engine: Engine, *, standins: bool, pull_timeout: float = PULL_TIMEOUT_SECONDS) -> None:
        """With `standins`, nothing is pulled: each image is a local one of that name or a stand-in made here
        (for machines no registry answers). Without, each is pulled, or found locally under its own name."""
        self._engine = engine
        self._standins = standins
        self._pull = not standins
        self._pull_timeout = pull_timeout
        self._resolved: dict[str, BaseImage] = {}
        self._pull_errors: dict[str, str] = {}

    @property
    def resolved(self) -> list[BaseImage]:
        """Every base image resolved so far, in the order first asked for."""
        return list(self._resolved.values())

    def ensure(self, ref: str) -> BaseImage:
        if ref not in self._resolved:
            self._resolved[ref] = self._resolve(ref)
        return self._resolved[ref]

    def pull_error(self, ref: str) -> str:
        """Why `ref` cannot be pulled, or "" when the pull succeeded; each reference is tried once."""
        if ref not in self._pull_errors:
            self._pull_errors[ref] = self._try_pull(ref)
        return self._pull_errors[ref]

    def _try_pull(self, ref: str) -> str:
        if not self._pull:
            return "pulling is off"
        try:
            pulled = self._engine.run("pull", "--quiet", ref, timeout=self._pull_timeout, check=False)
        except EngineCommandError as error:  # timed out
            return _first_line(str(error))
        return "" if pulled.returncode == 0 else _first_line(pulled.stderr or pulled.stdout)

    def _resolve(self, ref: str) -> BaseImage:
        pull_error = self.pull_error(ref)
        if not pull_error:
            return BaseImage(ref, ref, Source.PULLED)
        local = self._engine.image_config(ref)
        if local is not None and _standin_version(local) is None:
            return BaseImage(ref, ref, Source.LOCAL, pull_error=pull_error)
        if not self._standins:
            raise StandInError(
                f"cannot pull {ref} ({pull_error}); on a machine no registry answers, "
                f"--offline-standins (or {OFFLINE_STANDINS_ENV}=1) builds on local stand-ins instead"
            )
        make_recipe = recipe_for(ref)
        if make_recipe is None:
            raise StandInError(f"cannot pull {ref} ({pull_error}) and gosvc has no stand-in for it")
        tag = standin_tag(ref)
        present = self._engine.image_config(tag)
        if present is not None and _standin_version(present) == RECIPE_VERSION:
            return BaseImage(ref, tag, Source.STANDIN, holds=_label(present, HOLDS_LABEL), pull_error=pull_error)
        recipe = make_recipe()
        self._import(tag, recipe)
        if present is not None:  # an older recipe's image, untagged now: drop it unless something still uses it
            self._engine.run("image", "rm", str(present["Id"]), check=False)
        return BaseImage(ref, tag, Source.STANDIN, holds=recipe.holds, created=True, pull_error=pull_error)

    def _import(self, tag: str, recipe: Recipe) -> None:
        with tempfile.TemporaryDirectory(prefix="gosvc-standin-") as scratch:
            archive_path = Path(scratch) / "rootfs.tar"
            with tarfile.open(archive_path, "w", format=tarfile.PAX_FORMAT) as archive:
                recipe.lay_out(RootFs(archive))
            labels = f"LABEL {STANDIN_LABEL}={RECIPE_VERSION} {HOLDS_LABEL}={json.dumps(recipe.holds)}"
            changes = [*recipe.config, labels]
            args = [arg for change in changes for arg in ("--change", change)]
            try:
                self._engine.run(
                    "import", *args, "-", tag, stdin_path=archive_path, timeout=600, what=f"importing {tag}"
                )
            except EngineCommandError as error:
                raise StandInError(f"cannot make the stand-in {tag}: {error}") from error


def _standin_version(inspected: dict[str, Any]) -> str | None:
    return _label(inspected, STANDIN_LABEL) or None


def _label(inspected: dict[str, Any], name: str) -> str:
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    return str(labels.get(name, ""))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")
