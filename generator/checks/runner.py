"""Running checks on a repository: in parallel, longest first, each answered from the result cache when what it
reads is unchanged, each outcome one of five statuses."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator.checks.cache import matching_files, result_key
from generator.checks.context import CheckContext
from generator.checks.table import CHECKS, Check, Cost, names
from generator.project import kube
from generator.runtime.crashlog import write_crash_log
from generator.runtime.errors import GosvcError, InvalidInputError, ToolMissingError, one_line
from generator.runtime.outcome import Outcome
from generator.servers.postgres import SharedPostgres

PASS, FAIL, MISSING, NOT_APPLICABLE, ERROR = "pass", "fail", "missing", "not-applicable", "error"
"""A check passed or failed; a tool it runs is missing; it does not apply; or gosvc itself failed running it."""
_ORDER = {Cost.SERVER: 0, Cost.BUILD: 1, Cost.LINT: 2}


@dataclass(frozen=True)
class Result:
    """A check's row: name, status, seconds, output, and whether it was answered from the cache."""

    check: str
    status: str
    seconds: float
    output: str
    cached: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "check": self.check,
            "status": self.status,
            "seconds": self.seconds,
            "output": self.output,
            "cached": self.cached,
        }


def select(only: Sequence[str] | None) -> list[Check]:
    """The checks named in `only` (all when None); an unknown name, or naming none, is an input error."""
    if only is None:
        return list(CHECKS)
    if not only:
        raise InvalidInputError(f"no check named; the checks are: {names()}")
    known = {check.name: check for check in CHECKS}
    unknown = [name for name in only if name not in known]
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidInputError(f"unknown check {shown}; the checks are: {names()}")
    return [known[name] for name in dict.fromkeys(only)]


def concerned(changed: Iterable[str], *repos: Path) -> list[str]:
    """The checks that read any of the `changed` paths in any of `repos` (a path deleted from one is in another)."""
    changed = set(changed)
    return [check.name for check in CHECKS if any(changed & set(matching_files(repo, check.reads)) for repo in repos)]


def run_checks(
    context: CheckContext | Path,
    only: Sequence[str] | None = None,
    *,
    jobs: int | None = None,
    progress: Callable[[Result], None] = lambda _: None,
) -> list[Result]:
    """Run the selected checks in parallel; results in table order."""
    if not isinstance(context, CheckContext):
        context = CheckContext.from_environment(Path(context))
    if not context.repo.is_dir():
        raise InvalidInputError(f"{context.repo} is not a folder")
    if jobs is not None and jobs < 1:
        raise InvalidInputError(f"--jobs must be at least 1 (got {jobs})")
    chosen = select(only)
    ordered = sorted(chosen, key=lambda check: _ORDER[check.cost])
    workers = jobs or max(2, (os.cpu_count() or 2))
    waiting = sum(check.waits for check in ordered)
    with (
        kube.rendered_once(context.repo),
        SharedPostgres(context.tools) if context.postgres is None else contextlib.nullcontext() as started,
        ThreadPoolExecutor(max_workers=workers) as pool,
        ThreadPoolExecutor(max_workers=max(1, waiting)) as beside,
    ):
        if started is not None:  # one server for every check of the run that needs one, started by the first
            context = dataclasses.replace(context, postgres=started)
        futures = {
            check.name: (beside if check.waits else pool).submit(_run_one, check, context, progress)
            for check in ordered
        }
        by_name = {name: future.result() for name, future in futures.items()}
    return [by_name[check.name] for check in chosen]


def key_of(check: Check, context: CheckContext) -> str:
    """The cache key of `check`'s result on the repository as it is now."""
    settings = [(name, context.setting(name)) for name in check.uses]
    return result_key(check.name, context.repo, check.reads, context.tools, check.tools, settings)


def _run_one(check: Check, context: CheckContext, progress: Callable[[Result], None]) -> Result:
    started = time.monotonic()
    if not check.applies(context):
        result = Result(check.name, NOT_APPLICABLE, 0.0, "")
    else:
        result = _cached_or_run(check, context, started)
    progress(result)
    return result


def _cached_or_run(check: Check, context: CheckContext, started: float) -> Result:
    cache = context.cache
    if cache is None:
        status, output, _ = _outcome(check, context)
        return Result(check.name, status, round(time.monotonic() - started, 2), output)

    def compute() -> tuple[tuple[str, str], str | None]:
        status, output, cacheable = _outcome(check, context)
        return (status, output), output if status == PASS and cacheable else None

    kept, computed = cache.kept_or_computed(key_of(check, context), compute)
    if kept is not None:
        return Result(check.name, PASS, round(time.monotonic() - started, 2), kept, cached=True)
    assert computed is not None
    status, output = computed
    return Result(check.name, status, round(time.monotonic() - started, 2), output)


def _outcome(check: Check, context: CheckContext) -> tuple[str, str, bool]:
    try:
        outcome: Outcome = check.run(context)
    except ToolMissingError as error:
        return MISSING, str(error), False
    except ModuleNotFoundError as error:
        said = f"the Python package {error.name} this check needs is not installed: pip install 'gosvc[tools]'"
        return MISSING, said, False
    except GosvcError as error:  # the check could not read what it checks, such as the answers file
        return FAIL, str(error), False
    except (OSError, UnicodeError) as error:
        # A file edited so that the check cannot read it is what a check exists to report.
        return FAIL, f"cannot read the repository: {type(error).__name__}: {error}", False
    except Exception as error:
        log = write_crash_log(f"running the check {check.name} on {context.repo}", error)
        said = one_line(f"{type(error).__name__}: {error}", 200)
        return ERROR, f"gosvc failed running this check, a bug to report: {said} (traceback in {log})", False
    return (PASS if outcome.passed else FAIL), outcome.output, outcome.cacheable


def exit_status(results: Sequence[Result]) -> int:
    """70 when gosvc failed running a check, 2 when a tool is missing, 1 when a check failed, else 0."""
    statuses = {result.status for result in results}
    if ERROR in statuses:
        return 70
    if MISSING in statuses:
        return 2
    return 1 if FAIL in statuses else 0
