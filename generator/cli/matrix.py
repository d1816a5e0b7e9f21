"""`gosvc matrix`: every variant of the template rendered and checked, as a table."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from generator import checks
from generator.cli.arguments import (
    Commands,
    add_offline_standins,
    check_context,
    non_negative,
    only_checks,
    positive,
)
from generator.cli.output import print_json
from generator.matrix.run import VariantResult, run_matrix
from generator.matrix.updated import UpdatedFrom
from generator.matrix.variants import Variant, pairwise, random_name, random_variants
from generator.runtime.errors import InvalidInputError

_CELLS = {checks.PASS: ".", checks.FAIL: "F", checks.MISSING: "M", checks.NOT_APPLICABLE: "-"}


def add(commands: Commands) -> None:
    matrix = commands.add_parser(
        "matrix", help="render every variant of the template (pairwise and seeded random) and check each"
    )
    matrix.add_argument("--template", metavar="SRC", help="template git URL or path (default: this gosvc's clone)")
    matrix.add_argument("--vcs-ref", metavar="REF", help="template git ref to render (default: newest version tag)")
    matrix.add_argument("--only", metavar="NAME,...", help="run only these checks (comma-separated)")
    matrix.add_argument("--jobs", type=positive, default=1, metavar="N", help="variants at once (default: 1)")
    matrix.add_argument(
        "--random", type=non_negative, default=3, metavar="N", help="random variants besides the pairwise ones (3)"
    )
    matrix.add_argument("--seed", type=non_negative, default=0, metavar="S", help="seed of the random variants (0)")
    matrix.add_argument(
        "--updated-from",
        metavar="REF",
        help="render each variant at this older template version and update it to --vcs-ref before checking it",
    )
    matrix.add_argument(
        "--edit-with",
        metavar="COMMAND",
        help="with --updated-from: a shell command run in each repository before the update, as the team's edits",
    )
    add_offline_standins(matrix)
    matrix.add_argument(
        "--list", action="store_true", help="list the variants it would render and check, and run nothing"
    )
    matrix.add_argument("--json", action="store_true", help="print a JSON list of {variant, answers, results}")
    matrix.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.edit_with and not args.updated_from:
        raise InvalidInputError("--edit-with needs --updated-from: the edits are made on the older version's render")
    only = only_checks(args)
    named = [(variant.name, variant) for variant in pairwise()]
    named += [
        (random_name(variant, number), variant)
        for number, variant in enumerate(random_variants(args.random, args.seed), start=1)
    ]
    if args.list:
        return _list(named, as_json=args.json)
    updated_from = UpdatedFrom(args.updated_from, args.edit_with) if args.updated_from else None

    def progress(result: VariantResult, done: int, total: int) -> None:
        if not args.json:
            failed = [r.check for r in result.results if r.status in (checks.FAIL, checks.MISSING)]
            state = "pass" if result.passed else f"FAIL {', '.join(failed) or result.error}"
            print(f"[{done}/{total}] {result.name}: {state} ({result.seconds:.0f}s)", file=sys.stderr, flush=True)

    results = run_matrix(
        named,
        template=args.template,
        vcs_ref=args.vcs_ref,
        only=only,
        jobs=args.jobs,
        settings=check_context(args, Path()),
        progress=progress,
        updated_from=updated_from,
    )
    if args.json:
        print_json([result.as_json() for result in results])
    else:
        _print_table(results, checks.select(only))
    statuses = [r for result in results for r in result.results]
    if any(result.error for result in results):
        return 1
    return checks.exit_status(statuses)


def _list(named: Sequence[tuple[str, Variant]], *, as_json: bool) -> int:
    """The variants, each with the answers it gives (the others are the template's defaults)."""
    if as_json:
        print_json([{"variant": name, "answers": variant.data} for name, variant in named])
        return 0
    for name, variant in named:
        print(name)
        print("    " + ", ".join(f"{key}={value}" for key, value in variant.data.items()))
    print(f"{len(named)} variants: every value of each choice of copier.yml, every pair of values, and random ones")
    return 0


def _print_table(results: Sequence[VariantResult], chosen: Sequence[checks.Check]) -> None:
    """Variants down, checks across by number (legend below): . pass, F fail, M tool missing, - not applicable."""
    width = max([len("variant"), *(len(result.name) for result in results)])
    numbers = " ".join(f"{index % 100:>2}" for index in range(1, len(chosen) + 1))
    print(f"{'variant':<{width}}  {numbers}  seconds")
    for result in results:
        by_check = {r.check: r.status for r in result.results}
        cells = " ".join(f"{_CELLS.get(by_check.get(check.name, ''), '?'):>2}" for check in chosen)
        print(f"{result.name:<{width}}  {cells}  {result.seconds:7.0f}" + (f"  {result.error}" if result.error else ""))
    print("checks: " + ", ".join(f"{index} {check.name}" for index, check in enumerate(chosen, start=1)))
    print(". pass  F fail  M tool missing  - not applicable  ? not run")
    print("seconds per variant, median/max: " + _check_seconds(results, chosen))
    for result in results:
        for r in result.results:
            if r.status in (checks.FAIL, checks.MISSING):
                print(f"{result.name} / {r.check}:")
                for line in r.output.splitlines()[:20]:
                    print(f"    {line}")
    passed = sum(result.passed for result in results)
    print(f"{passed} of {len(results)} variants passed every check")


def _check_seconds(results: Sequence[VariantResult], chosen: Sequence[checks.Check]) -> str:
    """Each check's median and slowest time over the variants it applied to."""
    ran: dict[str, list[float]] = {}
    for result in results:
        for row in result.results:
            if row.status != checks.NOT_APPLICABLE:
                ran.setdefault(row.check, []).append(row.seconds)
    spans = [f"{c.name} {statistics.median(ran[c.name]):.1f}/{max(ran[c.name]):.1f}" for c in chosen if c.name in ran]
    return ", ".join(spans) or "none ran"
