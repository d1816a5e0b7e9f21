"""The `helm` check: the chart lints strictly, refuses values it does not define, and renders for each
environment the objects the kustomize overlay of that environment renders.

Rendered objects differ only where the two tools must: kustomize names the
ConfigMap with a hash of its content where the chart puts a checksum of it on
the pod template (both roll the pods out when the config changes), and each
says who manages the objects. Scanner suppressions are compared as the
findings they accept, not as their wording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from generator.project import kube
from generator.project.kube import CHART, Rendered, RenderError
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

UNKNOWN_VALUE = "gosvcCheckUnknownValue"
"""A value no chart defines: its values.schema.json must refuse it, as it refuses a typo."""
TOOL_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")
CHECKSUM = "checksum/config"
_KUSTOMIZE_HASH = re.compile(r"-[a-z0-9]{10}$")


def check_helm(repo: Path, toolbox: Toolbox) -> Outcome:
    problems, report = _lint(repo, toolbox)
    found, said = _equivalence(repo, toolbox)
    return Outcome(not (problems or found), "\n".join([*problems, *found, *report, *said]))


def _lint(repo: Path, toolbox: Toolbox) -> tuple[list[str], list[str]]:
    problems, report = [], []
    for values in kube.chart_values(repo):
        extra = ["--values", str(values)] if values.name != "values.yaml" else []
        result = toolbox.run("helm", "lint", "--strict", str(CHART), *kube.helm_flags(extra), cwd=repo)
        if result.returncode != 0:
            problems.append(f"{values}: helm lint --strict failed:\n{(result.stdout + result.stderr).strip()}")
        else:
            report.append(f"{values}: helm lint --strict passed")
    if not (repo / CHART / "values.schema.json").is_file():
        problems.append(f"{CHART} has no values.schema.json: helm install would take any value, typos included")
    unknown = ["--set", f"{UNKNOWN_VALUE}=1"]
    typo = toolbox.run("helm", "template", "check", str(CHART), *kube.helm_flags(unknown), cwd=repo)
    if typo.returncode == 0:
        problems.append(f"{CHART} renders with a value it does not define ({UNKNOWN_VALUE}): a typo would pass")
    else:
        report.append(f"a value the chart does not define is refused ({UNKNOWN_VALUE}=1)")
    return problems, report


def _equivalence(repo: Path, toolbox: Toolbox) -> tuple[list[str], list[str]]:
    """Each values-ENV.yaml against deploy/overlays/ENV: what each environment runs. (values.yaml alone
    deploys, unlike the base, and may differ from it: it accepts the scanner findings of its own replicas.)"""
    problems: list[str] = []
    report = [] if kube.kustomizations(repo) else ["no kustomize overlays: the values files are what deploys"]
    for values in kube.chart_values(repo):
        environment = values.stem.removeprefix("values").removeprefix("-")
        folder = Path(kube.DEPLOY) / "overlays" / environment
        if not environment or not (repo / folder / "kustomization.yaml").is_file():
            continue
        try:
            chart, kustomized = kube.render_chart(repo, values, toolbox), kube.render(repo, folder, toolbox)
        except RenderError as error:
            problems.append(str(error))
            continue
        differences = compare(kustomized, chart)
        problems += [f"{values} and {folder} differ: {difference}" for difference in differences]
        if not differences:
            report.append(f"{values} renders the objects of {folder} ({len(chart.objects)} objects)")
    return problems, report


def compare(kustomized: Rendered, chart: Rendered) -> list[str]:
    """What differs between two renderings of the same objects, after what must differ is set aside."""
    left, right = normalized(kustomized.objects), normalized(chart.objects)
    differences = [f"only kustomize renders {key}" for key in sorted(left.keys() - right.keys())]
    differences += [f"only the chart renders {key}" for key in sorted(right.keys() - left.keys())]
    for key in sorted(left.keys() & right.keys()):
        differences += [f"{key} {path}: kustomize {a!r}, chart {b!r}" for path, a, b in _diff(left[key], right[key])]
    return differences


def normalized(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects by kind/name, without what the two tools must render differently."""
    text = json.dumps(objects)
    for obj in objects:
        if obj.get("kind") == "ConfigMap":
            name = str(obj["metadata"]["name"])
            text = text.replace(json.dumps(name), json.dumps(_KUSTOMIZE_HASH.sub("", name)))
    result = {}
    for obj in json.loads(text):
        metadata = obj.get("metadata", {})
        _without_tool_labels(metadata)
        _as_findings(metadata)
        template = obj.get("spec", {}).get("template", {}).get("metadata")
        if template is not None:
            _without_tool_labels(template)
            template.get("annotations", {}).pop(CHECKSUM, None)
            if not template.get("annotations"):  # the checksum was all: as absent as kustomize's
                template.pop("annotations", None)
        result[f"{obj.get('kind')}/{metadata.get('name')}"] = obj
    return result


def _without_tool_labels(metadata: dict[str, Any]) -> None:
    for label in TOOL_LABELS:
        metadata.get("labels", {}).pop(label, None)


def _as_findings(metadata: dict[str, Any]) -> None:
    """Scanner suppressions as the findings they accept: checkov IDs and kube-score checks, sorted."""
    annotations = metadata.get("annotations")
    if not annotations:
        metadata.pop("annotations", None)
        return
    checkov = sorted(str(v).split("=", 1)[0] for k, v in annotations.items() if k.startswith("checkov.io/skip"))
    for key in [key for key in annotations if key.startswith("checkov.io/skip")]:
        del annotations[key]
    if checkov:
        annotations["checkov.io/skip"] = checkov
    if "kube-score/ignore" in annotations:
        annotations["kube-score/ignore"] = sorted(str(annotations["kube-score/ignore"]).split(","))


def _diff(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(a.keys() | b.keys()):
            found += _diff(a.get(key), b.get(key), f"{path}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [item for index, (x, y) in enumerate(zip(a, b, strict=True)) for item in _diff(x, y, f"{path}[{index}]")]
    return [] if a == b else [(path or ".", a, b)]
