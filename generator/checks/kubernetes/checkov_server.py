"""checkov, imported once and run many times: the process behind generator.checks.checkov_runs.

It runs on checkov's own interpreter (the tool's virtualenv), not on gosvc's. It reads one JSON request per line
on standard input, {"cwd", "argv", "stdout", "stderr"}: the folder to run in, checkov's arguments, and the files
its output goes to; and answers each with one line, {"returncode"}. Each run is a fork of this process, which has
imported checkov and done nothing else, so it starts where the checkov command would be once imported, and
leaves nothing behind for the next run. Importing checkov is three quarters of the CPU a run of it takes. The
process ends with its standard input: when gosvc exits, however it exits.
"""

import json
import os
import sys
import traceback
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)  # as checkov's own command does
    # checkov is installed in a virtualenv of its own, where this runs; gosvc's environment, which mypy reads, has
    # no checkov to type it with.
    from checkov.main import Checkov  # type: ignore[import-not-found]

_BUG = 70


def _child(request: dict[str, Any]) -> int:
    os.chdir(str(request["cwd"]))
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(str(request[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    argv = [str(argument) for argument in request["argv"]]
    sys.argv = ["checkov", *argv]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        # Checkov() would read sys.argv as it was when checkov was imported: its default argument.
        return int(Checkov(argv=argv).run() or 0)


def _run(request: dict[str, Any]) -> int:
    pid = os.fork()
    if pid == 0:
        code = _BUG
        try:
            code = _child(request)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        except BaseException:  # the child must reach os._exit, whatever happened
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            print(json.dumps({"returncode": _run(json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
