"""The Backstage Software Template of this template, generated from copier.yml by `gosvc backstage template`.

The template asks copier.yml's questions as form pages and renders through
gosvc with the custom scaffolder action in backstage/actions, so the rules
stay in copier.yml: a form cannot run Copier's validators, and the gosvc step
refuses a bad answer with gosvc's one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import resources
from generator.project.yamlfile import load_mapping
from generator.runtime.errors import GosvcError

TEMPLATE_FILE = Path("backstage") / "template.yaml"
ACTION_ID = "gosvc:new"

PAGES = {
    "service_name": "Service",
    "api": "Container",
    "hpa_enabled": "Autoscaling",
    "ingress_namespace": "Network and objectives",
    "deploy_format": "Delivery",
    "owner": "Catalog and CI",
}
"""The question that opens each form page, and the page's title; questions follow in copier.yml's order.
A question asked only `when` another says so sits on that question's page, after it."""

_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_CONDITION = re.compile(r"\{\{\s*(.+?)\s*\}\}")
_TERM = re.compile(r"([a-z_][a-z0-9_]*)(?:\s*(==|!=)\s*'([^']*)')?")
_HEADER = "# Generated from copier.yml by `gosvc backstage template`: change copier.yml, then run it again.\n"


@dataclass(frozen=True)
class TemplateWrite:
    """What `gosvc backstage template` did: the file, whether it changed, how many questions it asks."""

    path: Path
    changed: bool
    questions: int

    def as_json(self) -> dict[str, object]:
        """`gosvc backstage template --json`."""
        return {"path": str(self.path), "changed": self.changed, "questions": self.questions}


def template_document(copier_yml: Path) -> dict[str, Any]:
    """The Backstage Software Template (scaffolder.backstage.io/v1beta3) that asks the questions of `copier_yml`."""
    config = load_mapping(copier_yml, "copier.yml")
    questions = {name: spec for name, spec in config.items() if not name.startswith("_") and isinstance(spec, dict)}
    unknown = [name for name in PAGES if name not in questions]
    if unknown:
        raise GosvcError(f"{copier_yml} has no question {', '.join(unknown)}, which opens a page of the form")
    pages: list[dict[str, Any]] = []
    for name, spec in questions.items():
        if name in PAGES:
            pages.append({"title": PAGES[name], "type": "object", "required": [], "properties": {}})
        _add_question(pages[-1], name, spec)
    for page in pages:
        if not page["required"]:
            del page["required"]
    pages.append(
        {
            "title": "Repository",
            "type": "object",
            "required": ["repoUrl"],
            "properties": {
                "repoUrl": {
                    "title": "Repository location",
                    "description": "Where the new repository is created",
                    "type": "string",
                    "ui:field": "RepoUrlPicker",
                    "ui:options": {"allowedHosts": ["github.com"]},
                }
            },
        }
    )
    answers = {name: f"${{{{ parameters.{name} }}}}" for name in questions}
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": "gosvc-go-service",
            "title": "Go service (gosvc)",
            "description": "A Go HTTP service for Kubernetes: health, readiness, Prometheus metrics, graceful "
            "shutdown, hardened manifests, SLO alerts and a CI pipeline, kept up to date with gosvc update.",
            "tags": ["go", "kubernetes", "gosvc"],
        },
        "spec": {
            "type": "service",
            "parameters": pages,
            "steps": [
                {"id": "render", "name": "Render with gosvc", "action": ACTION_ID, "input": {"answers": answers}},
                {
                    "id": "publish",
                    "name": "Publish",
                    "action": "publish:github",
                    "input": {"repoUrl": "${{ parameters.repoUrl }}", "defaultBranch": "main"},
                },
                {
                    "id": "register",
                    "name": "Register in the catalog",
                    "action": "catalog:register",
                    "input": {
                        "repoContentsUrl": "${{ steps['publish'].output.repoContentsUrl }}",
                        "catalogInfoPath": "/catalog-info.yaml",
                    },
                },
            ],
            "output": {
                "links": [
                    {"title": "Repository", "url": "${{ steps['publish'].output.remoteUrl }}"},
                    {
                        "title": "Open in catalog",
                        "icon": "catalog",
                        "entityRef": "${{ steps['register'].output.entityRef }}",
                    },
                ]
            },
        },
    }


