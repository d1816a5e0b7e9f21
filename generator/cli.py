"""The `gosvc` command: parses arguments, calls the library, prints the outcome."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from generator import __version__, backstage, checks, matrix, tools
from generator.answers import IDENTITY_QUESTIONS, load_data_file, parse_data_args
from generator.errors import GosvcError, InvalidInputError, ToolMissingError, one_line, printable
from generator.fleet import RepoUpdate, fleet_exit_status, fleet_status, fleet_status_exit_status, fleet_update
from generator.outcome import NOTE
from generator.preset import PRESET_ENV, load_preset, preset_path
from generator.render import new_project
from generator.signals import Terminated, terminations_raise
from generator.standins import OFFLINE_STANDINS_ENV
from generator.update import CONFLICT_STYLES, EXIT_CONFLICTS, UpdateResult, update_project

Handler = Callable[[argparse.Namespace], int]
DEBUG_ENV_VAR = "GOSVC_DEBUG"
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE: a defect in gosvc, not something the user did


class UsageError(InvalidInputError):
    """The command line itself is wrong: an unknown option, a missing or malformed argument."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one-line gosvc errors instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        handler: Handler = args.handler
        # SIGTERM and SIGHUP unwind like Ctrl-C, so that every command cleans up what it was writing.
        with terminations_raise():
            return handler(args)
    except GosvcError as error:
        _fail(one_line(str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Terminated as error:
        _fail(str(error))
        return error.exit_code
    except BrokenPipeError:
        # The reader of standard output went away (`gosvc ... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        if os.environ.get(DEBUG_ENV_VAR):
            raise
        _fail(
            f"internal error, please report it: {type(error).__name__}: {one_line(str(error), 300)} "
            f"(set {DEBUG_ENV_VAR}=1 to see where)"
        )
        return EXIT_INTERNAL_ERROR


def _fail(message: str) -> None:
    with contextlib.suppress(OSError):
        print(f"gosvc: {message}", file=sys.stderr)


def _positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {text[:20]!r})")
    return int(text)


def _non_negative(text: str) -> int:
    """An argument that must be a whole number, 0 or more (at most 6 digits)."""
    if not text.strip().isascii() or not text.strip().isdigit() or len(text.strip()) > 6:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 999999 (got {text[:20]!r})")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gosvc",
        description="Generate and keep Go microservices for Kubernetes from one Copier template.",
    )
    parser.add_argument("--version", action="version", version=f"gosvc {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_Parser)

    new = commands.add_parser("new", help="generate a new service repository")
    new.add_argument("dest", type=Path, metavar="DEST", help="folder to create (must not exist, or be empty)")
    new.add_argument(
        "--data",
        "-d",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a question up front (repeatable)",
    )
    new.add_argument(
        "--data-file",
        type=Path,
        metavar="FILE",
        help="YAML file of answers, such as another service's .copier-answers.yml "
        f"(its {' and '.join(IDENTITY_QUESTIONS)} are not taken)",
    )
    new.add_argument(
        "--identity-from-data-file",
        action="store_true",
        help=f"take {' and '.join(IDENTITY_QUESTIONS)} from an answers file given as --data-file too",
    )
    new.add_argument(
        "--defaults", action="store_true", help="never prompt: take the default of every unanswered question"
    )
    new.add_argument("--template", metavar="SRC", help="template git URL or path (default: this gosvc's clone)")
    new.add_argument("--vcs-ref", metavar="REF", help="template git ref to render (default: newest version tag)")
    _add_preset(new, "start from the answers of this organisation preset; its locked answers cannot be changed")
    new.add_argument(
        "--no-git",
        action="store_true",
        help="leave DEST without a git repository (default: git init and a first commit holding every file, "
        "unless DEST is inside another git repository)",
    )
    new.add_argument("--json", action="store_true", help="print the result as JSON")
    new.set_defaults(handler=_new)

    check = commands.add_parser("check", help="run every check that applies to a generated repository")
    check.add_argument("dest", type=Path, metavar="DEST", nargs="?", default=Path(), help="repository (default: .)")
    check.add_argument("--only", metavar="NAME,...", help="run only these checks (comma-separated)")
    check.add_argument("--jobs", type=_positive, metavar="N", help="checks run at once (default: CPU count)")
    _add_offline_standins(check)
    check.add_argument(
        "--kube-context",
        metavar="NAME",
        help="the kubernetes-server check dry-runs every overlay server-side in this kubeconfig context "
        "(nothing is written) instead of applying it to a local control plane",
    )
    _add_preset(check, "the preset check reports the answers that drifted from this organisation preset")
    check.add_argument(
        "--no-cache", action="store_true", help="run every check, even where a kept result of the same inputs exists"
    )
    check.add_argument("--list", action="store_true", help="list the checks and what each reads and runs")
    check.add_argument(
        "--json", action="store_true", help="print a JSON list of {check, status, seconds, output, cached}"
    )
    check.set_defaults(handler=_check)

    cache = commands.add_parser("cache", help="the kept results of checks: where, how many, how large")
    cache_commands = cache.add_subparsers(title="commands", metavar="COMMAND")
    cache.add_argument("--json", action="store_true", help="print the figures as JSON")
    cache.set_defaults(handler=_cache_show)
    clear = cache_commands.add_parser("clear", help="remove every kept result")
    clear.add_argument("--json", action="store_true", help="print what was removed as JSON")
    clear.set_defaults(handler=_cache_clear)

    matrix = commands.add_parser(
        "matrix", help="render every variant of the template (pairwise and seeded random) and check each"
    )
    matrix.add_argument("--template", metavar="SRC", help="template git URL or path (default: this gosvc's clone)")
    matrix.add_argument("--vcs-ref", metavar="REF", help="template git ref to render (default: newest version tag)")
    matrix.add_argument("--only", metavar="NAME,...", help="run only these checks (comma-separated)")
    matrix.add_argument("--jobs", type=_positive, default=1, metavar="N", help="variants at once (default: 1)")
    matrix.add_argument(
        "--random", type=_non_negative, default=3, metavar="N", help="random variants besides the pairwise ones (3)"
    )
    matrix.add_argument("--seed", type=_non_negative, default=0, metavar="S", help="seed of the random variants (0)")
    _add_offline_standins(matrix)
    matrix.add_argument("--json", action="store_true", help="print a JSON list of {variant, answers, results}")
    matrix.set_defaults(handler=_matrix)

    tools = commands.add_parser("tools", help="the pinned tools the checks run")
    tools_commands = tools.add_subparsers(title="commands", metavar="COMMAND", required=True)
    install = tools_commands.add_parser("install", help="install every missing pinned tool (idempotent)")
    install.add_argument("--only", metavar="NAME,...", help="install only these tools (see `gosvc tools list`)")
    install.add_argument("--skip", metavar="NAME,...", help="install every tool but these")
    install.add_argument("--json", action="store_true", help="print what was installed as JSON")
    install.set_defaults(handler=_tools_install)
    listing = tools_commands.add_parser("list", help="list the pinned tools and where they are")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=_tools_list)
    _add_update(commands)
    _add_fleet(commands)
    _add_backstage(commands)
    return parser


