"""`gosvc check`, and `gosvc cache`: the checks of a repository, and the results they keep."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from generator import checks
from generator.cli.arguments import Commands, add_offline_standins, add_preset, check_context, only_checks, positive
from generator.cli.output import print_json
from generator.project.answers_file import require_repository_root
from generator.runtime.outcome import NOTE


def add(commands: Commands) -> None:
    check = commands.add_parser("check", help="run every check that applies to a generated repository")
    check.add_argument("dest", type=Path, metavar="DEST", nargs="?", default=Path(), help="repository (default: .)")
    check.add_argument("--only", metavar="NAME,...", help="run only these checks (comma-separated)")
    check.add_argument("--jobs", type=positive, metavar="N", help="checks run at once (default: CPU count)")
    add_offline_standins(check)
    check.add_argument(
        "--kube-context",
        metavar="NAME",
        help="the kubernetes-server check dry-runs every overlay server-side in this kubeconfig context "
        "(nothing is written) instead of applying it to a local control plane",
    )
    add_preset(check, "the preset check reports the answers that drifted from this organisation preset")
    check.add_argument(
        "--no-cache", action="store_true", help="run every check, even where a kept result of the same inputs exists"
    )
    check.add_argument("--list", action="store_true", help="list the checks and what each reads and runs")
    check.add_argument(
        "--json", action="store_true", help="print a JSON list of {check, status, seconds, output, cached}"
    )
    check.set_defaults(handler=run)

    cache = commands.add_parser("cache", help="the kept results of checks: where, how many, how large")
    cache_commands = cache.add_subparsers(title="commands", metavar="COMMAND")
    cache.add_argument("--json", action="store_true", help="print the figures as JSON")
    cache.set_defaults(handler=show_cache)
    clear = cache_commands.add_parser("clear", help="remove every kept result")
    clear.add_argument("--json", action="store_true", help="print what was removed as JSON")
    clear.set_defaults(handler=clear_cache)


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_checks(args)
    only = only_checks(args)
    require_repository_root(args.dest)
    context = check_context(args, args.dest)
    width = max(len(check.name) for check in checks.CHECKS)

    def progress(result: checks.Result) -> None:
        if not args.json and result.status != checks.NOT_APPLICABLE:
            print(f"  {result.check:<{width}}  {_shown_status(result):<11}  {result.seconds:6.1f}s", file=sys.stderr)

    results = checks.run_checks(context, only, jobs=args.jobs, progress=progress)
    if args.json:
        print_json([result.as_json() for result in results])
    else:
        _print_results(results, width)
    return checks.exit_status(results)


def list_checks(args: argparse.Namespace) -> int:
    if args.json:
        print_json([check.as_json() for check in checks.CHECKS])
        return 0
    width = max(len(check.name) for check in checks.CHECKS)
    for check in checks.CHECKS:
        needs = f"; needs {check.needs}" if check.needs else ""
        runs = ", ".join(check.tools) or "no tool"
        print(f"{check.name:<{width}}  {check.cost.value:<6}  {check.describe}")
        print(f"{'':<{width}}          reads {', '.join(check.reads)}; runs {runs}{needs}")
    return 0


def show_cache(args: argparse.Namespace) -> int:
    stats = checks.ResultCache().stats()
    if args.json:
        print_json(stats.as_json())
    else:
        size, limit = stats.size / 1024, stats.limit // 1024**2
        print(f"{stats.entries} results kept in {stats.folder}: {size:.0f} KiB of {limit} MiB")
    return 0


def clear_cache(args: argparse.Namespace) -> int:
    cache = checks.ResultCache()
    removed = cache.clear()
    if args.json:
        print_json({"folder": str(cache.folder), "removed": removed})
    else:
        print(f"removed {removed} results from {cache.folder}")
    return 0


def _shown_status(result: checks.Result) -> str:
    return result.status + (" (cached)" if result.cached else "")


def _print_results(results: Sequence[checks.Result], width: int) -> None:
    for result in results:
        print(f"{result.check:<{width}}  {_shown_status(result).upper():<14}  {result.seconds:6.1f}s")
        shown = result.output.splitlines()
        if result.status not in (checks.FAIL, checks.MISSING, checks.ERROR):
            shown = [line for line in shown if line.startswith(NOTE)]  # what a pass must not hide
        for line in shown:
            print(f"    {line}")
    ran = [result for result in results if result.status != checks.NOT_APPLICABLE]
    failed = [result.check for result in ran if result.status != checks.PASS]
    summary = f"{len(ran) - len(failed)} passed, {len(failed)} failed"
    print(summary + (f": {', '.join(failed)}" if failed else ""))
