"""`gosvc fleet`: every service repository under a folder, its template version, and their updates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator.cli.arguments import Commands, add_preset, positive
from generator.cli.output import print_json, print_table, relative
from generator.template.preset import load_preset, preset_path
from generator.update.fleet import RepoUpdate, fleet_exit_status, fleet_status, fleet_status_exit_status, fleet_update
from generator.update.fleet_metrics import write_metrics


def add(commands: Commands) -> None:
    fleet = commands.add_parser("fleet", help="every service repository under a folder: versions and updates")
    fleet_commands = fleet.add_subparsers(title="commands", metavar="COMMAND", required=True)
    status = fleet_commands.add_parser(
        "status",
        help="template version and state of every repository under ROOT",
        description="Template version and state of every repository under ROOT. Exit status: 0 every repository "
        "is up to date, 5 some are behind the newest template version, 3 some hold unresolved conflicts, 1 some "
        "need attention (unreadable, an update interrupted or running).",
    )
    update = fleet_commands.add_parser(
        "update",
        help="update every outdated repository under ROOT",
        description="Update every outdated repository under ROOT in parallel. Exit status: 0 all updated or up to "
        "date, 3 some have conflicts to resolve, 4 some were left without template changes (listed), 1 some failed "
        "or were refused because dirty.",
    )
    for command in (status, update):
        command.add_argument("root", type=Path, metavar="ROOT", help="folder holding the service repositories")
        command.add_argument("--template", metavar="SRC", help="the template (default: this gosvc's clone)")
        command.add_argument("--json", action="store_true", help="print the result as JSON")
    update.add_argument(
        "--jobs", type=positive, default=2, metavar="N", help="repositories updated at once (default: 2)"
    )
    update.add_argument("--vcs-ref", metavar="REF", help="template version to update to (default: newest version tag)")
    update.add_argument(
        "--plan", action="store_true", help="write nothing: list what each update would change, file and field"
    )
    update.add_argument(
        "--verify",
        action="store_true",
        help="each update runs the checks its changes concern (exit 6 when one that passed before fails now)",
    )
    add_preset(status, "list the repositories whose answers drifted from the locked answers of this preset")
    status.add_argument(
        "--metrics",
        type=Path,
        metavar="FILE",
        help="also write the fleet's state to FILE as Prometheus metrics, for node_exporter's textfile collector",
    )
    status.set_defaults(handler=run_status)
    update.set_defaults(handler=run_update)


def run_status(args: argparse.Namespace) -> int:
    chosen = preset_path(args.preset)
    preset = None if chosen is None else load_preset(chosen)
    status = fleet_status(args.root, template=args.template, preset=preset)
    if args.metrics is not None:
        write_metrics(status, args.metrics)
    if args.json:
        print_json(status.as_json(with_preset=preset is not None))
        return fleet_status_exit_status(status)
    rows = [("PATH", "SERVICE", "VERSION", "NEWEST", "TREE", "STATE", *(("PRESET",) if preset else ()))]
    for repo in status.repos:
        tree = {None: "-", True: "dirty", False: "clean"}[repo.dirty]
        state = f"skipped ({repo.skipped})" if repo.skipped else repo.state
        drifted = "-" if repo.drifted is None else "drifted: " + ", ".join(repo.drifted) if repo.drifted else "ok"
        rows.append(
            (
                relative(repo.path, status.root),
                repo.service_name or "-",
                repo.version or "-",
                repo.newest or "-",
                tree,
                state,
                *((drifted,) if preset else ()),
            )
        )
    print_table(rows)
    print(f"{len(status.repos)} repositories under {status.root}; newest template version {status.newest or 'unknown'}")
    return fleet_status_exit_status(status)


def run_update(args: argparse.Namespace) -> int:
    root = args.root.absolute()

    def progress(result: RepoUpdate, done: int, total: int) -> None:
        print(f"[{done}/{total}] {relative(result.path, root)}: {_outcome_text(result)}", file=sys.stderr, flush=True)

    results = fleet_update(
        root,
        template=args.template,
        jobs=args.jobs,
        vcs_ref=args.vcs_ref,
        progress=progress,
        plan=args.plan,
        verify=args.verify,
    )
    if args.json:
        print_json([result.as_json() for result in results])
    else:
        print_table(
            [(relative(result.path, root), result.service_name or "-", _outcome_text(result)) for result in results]
        )
        for result in results:
            if result.changes:
                print(f"{relative(result.path, root)} would change:")
                print("\n".join(f"  {change}" for change in result.changes))
    return fleet_exit_status(results)


def _outcome_text(result: RepoUpdate) -> str:
    recovered = " after undoing an interrupted update" if result.recovered else ""
    if result.planned and result.outcome != "up to date":
        return f"plan: {result.outcome} ({result.from_version} -> {result.to_version}), nothing written"
    if result.outcome == "updated":
        return f"updated ({result.from_version} -> {result.to_version}){recovered}"
    if result.outcome == "conflicts":
        return f"conflicts ({', '.join(result.conflicts)})"
    if result.outcome == "checks broken":
        return f"updated ({result.from_version} -> {result.to_version}), and it broke {', '.join(result.broken)}"
    if result.outcome == "not applied":
        return f"updated without the template's changes to {', '.join(result.not_applied)}"
    if result.outcome in ("failed", "skipped"):
        return f"{result.outcome} ({result.reason})"
    return result.outcome