def _new(args: argparse.Namespace) -> int:
    if not args.defaults and not sys.stdin.isatty():
        raise InvalidInputError(
            "answers are needed but standard input is not a terminal: pass --defaults and/or --data"
        )
    data: dict[str, Any] = {}
    if args.data_file:
        from_file = load_data_file(args.data_file, identity=args.identity_from_data_file)
        data.update(from_file.answers)
        if from_file.withheld:
            _fail(
                f"note: not taking {' and '.join(from_file.withheld)} from {args.data_file}: it is another service's "
                "answers file (give them with --data, or pass --identity-from-data-file)"
            )
    data.update(parse_data_args(args.data))
    started = time.monotonic()
    project = new_project(
        args.dest,
        data,
        defaults=args.defaults,
        template=args.template,
        vcs_ref=args.vcs_ref,
        quiet=args.json,
        preset=preset_path(args.preset),
        git_repository=not args.no_git,
    )
    seconds = round(time.monotonic() - started, 2)
    public = {key: value for key, value in project.answers.items() if not key.startswith("_")}
    if args.json:
        _print_json(
            {
                "dest": str(project.dest),
                "template": project.answers.get("_src_path"),
                "commit": project.template_commit,
                "first_commit": project.commit,
                "inside_repository": str(project.within) if project.within else None,
                "answers": public,
                "seconds": seconds,
            }
        )
        return 0
    print(f"Created {public.get('service_name')} in {project.dest} ({seconds}s)")
    if project.commit:
        author = (
            ", as gosvc: git knows no user here (git commit --amend --reset-author makes it yours)"
            if project.committed_as_gosvc
            else ""
        )
        print(f"git: the generated files are the first commit, {project.commit[:12]} on main{author}")
    elif project.within:
        print(f"git: inside the repository {project.within}, which gosvc leaves to you to commit to")
    return 0


