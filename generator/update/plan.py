"""What an update changes in what is deployed: every Kubernetes object of every environment, field by field.

A reviewer of a template update reads "deploy/overlays/prod Deployment/orders-api:
spec.template.spec.containers[orders-api].resources.limits.memory 256Mi -> 384Mi", not a diff of templates. Both
trees are rendered as `gosvc check` renders them: every kustomization, and the chart with each values file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.project.kube import Rendered, render_all
from generator.runtime import git
from generator.template.source import TemplateConfig
from generator.tools import Toolbox
from generator.update import team_shape
from generator.update.project import Project, load_project

ABSENT = "(absent)"
_GENERATED_SUFFIX = re.compile(r"-[a-z0-9]{10}$")
"""The content hash kustomize appends to the names of the ConfigMaps and Secrets it generates."""


@dataclass(frozen=True)
class FieldChange:
    """One field of one object of one environment, before and after the update."""

    environment: str
    object: str
    field: str
    before: str
    after: str

    def __str__(self) -> str:
        where = f"{self.environment} {self.object}"
        if not self.object:
            return f"{self.environment}: {self.after}"
        return f"{where}: {self.field} {self.before} -> {self.after}" if self.field else f"{where}: {self.after}"

    def as_json(self) -> dict[str, str]:
        return {
            "environment": self.environment,
            "object": self.object,
            "field": self.field,
            "before": self.before,
            "after": self.after,
        }


def planned(
    team: Project, rendered: Project, updated: Path, config: TemplateConfig
) -> tuple[list[FieldChange], tuple[str, ...]]:
    """What a plan shows beyond the files the update writes: the deployed fields that change, from the team's
    project to the `updated` one, and the team-owned files whose render the template changes from `rendered` (the
    project as last rendered) to `updated`, which the update leaves as the team has them (relative to the repository
    root, as the update's other paths)."""
    objects = object_changes(team.path, updated, Toolbox.default())
    prefix = git.run(team.path, "rev-parse", "--show-prefix").strip()
    owned = team_shape.team_owned_changes(rendered, load_project(updated), team.path, config)
    return objects, tuple(prefix + path for path in owned)


def object_changes(before: Path, after: Path, toolbox: Toolbox) -> list[FieldChange]:
    """The fields that differ between the objects `before` and `after` deploy, environment by environment."""
    (old, _), (new, unrendered) = _rendered(before, toolbox), _rendered(after, toolbox)
    changes = [FieldChange(environment, "", "", "", f"cannot be rendered: {why}") for environment, why in unrendered]
    for environment in sorted(old.keys() | new.keys()):
        if environment not in new and any(environment == name for name, _ in unrendered):
            continue
        old_objects, new_objects = old.get(environment, {}), new.get(environment, {})
        for name in sorted(old_objects.keys() | new_objects.keys()):
            if name not in new_objects:
                changes.append(FieldChange(environment, name, "", "", "removed"))
            elif name not in old_objects:
                changes.append(FieldChange(environment, name, "", "", "added"))
            else:
                first, second = old_objects[name], new_objects[name]
                changes += [
                    FieldChange(environment, name, field, first.get(field, ABSENT), second.get(field, ABSENT))
                    for field in sorted(first.keys() | second.keys())
                    if first.get(field) != second.get(field)
                ]
    return changes


def _rendered(repo: Path, toolbox: Toolbox) -> tuple[dict[str, dict[str, dict[str, str]]], list[tuple[str, str]]]:
    """Environment -> "Kind/name" -> field -> value, generated names without their content hash; and the
    environments that do not render, with the reason."""
    rendered, problems = render_all(repo, toolbox)
    unrendered = [(problem.split(": ", 1)[0], problem.split(": ", 1)[-1]) for problem in problems]
    return {environment.name: _objects(environment) for environment in rendered}, unrendered


def _objects(environment: Rendered) -> dict[str, dict[str, str]]:
    generated = {
        obj["metadata"]["name"]: _GENERATED_SUFFIX.sub("", obj["metadata"]["name"])
        for obj in environment.objects
        if obj.get("kind") in ("ConfigMap", "Secret") and _GENERATED_SUFFIX.search(obj["metadata"].get("name", ""))
    }
    objects: dict[str, dict[str, str]] = {}
    for obj in environment.objects:
        name = str((obj.get("metadata") or {}).get("name", ""))
        objects[f"{obj.get('kind')}/{generated.get(name, name)}"] = dict(_fields(obj, "", generated))
    return objects


def _fields(value: Any, path: str, generated: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(dotted path, value) of every leaf; list items by their name where they have one, as kubectl shows them."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _fields(item, f"{path}.{key}" if path else str(key), generated)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            named = isinstance(item, dict) and isinstance(item.get("name"), str)
            yield from _fields(item, f"{path}[{item['name'] if named else index}]", generated)
    else:
        yield path, generated.get(value, str(value)) if isinstance(value, str) else str(value)
