"""checkov failures and kube-score CRITICAL/WARNING findings per matrix variant, for this working tree and an
earlier release of the template (a commit of this repository).

Each variant of the pairwise matrix is rendered from both templates and run through gosvc's `checkov` and
`kube-score` checks (the repository and every rendered kustomization). Usage, from the repository root,
after `gosvc tools install`:

    python benchmarks/scanner_findings.py [--before COMMIT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import checks  # noqa: E402 - needs the root on sys.path
from generator.matrix.variants import pairwise  # noqa: E402
from generator.runtime.errors import InvalidAnswerError  # noqa: E402
from generator.template.render import new_project  # noqa: E402
from tests.conftest import snapshot_commit, snapshot_template  # noqa: E402

BEFORE = "c9b12c834de6d50e411e3a074f7a83277a6b6dc0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the earlier release to compare with (a commit)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gosvc-bench-") as scratch:
        work = Path(scratch)
        templates = {"before": snapshot_commit(work / "before", args.before), "now": snapshot_template(work / "now")}
        for variant in pairwise():
            row: dict[str, object] = {"variant": variant.name}
            for name, template in templates.items():
                answers = {"service_name": "orders-api", **_known(variant.data, template)}
                dest = work / "services" / name / variant.name / "orders-api"
                row[name] = _findings(_render(dest, answers, template))
            rows.append(row)
    print(json.dumps(rows, indent=2))
    return 0


def _render(dest: Path, answers: dict[str, object], template: Path) -> Path:
    """The variant from `template`; an answer the earlier release does not accept (cpu_limit none) takes its default."""
    try:
        return new_project(dest, answers, defaults=True, template=str(template), quiet=True).dest
    except InvalidAnswerError as refused:
        answers = {key: value for key, value in answers.items() if key != refused.question}
        return new_project(dest, answers, defaults=True, template=str(template), quiet=True).dest


def _known(data: dict[str, object], template: Path) -> dict[str, object]:
    """The answers the template asks (an earlier release lacks later questions)."""
    asked = (template / "copier.yml").read_text()
    return {key: value for key, value in data.items() if re.search(rf"(?m)^{key}:", asked)}


def _findings(project: Path) -> dict[str, int]:
    results = {result.check: result for result in checks.run_checks(project, ["checkov", "kube-score"])}
    checkov = results["checkov"].output
    kube_score = results["kube-score"].output
    return {
        "checkov_failed": len(re.findall(r"^(?!accepted: |checkov did not)(/|deploy).*: CKV", checkov, re.M))
        + len(re.findall(r"^checkov did not scan", checkov, re.M)),
        "checkov_accepted": len(re.findall(r"^accepted: ", checkov, re.M)),
        "kube_score_critical": len(re.findall(r": CRITICAL ", kube_score)),
        "kube_score_warning": len(re.findall(r": WARNING ", kube_score)),
    }


if __name__ == "__main__":
    sys.exit(main())
