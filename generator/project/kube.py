"""Kubernetes: every kustomization rendered with kustomize and every values file of the Helm chart with
`helm template`, and validated strictly against the schemas of the Kubernetes versions the template supports."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from generator.project import crds
from generator.runtime.errors import GosvcError, ToolMissingError
from generator.runtime.outcome import Outcome
from generator.tools import TOOLS, Toolbox

# Oldest minor still in providers' standard support, oldest upstream-supported, newest.
KUBERNETES_VERSIONS = ("1.33.0", "1.35.0", "1.37.0")

DEPLOY = "deploy"
"""The folder holding the kustomizations, relative to the repository."""
BASE = Path(DEPLOY) / "base"
"""The kustomize base, where the repository has kustomizations."""
CHART = Path(DEPLOY) / "chart"
"""The Helm chart, where the repository has one."""
CHART_DEFAULTS = CHART / "values.yaml"


@dataclass(frozen=True)
class Rendered:
    """One kustomization rendered: its folder, its objects and kustomize's YAML of them."""

    name: str
    objects: list[dict[str, Any]]
    text: str = ""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj.get("kind") == kind]

    def settings(self) -> dict[str, Any]:
        """What its ConfigMaps set, all of them together."""
        return {key: value for obj in self.of_kind("ConfigMap") for key, value in (obj.get("data") or {}).items()}


class RenderError(GosvcError):
    """kustomize could not build a kustomization: the repository's to fix, and what a check reports."""


@dataclass
class _Once:
    """The renderings of one repository while a run of checks reads it: each is made once (per toolbox)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    made: dict[tuple[str, str, Toolbox], Rendered | RenderError] = field(default_factory=dict)
    readers: int = 0


_ONCE: dict[Path, _Once] = {}
_ONCE_LOCK = threading.Lock()


@contextmanager
def rendered_once(repo: Path) -> Iterator[None]:
    """Within the block, kustomize and helm render each kustomization and values file of `repo` once, for
    whichever thread asks first; every caller gets a copy of that rendering. For a run of checks, which read
    the repository and never write it."""
    key = repo.resolve()
    with _ONCE_LOCK:
        once = _ONCE.setdefault(key, _Once())
        once.readers += 1
    try:
        yield
    finally:
        with _ONCE_LOCK:
            once.readers -= 1
            if not once.readers:
                del _ONCE[key]


def _once(repo: Path, key: tuple[str, str, Toolbox], make: Callable[[], Rendered]) -> Rendered:
    with _ONCE_LOCK:
        once = _ONCE.get(repo.resolve())
    if once is None:
        return make()
    with once.lock:
        if key not in once.made:
            try:
                once.made[key] = make()
            except RenderError as error:
                once.made[key] = error
        made = once.made[key]
    if isinstance(made, RenderError):
        raise RenderError(str(made))
    return copy.deepcopy(made)


def kustomizations(repo: Path) -> list[Path]:
    """The base and every overlay, relative to the repository."""
    deploy = repo / DEPLOY
    found = [path.parent for path in sorted(deploy.rglob("kustomization.yaml"))]
    return [path.relative_to(repo) for path in found]


def render(repo: Path, kustomization: Path, toolbox: Toolbox) -> Rendered:
    """`kustomization` as the kustomize of `toolbox` renders it (once per run of checks: `rendered_once`)."""
    key = ("kustomize", str(kustomization), toolbox)
    return _once(repo, key, partial(_kustomize, repo, kustomization, toolbox))


def _kustomize(repo: Path, kustomization: Path, toolbox: Toolbox) -> Rendered:
    result = toolbox.run("kubectl", "kustomize", str(kustomization), cwd=repo)
    if result.returncode != 0:
        raise RenderError(f"{kustomization}: kustomize failed: {result.stderr.strip()}")
    objects = _documents(result.stdout)
    return Rendered(str(kustomization), objects, result.stdout)


_TOOL_OUTPUT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _documents(text: str) -> list[Any]:
    """The documents of what kustomize or helm wrote: the safe loader's types, parsed by libyaml where PyYAML
    has it, as crds.py parses the definitions."""
    return [document for document in yaml.load_all(text, Loader=_TOOL_OUTPUT_LOADER) if document]


def chart_values(repo: Path) -> list[Path]:
    """The chart's values files, relative to the repository: values.yaml, then each values-ENV.yaml."""
    chart = repo / CHART
    if not (chart / "Chart.yaml").is_file():
        return []
    found = [chart / "values.yaml", *sorted(chart.glob("values-*.yaml"))]
    return [path.relative_to(repo) for path in found if path.is_file()]


def render_chart(repo: Path, values: Path, toolbox: Toolbox) -> Rendered:
    """The chart rendered by the `helm template` of `toolbox` with `values` over values.yaml, released as the
    chart's name into the namespace of the overlay of the same environment (values-dev.yaml: deploy/overlays/dev),
    or else the release's own (once per run of checks: `rendered_once`)."""
    return _once(repo, ("helm", str(values), toolbox), partial(_helm_template, repo, values, toolbox))


