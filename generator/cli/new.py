"""`gosvc new`: a new service repository from the template."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from generator.cli.arguments import Commands, add_preset
from generator.cli.output import fail, print_json
from generator.runtime.errors import InvalidInputError
from generator.template.answers import IDENTITY_QUESTIONS, load_data_file, parse_data_args
from generator.template.preset import preset_path
from generator.template.render import new_project


def add(commands: Commands) -> None:
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
    add_preset(new, "start from the answers of this organisation preset; its locked answers cannot be changed")
    new.add_argument(
        "--no-git",
        action="store_true",
        help="leave DEST without a git repository (default: git init and a first commit holding every file, "
        "unless DEST is inside another git repository)",
    )
    new.add_argument("--json", action="store_true", help="print the result as JSON")
    new.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.defaults and not sys.stdin.isatty():
        raise InvalidInputError(
            "answers are needed but standard input is not a terminal: pass --defaults and/or --data"
        )
    data: dict[str, Any] = {}
    if args.data_file:
        from_file = load_data_file(args.data_file, identity=args.identity_from_data_file)
        data.update(from_file.answers)
        if from_file.withheld:
            fail(
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
    if args.json:
        print_json(project.as_json() | {"seconds": seconds})
        return 0
    print(f"Created {project.answers.get('service_name')} in {project.dest} ({seconds}s)")
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