def _add_offline_standins(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--offline-standins",
        action="store_true",
        help=f"the image check pulls nothing and builds on local stand-ins of the base images "
        f"(as {OFFLINE_STANDINS_ENV}=1 does): for machines no registry answers",
    )


def _add_preset(command: argparse.ArgumentParser, purpose: str) -> None:
    command.add_argument("--preset", type=Path, metavar="FILE", help=f"{purpose} (default: ${PRESET_ENV})")


def _only(args: argparse.Namespace) -> list[str] | None:
    """The checks --only names (None: all)."""
    if args.only is None:
        return None
    only = _names(args.only, "--only", "check", checks.names())
    checks.select(only)  # an unknown name is an input error before any work starts
    return only


def _settings(args: argparse.Namespace, repo: Path) -> checks.CheckContext:
    """The run's settings from the command line, over the user's defaults."""
    kube_context = getattr(args, "kube_context", None)
    if kube_context is not None and (not kube_context.strip() or not kube_context.isprintable()):
        raise InvalidInputError(f"--kube-context names no context (got {printable(kube_context)!r})")
    given: dict[str, Any] = {"kube_context": kube_context or ""}
    if args.offline_standins:
        given["offline_standins"] = True
    if getattr(args, "preset", None) is not None:
        given["preset"] = args.preset.absolute()
    if not getattr(args, "no_cache", False):
        given["cache"] = checks.ResultCache()
    return checks.CheckContext.from_environment(repo, **given)


def _check(args: argparse.Namespace) -> int:
    if args.list:
        return _list_checks(args)
    only = _only(args)
    context = _settings(args, args.dest)
    width = max(len(check.name) for check in checks.CHECKS)

    def progress(result: checks.Result) -> None:
        if not args.json and result.status != checks.NOT_APPLICABLE:
            print(f"  {result.check:<{width}}  {_shown_status(result):<11}  {result.seconds:6.1f}s", file=sys.stderr)

    results = checks.run_checks(context, only, jobs=args.jobs, progress=progress)
    if args.json:
        _print_json([result.as_json() for result in results])
    else:
        _print_check_table(results, width)
    return checks.exit_status(results)


def _shown_status(result: checks.Result) -> str:
    return result.status + (" (cached)" if result.cached else "")


def _list_checks(args: argparse.Namespace) -> int:
    if args.json:
        _print_json([check.as_json() for check in checks.CHECKS])
        return 0
    width = max(len(check.name) for check in checks.CHECKS)
    for check in checks.CHECKS:
        needs = f"; needs {check.needs}" if check.needs else ""
        runs = ", ".join(check.tools) or "no tool"
        print(f"{check.name:<{width}}  {check.cost.value:<6}  {check.describe}")
        print(f"{'':<{width}}          reads {', '.join(check.reads)}; runs {runs}{needs}")
    return 0


def _cache_show(args: argparse.Namespace) -> int:
    stats = checks.ResultCache().stats()
    if args.json:
        _print_json({"folder": str(stats.folder), "entries": stats.entries, "bytes": stats.size, "limit": stats.limit})
    else:
        size, limit = stats.size / 1024, stats.limit // 1024**2
        print(f"{stats.entries} results kept in {stats.folder}: {size:.0f} KiB of {limit} MiB")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    cache = checks.ResultCache()
    removed = cache.clear()
    if args.json:
        _print_json({"folder": str(cache.folder), "removed": removed})
    else:
        print(f"removed {removed} results from {cache.folder}")
    return 0


