"""Which variants the matrix checks: every choice question with its values, and the covering sets of variants
built from them (each value at least once, and every pair of values of the choice questions); then seeded random
variants that also vary the free answers (names, ports, resources, replicas) within their rules.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import resources
from generator.runtime.errors import InvalidInputError
from generator.runtime.user_cache import cache_folder

FREE_TEXT_VALUES: Mapping[str, Sequence[Any]] = {"cpu_limit": ("none", "1")}
"""The values the matrix gives questions answered in free text, besides their choices: no CPU limit, and one."""
LEFT_AT_DEFAULT: Mapping[str, str] = dict.fromkeys(
    ("argocd_automated", "argocd_self_heal", "argocd_prune"),
    "asked only with Argo CD; it sets one field of each Application's syncPolicy, which the argocd check "
    "validates against Argo CD's definition whatever its value",
)
"""The choice questions the matrix does not vary, each with the reason; every other one of copier.yml is a factor."""


@functools.cache
def choices() -> dict[str, tuple[Any, ...]]:
    """Every choice question of the template's copier.yml and every yes/no one, with its values, the default first;
    then FREE_TEXT_VALUES. In copier.yml's order: the factors of the pairwise variants."""
    copier_yml = resources.CHECKOUT / "copier.yml"
    try:
        questions = yaml.safe_load(copier_yml.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"the matrix reads its factors from copier.yml of a gosvc clone: {error}") from error
    found: dict[str, tuple[Any, ...]] = {}
    for name, spec in questions.items():
        if name.startswith("_") or not isinstance(spec, dict) or name in LEFT_AT_DEFAULT:
            continue
        default = spec.get("default")
        if "choices" in spec:
            listed = spec["choices"].values() if isinstance(spec["choices"], dict) else spec["choices"]
            found[name] = (default, *(value for value in listed if value != default))
        elif spec.get("type") == "bool":
            found[name] = (default, not default)
        elif name in FREE_TEXT_VALUES:
            found[name] = tuple(FREE_TEXT_VALUES[name])
    return found


NAMED: Mapping[str, Mapping[str, Any]] = {
    # The defaults, with each CI system: what most repositories are.
    "github-actions": {"ci_system": "github-actions"},
    "gitlab-ci": {"ci_system": "gitlab-ci"},
    "jenkins": {"ci_system": "jenkins"},
    # Every integration at once: the chart beside the overlays, prometheus-operator beside annotations, Argo CD,
    # OpenTelemetry tracing, gRPC beside HTTP, PostgreSQL.
    "integrations": {
        "deploy_format": "both",
        "monitoring": "both",
        "gitops": "argocd",
        "tracing": "otlp",
        "api": "both",
        "database": "postgres",
    },
    # The chart alone, no kustomize: every check reads the deployment from it. gRPC alone: the probes ask the
    # health service, and nothing serves HTTP but /metrics.
    "helm": {"deploy_format": "helm", "monitoring": "prometheus-operator", "api": "grpc"},
}
"""The variants the pairwise ones start from (the other answers are the defaults), by name: the repositories
gosvc's own tests check and mutate, so that the matrix and those tests check the same renders once."""


@dataclass(frozen=True)
class Variant:
    """A set of answers, with a name usable as a folder and a test id."""

    answers: tuple[tuple[str, Any], ...]

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.answers)

    @property
    def name(self) -> str:
        parts = []
        for key, value in self.answers:
            if isinstance(value, bool):
                parts.append(key.split("_")[0] + ("-on" if value else "-off"))
            else:
                parts.append(str(value).replace(".", ""))
        return "-".join(parts)


def variant(**answers: Any) -> Variant:
    return Variant(tuple(sorted(answers.items())))


def each_value() -> list[Variant]:
    """The fewest variants that use every value of every choice question."""
    longest = max(len(values) for values in choices().values())
    return [
        variant(**{key: values[index % len(values)] for key, values in choices().items()}) for index in range(longest)
    ]


def pairwise(factors: Sequence[str] | None = None) -> list[Variant]:
    """A small set of variants holding every pair of values of `factors` (every choice when None; a covering
    array), starting from the NAMED ones. Its search takes seconds of CPU, so its rows are kept in the user's cache,
    keyed by everything they are computed from: the factors, their values, the NAMED variants and this module."""
    factors = tuple(choices()) if factors is None else tuple(factors)
    domains = [choices()[factor] for factor in factors]
    search = Path(__file__).read_text(encoding="utf-8")  # the search itself: a change to it is a new key
    inputs = json.dumps([factors, domains, sorted(NAMED.items()), search], sort_keys=True, default=str)
    kept = cache_folder("pairwise") / f"{hashlib.sha256(inputs.encode()).hexdigest()[:32]}.json"
    try:
        rows = [tuple(row) for row in json.loads(kept.read_text(encoding="utf-8"))]
    except (OSError, ValueError):
        rows = _covering_rows(factors, domains)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the search again
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial = kept.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(rows), encoding="utf-8")
            partial.replace(kept)
    return [variant(**dict(zip(factors, row, strict=True))) for row in rows]


