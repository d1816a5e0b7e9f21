"""`gosvc backstage template`: the Backstage Software Template of this template, written from copier.yml."""

from __future__ import annotations

import argparse

from generator.cli.arguments import Commands
from generator.cli.output import print_json
from generator.template import backstage


def add(commands: Commands) -> None:
    command = commands.add_parser("backstage", help="the Backstage Software Template of this template")
    backstage_commands = command.add_subparsers(title="commands", metavar="COMMAND", required=True)
    template = backstage_commands.add_parser(
        "template",
        help=f"write {backstage.TEMPLATE_FILE} from copier.yml",
        description=f"Write {backstage.TEMPLATE_FILE} of this gosvc clone from its copier.yml. With --check, write "
        "nothing and exit 1 when the committed file differs.",
    )
    template.add_argument("--check", action="store_true", help="only compare: exit 1 when the file is out of date")
    template.add_argument("--json", action="store_true", help="print the result as JSON")
    template.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    written = backstage.write_template(check=args.check)
    if args.json:
        print_json(written.as_json())
    elif args.check:
        print(f"{backstage.TEMPLATE_FILE} is up to date ({written.questions} questions)")
    else:
        state = "Wrote" if written.changed else "Unchanged:"
        print(f"{state} {written.path} ({written.questions} questions)")
    return 0
