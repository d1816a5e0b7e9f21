"""Security and best-practice scanners: checkov on the repository and on every rendered kustomization,
kube-score on every rendered kustomization.

A finding a repository accepts on purpose is suppressed in the repository
itself, with its reason (checkov's skip annotations and comments, kube-score's
ignore annotation); these checks report the suppressions they honoured. checkov
drops a file it cannot parse without a word (a GitHub workflow whose
`cancel-in-progress` is an expression, for one), so the checkov check fails
when a file it should have read is missing from its results.

checkov runs once per repository, in a process forked from one that imported
it once (checkov_runs): importing itself is most of what a start costs. It
scans a scratch folder laid out as the repository, through links,
with the rendered files in a folder of their own; a result's path tells which
of the two it came from. The repository's own configuration still applies to
its files alone: checkov can skip a check only in a whole run, so the checks
its `skip-check` names are taken out of the repository's results here, and the
rendered files are scanned with every check, as before.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from generator.checks.kubernetes.checkov_runs import run_checkov
from generator.project.kube import CHART, KUBERNETES_VERSIONS, Rendered, deployed, render_all
from generator.project.yamlfile import load_mapping
from generator.runtime.errors import InvalidInputError
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

CHECKOV_FRAMEWORKS = ("kubernetes", "dockerfile", "github_actions", "gitlab_ci")
_CHECKOV_CONFIGS = (".checkov.yaml", ".checkov.yml")
"""The configuration files checkov reads in the folder it scans; where both set a key, the second wins."""
_CHECKOV_SEVERITIES = frozenset({"NONE", "INFO", "LOW", "MEDIUM", "MODERATE", "HIGH", "IMPORTANT", "CRITICAL", "OFF"})
"""What checkov's skip-check reads as a severity threshold rather than as a check (checkov's `Severities`)."""
_KUBE_SCORE_GRADES = {1: "CRITICAL", 5: "WARNING"}


@dataclass(frozen=True)
class CheckovResult:
    """One check on one resource, as checkov reports it. `file` is a file of the repository ("/Dockerfile") or
    the rendering the resource came from ("deploy/overlays/dev (rendered)")."""

    check_id: str
    bc_check_id: str
    check_name: str
    file: str
    resource: str
    result: str  # passed, failed or skipped
    reason: str  # for a skipped check, the reason its suppression gives

    @property
    def finding(self) -> tuple[str, str, str, str]:
        return self.check_id, self.file, self.resource, self.result


@dataclass(frozen=True)
class CheckovScan:
    """What one checkov run over a repository and its renderings found."""

    results: list[CheckovResult]
    rendered: list[str]  # the renderings scanned, named as their results name them
    error: str = ""


def checkov(repo: Path, toolbox: Toolbox) -> Outcome:
    """checkov on the repository as it is and on each overlay as kustomize renders it, in one run."""
    rendered, problems = _deployed(repo, toolbox)
    scan = scan_with_checkov(repo, rendered, toolbox)
    if scan.error:
        return Outcome(False, "\n".join([*problems, scan.error]), cacheable=False)
    scanned = {result.file for result in scan.results}
    problems += [
        f"checkov did not scan {name}: it drops files it cannot parse"
        for name in sorted(_expected_raw_files(repo) - scanned)
    ]
    problems += [f"checkov did not scan {name}" for name in scan.rendered if name not in scanned]
    problems += [
        f"{result.file}: {result.check_id} {result.check_name} ({result.resource})"
        for result in scan.results
        if result.result == "failed"
    ]
    skipped = sorted({f"{r.check_id} in {r.file}: {r.reason}" for r in scan.results if r.result == "skipped"})
    passed = sum(result.result == "passed" for result in scan.results)
    summary = f"{passed} checks passed, {len(problems)} failed, {len(skipped)} accepted with a reason"
    return Outcome(not problems, "\n".join([*problems, *(f"accepted: {s}" for s in skipped), summary]))


def scan_with_checkov(repo: Path, rendered: list[Rendered], toolbox: Toolbox) -> CheckovScan:
    """One checkov run over the repository (its frameworks) and the renderings (kubernetes): the repository's
    results named by its paths, the renderings' by their names, the repository's first."""
    with tempfile.TemporaryDirectory(prefix="gosvc-checkov-") as scratch:
        folder = Path(scratch)
        _mirror(repo.resolve(), folder)
        try:
            by_name, by_checkov = _configure(repo, folder)
        except InvalidInputError as error:
            return CheckovScan([], [], str(error))
        renderings = Path(tempfile.mkdtemp(prefix="gosvc-rendered-", dir=folder))
        names = {
            f"/{renderings.name}/{file}": f"{kustomization.name} (rendered)"
            for file, kustomization in zip(_write_rendered(renderings, rendered), rendered, strict=True)
        }
        result = run_checkov(
            "-d",
            ".",
            # Helm templates are YAML only once rendered: checkov reads the chart in the rendered files.
            "--skip-path",
            f"{CHART}/templates",
            "--framework",
            *CHECKOV_FRAMEWORKS,
            *(f"--skip-check={entry}" for entry in by_checkov),
            "--skip-download",
            "--output",
            "json",
            cwd=folder,
            toolbox=toolbox,
        )
    try:
        results = read_checkov(result.stdout)
    except ValueError:
        return CheckovScan(
            [], list(names.values()), f"checkov failed: {(result.stderr or result.stdout).strip()[-2000:]}"
        )
    own = [r for r in results if r.file not in names and not _named(r, by_name)]
    return CheckovScan(own + [replace(r, file=names[r.file]) for r in results if r.file in names], list(names.values()))


def read_checkov(output: str) -> list[CheckovResult]:
    """The results in checkov's JSON output (one report, or a list of them: one per framework); ValueError where
    the output is not that."""
    reports = json.loads(output) if output.strip() else []
    if isinstance(reports, dict):
        reports = [reports] if reports.get("results") else []
    results = []
    for report in reports:
        for kind in ("passed", "failed", "skipped"):
            results += [
                CheckovResult(
                    check["check_id"],
                    check.get("bc_check_id") or "",
                    check["check_name"],
                    check["file_path"],
                    check["resource"],
                    kind,
                    str(check["check_result"].get("suppress_comment")) if kind == "skipped" else "",
                )
                for check in report.get("results", {}).get(f"{kind}_checks", [])
            ]
    return results


def _mirror(repo: Path, folder: Path) -> None:
    """`folder` laid out as `repo` (absolute), each file and linked folder a link to the repository's, git's
    database aside: checkov walks the one as it walks the other."""
    for root, folders, files in os.walk(repo):
        here = Path(root)
        there = folder / here.relative_to(repo)
        walked = [name for name in folders if name != ".git" and not (here / name).is_symlink()]
        for name in walked:
            (there / name).mkdir()
        for name in {*folders, *files} - {*walked, ".git"}:
            (there / name).symlink_to(here / name)
        folders[:] = walked


def _configure(repo: Path, folder: Path) -> tuple[list[str], list[str]]:
    """The repository's checkov configuration in `folder` without its skip-check, which checkov would apply to
    the rendered files too. What it skipped: the checks it names (IDs and wildcards), which the repository's
    results leave out; and the entries checkov applies per file or by severity, for checkov. InvalidInputError
    where a configuration file is not a YAML mapping."""
    entries: list[str] = []
    for name in _CHECKOV_CONFIGS:
        if not (repo / name).is_file():
            continue
        config = load_mapping(repo / name, "checkov's configuration")
        if "skip-check" not in config:
            continue
        entries = _listed(config.pop("skip-check"))
        (folder / name).unlink()
        (folder / name).write_text(yaml.safe_dump(config), encoding="utf-8")
    by_name = [entry for entry in entries if ":" not in entry and entry.upper() not in _CHECKOV_SEVERITIES]
    return by_name, [entry for entry in entries if entry not in by_name]


def _listed(value: Any) -> list[str]:
    """A skip-check value as checkov reads it: a list, or one item of names separated by commas."""
    items = [str(item) for item in value] if isinstance(value, list) else [str(value)]
    return items[0].split(",") if len(items) == 1 else items


def _named(result: CheckovResult, patterns: list[str]) -> bool:
    """Whether a skip-check entry names the result's check, as checkov matches them."""
    return any(
        fnmatch.fnmatch(result.check_id, pattern)
        or (result.bc_check_id and fnmatch.fnmatch(result.bc_check_id, pattern))
        for pattern in patterns
    )


