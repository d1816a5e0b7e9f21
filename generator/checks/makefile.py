"""The generated Makefile, run as a developer and the pipeline run it.

Every target must parse and expand (`make -n`, with no undefined variable) into commands that name only
files the repository has, and `make tools`, the
pipeline's first step, with the golangci-lint the first `make lint` installs, runs for real with the
package managers in their dry-run modes: go resolves every `go install` argument at its version and
plans the build, pip resolves every pin against the index, and nothing is installed. A line that
Jinja glued to the next one, a version that is not a version, a package that does not exist at its
pin: each fails here as it would fail the pipeline.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from generator.checks.cache import ResultCache, remembered
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

_RULE = re.compile(r"^([A-Za-z][\w.-]*)\s*:(?!=)", re.MULTILINE)
_UNDEFINED = "warning: undefined variable"


def targets(makefile: str) -> list[str]:
    """The explicit targets of a Makefile, in their order, and every name its .PHONY line declares."""
    named = [name for name in _RULE.findall(makefile) if name != ".PHONY"]
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    declared = phony.group(1).split() if phony else []
    return list(dict.fromkeys([*named, *declared]))


def check_makefile(repo: Path, toolbox: Toolbox, cache: ResultCache | None = None) -> Outcome:
    """With a `cache`, the dry run of `make tools` is done once per install recipe (the commands make expands the
    target to), which many repositories share."""
    makefile = (repo / "Makefile").read_text(encoding="utf-8")
    failures = [_expand(repo, target, toolbox) for target in targets(makefile)]
    recipe = _make(repo, toolbox.environment(), "-n", "tools", "/tools/bin/golangci-lint", "TOOLS=/tools")
    content = (recipe.stdout + recipe.stderr).encode() + str(recipe.returncode).encode()
    dry_run = remembered(cache, "make tools", content, toolbox, ("make", "go"), lambda: _tools_dry_run(repo, toolbox))
    failures.append("" if dry_run.passed else dry_run.output)
    found = [failure for failure in failures if failure]
    if found:
        return Outcome(False, "\n".join(found))
    return Outcome(True, "every target expands; make tools resolves every pin (go and pip in dry-run mode)")


def _make(repo: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def _expand(repo: Path, target: str, toolbox: Toolbox) -> str:
    result = _make(repo, toolbox.environment(), "-n", "--warn-undefined-variables", target)
    undefined = [line for line in result.stderr.splitlines() if _UNDEFINED in line]
    if result.returncode != 0 or undefined:
        return f"make -n {target}: " + (result.stderr.strip() or result.stdout.strip())
    if missing := missing_paths(repo, result.stdout):
        return f"make {target} names {', '.join(missing)}, which this repository does not have"
    return ""


NAMED_FOLDERS = ("deploy", "prometheus", "proto")
"""The folders whose files differ from variant to variant and which the Makefile's commands name: the check reads
them (what is in them, not only the Makefile, decides its result, and so keys it)."""


def missing_paths(repo: Path, commands: str) -> list[str]:
    """The paths into NAMED_FOLDERS that `commands` name and nothing in the repository matches: a file one variant
    generates and another does not, which the command would fail on. Words with make or shell syntax left in them
    (`$`, `=`, `@`, `#`, `:`), options and absolute paths are not paths into the repository."""
    missing = []
    for line in commands.splitlines():
        try:
            words = shlex.split(line, comments=False)
        except ValueError:
            continue
        for word in words:
            path = word.removeprefix("./")
            if "/" not in path or path.startswith(("-", "/")) or any(mark in path for mark in "$=@#:"):
                continue
            if path.split("/", 1)[0] in NAMED_FOLDERS and not any(repo.glob(path)):
                missing.append(word)
    return list(dict.fromkeys(missing))


def _tools_dry_run(repo: Path, toolbox: Toolbox) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="gosvc-make-tools-") as scratch:
        env = {**toolbox.environment(), "GOFLAGS": "-n", "PIP_DRY_RUN": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("VIRTUAL_ENV", None)
        # make tools, and the golangci-lint the first make lint installs.
        result = _make(repo, env, "tools", f"{scratch}/bin/golangci-lint", f"TOOLS={scratch}")
        installed = sorted(path.name for path in (Path(scratch) / "bin").glob("*"))
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        return Outcome(False, f"make tools (dry run) failed:\n{tail}")
    if installed:
        return Outcome(False, f"make tools (dry run) installed {', '.join(installed)}: the dry run is not one")
    return Outcome(True)
