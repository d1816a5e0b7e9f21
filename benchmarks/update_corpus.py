"""The update corpus: realistic team edits, each updated across the same template releases by `gosvc update` and by
plain `copier update`, on identical copies, side by side.

The template releases are those of the update tests (tests/template_versions.py): from v1.0.0 to v3.0.0 the
template appends GOGC=200 to config.env, changes its LOG_LEVEL line, renames docker-compose.yml to compose.yaml
(with a migration) and adds a line to it, changes .dockerignore, deletes .yamllint.yml, adds SECURITY.md, and
renames the question `team` to `owner_team` (CODEOWNERS, which uses it, renders the same). Each edit of the corpus
is one commit a team makes on a repository generated at v1.0.0 (its answer `team: payments`).

For each edit and each tool, printed: whether the team's edit is still there (kept); whether each template change
to a file the edit touches arrived or was reported not applied (delivered); the files left with conflict markers,
`.rej` files or unmerged entries (left); how many conflicts the tool reported (reported); of the quick checks
(`gosvc check`'s lint-cost rows) that read a file the edit or the update changed, how many pass after the update
(checks; a conflict fails merge-leftovers); and its wall seconds.
Targets: no edit lost, no conflict left unreported, no change silently undelivered, at most half of Copier's
conflicts left, `gosvc update` no slower than `copier update` (median ratio, measured alternately).

Usage, from the repository root, with the tools installed:

    python benchmarks/update_corpus.py [--only NAME,...] [--no-checks] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import checks  # noqa: E402 - needs the root on sys.path
from generator.checks.merge_leftovers import check_merge_leftovers  # noqa: E402 - as above
from generator.checks.table import CHECKS, Cost  # noqa: E402 - as above
from generator.tools import Toolbox  # noqa: E402 - as above
from tests.template_versions import build_template_versions, commit_all, generate  # noqa: E402 - as above
from tests.test_checks import _edit, _regex  # noqa: E402 - as above

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
    return lambda project: _git(project, "mv", old, new)


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


@dataclass
class Row:
    edit: str
    tool: str
    kept: bool
    delivered: int
    undelivered: list[str]
    left: int
    reported: int
    seconds: float
    status: int
    notes: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)


def _git(project: Project, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    return subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True, check=True).stdout


def _left(project: Project) -> int:
    """Files with conflict markers, .rej files and unmerged entries: what someone must still resolve."""
    outcome = check_merge_leftovers(project, Toolbox.default())
    found = {line.split(":", 1)[0].removesuffix(".rej") for line in outcome.output.splitlines() if line}
    found |= {line.split("\t", 1)[1] for line in _git(project, "ls-files", "--unmerged").splitlines() if "\t" in line}
    return len(found)


def _run(tool: str, project: Project) -> tuple[int, float, dict[str, Any]]:
    if tool == "gosvc":
        command = [sys.executable, "-m", "generator", "update", str(project), "--vcs-ref", TARGET, "--json"]
    else:
        command = [
            "copier",
            "update",
            "--trust",
            "--defaults",
            "--vcs-ref",
            TARGET,
            "--conflict",
            "inline",
            str(project),
        ]
    started = time.monotonic()
    ran = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    seconds = time.monotonic() - started
    report: dict[str, Any] = {}
    if tool == "gosvc" and ran.stdout.strip():
        report = json.loads(ran.stdout)
    return ran.returncode, seconds, report | {"stderr": ran.stderr[-300:]}


QUICK_CHECKS = frozenset(check.name for check in CHECKS if check.cost is Cost.LINT)


def _checks_after(project: Project, cache: checks.ResultCache) -> tuple[int, list[str]]:
    """The quick checks that read a file the edit (the last commit) or the update (the work tree) changed: how many
    pass, and the names of those that do not."""
    changed = _git(project, "diff", "--name-only", "HEAD~1").splitlines()
    changed += [line[3:] for line in _git(project, "status", "--porcelain", "--untracked-files=all").splitlines()]
    names = [name for name in checks.concerned(changed, project) if name in QUICK_CHECKS]
    if not names:
        return 0, []
    results = checks.run_checks(checks.CheckContext.from_environment(project, cache=cache), names)
    return sum(result.status == checks.PASS for result in results), [
        result.check for result in results if result.status not in (checks.PASS, checks.NOT_APPLICABLE)
    ]


def measure(edit: Edit, tool: str, base: Project, work: Path, cache: checks.ResultCache | None) -> Row:
    project = work / f"{tool}-{re.sub(r'[^a-z0-9]+', '-', edit.name)}" / "orders-api"
    shutil.copytree(base, project, symlinks=True)
    edit.apply(project)
    commit_all(project, edit.name)
    status, seconds, report = _run(tool, project)
    not_applied = {str(item["path"]) for item in report.get("not_applied", [])}
    conflicts = {str(item["path"]) for item in report.get("conflicts", [])}
    delivered, undelivered = 0, []
    for change in edit.changes:
        arrived, paths = CHANGES[change]
        if arrived(project) or set(paths) & (not_applied | conflicts):
            delivered += 1
        else:
            undelivered.append(change)
    notes = [] if status in (0, 3, 4) else [f"exit {status}: {str(report.get('stderr', '')).strip().splitlines()[-1:]}"]
    passed, failed = _checks_after(project, cache) if cache is not None else (0, [])
    return Row(
        edit.name,
        tool,
        edit.kept(project),
        delivered,
        undelivered,
        _left(project),
        len(conflicts),
        seconds,
        status,
        notes,
        passed,
        failed,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="edits whose names contain any of these words (comma-separated)")
    parser.add_argument("--no-checks", action="store_true", help="do not run the quick checks after each update")
    parser.add_argument("--json", action="store_true", help="print every row as JSON")
    args = parser.parse_args()
    words = [word for word in (args.only or "").split(",") if word]
    corpus = [edit for edit in CORPUS if not words or any(word in edit.name for word in words)]
    with tempfile.TemporaryDirectory(prefix="gosvc-corpus-") as scratch:
        work = Path(scratch)
        template = build_template_versions(work / "template")
        base = generate(template, work / "base" / "orders-api", "v1.0.0", data={"team": "payments"})
        rows: list[Row] = []
        cache = None if args.no_checks else checks.ResultCache(work / "results")
        for number, edit in enumerate(corpus):
            tools = ("gosvc", "copier") if number % 2 == 0 else ("copier", "gosvc")  # alternate which runs first
            for tool in tools:
                rows.append(measure(edit, tool, base, work, cache))
                print(f"[{len(rows)}/{2 * len(corpus)}] {edit.name} ({tool})", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return 0
    _print(rows)
    return 0


def _print(rows: list[Row]) -> None:
    by_edit: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_edit.setdefault(row.edit, {})[row.tool] = row
    head = "kept delivered left reported checks"
    print(f"{'edit':<40} {'gosvc: ' + head:<43} {'copier: ' + head:<43}")
    for name, pair in by_edit.items():
        cells = []
        for tool in ("gosvc", "copier"):
            row = pair[tool]
            wanted = row.delivered + len(row.undelivered)
            ran = f"{row.checks_passed}/{row.checks_passed + len(row.checks_failed)}"
            kept = "yes" if row.kept else "LOST"
            cells.append(
                f"{kept:<5} {row.delivered}/{wanted:<7} {row.left:<5} {row.reported:<8} {ran:<6}"
                + (f" {'; '.join(row.notes)}" if row.notes else "")
            )
        print(f"{name:<40} {cells[0]:<43} {cells[1]:<43}")
    print()
    for tool in ("gosvc", "copier"):
        mine = [row for row in rows if row.tool == tool]
        lost = sum(not row.kept for row in mine)
        undelivered = sum(len(row.undelivered) for row in mine)
        left = sum(row.left for row in mine)
        unreported = sum(max(0, row.left - row.reported) for row in mine)
        seconds = [row.seconds for row in mine]
        names = sorted({name for row in mine for name in row.checks_failed})
        failing = [f"{name} ({sum(name in row.checks_failed for row in mine)})" for name in names]
        print(
            f"{tool}: {len(mine)} edits, {lost} lost, {undelivered} template changes silently undelivered, "
            f"{left} conflicts left, {unreported} of them unreported; median {statistics.median(seconds):.2f} s "
            f"({min(seconds):.2f}-{max(seconds):.2f}); quick checks failing after: {', '.join(failing) or 'none'}"
        )
    ratios = [pair["gosvc"].seconds / pair["copier"].seconds for pair in by_edit.values()]
    print(f"gosvc update / copier update, median of {len(ratios)} alternated pairs: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
