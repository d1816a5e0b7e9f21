"""Custom resources the template emits (prometheus-operator's, Argo CD's), checked against the CustomResourceDefinitions
their projects publish.

The definitions come from the projects' Go modules at the versions of the tools
table (`gosvc tools install` downloads them, verified by Go's checksum
database). Two uses: the kubernetes-schema check validates each custom object
strictly against its definition's OpenAPI schema, and the kubernetes-server
check installs the definitions in its API server before it applies the objects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import yaml

from generator.tools import TOOLS, Toolbox

PROVIDERS = {"monitoring.coreos.com": "prometheus-operator-crds", "argoproj.io": "argo-cd-crds"}
"""The API group of each kind of custom object the template emits, and the tool that holds its definitions."""


def is_custom(obj: dict[str, Any]) -> bool:
    """Whether `obj` is of a kind one of PROVIDERS defines."""
    return _group(obj) in PROVIDERS


def definitions_for(objects: Iterable[dict[str, Any]], toolbox: Toolbox) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of the custom kinds among `objects`, each once; ToolMissingError when their
    provider is not installed in `toolbox`."""
    wanted = {(_group(obj), str(obj.get("kind"))) for obj in objects if is_custom(obj)}
    found = {}
    for group, kind in sorted(wanted):
        definition = _definition(group, kind, toolbox)
        if definition is not None:
            found[definition["metadata"]["name"]] = definition
    return list(found.values())


def validate(obj: dict[str, Any], toolbox: Toolbox) -> list[str]:
    """Where `obj` breaks the schema of its definition (as installed in `toolbox`), strictly: a field the schema
    does not define is an error, as it is for a server that validates fields strictly. One line per problem."""
    import jsonschema  # check-jsonschema's dependency, from the tools extra

    group, kind = _group(obj), str(obj.get("kind"))
    definition = _definition(group, kind, toolbox)
    if definition is None:
        return [f"{PROVIDERS[group]} defines no kind {kind} in group {group}"]
    version = str(obj.get("apiVersion", "")).partition("/")[2]
    served = {entry["name"]: entry for entry in definition["spec"]["versions"] if entry.get("served")}
    if version not in served:
        return [f"{group} serves {kind} at {', '.join(sorted(served))}, not {version or 'no version'}"]
    schema = _strict(served[version]["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(obj), key=lambda error: list(map(str, error.absolute_path))):
        path = ".".join(str(part) for part in error.absolute_path) or "(root)"
        problems.append(f"{path}: {error.message}")
    return problems


def provider_version(obj: dict[str, Any]) -> str:
    """Which published definitions `obj` is checked against, for messages: "prometheus-operator-crds v0.85.0"."""
    tool = TOOLS[PROVIDERS[_group(obj)]]
    return f"{tool.module} {tool.version}"


def _group(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.partition("/")[0] if "/" in api_version else ""


def _definition(group: str, kind: str, toolbox: Toolbox) -> dict[str, Any] | None:
    return _definitions(toolbox, PROVIDERS[group], kind.lower()).get((group, kind))


@functools.cache
def _definitions(toolbox: Toolbox, tool: str, named: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The definitions in the files of `tool` whose name holds `named` (both projects name a file after its
    kind: parsing only those saves reading megabytes of others)."""
    found = {}
    for path in sorted(toolbox.find(tool).glob("*.yaml")):
        if named not in path.name:
            continue
        for document in yaml.load_all(path.read_text(), Loader=_Loader):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                spec = document["spec"]
                found[(spec["group"], spec["names"]["kind"])] = document
    return found


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 reads a plain `=` as the "value" tag, which the safe loader has no constructor for; the
    definitions hold it as a string (relabelling actions)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its properties and does not keep
    unknown fields: what the API server's strict field validation refuses."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict
