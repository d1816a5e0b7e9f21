"""Every check that applies to a generated repository: one table, the single source of what a check is.

A check declares its name; when it applies; the files it reads (globs relative to the repository); the tools
it runs (names of the tools table, whose versions key its results); its cost class; what server or engine it
needs; and the settings of the run it uses. The runner's order, the result cache's keys, which checks a changed
file concerns, `gosvc check --list` and the tests' lanes are all read from here. Adding a check is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from generator.checks.backstage import check_backstage
from generator.checks.cache import answers_read
from generator.checks.context import CheckContext
from generator.checks.database.running import check_database
from generator.checks.database.server import go_test, has_database
from generator.checks.image import check_image
from generator.checks.kubernetes import consistency, scanners
from generator.checks.kubernetes.argocd import check_argocd
from generator.checks.kubernetes.helm import check_helm
from generator.checks.kubernetes.overlay_patches import check_overlay_patches
from generator.checks.kubernetes.server import SERVER_VERSIONS, check_kubernetes_server
from generator.checks.locked_answers import keeps_locked_answers, preset_given
from generator.checks.makefile import NAMED_FOLDERS, check_makefile
from generator.checks.merge_leftovers import check_merge_leftovers
from generator.checks.pipelines import actionlint, groovy_lint, has_shell_scripts, jenkins_declarative, shellcheck
from generator.checks.prometheus.dashboards import COPIES, DASHBOARDS, check_grafana_dashboard
from generator.checks.prometheus.e2e import check_prometheus_e2e
from generator.checks.prometheus.rules import check_prometheus_config, check_prometheus_rules
from generator.checks.proto import check_proto
from generator.checks.steps import Run, command, has, on_repo, steps
from generator.project import kube
from generator.project.answers_file import ANSWERS_FILE
from generator.runtime.outcome import Outcome
from generator.servers.control_plane import apiserver_tool


class Cost(Enum):
    """How long a check takes, by what it does: the runner starts the longest first."""

    SERVER = "server"  # starts servers or an engine and waits on them: tens of seconds to minutes
    BUILD = "build"  # compiles or loads a large program: seconds to tens of seconds
    LINT = "lint"  # reads files with one tool: about a second


@dataclass(frozen=True)
class Check:
    """One check and everything the runner, the cache and the tests need to know of it."""

    name: str
    applies: Callable[[CheckContext], bool]
    run: Run
    describe: str
    reads: tuple[str, ...]
    """Globs, relative to the repository, of every file the check's result can depend on."""
    tools: tuple[str, ...]
    """The tools it runs, by their names in the tools table."""
    cost: Cost = Cost.LINT
    needs: str = ""
    """The server or engine it starts or talks to ("" for none)."""
    uses: tuple[str, ...] = ()
    """The settings of the run (CheckContext fields) its result depends on."""
    waits: bool = False
    """Mostly waits on servers it started: runs beside the --jobs bound, not inside it."""

    def as_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "describe": self.describe,
            "reads": list(self.reads),
            "tools": list(self.tools),
            "cost": self.cost.value,
            "needs": self.needs,
            "uses": list(self.uses),
        }


GO_SOURCES = ("**/*.go", "go.mod", "go.sum", "**/*.sql")
"""What a Go build reads: the sources, the modules, and the SQL migrations the binary embeds."""
DEPLOY, DASHBOARD_FILES = ("deploy/**",), (f"{DASHBOARDS}/*.json",)
SETTINGS = ("deploy/base/config.env", "deploy/chart/values.yaml")
"""Where the service's settings are: the kustomize base's, else the chart's."""
BASE_MANIFESTS = ("deploy/base/**", "deploy/chart/**")
"""What `kube.render_base` reads: the kustomize base, else the chart (never an overlay or an Argo CD file)."""
ANSWERS = (ANSWERS_FILE,)
SERVICE_ANSWERS = (
    answers_read(ANSWERS_FILE, "api", "database", "grpc_port", "http_port", "metrics_port", "service_name"),
)
"""What the checks that run the service read of the answers: its ports (project/ports.py), database and name."""
YAML = ("**/*.yaml", "**/*.yml")
KUBERNETES_SERVERS = tuple(apiserver_tool(version) for version in SERVER_VERSIONS)


