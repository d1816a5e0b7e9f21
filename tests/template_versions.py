"""Throwaway template releases v1, v2, v3 and a team's edited project, shared by the update and fleet tests.

v1 is the template of this working tree, plus a question `team` and the
CODEOWNERS file it fills. v2 changes what plain re-rendering handles (a changed
line, an added and a removed file) and what it cannot, each with a migration:
it renames docker-compose.yml to compose.yaml, and the question `team` to
`owner_team`. v3 changes a line every team is expected to have changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from generator.template.render import new_project
from tests.conftest import git, snapshot_template

SERVICE = "orders-api"
CONFIGMAP = "deploy/base/config.env"
HANDLER = "internal/api/hello.go"
OVERLAY = "deploy/overlays/prod/kustomization.yaml"
OLD_COMPOSE, NEW_COMPOSE = "docker-compose.yml", "compose.yaml"
DELETED_BY_TEAM = ".golangci.yml"
"""A file the team deleted and no template version changes: it stays deleted, silently."""
CHANGED_BY_V2 = ".dockerignore"
REMOVED_BY_TEMPLATE = ".yamllint.yml"
ADDED_BY_TEMPLATE = "SECURITY.md"
TEAM_FILES = {
    "docs/runbook.md": "# Runbook\n\nPage the orders team.\n",
    "internal/api/orders.go": "package api\n\n// Orders are the team's own code.\ntype Orders struct{}\n",
}

# What the team writes, and what each template version writes, so tests can look for both.
TEAM_GREETING = "Greetings from the orders team"
TEAM_ENV = "FEATURE_FLAGS=checkout-v2"
TEAM_LOG_LEVEL = "LOG_LEVEL=debug"
TEAM_MIN_REPLICAS = "path: /spec/minReplicas\n        value: 6"
TEAM_COMPOSE_ENV = "      FEATURE_FLAGS: checkout-v2"
V2_CONFIG = "GOGC=200"
V2_COMPOSE_NAME = "name: {{ service_name }}"
V3_LOG_LEVEL = "LOG_LEVEL=warn"

CODEOWNERS = "CODEOWNERS"
TEAM_ANSWER = "payments"
TEAM_QUESTION = {"type": "str", "help": "Team that owns the service", "default": "platform"}
RENAME_TEAM = {
    "version": "v2.0.0",
    "when": "{{ _stage == 'before' }}",
    "command": [
        "{{ _copier_python }}",
        "{{ _copier_conf.src_path }}/hooks/rename_answer.py",
        "team",
        "owner_team",
        "--answers-file={{ _copier_conf.answers_file }}",
    ],
}
MOVE_COMPOSE = {
    "version": "v2.0.0",
    "command": [
        "{{ _copier_python }}",
        "{{ _copier_conf.src_path }}/hooks/move_file.py",
        OLD_COMPOSE,
        NEW_COMPOSE,
        "--conflict={{ _copier_conf.conflict }}",
    ],
}


def build_template_versions(dest: Path) -> Path:
    """A template repository at `dest` tagged v1.0.0, v2.0.0 and v3.0.0."""
    repo = snapshot_template(dest, "v1.0.0")
    _edit_config(repo, lambda config: config | {"team": TEAM_QUESTION})
    (repo / "template" / f"{CODEOWNERS}.jinja").write_text("* @{{ organization }}/{{ team }}\n")
    _release(repo, "v1.0.0")

    append_line(template_file(repo, CONFIGMAP), V2_CONFIG)
    compose = template_file(repo, OLD_COMPOSE)
    renamed = compose.with_name(NEW_COMPOSE + (".jinja" if compose.suffix == ".jinja" else ""))
    git(repo, "mv", str(compose.relative_to(repo)), str(renamed.relative_to(repo)))
    renamed.write_text(V2_COMPOSE_NAME + "\n\n" + renamed.read_text())
    dockerignore = template_file(repo, CHANGED_BY_V2)
    dockerignore.write_text(dockerignore.read_text().replace(OLD_COMPOSE, NEW_COMPOSE))
    git(repo, "rm", "-q", str(template_file(repo, REMOVED_BY_TEMPLATE).relative_to(repo)))
    (repo / "template" / ADDED_BY_TEMPLATE).write_text("# Security\n\nReport vulnerabilities privately.\n")
    (repo / "template" / f"{CODEOWNERS}.jinja").write_text("* @{{ organization }}/{{ owner_team }}\n")
    _edit_config(
        repo,
        lambda config: (
            {("owner_team" if key == "team" else key): value for key, value in config.items()}
            | {"_migrations": [*(config.get("_migrations") or []), RENAME_TEAM, MOVE_COMPOSE]}
        ),
    )
    _release(repo, "v2.0.0")

    configmap = template_file(repo, CONFIGMAP)
    configmap.write_text(_replace_line(configmap.read_text(), "LOG_LEVEL=", V3_LOG_LEVEL))
    _release(repo, "v3.0.0")
    return repo


def make_team_project(template: Path, dest: Path, version: str = "v1.0.0") -> Path:
    """A project generated at `version`, committed, then edited by its team as teams do, and committed."""
    generate(template, dest, version, data={"team": TEAM_ANSWER})
    edit_as_a_team(dest)
    commit_all(dest, "team edits")
    return dest


def generate(template: Path, dest: Path, version: str, data: dict[str, Any] | None = None) -> Path:
    answers = {"service_name": SERVICE, **(data or {})}
    new_project(dest, answers, defaults=True, template=str(template), vcs_ref=version, quiet=True)
    return dest


def edit_as_a_team(project: Path) -> None:
    handler = project / HANDLER
    handler.write_text(re.sub(r'Message: "[^"]*"', f'Message: "{TEAM_GREETING}"', handler.read_text(), count=1))
    configmap = project / CONFIGMAP
    text = _replace_line(configmap.read_text(), "LOG_LEVEL=", TEAM_LOG_LEVEL)
    configmap.write_text(text.replace("\nHTTP_PORT=", f"\n{TEAM_ENV}\nHTTP_PORT=", 1))
    overlay = project / OVERLAY
    overlay.write_text(re.sub(r"path: /spec/minReplicas\n\s+value: \d+", TEAM_MIN_REPLICAS, overlay.read_text()))
    compose = project / OLD_COMPOSE
    compose.write_text(re.sub(r"(?m)^(\s*)environment:\n", rf"\g<0>{TEAM_COMPOSE_ENV}\n", compose.read_text(), count=1))
    (project / DELETED_BY_TEAM).unlink()
    for name, content in TEAM_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)
    for name, expected in ((HANDLER, TEAM_GREETING), (CONFIGMAP, TEAM_ENV), (OVERLAY, TEAM_MIN_REPLICAS)):
        assert expected in (project / name).read_text(), f"the team's edit of {name} did not apply: adapt the test"
    assert TEAM_COMPOSE_ENV in compose.read_text(), "the team's edit of the compose file did not apply"


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)


def copy_project(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, symlinks=True)
    return dest


def template_file(repo: Path, name: str) -> Path:
    """The template source of a rendered file, with or without the .jinja suffix, also in a folder whose name is
    a condition (`{% if deploy_format != 'helm' %}base{% endif %}`)."""
    for candidate in sorted((repo / "template").rglob("*")):
        source = re.sub(r"\{%.*?%\}", "", candidate.relative_to(repo / "template").as_posix())
        if candidate.is_file() and source in (name, f"{name}.jinja"):
            return candidate
    raise AssertionError(f"the template has no {name}: pick another file for this test")


def append_line(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + line + "\n")


def fingerprint(repo: Path) -> dict[str, Any]:
    """Everything an update could change: every file's bytes and mode, the index, HEAD and `git status`."""
    files: dict[str, str] = {}
    for folder, dirs, names in os.walk(repo):
        dirs[:] = [name for name in dirs if not (Path(folder) == repo and name == ".git")]
        for name in [*dirs, *names]:
            path = Path(folder, name)
            relative = path.relative_to(repo).as_posix()
            if path.is_symlink():
                files[relative] = f"link:{path.readlink()}"
            elif path.is_dir():
                files[relative] = "dir"
            else:
                files[relative] = f"{path.stat().st_mode:o}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return {
        "files": files,
        "head": git(repo, "rev-parse", "HEAD"),
        "index": git(repo, "ls-files", "--stage"),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
    }


def _replace_line(text: str, key: str, line: str) -> str:
    replaced, count = re.subn(rf"(?m)^\s*{re.escape(key)}.*$", line, text, count=1)
    assert count == 1, f"no line with {key!r}: adapt the test"
    return replaced


def _edit_config(repo: Path, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    copier_yml = repo / "copier.yml"
    config = change(yaml.safe_load(copier_yml.read_text()))
    copier_yml.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000))


def _release(repo: Path, tag: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"template release {tag}")
    git(repo, "tag", "-f", tag)
    git(repo, "fetch", "-q", "origin")  # the release is on the remote the generated repositories record
