"""Each variant of the matrix rendered and checked, several at once, sharing one control plane per Kubernetes
version."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import checks
from generator.checks.kubernetes.server import SERVER_VERSIONS
from generator.matrix.updated import UpdatedFrom, asked_at, split_answers, update_variant
from generator.matrix.variants import Variant
from generator.runtime.errors import InvalidAnswerError, InvalidInputError
from generator.servers.control_plane import sharing_planes
from generator.servers.postgres import SharedPostgres
from generator.template.render import new_project
from generator.template.source import check_renderable, default_source


@dataclass(frozen=True)
class VariantResult:
    """One variant rendered and checked; `error` is why it could not be rendered, if it could not."""

    name: str
    answers: dict[str, Any]
    results: tuple[checks.Result, ...]
    seconds: float
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and checks.exit_status(self.results) == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "variant": self.name,
            "answers": self.answers,
            "passed": self.passed,
            "seconds": self.seconds,
            "error": self.error,
            "results": [result.as_json() for result in self.results],
        }


def run_matrix(
    variants: Sequence[tuple[str, Variant]],
    *,
    template: str | None,
    vcs_ref: str | None,
    only: Sequence[str] | None,
    jobs: int = 1,
    settings: checks.CheckContext | None = None,
    progress: Callable[[VariantResult, int, int], None] = lambda *_: None,
    updated_from: UpdatedFrom | None = None,
) -> list[VariantResult]:
    """Render each named variant into a scratch folder and run the checks on it, `jobs` variants at once, with
    the settings (and result cache) of `settings`, whose repository is ignored; with `updated_from`, render it at
    that older version, edit it and update it first (see updated)."""
    given = settings or checks.CheckContext.from_environment(Path())
    chosen = checks.select(only)
    if jobs < 1:
        raise InvalidInputError(f"--jobs must be at least 1 (got {jobs})")
    source = template or default_source()
    check_renderable(source, vcs_ref)  # a template that cannot be rendered is one error, not one per variant
    asked = frozenset[str]()
    if updated_from is not None:
        check_renderable(source, updated_from.version)
        asked = asked_at(source, updated_from)
    finished = itertools.count(1)
    lock = threading.Lock()

    def one(name: str, variant: Variant) -> VariantResult:
        only_names = [check.name for check in chosen]
        result = _check_variant(name, variant, source, vcs_ref, only_names, given, updated_from, asked)
        with lock:
            progress(result, next(finished), len(variants))
        return result

    with contextlib.ExitStack() as stack:
        if "kubernetes-server" in {check.name for check in chosen} and not given.planes and not given.kube_context:
            # Started once, for every variant.
            planes = stack.enter_context(sharing_planes(SERVER_VERSIONS, given.tools))
            given = dataclasses.replace(given, planes=planes)
        if given.postgres is None:  # started by the first variant that needs it, for every variant
            given = dataclasses.replace(given, postgres=stack.enter_context(SharedPostgres(given.tools)))
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=jobs))
        return list(pool.map(lambda named: one(*named), variants))


def _check_variant(
    name: str,
    variant: Variant,
    template: str,
    vcs_ref: str | None,
    only: list[str],
    settings: checks.CheckContext,
    updated_from: UpdatedFrom | None,
    asked: frozenset[str],
) -> VariantResult:
    """`asked`: the questions of the older version of `updated_from`."""
    started = time.monotonic()
    answers = variant.data
    with tempfile.TemporaryDirectory(prefix="gosvc-matrix-") as scratch:
        dest = Path(scratch) / str(answers.get("service_name", "orders-api"))
        data = {"service_name": "orders-api", **answers}
        rendered, later = (data, {}) if updated_from is None else split_answers(data, asked)
        version = vcs_ref if updated_from is None else updated_from.version
        try:
            project = new_project(
                dest, rendered, defaults=True, template=template, vcs_ref=version, quiet=True, throwaway=True
            )
        except InvalidAnswerError as error:  # the matrix drew an answer the template refuses
            return VariantResult(name, data, (), round(time.monotonic() - started, 1), error=str(error))
        problem = None if updated_from is None else update_variant(project.dest, updated_from, vcs_ref, later)
        if problem is not None:
            return VariantResult(name, data, (), round(time.monotonic() - started, 1), error=problem)
        results = tuple(checks.run_checks(dataclasses.replace(settings, repo=project.dest), only))
    return VariantResult(name, data, results, round(time.monotonic() - started, 1))
