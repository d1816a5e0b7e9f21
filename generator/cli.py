"""The `gosvc` command: parses arguments, calls the library, prints the outcome."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from generator import __version__
from generator.answers import load_data_file, parse_data_args
from generator.errors import GosvcError, InvalidInputError
from generator.render import new_project

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except GosvcError as error:
        print(f"gosvc: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("gosvc: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gosvc",
        description="Generate and keep Go microservices for Kubernetes from one Copier template.",
    )
    parser.add_argument("--version", action="version", version=f"gosvc {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

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
    new.add_argument("--data-file", type=Path, metavar="FILE", help="YAML file of answers")
    new.add_argument("--defaults", action="store_true", help="never prompt: take the default of every unanswered question")
    new.add_argument("--template", metavar="SRC", help="template git URL or path (default: this gosvc's clone)")
    new.add_argument("--vcs-ref", metavar="REF", help="template git ref to render (default: newest version tag)")
    new.add_argument("--json", action="store_true", help="print the result as JSON")
    new.set_defaults(handler=_new)
    return parser


def _new(args: argparse.Namespace) -> int:
    if not args.defaults and not sys.stdin.isatty():
        raise InvalidInputError(
            "answers are needed but standard input is not a terminal: pass --defaults and/or --data"
        )
    data: dict[str, Any] = load_data_file(args.data_file) if args.data_file else {}
    data.update(parse_data_args(args.data))
    started = time.monotonic()
    project = new_project(
        args.dest,
        data,
        defaults=args.defaults,
        template=args.template,
        vcs_ref=args.vcs_ref,
        quiet=args.json,
    )
    seconds = round(time.monotonic() - started, 2)
    public = {key: value for key, value in project.answers.items() if not key.startswith("_")}
    if args.json:
        _print_json(
            {
                "dest": str(project.dest),
                "template": project.answers.get("_src_path"),
                "commit": project.template_commit,
                "answers": public,
                "seconds": seconds,
            }
        )
    else:
        print(f"Created {public.get('service_name')} in {project.dest} ({seconds}s)")
    return 0


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