def _add_question(page: dict[str, Any], name: str, spec: Mapping[str, Any]) -> None:
    field = _field(name, spec)
    condition = _condition(spec.get("when"))
    if condition is None:
        page["properties"][name] = field
        if name == "service_name":
            # Its default names the destination folder, which the scaffolder's workspace does not have.
            page["required"].append(name)
        return
    if condition == {}:
        field["description"] += f" (asked only when {spec['when']}; gosvc ignores it otherwise)"
        page["properties"][name] = field
        return
    branches = page.setdefault("allOf", [])
    asked = {*page["properties"], *(key for branch in branches for key in branch["then"]["properties"])}
    controllers = [key for key in condition if key not in asked]
    if controllers:
        raise GosvcError(f"question {name} is asked when {', '.join(controllers)} says so, on another form page")
    wanted = {"properties": condition, "required": sorted(condition)}
    branch = next((branch for branch in branches if branch["if"] == wanted), None)
    if branch is None:
        branch = {"if": wanted, "then": {"properties": {}}}
        branches.append(branch)
    branch["then"]["properties"][name] = field


def _field(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(spec.get("type", "str"))
    if kind not in _JSON_TYPES:
        raise GosvcError(f"question {name} has type {kind}, which the form cannot ask")
    field: dict[str, Any] = {
        "title": name,
        "type": _JSON_TYPES[kind],
        "description": " ".join(str(spec["help"]).split()).rstrip("."),
    }
    choices = spec.get("choices")
    if isinstance(choices, dict):
        field["enum"] = list(choices.values())
        field["enumNames"] = list(choices)
    elif isinstance(choices, list):
        field["enum"] = list(choices)
    default = spec.get("default")
    if isinstance(default, str) and ("{{" in default or "{%" in default):
        if name != "service_name":
            field["description"] += ". Leave it empty for the default gosvc derives from the other answers"
    elif default is not None:
        field["default"] = default
    return field


def _condition(when: Any) -> dict[str, Any] | None:
    """A `when` as the properties it requires (JSON schema), None for always, {} when it is not expressible:
    only names of yes/no questions, `name == 'value'` and `name != 'value'` joined by `and` are."""
    if when is None or when is True:
        return None
    matched = _CONDITION.fullmatch(str(when).strip())
    if not matched:
        return {}
    condition: dict[str, Any] = {}
    for term in matched.group(1).split(" and "):
        found = _TERM.fullmatch(term.strip())
        if not found:
            return {}
        name, operator, value = found.groups()
        if name in condition:
            return {}
        condition[name] = {"not": {"const": value}} if operator == "!=" else {"const": True if value is None else value}
    return condition


def template_text(copier_yml: Path) -> str:
    """backstage/template.yaml as `gosvc backstage template` writes it."""
    dumped = yaml.safe_dump(template_document(copier_yml), sort_keys=False, allow_unicode=True, width=120)
    return _HEADER + dumped


def write_template(root: Path | None = None, *, check: bool = False) -> TemplateWrite:
    """Write backstage/template.yaml from copier.yml, both in `root` (default: this gosvc clone); with `check`,
    only compare, and fail on a difference."""
    root = root or resources.CHECKOUT
    copier_yml = root / "copier.yml"
    if not copier_yml.is_file():
        raise GosvcError(f"{root} holds no copier.yml: run gosvc from a clone of the gosvc repository")
    text = template_text(copier_yml)
    target = root / TEMPLATE_FILE
    try:
        changed = target.read_text(encoding="utf-8") != text
    except FileNotFoundError:
        changed = True
    questions = len(template_document(copier_yml)["spec"]["steps"][0]["input"]["answers"])
    if check and changed:
        raise GosvcError(f"{TEMPLATE_FILE} differs from what copier.yml generates: run `gosvc backstage template`")
    if changed and not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return TemplateWrite(target, changed, questions)
