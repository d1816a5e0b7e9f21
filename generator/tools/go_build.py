"""Tools gosvc builds in a Go module of its own, where `go install` cannot: Kubernetes' servers (its go.mod
replaces its staging modules by folders, which `go install` refuses), etcd (whose command is a library package),
and an OpenTelemetry Collector of the two components the checks need (no distribution of it is a Go module)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from generator import resources
from generator.runtime.errors import GosvcError
from generator.tools.backends import GoInstall, Progress, Tool, Toolbox, run

_MAIN_CALLS = {"go.etcd.io/etcd/server/v3/etcdmain": "etcdmain.Main(os.Args)"}
"""Library packages whose own command lives elsewhere: the call a main function of gosvc's makes."""
_MAIN_SOURCES = {
    "otelcol_main.go": (
        "go.opentelemetry.io/collector/receiver/otlpreceiver",
        "go.opentelemetry.io/collector/exporter/debugexporter",
    ),
    "grafana_dashboard_main.go": (),
}
"""Main packages of gosvc's own (files of generator/resources), and the modules they import besides the tool's, all
required at the tool's version."""


class GoBuildModule(GoInstall):
    """`go build` of the tool's package in a module that requires its module at its version.

    Kubernetes replaces its staging modules (k8s.io/api ...) by folders of its
    own repository; here each is replaced by its published release, v0.MINOR.PATCH
    of the same Kubernetes release. Where the package is a library, a main
    function calls it.
    """

    name = "gobuild"

    def install_one(self, toolbox: Toolbox, tool: Tool, progress: Progress) -> None:
        progress(f"go build {tool.package} of {tool.module}@{tool.version} (a build module of its own)")
        go = str(toolbox.find("go"))
        folder = toolbox.folder / "build" / f"{tool.name}-{tool.version}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        replaces, ldflags = _kubernetes_build(go, tool) if tool.module == "k8s.io/kubernetes" else ("", "-s -w")
        modules = (tool.module, *_MAIN_SOURCES.get(tool.package, ()))
        requires = "".join(f"require {module} {tool.version}\n" for module in modules)
        (folder / "go.mod").write_text(f"module gosvc.local/build/{tool.name}\n\ngo 1.25\n\n{requires}\n{replaces}")
        if tool.package in _MAIN_SOURCES:
            shutil.copyfile(resources.FOLDER / tool.package, folder / "main.go")
            target = "."
        elif call := _MAIN_CALLS.get(tool.package):
            main = f'package main\n\nimport (\n\t"os"\n\n\t"{tool.package}"\n)\n\nfunc main() {{ {call} }}\n'
            (folder / "main.go").write_text(main)
            target = "."
        else:
            (folder / "tools.go").write_text(f'//go:build tools\n\npackage build\n\nimport _ "{tool.package}"\n')
            target = tool.package
        run([go, "mod", "tidy"], cwd=folder)
        output = self.path(toolbox.folder, tool)
        output.parent.mkdir(parents=True, exist_ok=True)
        run([go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(output), target], cwd=folder)


def _kubernetes_build(go: str, tool: Tool) -> tuple[str, str]:
    """The replace directives that put each staging module of Kubernetes at its published release, and the linker
    flags that give the server its version."""
    required = f"{tool.module}@{tool.version}"
    downloaded = subprocess.run([go, "mod", "download", "-json", required], capture_output=True, text=True, check=False)
    if downloaded.returncode != 0:
        raise GosvcError(f"cannot download {required}: {downloaded.stdout}{downloaded.stderr}")
    upstream = Path(json.loads(downloaded.stdout)["GoMod"]).read_text()
    staged = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream, flags=re.M)
    published = "v0." + tool.version.split(".", 1)[1]
    replaces = "replace (\n" + "".join(f"\t{name} => {name} {published}\n" for name in staged) + ")\n"
    major, minor = tool.version.lstrip("v").split(".")[:2]
    version = "k8s.io/component-base/version"
    ldflags = (
        f"-s -w -X {version}.gitVersion={tool.version} -X {version}.gitMajor={major} -X {version}.gitMinor={minor}"
    )
    return replaces, ldflags
