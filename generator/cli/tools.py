"""`gosvc tools`: install the pinned tools the checks run, and list where each is."""

from __future__ import annotations

import argparse
import sys

from generator import tools
from generator.cli.arguments import Commands, names
from generator.cli.output import print_json
from generator.runtime.errors import ToolMissingError


def add(commands: Commands) -> None:
    command = commands.add_parser("tools", help="the pinned tools the checks run")
    tools_commands = command.add_subparsers(title="commands", metavar="COMMAND", required=True)
    install = tools_commands.add_parser("install", help="install every missing pinned tool (idempotent)")
    install.add_argument("--only", metavar="NAME,...", help="install only these tools (see `gosvc tools list`)")
    install.add_argument("--skip", metavar="NAME,...", help="install every tool but these")
    install.add_argument("--json", action="store_true", help="print what was installed as JSON")
    install.set_defaults(handler=run_install)
    listing = tools_commands.add_parser("list", help="list the pinned tools and where they are")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=run_list)


def run_install(args: argparse.Namespace) -> int:
    known = ", ".join(tools.TOOLS)
    only = None if args.only is None else names(args.only, "--only", "tool", known)
    chosen = tools.chosen(only, () if args.skip is None else names(args.skip, "--skip", "tool", known))
    toolbox = tools.Toolbox.default()
    installed = toolbox.install(chosen, progress=lambda step: print(f"  {step}", file=sys.stderr))
    if args.json:
        print_json({"installed": installed, "tools_dir": str(toolbox.folder)})
    else:
        print(f"Installed {', '.join(installed)}" if installed else "Every pinned tool is installed")
    return 0


def run_list(args: argparse.Namespace) -> int:
    rows = []
    toolbox = tools.Toolbox.default()
    for tool in tools.TOOLS.values():
        try:
            where = str(toolbox.find(tool.name))
        except ToolMissingError:
            where = None
        rows.append({"tool": tool.name, "version": tool.version, "source": tool.source, "path": where})
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['tool']:<20} {row['version']:<10} {row['source']:<7} {row['path'] or 'missing'}")
    return 0 if all(row["path"] for row in rows) else 2