def kube_score(repo: Path, toolbox: Toolbox) -> Outcome:
    """kube-score on each overlay as kustomize renders it: no CRITICAL, no WARNING."""
    rendered, problems = _deployed(repo, toolbox)
    newest = "v" + KUBERNETES_VERSIONS[-1].rsplit(".", 1)[0]
    scored = 0
    with tempfile.TemporaryDirectory(prefix="gosvc-kube-score-") as scratch:
        for kustomization, file in zip(rendered, _write_rendered(Path(scratch), rendered), strict=True):
            result = toolbox.run(
                "kube-score",
                "score",
                "--output-format",
                "json",
                "--kubernetes-version",
                newest,
                file,
                cwd=Path(scratch),
            )
            try:
                objects: list[dict[str, Any]] = json.loads(result.stdout)
            except json.JSONDecodeError:
                problems.append(f"{kustomization.name}: kube-score failed: {(result.stderr or result.stdout).strip()}")
                continue
            for obj in objects:
                scored += 1
                problems += [f"{kustomization.name}: {finding}" for finding in _kube_score_findings(obj)]
    summary = f"{scored} objects in {len(rendered)} kustomizations scored, {len(problems)} findings"
    return Outcome(not problems, "\n".join([*problems, summary]))


def _deployed(repo: Path, toolbox: Toolbox) -> tuple[list[Rendered], list[str]]:
    """The overlays and the chart's values files, rendered: what gets deployed."""
    rendered, problems = render_all(repo, toolbox)
    overlays = deployed(rendered)
    if rendered and not overlays:
        problems.append("nothing under deploy/ that is deployed to scan: only the kustomize base renders")
    return overlays, problems


