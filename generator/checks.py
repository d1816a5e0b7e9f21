"""Every check that applies to a generated repository: one registry of small objects.

A check has a name, says whether it applies to a repository, and runs the
real tool at its pinned version. Adding a check is one entry in CHECKS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator import consistency, kube, scanners
from generator.argocd_check import check_argocd
from generator.backstage import check_backstage
from generator.errors import GosvcError, InvalidInputError, ToolMissingError
from generator.helm_check import check_helm
from generator.image_check import check_image
from generator.makefile_check import check_makefile
from generator.outcome import Outcome
from generator.preset import drift, load_preset, preset_path
from generator.prometheus_check import check_prometheus_e2e
from generator.prometheus_rules import check_prometheus_rules
from generator.proto_check import check_proto
from generator.render import read_answers
from generator.server_check import SERVER_VERSIONS, check_kubernetes_server
from generator.tools import groovy_classpath, run_tool

PASS, FAIL, MISSING, NOT_APPLICABLE = "pass", "fail", "missing", "not-applicable"


@dataclass(frozen=True)
class Check:
    """One check: its name, when it applies, and how it runs."""

    name: str
    applies: Callable[[Path], bool]
    run: Callable[[Path], Outcome]
    describe: str = ""
    waits: bool = False  # mostly waits on servers it started: runs beside the --jobs bound, not inside it


@dataclass(frozen=True)
class Result:
    """A check's row: name, status, seconds and output."""

    check: str
    status: str
    seconds: float
    output: str

    def as_json(self) -> dict[str, object]:
        return {"check": self.check, "status": self.status, "seconds": self.seconds, "output": self.output}


def command(*argv: str, silent: bool = False) -> Callable[[Path], Outcome]:
    """A check step that runs a tool; passes on exit 0 (and, with `silent`, no output)."""

    def run(repo: Path) -> Outcome:
        result = run_tool(argv[0], *argv[1:], cwd=repo)
        output = (result.stdout + result.stderr).strip()
        passed = result.returncode == 0 and not (silent and output)
        return Outcome(passed, output)

    return run


def steps(*runs: Callable[[Path], Outcome]) -> Callable[[Path], Outcome]:
    """Several steps as one check: stops at the first that fails."""

    def run(repo: Path) -> Outcome:
        outputs = []
        for step in runs:
            outcome = step(repo)
            if outcome.output:
                outputs.append(outcome.output)
            if not outcome.passed:
                return Outcome(False, "\n".join(outputs))
        return Outcome(True, "\n".join(outputs))

    return run


def has(*paths: str) -> Callable[[Path], bool]:
    return lambda repo: all((repo / path).exists() for path in paths)


def _has_shell_scripts(repo: Path) -> bool:
    return any(_shell_scripts(repo))


def _shell_scripts(repo: Path) -> Iterable[Path]:
    return (path for path in sorted(repo.rglob("*.sh")) if ".git" not in path.parts)


