"""What several commands' arguments share: the parser whose errors are one line, number and name-list
arguments, and the options the check-running commands have in common."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from generator import checks
from generator.images.standins import OFFLINE_STANDINS_ENV
from generator.runtime.errors import InvalidInputError, printable
from generator.template.preset import PRESET_ENV


class UsageError(InvalidInputError):
    """The command line itself is wrong: an unknown option, a missing or malformed argument."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one-line gosvc errors instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


Commands: TypeAlias = "argparse._SubParsersAction[Parser]"
"""Where each command module adds its command."""


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {text[:20]!r})")
    return int(text)


def non_negative(text: str) -> int:
    """An argument that must be a whole number, 0 or more (at most 6 digits)."""
    if not text.strip().isascii() or not text.strip().isdigit() or len(text.strip()) > 6:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 999999 (got {text[:20]!r})")
    return int(text)


def names(listed: str, flag: str, what: str, known: str) -> list[str]:
    """The comma-separated names a flag was given; none at all is an input error."""
    given = [name.strip() for name in listed.split(",") if name.strip()]
    if not given:
        raise InvalidInputError(f"{flag} names no {what} (got {listed!r}); the {what}s are: {known}")
    return given


def add_offline_standins(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--offline-standins",
        action="store_true",
        help=f"the image check pulls nothing and builds on local stand-ins of the base images "
        f"(as {OFFLINE_STANDINS_ENV}=1 does): for machines no registry answers",
    )


def add_preset(command: argparse.ArgumentParser, purpose: str) -> None:
    command.add_argument("--preset", type=Path, metavar="FILE", help=f"{purpose} (default: ${PRESET_ENV})")


def only_checks(args: argparse.Namespace) -> list[str] | None:
    """The checks --only names (None: all)."""
    if args.only is None:
        return None
    only = names(args.only, "--only", "check", checks.names())
    checks.select(only)  # an unknown name is an input error before any work starts
    return only


def check_context(args: argparse.Namespace, repo: Path) -> checks.CheckContext:
    """The settings of a run of checks from the command line, over the user's defaults."""
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
