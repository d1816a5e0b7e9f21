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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import checks  # noqa: E402 - needs the root on sys.path
from generator.checks.merge_leftovers import check_merge_leftovers  # noqa: E402 - as above
from generator.checks.table import CHECKS, Cost  # noqa: E402 - as above
from generator.tools import Toolbox  # noqa: E402 - as above
from tests.conftest import git  # noqa: E402 - as above
from tests.template_versions import build_template_versions, commit_all  # noqa: E402 - as above
from tests.update_corpus import CHANGES, CORPUS, TARGET, Edit, Project, generate_base  # noqa: E402 - as above


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


def _left(project: Project) -> int:
    """Files with conflict markers, .rej files and unmerged entries: what someone must still resolve."""
    outcome = check_merge_leftovers(project, Toolbox.default())
    found = {line.split(":", 1)[0].removesuffix(".rej") for line in outcome.output.splitlines() if line}
    found |= {line.split("\t", 1)[1] for line in git(project, "ls-files", "--unmerged").splitlines() if "\t" in line}
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
    changed = git(project, "diff", "--name-only", "HEAD~1").splitlines()
    changed += [line[3:] for line in git(project, "status", "--porcelain", "--untracked-files=all").splitlines()]
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
        base = generate_base(template, work / "base" / "orders-api")
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
