"""Security and best-practice scanners: checkov on the repository and on every rendered kustomization,
kube-score on every rendered kustomization.

A finding a repository accepts on purpose is suppressed in the repository
itself, with its reason (checkov's skip annotations and comments, kube-score's
ignore annotation); these checks report the suppressions they honoured. checkov
drops a file it cannot parse without a word (a GitHub workflow whose
`cancel-in-progress` is an expression, for one), so the checkov check fails
when a file it should have read is missing from its results.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.kube import CHART, KUBERNETES_VERSIONS, Rendered, deployed, render_all
from generator.outcome import Outcome
from generator.tools import run_tool

CHECKOV_FRAMEWORKS = ("kubernetes", "dockerfile", "github_actions", "gitlab_ci")
_KUBE_SCORE_GRADES = {1: "CRITICAL", 5: "WARNING"}


@dataclass(frozen=True)
class _Findings:
    failed: list[str]
    skipped: list[str]
    scanned: set[str]
    passed: int


def checkov(repo: Path) -> Outcome:
    """checkov on the repository as it is, then on each overlay as kustomize renders it."""
    rendered, problems = _deployed(repo)
    # Helm templates are YAML only once rendered: checkov reads the chart in the rendered files.
    raw = _checkov_run(repo, ["-d", ".", "--skip-path", f"{CHART}/templates"], CHECKOV_FRAMEWORKS)
    expected = _expected_raw_files(repo)
    with tempfile.TemporaryDirectory(prefix="gosvc-checkov-") as scratch:
        files = _write_rendered(Path(scratch), rendered)
        rendered_findings = _checkov_run(Path(scratch), ["-d", "."], ("kubernetes",))
    # Findings in the rendered files, named after their kustomizations.
    as_rendered = {
        f"/{file}": f"{kustomization.name} (rendered)" for file, kustomization in zip(files, rendered, strict=True)
    }
    problems += [f"checkov did not scan {name}: it drops files it cannot parse" for name in expected - raw.scanned]
    problems += [f"checkov did not scan {as_rendered[file]}" for file in set(as_rendered) - rendered_findings.scanned]
    problems += raw.failed + [_rename(finding, as_rendered) for finding in rendered_findings.failed]
    passed = raw.passed + rendered_findings.passed
    skipped = sorted({*raw.skipped, *(_rename(finding, as_rendered) for finding in rendered_findings.skipped)})
    summary = f"{passed} checks passed, {len(problems)} failed, {len(skipped)} accepted with a reason"
    return Outcome(not problems, "\n".join([*problems, *(f"accepted: {s}" for s in skipped), summary]))


def kube_score(repo: Path) -> Outcome:
    """kube-score on each overlay as kustomize renders it: no CRITICAL, no WARNING."""
    rendered, problems = _deployed(repo)
    newest = "v" + KUBERNETES_VERSIONS[-1].rsplit(".", 1)[0]
    scored = 0
    with tempfile.TemporaryDirectory(prefix="gosvc-kube-score-") as scratch:
        for kustomization, file in zip(rendered, _write_rendered(Path(scratch), rendered), strict=True):
            result = run_tool(
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


def _deployed(repo: Path) -> tuple[list[Rendered], list[str]]:
    """The overlays and the chart's values files, rendered: what gets deployed."""
    rendered, problems = render_all(repo)
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


def _checkov_run(folder: Path, target: list[str], frameworks: tuple[str, ...]) -> _Findings:
    result = run_tool("checkov", *target, "--framework", *frameworks, "--skip-download", "--output", "json", cwd=folder)
    try:
        reports = json.loads(result.stdout) if result.stdout.strip() else []
    except json.JSONDecodeError:
        return _Findings([f"checkov failed: {(result.stderr or result.stdout).strip()[-2000:]}"], [], set(), 0)
    if isinstance(reports, dict):
        reports = [reports] if reports.get("results") else []
    findings = _Findings([], [], set(), 0)
    for report in reports:
        results = report.get("results", {})
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            findings.scanned.update(check["file_path"] for check in results.get(kind, []))
        findings.failed.extend(
            f"{check['file_path']}: {check['check_id']} {check['check_name']} ({check['resource']})"
            for check in results.get("failed_checks", [])
        )
        findings.skipped.extend(
            f"{check['check_id']} in {check['file_path']}: {check['check_result'].get('suppress_comment')}"
            for check in results.get("skipped_checks", [])
        )
    return _Findings(findings.failed, findings.skipped, findings.scanned, sum(_passed(report) for report in reports))


def _rename(finding: str, names: dict[str, str]) -> str:
    for file, name in names.items():
        finding = finding.replace(file, name)
    return finding


def _passed(report: dict[str, Any]) -> int:
    return int(report.get("summary", {}).get("passed", 0))


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
