"""The check of a repository's catalog-info.yaml, and of any Backstage file: read and validated as the
Backstage catalog and scaffolder read them, by their own packages run under Node."""

from __future__ import annotations

import subprocess
from pathlib import Path

from generator import resources
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

VALIDATOR = resources.FOLDER / "backstage_validate.cjs"
VALIDATOR_TOOLS = ("node", "backstage-catalog-model", "backstage-scaffolder-common", "yaml")


def validate(path: Path, kinds: str, toolbox: Toolbox) -> Outcome:
    """`path` read as the Backstage catalog reads it, and validated by @backstage/catalog-model and the
    scaffolder's template schema (as `toolbox` has them); `kinds` names the entity kinds the file may hold."""
    for tool in VALIDATOR_TOOLS:
        toolbox.find(tool)
    result = subprocess.run(
        [str(toolbox.find("node")), str(VALIDATOR), "--kinds", kinds, path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        env={**toolbox.environment(), "NODE_PATH": str(toolbox.npm_modules())},
    )
    return Outcome(result.returncode == 0, (result.stdout + result.stderr).strip())


def check_backstage(repo: Path, toolbox: Toolbox) -> Outcome:
    """The repository's catalog-info.yaml, as the Backstage catalog would read and validate it."""
    return validate(repo / "catalog-info.yaml", "Component", toolbox)