def _kubernetes_server(context: CheckContext) -> Outcome:
    return check_kubernetes_server(context.repo, context.tools, context.kube_context, context.planes)


CHECKS: tuple[Check, ...] = (
    Check(
        "merge-leftovers",
        lambda _: True,
        on_repo(check_merge_leftovers),
        "no conflict markers and no .rej file in any file git would commit: an update or a merge left unfinished",
        ("**", ".gitignore", ".git/info/exclude"),
        (),
    ),
    Check(
        "go-mod-tidy",
        has("go.mod"),
        command("go", "mod", "tidy", "-diff"),
        "go mod tidy -diff: no drift",
        GO_SOURCES,
        ("go",),
    ),
    Check(
        "gofmt",
        has("go.mod"),
        command("gofmt", "-l", ".", silent=True),
        "gofmt -l: every file formatted",
        ("**/*.go", "go.mod"),
        ("gofmt",),
    ),
    Check("go-vet", has("go.mod"), command("go", "vet", "./..."), "go vet ./...", GO_SOURCES, ("go",), Cost.BUILD),
    Check(
        "go-build", has("go.mod"), command("go", "build", "./..."), "go build ./...", GO_SOURCES, ("go",), Cost.BUILD
    ),
    Check(
        "go-test",
        has("go.mod"),
        go_test,
        "go test -race ./...; with a database, against a real PostgreSQL server (TEST_DATABASE_URL), none skipped",
        # The tests of the grace period and the settings read the manifests the service is deployed with; the
        # answers say whether the tests get a database server.
        (*GO_SOURCES, "deploy/base/deployment.yaml", *SETTINGS, *SERVICE_ANSWERS),
        ("go", "initdb", "psql"),
        Cost.BUILD,
    ),
    Check(
        "golangci-lint",
        has("go.mod"),
        # Without the flag a second run (another repository of a matrix or fleet) refuses to start.
        command("golangci-lint", "run", "--allow-parallel-runners", "./..."),
        "golangci-lint v2, shipped config",
        (*GO_SOURCES, ".golangci.yml"),
        ("golangci-lint", "go"),
        Cost.BUILD,
    ),
    Check(
        "proto",
        has("buf.yaml"),
        on_repo(check_proto),
        "buf lint; internal/gen is what buf generate makes of proto/ with the pinned plugins; buf breaking against "
        "a baseline it names: HEAD, HEAD~1, or the API as the template generated it",
        # Without a commit that holds the API, the baseline is rendered from the template the answers name.
        (
            "proto/**",
            "buf.yaml",
            "buf.gen.yaml",
            "buf.lock",
            "internal/gen/**",
            *ANSWERS,
            ".git/HEAD",
            ".git/refs/**",
            ".git/packed-refs",
            ".git/shallow",
        ),
        ("buf", "protoc-gen-go", "protoc-gen-go-grpc"),
        Cost.BUILD,
    ),
    Check(
        "makefile",
        has("Makefile"),
        lambda context: check_makefile(context.repo, context.tools, context.cache),
        "make -n on every target, no undefined variable, no file of deploy/, prometheus/ or proto/ named that the "
        "repository lacks; make tools run with go and pip in dry-run mode: every pinned tool resolves at its version",
        ("Makefile", *(f"{folder}/**" for folder in NAMED_FOLDERS)),
        ("make", "go"),
        Cost.BUILD,
    ),
    Check(
        "hadolint",
        has("Dockerfile"),
        command("hadolint", "--failure-threshold", "warning", "Dockerfile"),
        "hadolint: no findings at warning or above",
        ("Dockerfile", ".hadolint.yaml"),
        ("hadolint",),
    ),
    Check(
        "yamllint",
        has(".yamllint.yml"),
        command("yamllint", "--strict", "-c", ".yamllint.yml", "."),
        "yamllint --strict, shipped config",
        (*YAML, ".yamllint"),
        ("yamllint",),
    ),
    Check(
        "kubernetes-schema",
        has("deploy"),
        on_repo(kube.validate_schemas),
        "kustomize every overlay, helm template every values file; strict schemas of Kubernetes "
        + ", ".join(kube.KUBERNETES_VERSIONS),
        DEPLOY,
        ("kubernetes-validate", "kubectl", "helm", "prometheus-operator-crds"),
    ),
    Check(
        "helm",
        has("deploy/chart/Chart.yaml"),
        on_repo(check_helm),
        "helm lint --strict with every values file; values.schema.json refuses a value the chart does not define; "
        "beside kustomize overlays, each values file renders the objects of the overlay of its environment",
        DEPLOY,
        ("helm", "kubectl"),
    ),
    Check(
        "kubernetes-consistency",
        has("deploy"),
        lambda context: consistency.check_consistency(context.repo, context.answers, context.tools),
        "selectors, probes, ports and autoscaling agree with the answers",
        (*DEPLOY, *ANSWERS, *GO_SOURCES, "Dockerfile", "prometheus/**"),
        ("kubectl", "helm"),
    ),
    Check(
        "overlay-patches",
        has("deploy"),
        on_repo(check_overlay_patches),
        "no JSON patch in a kustomization addresses a container, env entry, port or volume by its position",
        DEPLOY,
        (),
    ),
    Check(
        "argocd",
        has("deploy/argocd"),
        check_argocd,
        "each Argo CD Application strictly against Argo CD's published definition; one per environment, deploying "
        "a source path the repository holds into the namespace it renders, with the answers' repository and sync",
        (*DEPLOY, *ANSWERS),
        ("argo-cd-crds", "kubectl", "helm"),
    ),
    Check(
        "checkov",
        has("deploy"),
        on_repo(scanners.checkov),
        "checkov on the repository and every rendered overlay (kubernetes, dockerfile, github_actions, "
        "gitlab_ci): nothing failed, every file scanned, suppressions only with a reason",
        (*YAML, "**/*.json", "**/Dockerfile*", ".checkov.yaml", ".checkov.yml", *DEPLOY),
        ("checkov", "kubectl", "helm"),
        Cost.BUILD,
    ),
    Check(
        "kube-score",
        has("deploy"),
        on_repo(scanners.kube_score),
        "kube-score on every rendered overlay: no CRITICAL, no WARNING",
        DEPLOY,
        ("kube-score", "kubectl", "helm"),
    ),
    Check(
        "prometheus-config",
        has("prometheus"),
        check_prometheus_config,
        "promtool check config (compose and Kubernetes scrape configs)",
        ("prometheus/**",),
        ("promtool",),
    ),
    Check(
        "prometheus-rules",
        has("prometheus/alerts.yml"),
        lambda context: check_prometheus_rules(context.repo, context.tools, context.cache),
        "promtool check rules, and test rules on every prometheus/*_test.yml; the same for the spec of every "
        "PrometheusRule rendered, which must hold the rules of prometheus/alerts.yml",
        ("prometheus/**", *DEPLOY),
        ("promtool", "kubectl", "helm"),
        Cost.BUILD,
    ),
    Check(
        "actionlint",
        has(".github/workflows"),
        actionlint,
        "actionlint (with shellcheck on run: steps)",
        (".github/**",),
        ("actionlint", "shellcheck"),
    ),
    Check(
        "gitlab-ci-schema",
        has(".gitlab-ci.yml"),
        command("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"),
        "GitLab CI JSON schema",
        (".gitlab-ci.yml",),
        ("check-jsonschema",),
    ),
    Check(
        "jenkinsfile",
        has("Jenkinsfile"),
        steps(groovy_lint, jenkins_declarative),
        "Groovy syntax, CodeNarc rules and the declarative structure; the steps themselves need a Jenkins controller",
        ("Jenkinsfile", ".groovylintrc*"),
        ("npm-groovy-lint", "java"),
        Cost.BUILD,
    ),
    Check(
        "compose",
        has("docker-compose.yml"),
        steps(
            command("docker-compose", "-f", "docker-compose.yml", "config", "--quiet"),
            command("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"),
        ),
        "docker compose config and the compose-spec schema",
        # compose reads the files it names: env files, secrets and the mounted configs.
        ("docker-compose.yml", ".env*", "*.env", "prometheus/**", "secrets/**"),
        ("docker-compose", "check-jsonschema"),
    ),
    Check(
        "renovate-schema",
        has("renovate.json"),
        command("check-jsonschema", "--builtin-schema", "vendor.renovate", "renovate.json"),
        "Renovate config schema",
        ("renovate.json",),
        ("check-jsonschema",),
    ),
    Check(
        "shellcheck",
        has_shell_scripts,
        shellcheck,
        "shellcheck on every *.sh",
        ("**/*.sh", ".shellcheckrc"),
        ("shellcheck",),
    ),
    Check(
        "backstage",
        has("catalog-info.yaml"),
        on_repo(check_backstage),
        "catalog-info.yaml validated as the Backstage catalog reads it (@backstage/catalog-model): entity "
        "policies, the Component schema, and owner and system references an entity could have",
        ("catalog-info.yaml",),
        ("node", "backstage-catalog-model", "yaml"),
    ),
    Check(
        "preset",
        preset_given,
        keeps_locked_answers,
        "with --preset FILE (or GOSVC_PRESET): the answers keep every locked answer of the organisation preset",
        ANSWERS,
        (),
        uses=("preset",),
    ),
    Check(
        "kubernetes-server",
        has("deploy"),
        _kubernetes_server,
        "every overlay server-side applied to kube-apiserver "
        + ", ".join(SERVER_VERSIONS)
        + " in a Pod Security restricted namespace (or dry-run in --kube-context): no refusal, no warning",
        DEPLOY,
        (*KUBERNETES_SERVERS, "etcd", "kubectl", "helm", "prometheus-operator-crds", "argo-cd-crds"),
        Cost.SERVER,
        needs="Kubernetes API servers",
        uses=("kube_context",),
    ),
    Check(
        "prometheus-e2e",
        has("prometheus/prometheus.yml", "go.mod"),
        check_prometheus_e2e,
        "the service and Prometheus on loopback, the repository's scrape config and rules: up, request metrics "
        "by route pattern, every query of every dashboard panel returning data after the traffic, no page while up, "
        "a critical alert pending then firing once the service stops",
        (*GO_SOURCES, "prometheus/**", *SETTINGS, *SERVICE_ANSWERS, "proto/**", *DASHBOARD_FILES),
        ("go", "prometheus", "otelcol", "grpcurl", "grafana-dashboard"),
        Cost.SERVER,
        needs="Prometheus and the OpenTelemetry Collector",
        waits=True,
    ),
    Check(
        "grafana-dashboard",
        has(str(DASHBOARDS)),
        check_grafana_dashboard,
        "monitoring/dashboards/ read strictly by the Grafana Foundation SDK's model; what the manifests deploy equal",
        (*DASHBOARD_FILES, *(str(copy) for copy in COPIES)),
        ("grafana-dashboard",),
    ),
    Check(
        "database",
        has_database,
        check_database,
        "the binary on a real PostgreSQL server: migrate up from two processes at once applies each migration once, "
        "down reverts each; the service ready on it, its example route stored, unready once the database goes away "
        "and ready again once it is back; no query without a deadline",
        # What the service is built from, and the settings and ports it runs with.
        (*GO_SOURCES, *SETTINGS, *SERVICE_ANSWERS),
        ("go", "initdb", "psql", "grpc-health-probe"),
        Cost.SERVER,
        needs="PostgreSQL",
        waits=True,
    ),
    Check(
        "image",
        has("Dockerfile"),
        check_image,
        "docker build; the container run read-only and non-root: probes, metrics port, HEALTHCHECK, SIGTERM",
        # What the build compiles, what the container is run with (the grace period and ports of the manifests and
        # the answers), and what decides which files reach the build at all.
        (*GO_SOURCES, "Dockerfile", ".dockerignore", *BASE_MANIFESTS, *SERVICE_ANSWERS),
        ("docker", "grpc-health-probe"),
        Cost.SERVER,
        needs="a container engine",
        uses=("offline_standins",),
    ),
)


def slow_checks() -> set[str]:
    """The checks that start servers or an engine."""
    return {check.name for check in CHECKS if check.cost is Cost.SERVER}


def names() -> str:
    """The names of every check, for messages."""
    return ", ".join(check.name for check in CHECKS)