def _actionlint(repo: Path) -> Outcome:
    # Named explicitly: actionlint only finds workflows by itself inside a git work tree.
    workflows = sorted(str(p.relative_to(repo)) for p in (repo / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        return Outcome(False, ".github/workflows holds no workflow")
    return command("actionlint", *workflows)(repo)


_DECLARATIVE_PIPELINE = Path(__file__).with_name("declarative_pipeline.groovy")


def _jenkins_declarative(repo: Path) -> Outcome:
    return command(
        "java", "-cp", groovy_classpath(), "groovy.ui.GroovyMain", str(_DECLARATIVE_PIPELINE), "Jenkinsfile"
    )(repo)


def _promtool_config(repo: Path) -> Outcome:
    # prometheus/kubernetes.yml is there unless prometheus-operator alone finds the service.
    configs = [name for name in ("prometheus/prometheus.yml", "prometheus/kubernetes.yml") if (repo / name).is_file()]
    return command("promtool", "check", "config", "--syntax-only", *configs)(repo)


def _shellcheck(repo: Path) -> Outcome:
    scripts = [str(path.relative_to(repo)) for path in _shell_scripts(repo)]
    return command("shellcheck", "--severity=style", *scripts)(repo)


def _preset_given(_repo: Path) -> bool:
    return preset_path(None) is not None


def _preset(repo: Path) -> Outcome:
    """The answers keep every locked answer of the preset ($GOSVC_PRESET, as `gosvc check --preset` sets it);
    changed defaults are listed, and allowed."""
    chosen = preset_path(None)
    if chosen is None:
        return Outcome(True, "no preset given")
    preset = load_preset(chosen)
    found = drift(preset, read_answers(repo))
    said = found.describe(preset) or [f"the answers keep every answer of the preset {preset.path}"]
    return Outcome(not found.locked, "\n".join(said))


CHECKS: tuple[Check, ...] = (
    Check("go-mod-tidy", has("go.mod"), command("go", "mod", "tidy", "-diff"), "go mod tidy -diff: no drift"),
    Check("gofmt", has("go.mod"), command("gofmt", "-l", ".", silent=True), "gofmt -l: every file formatted"),
    Check("go-vet", has("go.mod"), command("go", "vet", "./..."), "go vet ./..."),
    Check("go-build", has("go.mod"), command("go", "build", "./..."), "go build ./..."),
    Check("go-test", has("go.mod"), command("go", "test", "-race", "-count=1", "./..."), "go test -race ./..."),
    Check(
        "golangci-lint",
        has("go.mod"),
        # Without the flag a second run (another repository of a matrix or fleet) refuses to start.
        command("golangci-lint", "run", "--allow-parallel-runners", "./..."),
        "golangci-lint v2, shipped config",
    ),
    Check(
        "proto",
        has("buf.yaml"),
        check_proto,
        "buf lint; internal/gen is what buf generate makes of proto/ with the pinned plugins; buf breaking against "
        "the last commit",
    ),
    Check(
        "makefile",
        has("Makefile"),
        check_makefile,
        "make -n on every target, no undefined variable; make tools run with go and pip in dry-run mode: every "
        "pinned tool resolves at its version",
    ),
    Check(
        "hadolint",
        has("Dockerfile"),
        command("hadolint", "--failure-threshold", "warning", "Dockerfile"),
        "hadolint: no findings at warning or above",
    ),
    Check(
        "yamllint",
        has(".yamllint.yml"),
        command("yamllint", "--strict", "-c", ".yamllint.yml", "."),
        "yamllint --strict, shipped config",
    ),
    Check(
        "kubernetes-schema",
        has("deploy"),
        kube.validate_schemas,
        "kustomize every overlay, helm template every values file; strict schemas of Kubernetes "
        + ", ".join(kube.KUBERNETES_VERSIONS),
    ),
    Check(
        "helm",
        has("deploy/chart/Chart.yaml"),
        check_helm,
        "helm lint --strict with every values file; values.schema.json refuses a value the chart does not define; "
        "beside kustomize overlays, each values file renders the objects of the overlay of its environment",
    ),
    Check(
        "kubernetes-consistency",
        has("deploy"),
        consistency.check_consistency,
        "selectors, probes, ports and autoscaling agree with the answers",
    ),
    Check(
        "argocd",
        has("deploy/argocd"),
        check_argocd,
        "each Argo CD Application strictly against Argo CD's published definition; one per environment, deploying "
        "a source path the repository holds into the namespace it renders, with the answers' repository and sync",
    ),
    Check(
        "checkov",
        has("deploy"),
        scanners.checkov,
        "checkov on the repository and every rendered overlay (kubernetes, dockerfile, github_actions, "
        "gitlab_ci): nothing failed, every file scanned, suppressions only with a reason",
    ),
    Check(
        "kube-score",
        has("deploy"),
        scanners.kube_score,
        "kube-score on every rendered overlay: no CRITICAL, no WARNING",
    ),
    Check(
        "prometheus-config",
        has("prometheus"),
        _promtool_config,
        "promtool check config (compose and Kubernetes scrape configs)",
    ),
    Check(
        "prometheus-rules",
        has("prometheus/alerts.yml"),
        check_prometheus_rules,
        "promtool check rules, and test rules on every prometheus/*_test.yml; the same for the spec of every "
        "PrometheusRule rendered, which must hold the rules of prometheus/alerts.yml",
    ),
    Check(
        "actionlint",
        has(".github/workflows"),
        _actionlint,
        "actionlint (with shellcheck on run: steps)",
    ),
    Check(
        "gitlab-ci-schema",
        has(".gitlab-ci.yml"),
        command("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"),
        "GitLab CI JSON schema",
    ),
    Check(
        "jenkinsfile",
        has("Jenkinsfile"),
        steps(
            command("npm-groovy-lint", "--noserver", "--failon", "error", "--output", "txt", "Jenkinsfile"),
            _jenkins_declarative,
        ),
        "Groovy syntax, CodeNarc rules and the declarative structure; the steps themselves need a Jenkins controller",
    ),
    Check(
        "compose",
        has("docker-compose.yml"),
        steps(
            command("docker-compose", "-f", "docker-compose.yml", "config", "--quiet"),
            command("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"),
        ),
        "docker compose config and the compose-spec schema",
    ),
    Check(
        "renovate-schema",
        has("renovate.json"),
        command("check-jsonschema", "--builtin-schema", "vendor.renovate", "renovate.json"),
        "Renovate config schema",
    ),
    Check("shellcheck", _has_shell_scripts, _shellcheck, "shellcheck on every *.sh"),
    Check(
        "backstage",
        has("catalog-info.yaml"),
        check_backstage,
        "catalog-info.yaml validated as the Backstage catalog reads it (@backstage/catalog-model): entity "
        "policies, the Component schema, and owner and system references an entity could have",
    ),
    Check(
        "preset",
        _preset_given,
        _preset,
        "with --preset FILE (or GOSVC_PRESET): the answers keep every locked answer of the organisation preset",
    ),
    Check(
        "kubernetes-server",
        has("deploy"),
        check_kubernetes_server,
        "every overlay server-side applied to kube-apiserver "
        + ", ".join(SERVER_VERSIONS)
        + " in a Pod Security restricted namespace (or dry-run in --kube-context): no refusal, no warning",
    ),
    Check(
        "prometheus-e2e",
        has("prometheus/prometheus.yml", "go.mod"),
        check_prometheus_e2e,
        "the service and Prometheus on loopback, the repository's scrape config and rules: up, request metrics "
        "by route pattern, no page while up, a critical alert pending then firing once the service stops",
        waits=True,
    ),
    Check(
        "image",
        has("Dockerfile"),
        check_image,
        "docker build; the container run read-only and non-root: probes, metrics port, HEALTHCHECK, SIGTERM",
    ),
)

# Longest first, so that parallel runs finish sooner.
_COST = {
    "image": -2,
    "kubernetes-server": -1,
    "go-test": 0,
    "prometheus-rules": 1,
    "golangci-lint": 2,
    "go-build": 3,
    "go-vet": 4,
    "checkov": 5,
    "jenkinsfile": 6,
}


def names() -> str:
    """The names of every check, for messages."""
    return ", ".join(check.name for check in CHECKS)


def select(only: Sequence[str] | None) -> list[Check]:
    """The checks named in `only` (all when None); an unknown name, or naming none, is an input error."""
    if only is None:
        return list(CHECKS)
    if not only:
        raise InvalidInputError(f"no check named; the checks are: {names()}")
    known = {check.name: check for check in CHECKS}
    unknown = [name for name in only if name not in known]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInputError(f"unknown check {shown}; the checks are: {names()}")
    return [known[name] for name in dict.fromkeys(only)]


def run_checks(
    repo: Path,
    only: Sequence[str] | None = None,
    *,
    jobs: int | None = None,
    progress: Callable[[Result], None] = lambda _: None,
) -> list[Result]:
    """Run the selected checks on `repo` in parallel; results in registry order."""
    repo = Path(repo)
    if not repo.is_dir():
        raise InvalidInputError(f"{repo} is not a folder")
    if jobs is not None and jobs < 1:
        raise InvalidInputError(f"--jobs must be at least 1 (got {jobs})")
    chosen = select(only)
    ordered = sorted(chosen, key=lambda check: _COST.get(check.name, 10))
    workers = jobs or max(2, (os.cpu_count() or 2))
    waiting = sum(check.waits for check in ordered)
    with (
        kube.rendered_once(repo),
        ThreadPoolExecutor(max_workers=workers) as pool,
        ThreadPoolExecutor(max_workers=max(1, waiting)) as beside,
    ):
        futures = {
            check.name: (beside if check.waits else pool).submit(_run_one, check, repo, progress) for check in ordered
        }
        by_name = {name: future.result() for name, future in futures.items()}
    return [by_name[check.name] for check in chosen]


def _run_one(check: Check, repo: Path, progress: Callable[[Result], None]) -> Result:
    started = time.monotonic()
    if not check.applies(repo):
        result = Result(check.name, NOT_APPLICABLE, 0.0, "")
    else:
        try:
            outcome = check.run(repo)
            status = PASS if outcome.passed else FAIL
            output = outcome.output
        except ToolMissingError as error:
            status, output = MISSING, str(error)
        except GosvcError as error:  # the check could not read what it checks, such as the answers file
            status, output = FAIL, str(error)
        except (OSError, UnicodeError, ValueError, LookupError, TypeError, AttributeError) as error:
            # A file edited so that the check cannot read it is what a check exists to report.
            status, output = FAIL, f"cannot read the repository: {type(error).__name__}: {error}"
        result = Result(check.name, status, round(time.monotonic() - started, 2), output)
    progress(result)
    return result


def exit_status(results: Sequence[Result]) -> int:
    """0 when every applicable check passed, 2 when a tool is missing, else 1."""
    if any(result.status == MISSING for result in results):
        return 2
    return 1 if any(result.status == FAIL for result in results) else 0
