"""Migration: a fractional CPU limit becomes no limit, which the template now recommends.

Templates before the cpu_limit rule of "none or whole CPUs" accepted limits
such as 500m, which throttle the Go runtime (it runs a thread per CPU it sees).
An update would refuse such a recorded answer; this "before" migration turns
it into "none" first and says so. It runs on every update and does nothing
when the limit is none or whole CPUs:

    _migrations:
      - when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/whole_cpu_limit.py",
                  "--answers-file={{ _copier_conf.answers_file }}"]

Run with the project as working directory.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from answers_file import read, write  # the hooks folder is the script's own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers-file", default=".copier-answers.yml")
    args = parser.parse_args(argv)
    path = Path(args.answers_file)
    header, answers = read(path)
    limit = str(answers.get("cpu_limit", "none"))
    if limit == "none" or re.fullmatch(r"[1-9][0-9]{0,2}", limit):
        return 0
    answers["cpu_limit"] = "none"
    write(path, header, answers)
    print(
        f"whole_cpu_limit: cpu_limit {limit} became none: a fractional CPU limit throttles the Go runtime "
        "(set whole CPUs with `gosvc update --data cpu_limit=N` if the service needs a limit)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