def _helm_template(repo: Path, values: Path, toolbox: Toolbox) -> Rendered:
    try:
        release = str(yaml.safe_load((repo / CHART / "Chart.yaml").read_text())["name"])
    except (OSError, yaml.YAMLError, TypeError, KeyError) as error:
        raise RenderError(f"{CHART}/Chart.yaml holds no chart name: {error}") from error
    environment = values.stem.removeprefix("values").removeprefix("-")
    namespace = _overlay_namespace(repo, environment) or "-".join(filter(None, (release, environment)))
    extra = ["--values", str(values)] if values.name != "values.yaml" else []
    flags = ["--namespace", namespace, *helm_flags(extra)]
    result = toolbox.run("helm", "template", release, str(CHART), *flags, cwd=repo)
    if result.returncode != 0:
        raise RenderError(f"{values}: helm template failed: {result.stderr.strip()}")
    try:
        objects = _documents(result.stdout)
    except yaml.YAMLError as error:
        raise RenderError(f"{values}: helm template wrote no YAML: {error}") from error
    return Rendered(str(values), objects, result.stdout)


def helm_flags(extra: list[str] | None = None) -> list[str]:
    """`extra`, and what every helm command renders for: the newest Kubernetes the template supports (a Helm
    built from source assumes an old one)."""
    return ["--kube-version", KUBERNETES_VERSIONS[-1], *(extra or [])]


def _overlay_namespace(repo: Path, environment: str) -> str:
    kustomization = repo / DEPLOY / "overlays" / environment / "kustomization.yaml"
    if not environment or not kustomization.is_file():
        return ""
    try:
        return str(yaml.safe_load(kustomization.read_text()).get("namespace") or "")
    except (yaml.YAMLError, AttributeError):
        return ""


def render_all(repo: Path, toolbox: Toolbox) -> tuple[list[Rendered], list[str]]:
    """Every kustomization and every values file of the chart rendered, and why those that could not be were
    not."""
    rendered, problems = [], []
    folders, values_files = kustomizations(repo), chart_values(repo)
    if not folders and not values_files:
        problems.append("no kustomization.yaml and no Helm chart under deploy/")
    renders = [partial(render, repo, folder, toolbox) for folder in folders]
    renders += [partial(render_chart, repo, values, toolbox) for values in values_files]
    for build in renders:
        try:
            rendered.append(build())
        except RenderError as error:
            problems.append(str(error))
    return rendered, problems


def base_source(repo: Path) -> Path:
    """What the answers set directly, relative to the repository: the kustomize base, or where the repository
    has no kustomization, the chart with its own values.yaml."""
    return CHART_DEFAULTS if not kustomizations(repo) and chart_values(repo) else BASE


def render_base(repo: Path, toolbox: Toolbox) -> Rendered:
    found = base_source(repo)
    if found == CHART_DEFAULTS:
        return render_chart(repo, found, toolbox)
    if not (repo / found / "kustomization.yaml").is_file():
        raise RenderError(f"no kustomization.yaml in {found}")
    return render(repo, found, toolbox)


def deployed(rendered: list[Rendered]) -> list[Rendered]:
    """What gets deployed: every rendering but the kustomize base, which sets no namespace. (The chart's
    values.yaml alone does deploy: `helm install` takes it.)"""
    return [item for item in rendered if Path(item.name) != BASE]


def validate_schemas(repo: Path, toolbox: Toolbox) -> Outcome:
    """Every object of every kustomization, strictly, against each supported Kubernetes version."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import ValidationError
    except ImportError as error:
        raise ToolMissingError(
            f"kubernetes-validate {TOOLS['kubernetes-validate'].version} is not installed: run `gosvc tools install`"
        ) from error
    rendered, problems = render_all(repo, toolbox)
    count = 0
    for kustomization in rendered:
        for obj in kustomization.objects:
            if crds.is_custom(obj):  # one schema whatever the Kubernetes version: its project's definition
                count += 1
                problems += [
                    f"{kustomization.name}: {_ref(obj)} ({crds.provider_version(obj)}): {problem}"
                    for problem in crds.validate(obj, toolbox)
                ]
                continue
            for version in KUBERNETES_VERSIONS:
                count += 1
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except ValidationError as error:
                    path = ".".join(str(part) for part in error.path) or "(root)"
                    problems.append(
                        f"{kustomization.name}: {_ref(obj)} (Kubernetes {version}): {path}: {error.message}"
                    )
                except kubernetes_validate.SchemaNotFoundError as error:
                    problems.append(f"{kustomization.name}: {_ref(obj)} (Kubernetes {version}): no schema: {error}")
    summary = (
        f"{count} validations of {sum(len(r.objects) for r in rendered)} objects in {len(rendered)} kustomizations"
    )
    return Outcome(not problems, "\n".join([*problems, summary]) if problems else summary)


def _name(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("name"))


def _ref(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{_name(obj)}"
