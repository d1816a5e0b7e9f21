"""The update corpus: realistic team edits of a repository generated at the update tests' v1.0.0, each with how to
see it survived, and the template changes up to v3.0.0 (TARGET) that touch its files, each with how to see it
arrived. benchmarks/update_corpus.py updates each with gosvc and with plain Copier side by side; the plan test
checks a sample of them (all under the long profile).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import git
from tests.template_versions import TEAM_ANSWER, generate
from tests.test_checks import _edit, _regex

TARGET = "v3.0.0"
CONFIG, COMPOSE, NEW_COMPOSE = "deploy/base/config.env", "docker-compose.yml", "compose.yaml"
KUSTOMIZATION = "deploy/base/kustomization.yaml"

Project = Path
Check = Callable[[Project], bool]
Step = Callable[[Project], object]
"""An edit's step: what it returns is ignored."""


def _text(project: Project, *names: str) -> str:
    return "".join((project / name).read_text(errors="replace") for name in names if (project / name).is_file())


def _has(marker: str, *names: str) -> Check:
    return lambda project: marker in _text(project, *names)


def _absent(name: str) -> Check:
    return lambda project: not (project / name).exists()


# The template's changes, each with how to see it arrived, and the paths it changes (for "reported not applied").
SERVICE_ENV = "deploy/base/service.env"
CHANGES: dict[str, tuple[Check, tuple[str, ...]]] = {
    "GOGC": (_has("GOGC=200", CONFIG, SERVICE_ENV), (CONFIG, SERVICE_ENV)),
    "LOG_LEVEL": (_has("LOG_LEVEL=warn", CONFIG, SERVICE_ENV), (CONFIG, SERVICE_ENV)),
    "compose name": (_has("name: orders-api", NEW_COMPOSE, "compose.yml"), (COMPOSE, NEW_COMPOSE, "compose.yml")),
    "dockerignore": (_has(NEW_COMPOSE, ".dockerignore", ".containerignore"), (".dockerignore", ".containerignore")),
    "yamllint removed": (_absent(".yamllint.yml"), (".yamllint.yml", ".yamllint.yaml")),
    "memory answer rendered": (_has('"192Mi"', "deploy/base/deployment.yaml"), (".copier-answers.yml",)),
    "description answer rendered": (_has("Orders of the shop", "catalog-info.yaml"), (".copier-answers.yml",)),
}


@dataclass(frozen=True)
class Edit:
    name: str
    apply: Step
    kept: Check
    changes: tuple[str, ...] = ()
    """The template changes to the files this edit touches: each must arrive or be reported."""


def _append(name: str, line: str) -> Step:
    def apply(project: Project) -> None:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text() if path.exists() else ""
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")

    return apply


def _crlf(name: str) -> Step:
    return lambda project: (project / name).write_bytes((project / name).read_bytes().replace(b"\n", b"\r\n"))


def _reindent(name: str) -> Step:
    def apply(project: Project) -> None:
        lines = (project / name).read_text().splitlines(keepends=True)
        (project / name).write_text("".join(re.sub(r"^( +)", lambda m: m.group(1) * 2, line) for line in lines))

    return apply


def _sort_lines(name: str) -> Step:
    def apply(project: Project) -> None:
        lines = (project / name).read_text().splitlines()
        comments = [line for line in lines if line.startswith("#") or not line.strip()]
        settings = sorted(line for line in lines if line not in comments)
        (project / name).write_text("\n".join(comments + settings) + "\n")

    return apply


def _delete(name: str) -> Step:
    return lambda project: (project / name).unlink()


def _rename(old: str, new: str) -> Step:
    return lambda project: git(project, "mv", old, new)


def _all(*steps: Step) -> Step:
    def apply(project: Project) -> None:
        for step in steps:
            step(project)

    return apply


def _answer(key: str, value: str) -> Step:
    return _regex(".copier-answers.yml", rf"^{key}: .*$", f"{key}: {value}")


def _kept_crlf(name: str) -> Check:
    return lambda project: (project / name).is_file() and b"\r\n" in (project / name).read_bytes()


def _kept_gone(*names: str) -> Check:
    return lambda project: all(not (project / name).exists() for name in names)


