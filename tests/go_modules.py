"""The requirements of the generated go.mod and its go.sum, one pair of files per set of dependencies.

A set is a Go version crossed with the features that import modules (`dependency_set` in
includes/go_modules.jinja names it). go.mod.jinja and go.sum.jinja include the pair of the set the answers
select, from includes/gomod/ and includes/gosum/. `python -m tests.go_modules [SET...]` rewrites every pair (or
those named) from DIRECT through `go get` and `go mod tidy`; tests/test_go_modules.py proves each pair tidy as
rendered.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.template.render import new_project
from tests.conftest import PROJECT_ROOT, snapshot_template

INCLUDES = PROJECT_ROOT / "includes"
GO_VERSIONS = ("1.26", "1.25")
DATABASES = ("none", "postgres")

# The modules the generated code imports, at the newest version whose go.mod asks for no newer Go than the
# repository's go line (a newer one would raise it, and `go mod tidy -diff` would fail).
DIRECT: dict[str, dict[str, dict[str, str]]] = {
    "1.26": {
        "base": {"github.com/prometheus/client_golang": "v1.25.0"},
        "otlp": {
            "go.opentelemetry.io/otel": "v1.47.0",
            "go.opentelemetry.io/otel/sdk": "v1.47.0",
            "go.opentelemetry.io/otel/trace": "v1.47.0",
            "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp": "v1.47.0",
            "go.opentelemetry.io/proto/otlp": "v1.11.1",
        },
        "grpc": {
            "google.golang.org/grpc": "v1.85.0",
            "google.golang.org/protobuf": "v1.36.12",
            "github.com/grpc-ecosystem/go-grpc-middleware/v2": "v2.3.4",
        },
        "postgres": {"github.com/jackc/pgx/v5": "v5.13.0", "github.com/pressly/goose/v3": "v3.30.1"},
    },
    "1.25": {
        "base": {"github.com/prometheus/client_golang": "v1.24.1"},
        "otlp": {
            "go.opentelemetry.io/otel": "v1.46.0",
            "go.opentelemetry.io/otel/sdk": "v1.46.0",
            "go.opentelemetry.io/otel/trace": "v1.46.0",
            "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp": "v1.46.0",
            "go.opentelemetry.io/proto/otlp": "v1.11.0",
        },
        "grpc": {
            "google.golang.org/grpc": "v1.84.0",
            "google.golang.org/protobuf": "v1.36.12",
            "github.com/grpc-ecosystem/go-grpc-middleware/v2": "v2.3.4",
        },
        "postgres": {"github.com/jackc/pgx/v5": "v5.13.0", "github.com/pressly/goose/v3": "v3.27.0"},
    },
}

_REQUIREMENTS = re.compile(r"\A.*?^go [0-9.]+\n", re.DOTALL | re.MULTILINE)


def variants() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each dependency set, named as includes/go_modules.jinja names it, with answers that select it."""
    apis_and_tracing = (("http", "off"), ("http", "otlp"), ("both", "off"), ("both", "otlp"))
    for go_version, (api, tracing), database in itertools.product(GO_VERSIONS, apis_and_tracing, DATABASES):
        name = f"go{go_version}" + ("-grpc" if api != "http" else "") + ("-otlp" if tracing == "otlp" else "")
        name += "-postgres" if database == "postgres" else ""
        yield name, {"go_version": go_version, "api": api, "tracing": tracing, "database": database}


def render(template: Path, dest: Path, answers: dict[str, Any]) -> Path:
    """The repository `answers` select, rendered with every other answer at its default."""
    return new_project(
        dest, {"service_name": "orders-api", **answers}, defaults=True, template=str(template), quiet=True
    ).dest


def _go(repo: Path, *args: str) -> None:
    subprocess.run(["go", *args], cwd=repo, check=True)


def refresh(repo: Path, name: str, answers: dict[str, Any]) -> None:
    """Rewrite the pair of files of set `name` from DIRECT, resolved by `go get` and `go mod tidy` in `repo`."""
    go_version = answers["go_version"]
    features = ["base"]
    features += ["otlp"] if answers["tracing"] == "otlp" else []
    features += ["grpc"] if answers["api"] != "http" else []
    features += ["postgres"] if answers["database"] == "postgres" else []
    modules = {module: version for feature in features for module, version in DIRECT[go_version][feature].items()}
    go_mod = repo / "go.mod"
    header = _REQUIREMENTS.match(go_mod.read_text())
    assert header, f"{go_mod}: no go line"
    go_mod.write_text(header.group(0))
    (repo / "go.sum").unlink(missing_ok=True)
    _go(repo, "get", *(f"{module}@{version}" for module, version in sorted(modules.items())))
    _go(repo, "mod", "tidy")
    tidy = go_mod.read_text()
    if not tidy.startswith(header.group(0)):
        raise SystemExit(f"{name}: go mod tidy changed the go line: {tidy.splitlines()[:4]}")
    (INCLUDES / "gomod" / f"{name}.mod").write_text(tidy[len(header.group(0)) :])
    shutil.copyfile(repo / "go.sum", INCLUDES / "gosum" / f"{name}.sum")


def main() -> None:
    """Rewrite the sets named on the command line, or every set."""
    chosen = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as scratch:
        template = snapshot_template(Path(scratch) / "template")
        for name, answers in variants():
            if chosen and name not in chosen:
                continue
            print(f"{name}: go get and go mod tidy", file=sys.stderr)
            refresh(render(template, Path(scratch) / name, answers), name, answers)


if __name__ == "__main__":
    main()
