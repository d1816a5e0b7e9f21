"""The `argocd` check: the Argo CD Applications under deploy/argocd deploy what the repository holds.

Each Application is validated strictly against the Application definition Argo
CD publishes (the kubernetes-server check also applies it to a real API server
with that definition installed). Beyond the schema, what no server can see:
every environment of the repository (each overlay, or each values-ENV.yaml of a
chart alone) has one Application; its source path and values files exist in
the repository; it deploys into the namespace that environment renders into;
and its repository, project and sync policy are the answers'.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from generator.checks.context import CheckContext
from generator.project import crds, kube
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

APPLICATIONS = Path(kube.DEPLOY) / "argocd"
"""The folder of the Applications, relative to the repository."""


def applications(repo: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every YAML document under deploy/argocd, with the file it comes from."""
    found = []
    for path in sorted((repo / APPLICATIONS).glob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((str(path.relative_to(repo)), document))
    return found


def check_argocd(context: CheckContext) -> Outcome:
    repo, answers, toolbox = context.repo, context.answers, context.tools
    found = applications(repo)
    problems: list[str] = []
    covered: set[str] = set()
    for where, app in found:
        name = f"{where}: {app.get('kind')}/{app.get('metadata', {}).get('name')}"
        if app.get("kind") != "Application" or not crds.is_custom(app):
            problems.append(f"{name}: not an argoproj.io Application")
            continue
        schema = crds.validate(app, toolbox)
        problems += [f"{name} ({crds.provider_version(app)}): {problem}" for problem in schema]
        if schema:
            continue
        environment, said = _source_problems(repo, app, toolbox)
        problems += [f"{name}: {problem}" for problem in [*said, *_answer_problems(app, answers)]]
        if environment in covered:
            problems.append(f"{name}: a second Application of environment {environment}")
        covered.add(environment)
    missing = sorted(set(_environments(repo)) - covered)
    if missing:
        problems.append(f"no Application deploys environment {', '.join(missing)}")
    summary = f"{len(found)} Applications deploy environments {', '.join(sorted(covered)) or 'none'}"
    return Outcome(not problems, "\n".join([*problems, summary]))


def _environments(repo: Path) -> list[str]:
    """What the repository deploys: its overlays, or without any the values-ENV.yaml files of its chart."""
    overlays = [folder.name for folder in kube.kustomizations(repo) if folder.parent.name == "overlays"]
    if overlays:
        return overlays
    return [path.stem.removeprefix("values-") for path in kube.chart_values(repo) if path.stem != "values"]


def _source_problems(repo: Path, app: dict[str, Any], toolbox: Toolbox) -> tuple[str, list[str]]:
    """The environment the Application deploys, and what in its source or destination the repository does not
    back."""
    spec = app["spec"]
    source = spec.get("source") or {}
    path = Path(str(source.get("path", "")))
    namespace = str(spec.get("destination", {}).get("namespace", ""))
    if not (repo / path / "kustomization.yaml").is_file() and not (repo / path / "Chart.yaml").is_file():
        return str(path), [f"source path {path} holds no kustomization.yaml or Chart.yaml"]
    if (repo / path / "Chart.yaml").is_file():
        values = list(source.get("helm", {}).get("valueFiles", []))
        absent = [name for name in values if not (repo / path / name).is_file()]
        if absent:
            return str(path), [f"values file {', '.join(absent)} is not in {path}"]
        environments = [Path(name).stem.removeprefix("values-") for name in values]
        return (environments[-1] if environments else "default"), []
    rendered = kube.render(repo, path, toolbox)
    namespaces = {obj["metadata"].get("namespace") for obj in rendered.objects}
    if namespaces != {namespace}:
        shown = ", ".join(sorted(map(str, namespaces)))
        return path.name, [f"deploys into namespace {namespace}, but {path} renders into {shown}"]
    return path.name, []


def _answer_problems(app: dict[str, Any], answers: dict[str, Any]) -> Iterator[str]:
    spec = app["spec"]
    wanted = {
        "source repoURL": (spec.get("source", {}).get("repoURL"), answers.get("repository_url")),
        "project": (spec.get("project"), answers.get("argocd_project")),
    }
    automated = spec.get("syncPolicy", {}).get("automated")
    wanted["automated sync"] = (automated is not None, bool(answers.get("argocd_automated")))
    if automated is not None:
        wanted["automated.selfHeal"] = (bool(automated.get("selfHeal")), bool(answers.get("argocd_self_heal")))
        wanted["automated.prune"] = (bool(automated.get("prune")), bool(answers.get("argocd_prune")))
    for field, (found, answer) in wanted.items():
        if found != answer:
            yield f"{field} is {found}, the answer is {answer}"
