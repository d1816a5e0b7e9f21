"""Each check of `gosvc check` is shown able to fail.

One repository per CI system is rendered and must pass every check; then each
mutation breaks it the way one check exists to catch, and the failing checks
must be exactly the expected ones. Where tools overlap, the overlap is named:
golangci-lint runs govet itself, and code that does not compile stops vet,
tests and lint as well as the build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from generator import checks
from generator.cli.main import main
from generator.project import kube
from generator.servers.postgres import SharedPostgres
from generator.tools import Toolbox
from tests.conftest import PRISTINE, Render

pytestmark = pytest.mark.usefixtures("control_planes")

HELM_BASE = "deploy/chart/values.yaml"
"""What the answers set in a repository without kustomize."""
GO_CHECKS = {"go-mod-tidy", "gofmt", "go-vet", "go-build", "go-test", "golangci-lint"}


def _edit(relative: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        path = repo / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, count))

    return apply


def _regex(relative: str, pattern: str, replacement: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        path = repo / relative
        text, found = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
        assert found, f"{pattern!r} not in {relative}"
        path.write_text(text)

    return apply


def _write(relative: str, content: str) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)

    return apply


def _delete(relative: str) -> Callable[[Path], None]:
    return lambda repo: (repo / relative).unlink()


def _short_grace_period(relative: str) -> Callable[[Path], None]:
    """The grace period in `relative` cut below the drain delay and the shutdown timeout."""
    return _edit(relative, "terminationGracePeriodSeconds: 35", "terminationGracePeriodSeconds: 6")


def _all(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        for mutate in mutations:
            mutate(repo)

    return apply


@dataclass(frozen=True)
class Mutation:
    name: str
    repo: str  # the PRISTINE repository it mutates
    mutate: Callable[[Path], None]
    fails: frozenset[str]
    passes: frozenset[str] = frozenset()  # slow checks that must run, and pass, on this mutation
    preset: str = ""  # the preset the checks run with, relative to the mutated repository


def mutation(
    name: str,
    mutate: Callable[[Path], None],
    *fails: str,
    repo: str = "github-actions",
    passes: frozenset[str] = frozenset(),
    preset: str = "",
) -> Mutation:
    return Mutation(name, repo, mutate, frozenset(fails or (name,)), passes, preset)


SLOW_CHECKS = checks.slow_checks()


MUTATIONS = [
    # What an update left unresolved: an inline conflict in a file no other check reads, and a .rej file.
    mutation(
        "merge-leftovers",
        _write("docs/runbooks.md", "# Runbooks\n<<<<<<< before updating\nold\n=======\nnew\n>>>>>>> after updating\n"),
    ),
    mutation("merge-leftovers", _write("go.mod.rej", "@@ -1 +1 @@\n-go 1.25\n+go 1.26\n")),
    mutation("go-mod-tidy", _regex("go.mod", r"^(\t\S+ v\S+) // indirect$", r"\1")),
    mutation(
        "gofmt",
        _write("internal/api/format.go", "package api\n\nfunc  badlyFormatted( ) int {\nreturn 1}\n"),
        "gofmt",
        "golangci-lint",
    ),
    mutation(
        "go-vet",
        # An analyzer outside the subset that `go test` runs itself (printf would fail go-test too).
        _write(
            "internal/api/vet.go",
            'package api\n\n// Vet returns early.\nfunc Vet() int {\n\treturn 1\n\tpanic("no")\n}\n',
        ),
        "go-vet",
        "golangci-lint",
    ),
    mutation(
        "go-build",
        _write("internal/api/build.go", 'package api\n\nvar broken int = "text"\n'),
        "go-build",
        "go-vet",
        "go-test",
        "golangci-lint",
    ),
    mutation(
        "go-test",
        _write(
            "internal/api/mutation_test.go",
            'package api\n\nimport "testing"\n\n'
            'func TestMutation(t *testing.T) {\n\tt.Parallel()\n\tt.Fatal("mutated")\n}\n',
        ),
    ),
    mutation(
        "golangci-lint",
        _write(
            "internal/api/lint.go",
            'package api\n\nimport "os"\n\n'
            '// Cleanup removes a file and ignores the error.\nfunc Cleanup() {\n\tos.Remove("x")\n}\n',
        ),
    ),
    # A line that Jinja's whitespace control glued to the comment after it: `go install` refuses the version.
    mutation("makefile", _regex("Makefile", r"(cmd/promtool@\S+)\n\n", r"\1")),
    mutation("makefile", _edit("Makefile", "$(HADOLINT) --failure", "$(HADOLNT) --failure")),
    # A target naming a file this variant does not generate (the check-alerts of prometheus-operator repositories
    # named prometheus/kubernetes.yml, which only the others have).
    mutation("makefile", _edit("Makefile", "prometheus/prometheus.yml", "prometheus/prometheus.yml prometheus/x.yml")),
    # The golangci-lint the first `make lint` installs, at a version that does not exist.
    mutation("makefile", _regex("Makefile", r"(cmd/golangci-lint@)v[0-9.]+", r"\g<1>v2.999.0")),
    # checkov's CKV_DOCKER_7 also refuses a latest tag.
    mutation(
        "hadolint", _regex("Dockerfile", r"^FROM (\S+)(?! AS build)$", "FROM alpine:latest"), "hadolint", "checkov"
    ),
    mutation("yamllint", _edit("deploy/base/serviceaccount.yaml", "\n", "   \n")),
    mutation(
        "kubernetes-schema",
        _regex("deploy/base/deployment.yaml", r"^(\s+)image: .*$", r"\g<0>\n\1imagePullPolcy: Always"),
    ),
    # kube-score's service-targets-pod also sees a Service that selects no pod.
    mutation(
        "kubernetes-consistency",
        _regex("deploy/base/service.yaml", r"^(\s+selector:\n\s+app\.kubernetes\.io/name: )\S+$", r"\1someone-else"),
        "kubernetes-consistency",
        "kube-score",
    ),
    # A grace period shorter than the drain delay and the shutdown timeout: the Go test of the grace period, which
    # reads the manifest, sees it too.
    mutation(
        "kubernetes-consistency",
        _regex(
            "deploy/base/deployment.yaml", r"terminationGracePeriodSeconds: \d+", "terminationGracePeriodSeconds: 30"
        ),
        "kubernetes-consistency",
        "go-test",
    ),
    mutation(
        "kubernetes-consistency",
        _regex("deploy/base/service.yaml", r"^(\s+)targetPort: http$", r"\1targetPort: metrics"),
    ),
    mutation(
        "kubernetes-consistency",
        _all(
            _edit("deploy/base/networkpolicy.yaml", "    - Egress\n", ""),
            _edit("deploy/base/dependencies.yaml", "    - Egress\n", ""),
        ),
        "kubernetes-consistency",
        "kube-score",
    ),
    # A team's env var added to production by position: the first container, after the first env entry.
    mutation(
        "overlay-patches",
        _edit(
            "deploy/overlays/prod/kustomization.yaml",
            "patches:\n",
            "patches:\n  - target:\n      kind: Deployment\n      name: orders-api\n    patch: |-\n"
            "      - op: add\n        path: /spec/template/spec/containers/0/env/1\n"
            "        value: {name: FEATURE_FLAGS, value: checkout-v2}\n",
        ),
    ),
    # checkov drops a workflow whose cancel-in-progress is an expression; the check notices.
    mutation(
        "checkov",
        _regex(
            ".github/workflows/ci.yml", r"^(\s+cancel-in-progress: ).*$", r"\1${{ github.ref != 'refs/heads/main' }}"
        ),
    ),
    mutation("checkov", _regex("Dockerfile", r"^HEALTHCHECK .*\n.*\n", ""), "checkov", "image"),
    mutation("checkov", _delete(".checkov.yaml")),
    mutation("kube-score", _regex("deploy/base/deployment.yaml", r"^    kube-score/ignore: .*\n", "")),
    mutation("prometheus-config", _regex("prometheus/prometheus.yml", r"^(\s+scrape_interval: )\S+$", r"\g<1>15x")),
    mutation("prometheus-rules", _regex("prometheus/alerts.yml", r"^(\s+expr: )(.*)$", r"\1sum(rate(\2")),
    # The alert design the SLO scenarios replaced: one 5-minute ratio above 5% for 10 minutes.
    mutation(
        "prometheus-rules",
        _regex(
            "prometheus/alerts.yml",
            r"(- alert: \w+ErrorBudgetBurn\n\s+expr: \|\n)(?:.*\n)*?(\s+for: )2m",
            r'\1          namespace_job:http_request_errors:ratio_rate5m{job="orders-api"} > 0.05\n\g<2>10m',
        ),
    ),
    mutation("actionlint", _regex(".github/workflows/ci.yml", r"^(\s+)runs-on: (.*)$", r"\g<0>\n\1runs_on: \2")),
    mutation(
        "gitlab-ci-schema",
        _regex(".gitlab-ci.yml", r"^(\s+)stage: (.*)$", r"\g<0>\n\1stages_typo: \2"),
        repo="gitlab-ci",
    ),
    mutation("jenkinsfile", _edit("Jenkinsfile", "steps {", "stepz {", count=-1), repo="jenkins"),
    mutation("jenkinsfile", _regex("Jenkinsfile", r"^(\s*)stages \{$", r"\1stages {{"), repo="jenkins"),
    mutation("compose", _regex("docker-compose.yml", r"^(\s+)read_only: true$", r"\g<0>\n\1readonly: true")),
    mutation("renovate-schema", _edit("renovate.json", '"enabled": true', '"enabled": "yes"')),
    mutation("shellcheck", _write("scripts/smoke.sh", "#!/bin/sh\nset -eu\ncurl -fsS http://localhost:$1/healthz\n")),
    # A user Kubernetes cannot verify as non-root (runAsNonRoot needs a number).
    mutation("image", _edit("Dockerfile", "USER 65532:65532", "USER nonroot")),
    # What only the API server sees. Pod Security "restricted" (a warning on a Deployment, a refusal on a Pod):
    mutation(
        "kubernetes-server",
        _edit("deploy/base/deployment.yaml", "type: RuntimeDefault", "type: Unconfined"),
        "kubernetes-server",
        "checkov",
    ),
    # A cross-field rule no schema holds: a PodDisruptionBudget with both bounds.
    mutation(
        "kubernetes-server",
        _edit("deploy/base/poddisruptionbudget.yaml", "  maxUnavailable: 1", "  maxUnavailable: 1\n  minAvailable: 1"),
    ),
    # An autoscaler that may scale to zero: refused by the server (and kube-score warns of too few replicas).
    mutation(
        "kubernetes-server",
        _edit(
            "deploy/overlays/prod/kustomization.yaml",
            "path: /spec/minReplicas\n        value: 2",
            "path: /spec/minReplicas\n        value: 0",
        ),
        "kubernetes-server",
        "kube-score",
    ),
    # The server accepts a Service whose target port no container names: the consistency check must catch it.
    mutation(
        "kubernetes-consistency",
        _edit("deploy/base/service.yaml", "targetPort: http", "targetPort: grpc"),
        passes=frozenset({"kubernetes-server"}),
    ),
    # A NetworkPolicy without the egress rule to the collector: every span would be dropped on its way out.
    mutation(
        "kubernetes-consistency",
        _regex("deploy/base/networkpolicy.yaml", r"^    # The OpenTelemetry collector(.|\n)*", ""),
        "kubernetes-consistency",
        "helm",  # the chart still renders the rule
        repo="integrations",
        passes=frozenset({"kubernetes-server"}),
    ),
    # A collector port in the chart that is not the endpoint's.
    mutation(
        "kubernetes-consistency",
        _edit("deploy/chart/values.yaml", "collectorPort: 4318", "collectorPort: 4317"),
        "kubernetes-consistency",
        "helm",
        repo="integrations",
    ),
    # A sampler that drops every trace, even one its caller keeps: no span reaches the collector, and nothing
    # else notices.
    mutation(
        "prometheus-e2e",
        _edit("deploy/base/config.env", "SAMPLER=parentbased_traceidratio", "SAMPLER=always_off"),
        "prometheus-e2e",
        "helm",  # the chart still samples: the two deployments disagree
        repo="integrations",
    ),
    # A migration PostgreSQL refuses: the binary's migrate up fails, and with it every test on a database.
    mutation(
        "database",
        _edit("internal/database/migrations/00001_create_greetings.sql", "CREATE TABLE greetings (", "CREATE TABLE (("),
        "database",
        "go-test",
        repo="integrations",
    ),
    # A query that drops the request's deadline: it could hold a connection for as long as the database takes.
    # The pool counts and logs it; the running service's log and the repository's tests fail on it.
    mutation(
        "database",
        _edit(
            "internal/api/greetings.go",
            "err := g.db.QueryRow(ctx, `",
            "err := g.db.QueryRow(context.WithoutCancel(ctx), `",
        ),
        "database",
        "go-test",
        repo="integrations",
    ),
    # The database's URL, password and all, inlined as an env value instead of read from the Secret's file.
    mutation(
        "kubernetes-consistency",
        _edit(
            "deploy/base/deployment.yaml",
            "          env:\n",
            "          env:\n            - name: DATABASE_URL\n              value: postgres://app:s3cret@db:5432/app\n",
        ),
        "kubernetes-consistency",
        "helm",  # the chart's pods no longer match the overlays'
        repo="integrations",
    ),
    # A .proto edited without regenerating the code: the contract is not what the service implements.
    mutation(
        "proto",
        _edit("proto/hello/v1/hello.proto", "  string name = 1;\n", "  string name = 1;\n  string greeting = 2;\n"),
        repo="integrations",
    ),
    # A gRPC port the Service exposes but no NetworkPolicy admits.
    mutation(
        "kubernetes-consistency",
        _regex("deploy/base/networkpolicy.yaml", r"^        - port: grpc\n          protocol: TCP\n", ""),
        "kubernetes-consistency",
        "helm",  # the chart still admits it
        repo="integrations",
    ),
    # A health service that no longer answers for liveness: only the running container shows it.
    mutation(
        "image",
        _edit("internal/server/grpc.go", 'LivenessService = "liveness"', 'LivenessService = "alive"'),
        repo="integrations",
    ),
    # A liveness probe asking the health service about a name it does not answer about: NOT_FOUND, and the
    # kubelet would restart every pod. The API server and the scanners accept it.
    mutation(
        "kubernetes-consistency",
        _regex(
            "deploy/chart/templates/deployment.yaml",
            r"(livenessProbe:\n            grpc:\n              port: \{\{ \.Values\.ports\.grpc \}\}\n"
            r"              service: )liveness",
            r"\1livez",
        ),
        repo="helm",
    ),
    # Readiness asking what liveness asks: it would stay SERVING through the shutdown.
    mutation(
        "kubernetes-consistency",
        _regex(
            "deploy/chart/templates/deployment.yaml",
            r"(readinessProbe:\n            grpc:\n              port: \{\{ \.Values\.ports\.grpc \}\}\n)",
            r"\1              service: liveness\n",
        ),
        repo="helm",
    ),
    # Requests no longer traced: the generated tests of the whole server see no span. (The middleware is not dead
    # code to the linter: its own tests call it.)
    mutation(
        "go-test",
        _edit("internal/server/server.go", "\thandler = traceRequests(tracing, handler)\n", ""),
        repo="integrations",
    ),
    # A chart whose values.schema.json lets any value through: a typo in a values file would be ignored.
    mutation(
        "helm",
        _edit("deploy/chart/values.schema.json", '\n  "additionalProperties": false,', ""),
        repo="integrations",
    ),
    # A chart that drifted from the overlay of its environment: every Kubernetes check passes, only the
    # comparison sees that dev would run differently under Helm.
    mutation("helm", _edit("deploy/chart/values-dev.yaml", "LOG_LEVEL: debug", "LOG_LEVEL: info"), repo="integrations"),
    # What the chart renders goes through the Kubernetes checks as an overlay does: a readiness probe equal to
    # the liveness probe, in the chart only (kube-score sees the same).
    mutation(
        "helm",
        _regex("deploy/chart/templates/deployment.yaml", r"path: /readyz", "path: /healthz"),
        "helm",
        "kubernetes-consistency",
        "kube-score",
        repo="integrations",
    ),
    # A PrometheusRule edited apart from prometheus/alerts.yml: the alerts prometheus-operator loads are not the
    # ones the unit tests prove.
    mutation(
        "prometheus-rules",
        _regex("deploy/base/prometheus-operator.yaml", r"^(\s+for: )5m$", r"\g<1>50m"),
        "prometheus-rules",
        "helm",  # the chart's PrometheusRule no longer renders what the overlays do
        repo="integrations",
    ),
    # A ServiceMonitor field prometheus-operator does not define (its published definition, strictly; the API
    # server with that definition installed refuses it too).
    mutation(
        "kubernetes-schema",
        _edit(
            "deploy/base/prometheus-operator.yaml",
            "  jobLabel: app.kubernetes.io/name\n",
            "  jobLabel: app.kubernetes.io/name\n  scrapeInterval: 15s\n",
        ),
        "kubernetes-schema",
        "kubernetes-server",
        "helm",
        repo="integrations",
    ),
    # A ServiceMonitor that names its targets' job after the component label: every rule selects another job,
    # so nothing is recorded and the down alert pages. Valid to every schema and server.
    mutation(
        "kubernetes-consistency",
        _edit(
            "deploy/base/prometheus-operator.yaml",
            "jobLabel: app.kubernetes.io/name",
            "jobLabel: app.kubernetes.io/component",
        ),
        "kubernetes-consistency",
        "helm",
        repo="integrations",
        passes=frozenset({"kubernetes-server"}),
    ),
    # An Application that deploys an environment the repository does not have, so none deploys dev.
    mutation(
        "argocd",
        _edit("deploy/argocd/dev.yaml", "path: deploy/overlays/dev", "path: deploy/overlays/development"),
        repo="integrations",
        passes=frozenset({"kubernetes-server"}),
    ),
    # An overlay kustomize cannot build: every check that reads the overlays reports it, none is a bug of gosvc's.
    mutation(
        "argocd",
        _write("deploy/overlays/dev/kustomization.yaml", "resources: [\n"),
        "argocd",
        "yamllint",
        "kubernetes-schema",
        "kubernetes-consistency",
        "kube-score",
        "checkov",
        "helm",
        "prometheus-rules",
        repo="integrations",
    ),
    # A sync option Argo CD does not define: its published definition refuses it, and so does the API server.
    mutation(
        "argocd",
        _edit("deploy/argocd/prod.yaml", "selfHeal: true", "selfheal: true"),
        "argocd",
        "kubernetes-server",
        repo="integrations",
    ),
    # A repository whose answers drifted from its organisation's preset: it changed a locked answer.
    mutation(
        "preset",
        _write("../preset.yml", "defaults: {ci_system: gitlab-ci, base_image: alpine}\nlocked: [ci_system]\n"),
        preset="../preset.yml",
    ),
    # What only a running Prometheus and service show. Scrape config and rules that disagree on the job: the
    # service-down alert pages while the service is up.
    mutation(
        "prometheus-e2e",
        _regex("prometheus/prometheus.yml", r"^(\s+- job_name: )orders-api$", r"\1orders"),
        passes=frozenset({"prometheus-config"}),
    ),
    # A metric the service renames, its own tests following: the rules never read it, but the dashboard's
    # "Versions running" panel shows nothing.
    mutation(
        "prometheus-e2e",
        _all(
            _edit("internal/server/metrics.go", 'Name:        "build_info"', 'Name:        "app_build_info"'),
            _edit(
                "internal/server/server_test.go",
                '`build_info{version="1.2.3"} 1`',
                '`app_build_info{version="1.2.3"} 1`',
            ),
            _edit("cmd/orders-api/run_test.go", '`build_info{version="dev"} 1`', '`app_build_info{version="dev"} 1`'),
        ),
        passes=frozenset({"go-test"}),
    ),
    # A panel's query of a metric no Go service exposes: the dashboard is well formed, and the panel empty.
    mutation(
        "prometheus-e2e",
        _edit("monitoring/dashboards/orders-api.json", "(go_goroutines{", "(go_goroutine{"),
        "prometheus-e2e",
        "grafana-dashboard",  # the deployed copies no longer equal it
    ),
    # A field Grafana's dashboard model does not have, in the copy the chart deploys and in the source.
    mutation(
        "grafana-dashboard",
        _all(
            _edit("monitoring/dashboards/orders-api.json", '"legendFormat"', '"legend"'),
            _edit("deploy/base/dashboard.json", '"legendFormat"', '"legend"'),
        ),
    ),
    # The copy the kustomize base deploys, edited by hand: Grafana would show a dashboard no check proved.
    mutation("grafana-dashboard", _edit("deploy/base/dashboard.json", '"title": "Goroutines"', '"title": "Threads"')),
    # A scrape of a path the service does not serve: valid config, and up == 0.
    mutation(
        "prometheus-e2e",
        _regex("prometheus/prometheus.yml", r"^(\s+)- job_name: orders-api$", r"\g<0>\n\1  metrics_path: /stats"),
    ),
    # A route label built from the path requested (unbounded cardinality); the unit tests see it too.
    mutation(
        "prometheus-e2e",
        _edit(
            "internal/server/middleware.go",
            "route := routeLabel(r.Pattern)",
            "route := routeLabel(r.Pattern) + r.URL.Path[1:]",
        ),
        "prometheus-e2e",
        "go-test",
    ),
    # A service-down alert that no longer pages: nothing critical fires once the service stops.
    mutation(
        "prometheus-e2e",
        _regex("prometheus/alerts.yml", r"(- alert: OrdersApiDown\n(?:.*\n)*?\s+severity: )critical", r"\1warning"),
        "prometheus-e2e",
        "prometheus-rules",
    ),
    # SIGKILL before the drain delay and shutdown are over: consistency and the Go test see it in the manifest, image
    # in the run.
    mutation("image", _short_grace_period("deploy/base/deployment.yaml"), "image", "kubernetes-consistency", "go-test"),
    # A component without an owner: the Backstage catalog refuses the entity.
    mutation("backstage", _edit("catalog-info.yaml", "  owner: example\n", "")),
    # Without kustomize the chart's values.yaml is the base: the image check, consistency and the Go test read it.
    mutation("image", _short_grace_period(HELM_BASE), "image", "kubernetes-consistency", "go-test", repo="helm"),
]


def test_every_check_has_a_mutation() -> None:
    covered = {m.name for m in MUTATIONS}
    expected = {check.name for check in checks.CHECKS}
    assert covered == expected


@pytest.mark.parametrize("name", PRISTINE)
def test_a_fresh_repository_passes_every_check(
    pristine: dict[str, Path],
    name: str,
    result_cache: checks.ResultCache,
    control_planes: dict[str, Path],
    postgres: SharedPostgres,
) -> None:
    context = checks.CheckContext.from_environment(
        pristine[name], cache=result_cache, planes=control_planes, postgres=postgres
    )
    results = checks.run_checks(context)

    failing = {r.check: r.output for r in results if r.status not in (checks.PASS, checks.NOT_APPLICABLE)}
    assert failing == {}
    assert checks.exit_status(results) == 0


@pytest.mark.parametrize("case", MUTATIONS, ids=lambda m: m.name)
def test_each_check_fails_on_its_mutation(
    case: Mutation,
    pristine: dict[str, Path],
    tmp_path: Path,
    result_cache: checks.ResultCache,
    control_planes: dict[str, Path],
    postgres: SharedPostgres,
) -> None:
    repo = tmp_path / "orders-api"
    shutil.copytree(pristine[case.repo], repo)
    case.mutate(repo)
    preset = (repo / case.preset).resolve() if case.preset else None

    # The checks that read a file the mutation changed, and those that use a setting it gives: every other check
    # reads only what is unchanged, so its result is the pristine repository's (the declarations' own test proves
    # it). The slow checks (the image built and run, the overlays applied to API servers, the service scraped by
    # Prometheus) run where the mutation names them.
    concerned = set(checks.concerned(_changed(pristine[case.repo], repo), pristine[case.repo], repo))
    concerned |= {check.name for check in checks.CHECKS if preset and "preset" in check.uses}
    assert case.fails <= concerned, (
        f"a check that must fail reads nothing this mutation changed: {case.fails - concerned}"
    )
    relevant = [name for name in concerned if name not in SLOW_CHECKS or name in case.fails | case.passes]
    relevant += sorted(case.passes - set(relevant))
    # The suite's result cache: a check's inputs the mutation changed key a result no other run had, and the steps
    # a check keeps by their own content (the Makefile's install recipe) are done once, not once per mutation.
    context = checks.CheckContext.from_environment(
        repo, preset=preset, cache=result_cache, planes=control_planes, postgres=postgres
    )
    results = checks.run_checks(context, relevant)

    failing = {r.check for r in results if r.status == checks.FAIL}
    assert failing == case.fails, {r.check: r.output for r in results if r.status == checks.FAIL}
    assert {r.check for r in results if r.status == checks.PASS} >= case.passes
    assert checks.exit_status(results) == 1


def _changed(before: Path, after: Path) -> set[str]:
    """The relative paths of the files added, removed or changed between two trees (.git aside)."""

    def contents(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(root).parts
        }

    old, new = contents(before), contents(after)
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


@dataclass(frozen=True)
class _CountingToolbox(Toolbox):
    """The user's tools, noting each kustomization kubectl renders."""

    rendered: list[str] = field(default_factory=list, compare=False)

    def run(
        self, name: str, *arguments: str, cwd: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        if name == "kubectl":
            self.rendered.append(arguments[1])
        return super().run(name, *arguments, cwd=cwd, env=env)


def test_a_run_of_checks_renders_each_kustomization_once(render: Render) -> None:
    """Several checks read the overlays as kustomize renders them: within one run kustomize runs once per
    kustomization, each check gets objects of its own, and a later run renders the repository as it is then."""
    repo = render().dest
    toolbox = _CountingToolbox(Toolbox.default().folder)
    readers = ["kubernetes-schema", "kubernetes-consistency", "kube-score"]

    results = checks.run_checks(checks.CheckContext.from_environment(repo, tools=toolbox), readers, jobs=3)

    assert [(r.check, r.status) for r in results] == [(name, checks.PASS) for name in readers]
    assert sorted(toolbox.rendered) == sorted(map(str, kube.kustomizations(repo)))
    with kube.rendered_once(repo):
        kube.render_all(repo, toolbox)[0][0].objects.clear()
        assert all(item.objects for item in kube.render_all(repo, toolbox)[0])
    grace = r"terminationGracePeriodSeconds: \d+"
    _regex("deploy/base/deployment.yaml", grace, "terminationGracePeriodSeconds: 3")(repo)  # shorter than the drain
    assert checks.run_checks(repo, ["kubernetes-consistency"])[0].status == checks.FAIL


def test_check_json_output_parses_and_names_the_failing_row(
    pristine: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "orders-api"
    shutil.copytree(pristine["github-actions"], repo)
    _edit("deploy/base/serviceaccount.yaml", "\n", "   \n")(repo)

    status = main(["check", str(repo), "--json", "--only", "yamllint,hadolint"])

    rows = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [(row["check"], row["status"]) for row in rows] == [("yamllint", "fail"), ("hadolint", "pass")]
    assert set(rows[0]) == {"check", "status", "seconds", "output", "cached"}
    assert "trailing-spaces" in rows[0]["output"]


def test_unknown_check_name_is_an_input_error(pristine: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", str(pristine["github-actions"]), "--only", "yamllint,nope"])

    assert status == 2
    assert "unknown check 'nope'" in capsys.readouterr().err


def test_missing_tool_exits_2_naming_it_and_how_to_install(
    pristine: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOSVC_TOOLS", str(tmp_path / "empty-tools"))

    status = main(["check", str(pristine["github-actions"]), "--only", "actionlint,yamllint"])

    out = capsys.readouterr().out
    assert status == 2
    assert "actionlint v1.7.12 is not installed: run `gosvc tools install`" in out