ROUTE = 'mux.HandleFunc("GET /orders", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })'
CORPUS: tuple[Edit, ...] = (
    # config.env, which the template changes twice
    Edit(
        "config: add a setting",
        _append(CONFIG, "FEATURE_FLAGS=checkout-v2"),
        _has("FEATURE_FLAGS=checkout-v2", CONFIG),
        ("GOGC", "LOG_LEVEL"),
    ),
    Edit(
        "config: change LOG_LEVEL",
        _regex(CONFIG, r"^LOG_LEVEL=.*$", "LOG_LEVEL=debug"),
        _has("LOG_LEVEL=debug", CONFIG),
        ("GOGC", "LOG_LEVEL"),
    ),
    Edit(
        "config: change another line",
        _regex(CONFIG, r"^ACCESS_LOG=.*$", "ACCESS_LOG=all"),
        _has("ACCESS_LOG=all", CONFIG),
        ("GOGC", "LOG_LEVEL"),
    ),
    Edit(
        "config: comment",
        _append(CONFIG, "# owned by the orders team"),
        _has("# owned by the orders team", CONFIG),
        ("GOGC", "LOG_LEVEL"),
    ),
    Edit("config: CRLF line endings", _crlf(CONFIG), _kept_crlf(CONFIG), ("GOGC", "LOG_LEVEL")),
    Edit(
        "config: sorted lines", _sort_lines(CONFIG), _has("ACCESS_LOG=errors\nHTTP_PORT", CONFIG), ("GOGC", "LOG_LEVEL")
    ),
    Edit(
        "config: renamed service.env",
        _all(_rename(CONFIG, SERVICE_ENV), _regex(KUSTOMIZATION, r"^(\s*)- config\.env$", r"\1- service.env")),
        _absent(CONFIG),
        ("GOGC", "LOG_LEVEL"),
    ),
    Edit(
        "config: renamed and edited",
        _all(
            _rename(CONFIG, SERVICE_ENV),
            _regex(KUSTOMIZATION, r"^(\s*)- config\.env$", r"\1- service.env"),
            _append(SERVICE_ENV, "REGION=eu"),
        ),
        _has("REGION=eu", SERVICE_ENV),
        ("GOGC", "LOG_LEVEL"),
    ),
    # docker-compose.yml, which a migration moves and the template then changes
    Edit(
        "compose: add an environment variable",
        _regex(COMPOSE, r"^(\s*)environment:\n", r"\g<0>\1  FEATURE_FLAGS: checkout-v2\n"),
        _has("FEATURE_FLAGS: checkout-v2", COMPOSE, NEW_COMPOSE),
        ("compose name",),
    ),
    Edit("compose: reindented", _reindent(COMPOSE), _has("\n    orders-api:", COMPOSE, NEW_COMPOSE), ("compose name",)),
    Edit(
        "compose: CRLF line endings",
        _crlf(COMPOSE),
        lambda p: _kept_crlf(COMPOSE)(p) or _kept_crlf(NEW_COMPOSE)(p),
        ("compose name",),
    ),
    Edit("compose: deleted", _delete(COMPOSE), _kept_gone(COMPOSE), ("compose name",)),
    Edit(
        "compose: renamed compose.yml",
        _rename(COMPOSE, "compose.yml"),
        _has("services:", "compose.yml"),
        ("compose name",),
    ),
    Edit(
        "compose: a service added",
        _append(COMPOSE, "  redis:\n    image: redis:7"),
        _has("image: redis:7", COMPOSE, NEW_COMPOSE),
        ("compose name",),
    ),
    # .dockerignore
    Edit(
        "dockerignore: a line added", _append(".dockerignore", "tmp/"), _has("tmp/", ".dockerignore"), ("dockerignore",)
    ),
    Edit("dockerignore: deleted", _delete(".dockerignore"), _kept_gone(".dockerignore"), ("dockerignore",)),
    Edit(
        "dockerignore: renamed .containerignore",
        _rename(".dockerignore", ".containerignore"),
        _has("", ".containerignore"),
        ("dockerignore",),
    ),
    Edit("dockerignore: CRLF line endings", _crlf(".dockerignore"), _kept_crlf(".dockerignore"), ("dockerignore",)),
    # .yamllint.yml, which the template deletes
    Edit(
        "yamllint: a rule changed",
        _append(".yamllint.yml", "# line-length relaxed by the team"),
        _has("relaxed by the team", ".yamllint.yml"),
        ("yamllint removed",),
    ),
    Edit("yamllint: deleted", _delete(".yamllint.yml"), _kept_gone(".yamllint.yml"), ("yamllint removed",)),
    Edit(
        "yamllint: renamed .yamllint.yaml",
        _rename(".yamllint.yml", ".yamllint.yaml"),
        _has("", ".yamllint.yaml"),
        ("yamllint removed",),
    ),
    # CODEOWNERS, which the template changes with the renamed question
    Edit(
        "codeowners: a path added",
        _append("CODEOWNERS", "/deploy/ @example/platform"),
        _has("/deploy/ @example/platform", "CODEOWNERS"),
    ),
    Edit(
        "codeowners: moved to .github",
        _rename("CODEOWNERS", ".github/CODEOWNERS"),
        _has("payments", ".github/CODEOWNERS"),
    ),
    Edit("codeowners: deleted", _delete("CODEOWNERS"), _kept_gone("CODEOWNERS")),
    # the answers, edited by hand
    Edit(
        "answers: memory limit by hand",
        _answer("memory_limit", "'192Mi'"),
        _has("192Mi", ".copier-answers.yml"),
        ("memory answer rendered",),
    ),
    Edit(
        "answers: description by hand",
        _answer("description", "'Orders of the shop'"),
        _has("Orders of the shop", ".copier-answers.yml"),
        ("description answer rendered",),
    ),
    # files the template leaves alone: the edit must simply survive
    Edit(
        "go: a route added",
        _edit("internal/api/hello.go", "func ", f"// orders: {ROUTE}\nfunc "),
        _has("// orders:", "internal/api/hello.go"),
    ),
    Edit(
        "go: a dependency comment in go.mod",
        _append("go.mod", "// pinned by the orders team"),
        _has("pinned by the orders team", "go.mod"),
    ),
    Edit(
        "dockerfile: a label", _append("Dockerfile", 'LABEL team="orders"'), _has('LABEL team="orders"', "Dockerfile")
    ),
    Edit(
        "ci: a step added",
        _regex(".github/workflows/ci.yml", r"^(\s+)- name: ", r"\1- name: Say hello\n\1  run: echo hello\n\g<0>"),
        _has("run: echo hello", ".github/workflows/ci.yml"),
    ),
    Edit(
        "ci: renamed build.yml",
        _rename(".github/workflows/ci.yml", ".github/workflows/build.yml"),
        _has("jobs:", ".github/workflows/build.yml"),
    ),
    Edit(
        "overlay: prod replicas patched",
        _regex("deploy/overlays/prod/kustomization.yaml", r"value: \d+", "value: 6"),
        _has("value: 6", "deploy/overlays/prod/kustomization.yaml"),
    ),
    Edit(
        "overlay: an annotation in dev",
        _append("deploy/overlays/dev/kustomization.yaml", "commonAnnotations:\n  team: orders"),
        _has("team: orders", "deploy/overlays/dev/kustomization.yaml"),
    ),
    Edit(
        "deployment: an annotation",
        _regex("deploy/base/deployment.yaml", r"^  annotations:\n", "  annotations:\n    team: orders\n"),
        _has("team: orders", "deploy/base/deployment.yaml"),
    ),
    Edit(
        "alerts: a rule's summary",
        _regex("prometheus/alerts.yml", r"summary: .*$", "summary: orders are failing"),
        _has("orders are failing", "prometheus/alerts.yml"),
    ),
    Edit(
        "runbook: a section added",
        _append("docs/runbooks.md", "\n## Orders backlog\n\nDrain the queue."),
        _has("Orders backlog", "docs/runbooks.md"),
    ),
    Edit(
        "readme: a paragraph",
        _append("README.md", "\nThe orders team owns this service."),
        _has("orders team owns", "README.md"),
    ),
    Edit(
        "makefile: a target", _append("Makefile", "\nseed:\n\tgo run ./cmd/seed"), _has("go run ./cmd/seed", "Makefile")
    ),
    Edit("gitignore: a line", _append(".gitignore", "/tmp/"), _has("/tmp/", ".gitignore")),
    Edit("renovate: deleted", _delete("renovate.json"), _kept_gone("renovate.json")),
    Edit(
        "catalog: a tag",
        _regex("catalog-info.yaml", r"^  tags:\n", "  tags:\n    - orders\n"),
        _has("- orders", "catalog-info.yaml"),
    ),
    Edit(
        "team file: a new package",
        _append("internal/orders/orders.go", "package orders"),
        _has("package orders", "internal/orders/orders.go"),
    ),
)


def generate_base(template: Path, dest: Path) -> Path:
    """The repository every edit of the corpus starts from: generated at v1.0.0, committed."""
    return generate(template, dest, "v1.0.0", data={"team": TEAM_ANSWER})
