"""JSON patches in kustomizations that address a keyed list entry by its position.

`path: /spec/template/spec/containers/0/env/1/value` names the second env entry of the first container. The base
owns those lists: when a template update adds an env entry before it (or a sidecar before the container), the
patch silently lands on another entry, and production loses one setting and gets another twice. Kubernetes keys
these lists (containers by name, env by name, ports by containerPort, volumes by name, ...): a strategic-merge
patch that names the entry keeps hitting it wherever it moves. Every kustomization under deploy/ is read, with
the patch files it names.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from generator.project.yamlfile import load_mapping
from generator.runtime.errors import GosvcError
from generator.runtime.outcome import Outcome
from generator.tools import Toolbox

KEYED_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "envFrom": "",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
"""Lists of the pod spec and their strategic-merge keys ("" for a list with no key to name an entry by)."""
_INDEX = re.compile(r"^(?:0|[1-9][0-9]*)$")
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def check_overlay_patches(repo: Path, _: Toolbox) -> Outcome:
    found: list[str] = []
    deploy = repo / "deploy"
    for kustomization in sorted(path for name in KUSTOMIZATIONS for path in deploy.rglob(name) if path.is_file()):
        relative = kustomization.relative_to(repo).as_posix()
        for where, operation in _operations(kustomization):
            problem = _positional(operation)
            if problem:
                found.append(f"{relative}: {where}: {problem}")
    return Outcome(not found, "\n".join(found))


def _positional(operation: dict[str, Any]) -> str | None:
    path = operation.get("path")
    if not isinstance(path, str):
        return None
    segments = [segment.replace("~1", "/").replace("~0", "~") for segment in path.split("/")[1:]]
    for parent, segment in itertools.pairwise(segments):
        if parent in KEYED_LISTS and _INDEX.match(segment):
            key = KEYED_LISTS[parent]
            named = f"a strategic-merge patch that names the entry by its {key}" if key else "a strategic-merge patch"
            return (
                f"`{operation.get('op')} {path}` addresses {parent} entry {segment} by its position: when the base "
                f"adds or reorders {parent}, it lands on another entry; use {named} instead"
            )
    return None


def _operations(kustomization: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, operation) for each JSON 6902 operation of the kustomization's patches, inline or in a file."""
    try:
        document = load_mapping(kustomization, "kustomization")
    except GosvcError:
        return  # a kustomization that does not read is kustomize's to report
    entries = [entry for field in ("patches", "patchesJson6902") for entry in document.get(field) or []]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        where = f"patch {index + 1}"
        if isinstance(entry.get("patch"), str):
            operations = _parsed(entry["patch"])
        elif isinstance(entry.get("path"), str):
            where = f"{where} ({entry['path']})"
            file = kustomization.parent / entry["path"]
            operations = _parsed(file.read_text(encoding="utf-8", errors="replace")) if file.is_file() else None
        else:
            continue
        for operation in operations if isinstance(operations, list) else []:
            if isinstance(operation, dict):
                yield where, operation


def _parsed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None