def _matrix(args: argparse.Namespace) -> int:
    only = _only(args)
    named = [(variant.name, variant) for variant in matrix.pairwise()]
    named += [
        (matrix.random_name(variant, number), variant)
        for number, variant in enumerate(matrix.random_variants(args.random, args.seed), start=1)
    ]

    def progress(result: matrix.VariantResult, done: int, total: int) -> None:
        if not args.json:
            failed = [r.check for r in result.results if r.status in (checks.FAIL, checks.MISSING)]
            state = "pass" if result.passed else f"FAIL {', '.join(failed) or result.error}"
            print(f"[{done}/{total}] {result.name}: {state} ({result.seconds:.0f}s)", file=sys.stderr, flush=True)

    results = matrix.run_matrix(
        named,
        template=args.template,
        vcs_ref=args.vcs_ref,
        only=only,
        jobs=args.jobs,
        settings=_settings(args, Path()),
        progress=progress,
    )
    if args.json:
        _print_json([result.as_json() for result in results])
    else:
        _print_matrix_table(results, checks.select(only))
    statuses = [r for result in results for r in result.results]
    if any(result.error for result in results):
        return 1
    return checks.exit_status(statuses)


_CELLS = {checks.PASS: ".", checks.FAIL: "F", checks.MISSING: "M", checks.NOT_APPLICABLE: "-"}


def _print_matrix_table(results: Sequence[matrix.VariantResult], chosen: Sequence[checks.Check]) -> None:
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


def _check_seconds(results: Sequence[matrix.VariantResult], chosen: Sequence[checks.Check]) -> str:
    """Each check's median and slowest time over the variants it applied to."""
    ran: dict[str, list[float]] = {}
    for result in results:
        for row in result.results:
            if row.status != checks.NOT_APPLICABLE:
                ran.setdefault(row.check, []).append(row.seconds)
    spans = [f"{c.name} {statistics.median(ran[c.name]):.1f}/{max(ran[c.name]):.1f}" for c in chosen if c.name in ran]
    return ", ".join(spans) or "none ran"


def _print_check_table(results: Sequence[checks.Result], width: int) -> None:
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


def _tools_install(args: argparse.Namespace) -> int:
    known = ", ".join(tools.TOOLS)
    only = None if args.only is None else _names(args.only, "--only", "tool", known)
    chosen = tools.chosen(only, () if args.skip is None else _names(args.skip, "--skip", "tool", known))
    toolbox = tools.Toolbox.default()
    installed = toolbox.install(chosen, progress=lambda step: print(f"  {step}", file=sys.stderr))
    if args.json:
        _print_json({"installed": installed, "tools_dir": str(toolbox.folder)})
    else:
        print(f"Installed {', '.join(installed)}" if installed else "Every pinned tool is installed")
    return 0


def _names(listed: str, flag: str, what: str, known: str) -> list[str]:
    """The comma-separated names a flag was given; none at all is an input error."""
    names = [name.strip() for name in listed.split(",") if name.strip()]
    if not names:
        raise InvalidInputError(f"{flag} names no {what} (got {listed!r}); the {what}s are: {known}")
    return names


def _tools_list(args: argparse.Namespace) -> int:
    rows = []
    toolbox = tools.Toolbox.default()
    for tool in tools.TOOLS.values():
        try:
            where = str(toolbox.find(tool.name))
        except ToolMissingError:
            where = None
        rows.append({"tool": tool.name, "version": tool.version, "source": tool.source, "path": where})
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['tool']:<20} {row['version']:<10} {row['source']:<7} {row['path'] or 'missing'}")
    return 0 if all(row["path"] for row in rows) else 2


