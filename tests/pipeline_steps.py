"""The steps a generated repository's pipeline runs, read from its pipeline file, and how each runs on this machine.

Every shell step of a GitHub workflow (`run:`, and the actions that do a step's work), of `.gitlab-ci.yml`
(`before_script`, `script`, `after_script`) and of a Jenkinsfile (`sh`) is read in the order the pipeline runs
it. Each meets exactly one rule of RULES: it runs as written; it runs with a stated substitute (a tool image's
command run by the same tool at the same version from gosvc's pins, a release's tag and digest given); or it
cannot run here, for a reason the test output prints (no registry to push to or sign in, no forge to open a
pull request on). A step no rule covers is an error: a new step cannot go unexecuted unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

PIPELINE_FILES = {"github-actions": ".github/workflows/ci.yml", "gitlab-ci": ".gitlab-ci.yml", "jenkins": "Jenkinsfile"}
"""The pipeline file of each CI system, relative to the repository."""


@dataclass(frozen=True)
class Step:
    job: str
    command: str
    """The shell text the pipeline runs; for an action, `uses OWNER/NAME`."""
    env: tuple[tuple[str, str], ...] = ()
    """The variables the job declares for its steps (a GitHub job's `env:`, a GitLab job's `variables:`)."""
    services: tuple[str, ...] = ()
    """The images of the service containers the job runs beside its steps."""


@dataclass(frozen=True)
class Rule:
    """How the steps matching `pattern` run here: `instead` is run in their place (the step itself when empty),
    unless `not_here` says why nothing can run."""

    pattern: str
    instead: str = ""
    why: str = ""
    not_here: str = ""

    def matches(self, step: Step) -> bool:
        return re.fullmatch(self.pattern, step.command.strip(), flags=re.S) is not None


NO_REGISTRY = "no container registry answers this machine (the image check builds this Dockerfile on local stand-ins)"
_NO_FORGE = "proposes the release on the forge, which this machine has none of"
RELEASE = ("v0.0.1", "sha256:" + "ab" * 32)
"""The tag and image digest a release job is given here, where no image was pushed."""

RULES = (
    Rule(r"make tools"),
    Rule(r"make check-[a-z-]+( check-[a-z-]+)*"),
    Rule(r"go mod tidy -diff"),
    Rule(r"go test -race -count=1 \./\.\.\."),
    Rule(r"golangci-lint run"),
    Rule(r"uses golangci/golangci-lint-action", instead="golangci-lint run",
         why="what the action runs, by the golangci-lint version it pins, from gosvc's tools"),
    Rule(r"make pin-release TAG=\S+ DIGEST=.+", instead=f"make pin-release TAG={RELEASE[0]} DIGEST={RELEASE[1]}",
         why="a release's tag, and the digest the image job would have pushed"),
    Rule(r"apt-get update .*python3-venv.*", not_here="installs python3-venv into the Go image; this machine has it"),
    Rule(r"uses docker/(setup-buildx|login|metadata|build-push)-action|docker (buildx|login|logout)\b.*"
         r"|echo \"\$REGISTRY_PASSWORD\" \| docker login .*|rm -rf \"\$DOCKER_CONFIG\"|VERSION=.*"
         r"|(DIGEST=\$\()?sed -n .*build\.json.*|echo \"DIGEST=\$DIGEST\" > image\.env", not_here=NO_REGISTRY),
    Rule(r"uses sigstore/cosign-installer|apk add --no-cache cosign|cosign sign .*",
         not_here="signs the pushed image with the job's identity: neither exists here"),
    Rule(r"branch=.*|git (fetch|push|switch|config|commit|-c) .*|gh pr create .*", not_here=_NO_FORGE),
)  # fmt: skip
"""Each rule's pattern matches a whole command, so that a changed step meets no rule instead of a loose one."""


def rule_for(step: Step) -> Rule | None:
    """The rule that covers `step`: the first that matches."""
    return next((rule for rule in RULES if rule.matches(step)), None)


def pipeline_steps(repo: Path, ci_system: str) -> list[Step]:
    """The steps of the repository's pipeline, in the order the pipeline file lists them."""
    path = repo / PIPELINE_FILES[ci_system]
    reader = {"github-actions": _github, "gitlab-ci": _gitlab, "jenkins": _jenkins}[ci_system]
    return list(reader(path))


_WORKING_ACTIONS = ("golangci/", "docker/", "sigstore/")
"""Actions that do a step's work, not setup the machine (checkout, setup-go, setup-python)."""


def _github(path: Path) -> Iterator[Step]:
    for job, spec in yaml.safe_load(path.read_text())["jobs"].items():
        env = tuple((str(key), str(value)) for key, value in (spec.get("env") or {}).items())
        services = tuple(str(service["image"]) for service in (spec.get("services") or {}).values())
        for step in spec.get("steps", []):
            if "run" in step:
                yield from (Step(job, command, env, services) for command in _commands(step["run"]))
            elif str(step.get("uses", "")).startswith(_WORKING_ACTIONS):
                yield Step(job, "uses " + step["uses"].split("@")[0], env, services)


def _gitlab(path: Path) -> Iterator[Step]:
    for job, spec in yaml.safe_load(path.read_text()).items():
        if not isinstance(spec, dict) or "script" not in spec:
            continue
        env = tuple((str(key), str(value)) for key, value in (spec.get("variables") or {}).items())
        # A service is an image, or a mapping that names it.
        services = tuple(str(s["name"] if isinstance(s, dict) else s) for s in spec.get("services") or [])
        for part in ("before_script", "script", "after_script"):
            for script in spec.get(part, []):
                yield from (Step(job, command, env, services) for command in _commands(str(script)))


_STAGE_OR_SH = re.compile(
    r"stage\('(?P<stage>[^']*)'\)|\bsh\s+(?:'''(?P<triple>.*?)'''|\"\"\"(?P<dtriple>.*?)\"\"\"|'(?P<single>[^'\n]*)')",
    flags=re.S,
)


def _jenkins(path: Path) -> Iterator[Step]:
    stage = ""
    for found in _STAGE_OR_SH.finditer(path.read_text()):
        if found["stage"] is not None:
            stage = found["stage"]
            continue
        script = found["triple"] or found["dtriple"] or found["single"] or ""
        yield from (Step(stage, command) for command in _commands(script.replace("\\\\", "\\")))


def _commands(script: str) -> list[str]:
    """The commands of a shell script, one per line: continuation lines joined, blank lines and comments dropped."""
    joined = re.sub(r"\\\n\s*", "", script)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