def _kube_score_findings(obj: dict[str, Any]) -> list[str]:
    findings = []
    kind = obj.get("type_meta", {}).get("kind")
    name = obj.get("object_meta", {}).get("name")
    for check in obj.get("checks", []):
        grade = _KUBE_SCORE_GRADES.get(check.get("grade"))
        if grade is None or check.get("skipped"):
            continue
        comments = "; ".join(
            f"{comment.get('summary', '')} {comment.get('description', '')}".strip()
            for comment in check.get("comments") or []
        )
        findings.append(f"{kind}/{name}: {grade} {check['check']['id']}: {comments}")
    return findings


def _expected_raw_files(repo: Path) -> set[str]:
    """The files checkov must read in the repository itself: they have checks in its frameworks."""
    expected = {"/Dockerfile"} if (repo / "Dockerfile").is_file() else set()
    expected |= {f"/{path.relative_to(repo)}" for path in sorted((repo / ".github" / "workflows").glob("*.y*ml"))}
    if (repo / ".gitlab-ci.yml").is_file():
        expected.add("/.gitlab-ci.yml")
    deployments = [
        path
        for path in sorted((repo / "deploy").rglob("*.yaml"))
        if "\nkind: Deployment" in path.read_text(encoding="utf-8", errors="replace")
        and not path.is_relative_to(repo / CHART / "templates")
    ]
    expected |= {f"/{path.relative_to(repo)}" for path in deployments}
    return expected


def _write_rendered(folder: Path, rendered: list[Rendered]) -> list[str]:
    """Each rendered kustomization as a file in `folder`; their names, in the same order."""
    names = []
    for kustomization in rendered:
        name = kustomization.name.replace("/", "-") + ".yaml"
        (folder / name).write_text(kustomization.text, encoding="utf-8")
        names.append(name)
    return names