def _add_update(commands: argparse._SubParsersAction[_Parser]) -> None:
    update = commands.add_parser(
        "update",
        help="update a generated repository to a newer template version",
        description="Update a generated repository to a newer template version, keeping the team's edits. "
        "Exit status: 0 updated or up to date, 3 conflicts left to resolve, 2 bad input or a dirty repository, "
        "1 the update failed (the repository is restored).",
    )
    update.add_argument("dest", type=Path, metavar="DEST", nargs="?", default=Path(), help="repository (default: .)")
    update.add_argument("--vcs-ref", metavar="REF", help="template version to update to (default: newest version tag)")
    update.add_argument(
        "--conflict",
        choices=CONFLICT_STYLES,
        default="inline",
        help="leave conflicts as inline markers (default) or as .rej files next to the file",
    )
    update.add_argument(
        "--data", "-d", action="append", default=[], metavar="KEY=VALUE", help="change an answer (repeatable)"
    )
    update.add_argument("--json", action="store_true", help="print the result as JSON")
    update.set_defaults(handler=_update)


def _add_fleet(commands: argparse._SubParsersAction[_Parser]) -> None:
    fleet = commands.add_parser("fleet", help="every service repository under a folder: versions and updates")
    fleet_commands = fleet.add_subparsers(title="commands", metavar="COMMAND", required=True)
    status = fleet_commands.add_parser("status", help="template version and state of every repository under ROOT")
    update = fleet_commands.add_parser(
        "update",
        help="update every outdated repository under ROOT",
        description="Update every outdated repository under ROOT in parallel. Exit status: 0 all updated or up to "
        "date, 3 some have conflicts to resolve, 1 some failed or were refused because dirty.",
    )
    for command in (status, update):
        command.add_argument("root", type=Path, metavar="ROOT", help="folder holding the service repositories")
        command.add_argument("--template", metavar="SRC", help="the template (default: this gosvc's clone)")
        command.add_argument("--json", action="store_true", help="print the result as JSON")
    update.add_argument(
        "--jobs", type=_positive, default=2, metavar="N", help="repositories updated at once (default: 2)"
    )
    update.add_argument("--vcs-ref", metavar="REF", help="template version to update to (default: newest version tag)")
    _add_preset(status, "list the repositories whose answers drifted from the locked answers of this preset")
    status.set_defaults(handler=_fleet_status)
    update.set_defaults(handler=_fleet_update)


def _add_backstage(commands: argparse._SubParsersAction[_Parser]) -> None:
    backstage_command = commands.add_parser("backstage", help="the Backstage Software Template of this template")
    backstage_commands = backstage_command.add_subparsers(title="commands", metavar="COMMAND", required=True)
    template = backstage_commands.add_parser(
        "template",
        help=f"write {backstage.TEMPLATE_FILE} from copier.yml",
        description=f"Write {backstage.TEMPLATE_FILE} of this gosvc clone from its copier.yml. With --check, write "
        "nothing and exit 1 when the committed file differs.",
    )
    template.add_argument("--check", action="store_true", help="only compare: exit 1 when the file is out of date")
    template.add_argument("--json", action="store_true", help="print the result as JSON")
    template.set_defaults(handler=_backstage_template)


def _backstage_template(args: argparse.Namespace) -> int:
    written = backstage.write_template(check=args.check)
    if args.json:
        _print_json({"path": str(written.path), "changed": written.changed, "questions": written.questions})
    elif args.check:
        print(f"{backstage.TEMPLATE_FILE} is up to date ({written.questions} questions)")
    else:
        state = "Wrote" if written.changed else "Unchanged:"
        print(f"{state} {written.path} ({written.questions} questions)")
    return 0


def _update(args: argparse.Namespace) -> int:
    data = parse_data_args(args.data)
    started = time.monotonic()
    with _stdout_to_stderr():
        result = update_project(args.dest, data, vcs_ref=args.vcs_ref, conflict=args.conflict, quiet=args.json)
    seconds = round(time.monotonic() - started, 2)
    if args.json:
        _print_json(_update_as_json(result) | {"seconds": seconds})
    else:
        _print_update(result, seconds)
    return EXIT_CONFLICTS if result.conflicts else 0


def _update_as_json(result: UpdateResult) -> dict[str, Any]:
    return {
        "project": str(result.project),
        "service_name": result.service_name,
        "status": result.status,
        "from": result.from_version,
        "to": result.to_version,
        "changed": list(result.changed),
        "conflicts": [
            {"path": conflict.path, "rej": conflict.rej, "deleted_by_template": conflict.deleted_by_template}
            for conflict in result.conflicts
        ],
        "recovered": result.recovered,
    }


