"""The variant matrix: one declaration that tests and benchmarks share.

Every choice question with its values, and the covering sets of variants
built from them: each value at least once, and every pair of values of the
factors that interact most (base image, CI system, autoscaling, Go version).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHOICES: Mapping[str, Sequence[Any]] = {
    "base_image": ("distroless", "alpine", "scratch", "chainguard"),
    "ci_system": ("github-actions", "gitlab-ci", "jenkins", "none"),
    "hpa_enabled": (True, False),
    "go_version": ("1.26", "1.25"),
    "cpu_limit": ("none", "1"),
}

PAIRWISE_FACTORS = ("base_image", "ci_system", "hpa_enabled", "go_version", "cpu_limit")


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
    longest = max(len(values) for values in CHOICES.values())
    return [
        variant(**{key: values[index % len(values)] for key, values in CHOICES.items()}) for index in range(longest)
    ]


def pairwise(factors: Sequence[str] = PAIRWISE_FACTORS) -> list[Variant]:
    """A small set of variants holding every pair of values of `factors` (greedy covering array)."""
    domains = [CHOICES[factor] for factor in factors]
    uncovered = {
        (i, a, j, b) for i, j in itertools.combinations(range(len(factors)), 2) for a in domains[i] for b in domains[j]
    }
    chosen: list[tuple[Any, ...]] = []
    candidates = list(itertools.product(*domains))
    while uncovered:
        best = max(candidates, key=lambda row: len(_pairs(row) & uncovered))
        uncovered -= _pairs(best)
        chosen.append(best)
    return [variant(**dict(zip(factors, row, strict=True))) for row in chosen]


def _pairs(row: Sequence[Any]) -> set[tuple[int, Any, int, Any]]:
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}
