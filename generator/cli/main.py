"""gosvc's entry point: the parser of every command, and how a command's end becomes an exit status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from generator import __version__
from generator.cli import backstage, check, fleet, matrix, new, tools, update
from generator.cli.arguments import Parser
from generator.cli.output import fail
from generator.runtime.errors import GosvcError, one_line
from generator.runtime.signals import Terminated, terminations_raise

Handler = Callable[[argparse.Namespace], int]
DEBUG_ENV_VAR = "GOSVC_DEBUG"
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE: a defect in gosvc, not something the user did
COMMANDS = (new, check, matrix, tools, update, fleet, backstage)
"""The command modules, in the order --help lists them: each adds its commands to the parser."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        handler: Handler = args.handler
        # SIGTERM and SIGHUP unwind like Ctrl-C, so that every command cleans up what it was writing.
        with terminations_raise():
            return handler(args)
    except GosvcError as error:
        fail(one_line(str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
    except Terminated as error:
        fail(str(error))
        return error.exit_code
    except BrokenPipeError:
        # The reader of standard output went away (`gosvc ... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        if os.environ.get(DEBUG_ENV_VAR):
            raise
        fail(
            f"internal error, please report it: {type(error).__name__}: {one_line(str(error), 300)} "
            f"(set {DEBUG_ENV_VAR}=1 to see where)"
        )
        return EXIT_INTERNAL_ERROR


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="gosvc", description="Generate and keep Go microservices for Kubernetes from one Copier template."
    )
    top.add_argument("--version", action="version", version=f"gosvc {__version__}")
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add(commands)
    return top


if __name__ == "__main__":
    sys.exit(main())