def _print_update(result: UpdateResult, seconds: float) -> None:
    name = result.service_name or result.project.name
    if result.recovered:
        print(f"Recovered first: {result.recovered}")
    if result.status == "up to date":
        print(f"{name} is up to date with template {result.to_version} ({seconds}s)")
        return
    changed = _count(len(result.changed), "file")
    print(f"Updated {name} from template {result.from_version} to {result.to_version}: {changed} changed ({seconds}s)")
    if not result.conflicts:
        print("Review the changes with `git diff`, then commit them.")
        return
    print(f"{_count(len(result.conflicts), 'file')} with conflicts to resolve (unmerged in `git status`):")
    for conflict in result.conflicts:
        print(f"  {conflict.path}  ({conflict.where})")
    print("Resolve each one, mark it resolved with `git add`, then commit.")


def _fleet_status(args: argparse.Namespace) -> int:
    chosen = preset_path(args.preset)
    preset = None if chosen is None else load_preset(chosen)
    status = fleet_status(args.root, template=args.template, preset=preset)
    if args.json:
        repos = [
            {
                "path": str(repo.path),
                "service_name": repo.service_name,
                "version": repo.version,
                "newest": repo.newest,
                "clean": None if repo.dirty is None else not repo.dirty,
                "state": repo.state,
                "skipped": repo.skipped,
                "attention": repo.attention,
                **({} if preset is None else {"drifted": None if repo.drifted is None else list(repo.drifted)}),
            }
            for repo in status.repos
        ]
        _print_json({"root": str(status.root), "template": status.template, "newest": status.newest, "repos": repos})
        return fleet_status_exit_status(status)
    rows = [("PATH", "SERVICE", "VERSION", "NEWEST", "TREE", "STATE", *(("PRESET",) if preset else ()))]
    for repo in status.repos:
        tree = {None: "-", True: "dirty", False: "clean"}[repo.dirty]
        state = f"skipped ({repo.skipped})" if repo.skipped else repo.state
        drifted = "-" if repo.drifted is None else "drifted: " + ", ".join(repo.drifted) if repo.drifted else "ok"
        rows.append(
            (
                _relative(repo.path, status.root),
                repo.service_name or "-",
                repo.version or "-",
                repo.newest or "-",
                tree,
                state,
                *((drifted,) if preset else ()),
            )
        )
    _print_table(rows)
    print(f"{len(status.repos)} repositories under {status.root}; newest template version {status.newest or 'unknown'}")
    return fleet_status_exit_status(status)


def _fleet_update(args: argparse.Namespace) -> int:
    root = args.root.absolute()

    def progress(result: RepoUpdate, done: int, total: int) -> None:
        print(f"[{done}/{total}] {_relative(result.path, root)}: {_outcome_text(result)}", file=sys.stderr, flush=True)

    results = fleet_update(root, template=args.template, jobs=args.jobs, vcs_ref=args.vcs_ref, progress=progress)
    if args.json:
        _print_json(
            [
                {
                    "path": str(result.path),
                    "service_name": result.service_name,
                    "outcome": result.outcome,
                    "reason": result.reason,
                    "from": result.from_version,
                    "to": result.to_version,
                    "conflicts": list(result.conflicts),
                    "recovered": result.recovered,
                    "attention": result.attention,
                }
                for result in results
            ]
        )
    else:
        _print_table(
            [(_relative(result.path, root), result.service_name or "-", _outcome_text(result)) for result in results]
        )
    return fleet_exit_status(results)


def _outcome_text(result: RepoUpdate) -> str:
    recovered = " after undoing an interrupted update" if result.recovered else ""
    if result.outcome == "updated":
        return f"updated ({result.from_version} -> {result.to_version}){recovered}"
    if result.outcome == "conflicts":
        return f"conflicts ({', '.join(result.conflicts)})"
    if result.outcome in ("failed", "skipped"):
        return f"{result.outcome} ({result.reason})"
    return result.outcome


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) and path != root else str(path)


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what Copier and template tasks print to stderr, keeping stdout for the result."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
