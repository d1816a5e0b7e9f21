"""`gosvc update`: one repository to a newer template version, over its team's edits."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from generator.cli.arguments import Commands
from generator.cli.output import count, print_json, stdout_to_stderr
from generator.template.answers import parse_data_args
from generator.update import team_shape
from generator.update.project import check_version
from generator.update.repository import (
    CONFLICT_STYLES,
    EXIT_BEHIND,
    EXIT_CONFLICTS,
    EXIT_NOT_APPLIED,
    UpdateResult,
    update_project,
)
from generator.update.verify import EXIT_CHECKS_BROKEN, Verification


def add(commands: Commands) -> None:
    update = commands.add_parser(
        "update",
        help="update a generated repository to a newer template version",
        description="Update a generated repository to a newer template version, keeping the team's edits. "
        "Exit status: 0 updated or up to date, 3 conflicts left to resolve, 4 template changes left out (listed), "
        "2 bad input or a dirty repository, 1 the update failed (the repository is left as it was); with --check, "
        "5 when a newer template version exists.",
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
    update.add_argument(
        "--plan",
        action="store_true",
        help="write nothing: say what the update would do to each file and to each deployed object, per environment "
        "(the exit status is the update's)",
    )
    update.add_argument(
        "--verify",
        action="store_true",
        help="after the update, run the checks its changes concern; exit 6 when one that passed before fails now "
        "(the repository stays as updated)",
    )
    update.add_argument(
        "--check",
        action="store_true",
        help="change nothing: exit 5 when a newer template version exists (for a team's CI)",
    )
    update.add_argument("--json", action="store_true", help="print the result as JSON")
    update.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args)
    data = parse_data_args(args.data)
    started = time.monotonic()
    with stdout_to_stderr():
        result = update_project(
            args.dest,
            data,
            vcs_ref=args.vcs_ref,
            conflict=args.conflict,
            quiet=args.json,
            plan=args.plan,
            verify=args.verify,
        )
    seconds = round(time.monotonic() - started, 2)
    if args.json:
        print_json(result.as_json() | {"seconds": seconds})
    elif result.planned:
        _print_plan(result, seconds)
    else:
        _print(result, seconds)
    if result.conflicts:
        return EXIT_CONFLICTS
    if result.status == "checks broken":
        return EXIT_CHECKS_BROKEN
    return EXIT_NOT_APPLIED if result.not_applied else 0


def _print(result: UpdateResult, seconds: float) -> None:
    name = result.service_name or result.project.name
    if result.recovered:
        print(f"Recovered first: {result.recovered}")
    if result.status == "up to date":
        print(f"{name} is up to date with template {result.to_version} ({seconds}s)")
        return
    changed = count(len(result.changed), "file")
    print(f"Updated {name} from template {result.from_version} to {result.to_version}: {changed} changed ({seconds}s)")
    if result.hand_edited:
        print(f"Rendered the answers you edited by hand: {', '.join(result.hand_edited)}")
    if result.not_applied:
        print(f"{count(len(result.not_applied), 'template change')} left out:")
        for item in result.not_applied:
            print(f"  {item.path}  ({item.reason})")
    if result.merged:
        print(f"{count(len(result.merged), 'file')} a line merge left conflicted, merged by structure (review them):")
        for path, how in result.merged:
            print(f"  {path}  ({how})")
    if result.verification is not None:
        _print_verification(result.verification)
    if not result.conflicts:
        print("Review the changes with `git diff`, then commit them.")
        return
    print(f"{count(len(result.conflicts), 'file')} with conflicts to resolve (unmerged in `git status`):")
    for conflict in result.conflicts:
        print(f"  {conflict.path}  ({conflict.where})")
    print("Resolve each one, mark it resolved with `git add`, then commit.")


def _print_verification(verification: Verification) -> None:
    print(f"Verified: {count(len(verification.ran), 'check')} the changes concern ran on the updated repository")
    for name, reason in verification.unverified:
        print(f"  {name} could not run: {reason}")
    if verification.broken:
        print(f"{count(len(verification.broken), 'check')} passed before the update and fail now:")
        for name, output in verification.broken:
            print(f"  {name}: " + output.replace("\n", "\n    "))


def _check(args: argparse.Namespace) -> int:
    check = check_version(args.dest, args.vcs_ref)
    if args.json:
        print_json(check.as_json())
    elif check.behind:
        print(f"{check.project} is at template {check.version}; {check.newest} is out: run `gosvc update`")
    else:
        print(f"{check.project} is up to date with template {check.version}")
    return EXIT_BEHIND if check.behind else 0


def _print_plan(result: UpdateResult, seconds: float) -> None:
    name = result.service_name or result.project.name
    if result.status == "up to date":
        print(f"{name} is up to date with template {result.to_version} ({seconds}s)")
        return
    print(f"Plan for {name}, template {result.from_version} -> {result.to_version}; nothing was written ({seconds}s):")
    if result.hand_edited:
        print(f"  renders the answers you edited by hand: {', '.join(result.hand_edited)}")
    for path, change in result.files:
        print(f"  {change:<11}  {path}")
    for item in result.not_applied:
        print(f"  {'not applied':<11}  {item.path}  ({item.reason})")
    for path in result.team_owned:
        print(f"  {'not applied':<11}  {path}  ({team_shape.TEAM_OWNED_REASON})")
    for path in result.kept_removed:
        print(f"  {'kept removed':<11}  {path}  (you deleted it; the template did not change it)")
    if result.objects:
        print(f"What it deploys differently ({count(len(result.objects), 'field')}):")
        for field in result.objects:
            print(f"  {field}")