SEARCHES, TRIES_PER_ROW = 40, 30
"""How many seeded searches build a covering set (the smallest is kept), and how many rows each weighs per row it
adds. On the factors of this template, a greedy search over every combination took 22 rows in 19 s of CPU;
these take 20 in about 2 s: each row fewer is a variant every matrix run renders and checks no more."""


def _covering_rows(factors: Sequence[str], domains: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The NAMED variants' rows, then rows that hold pairs of values no row holds yet, until every pair is held:
    the smallest such set of SEARCHES seeded searches (AETG's, Cohen et al. 1997)."""
    named = [tuple(answers.get(factor, choices()[factor][0]) for factor in factors) for answers in NAMED.values()]
    every = {
        (i, a, j, b) for i, j in itertools.combinations(range(len(factors)), 2) for a in domains[i] for b in domains[j]
    }
    return min((_search(named, domains, every, random.Random(seed)) for seed in range(SEARCHES)), key=len)


def _search(
    named: list[tuple[Any, ...]], domains: Sequence[Sequence[Any]], every: set[Any], draw: random.Random
) -> list[tuple[Any, ...]]:
    """Rows after `named` until every pair of `every` is held: each the best of TRIES_PER_ROW rows built around a
    pair not held yet, the other factors given, in a random order, the value that holds the most pairs not held."""
    chosen = list(named)
    uncovered = every.difference(*(_pairs(row) for row in chosen))
    while uncovered:
        tries = []
        ordered = sorted(uncovered, key=str)  # sets of strings iterate in an order of the process' own
        for _ in range(TRIES_PER_ROW):
            i, a, j, b = draw.choice(ordered)
            row: dict[int, Any] = {i: a, j: b}
            for factor in draw.sample([k for k in range(len(domains)) if k not in row], len(domains) - 2):
                values = draw.sample(list(domains[factor]), len(domains[factor]))
                row[factor] = max(values, key=lambda v: sum(_pair(factor, v, k, row[k]) in uncovered for k in row))
            tries.append(tuple(row[k] for k in range(len(domains))))
        best = max(tries, key=lambda row: len(_pairs(row) & uncovered))
        uncovered -= _pairs(best)
        chosen.append(best)
    return chosen


def _pair(i: int, a: Any, j: int, b: Any) -> tuple[int, Any, int, Any]:
    return (i, a, j, b) if i < j else (j, b, i, a)


def _pairs(row: Sequence[Any]) -> set[tuple[int, Any, int, Any]]:
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_CPU = ("50m", "100m", "250m", "500m", "1", "1.5", "2")
_MEMORY_MI = (32, 64, 128, 256, 512, 1024)


_OTLP_ENDPOINTS = (
    "http://otel-collector.monitoring.svc:4318",
    "http://collector.observability.svc.cluster.local:4318/otlp",
    "https://otlp.example.com",
)


def random_variants(count: int, seed: int) -> list[Variant]:
    """`count` variants with every answer drawn at random within its rule; the same `seed`, the same variants."""
    draw = random.Random(seed)
    variants = []
    for _ in range(count):
        cpu_request = draw.choice(_CPU)
        millicores = float(cpu_request[:-1]) if cpu_request.endswith("m") else float(cpu_request) * 1000
        memory_request, memory_limit = sorted(draw.sample(_MEMORY_MI, 2))
        low = draw.randint(1, 5)
        high = draw.randint(low, 20)
        parts = [draw.choice(_LETTERS) + "".join(draw.choices(_LETTERS + _DIGITS, k=draw.randint(0, 9)))]
        parts += ["".join(draw.choices(_LETTERS + _DIGITS, k=draw.randint(1, 8))) for _ in range(draw.randint(0, 2))]
        name = "-".join(parts)
        answers: dict[str, Any] = {key: draw.choice(values) for key, values in choices().items()}
        answers |= {
            "service_name": name,
            "http_port": draw.choice((1024, 8080, 8443, 65535)),
            "metrics_port": draw.choice((9102, 9464, 2112)),
            "replicas": draw.randint(low, high),
            "hpa_min_replicas": low,
            "hpa_max_replicas": high,
            "hpa_cpu_utilization": draw.randint(1, 100),
            "cpu_request": cpu_request,
            "cpu_limit": draw.choice(["none", *(str(n) for n in range(1, 5) if n * 1000 >= millicores)]),
            "memory_request": f"{memory_request}Mi",
            "memory_limit": f"{memory_limit}Mi",
            "slo_availability": draw.choice((99.0, 99.5, 99.9, 99.95, 99.99)),
            "slo_latency_ms": draw.choice((1, 100, 250, 500, 10000)),
        }
        if answers["metrics_port"] == answers["http_port"]:
            answers["metrics_port"] = 9102
        answers["grpc_port"] = draw.choice((1025, 9001, 50051, 65534))
        answers["otlp_endpoint"] = draw.choice(_OTLP_ENDPOINTS)
        variants.append(Variant(tuple(sorted(answers.items()))))
    return variants


def random_name(variant: Variant, number: int) -> str:
    """A short name for a random variant: its number (the full answers are in the JSON report)."""
    return f"random-{number}-{variant.data['service_name']}"
