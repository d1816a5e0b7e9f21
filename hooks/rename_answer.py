"""Migration: the template renamed a question; keep the project's answer under the new name.

Without it, `copier update` forgets the answer recorded under the old name and
renders the new question's default instead. Run it as a "before" migration of
the version that renames the question, so the update already reads the new name:

    _migrations:
      - version: v2.0.0
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/rename_answer.py",
                  "OLD", "NEW", "--answers-file={{ _copier_conf.answers_file }}"]

Run with the project as working directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from answers_file import read, write  # the hooks folder is the script's own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the question's previous name")
    parser.add_argument("new", help="its name now")
    parser.add_argument("--answers-file", default=".copier-answers.yml")
    args = parser.parse_args(argv)
    rename(Path(args.answers_file), args.old, args.new)
    return 0


def rename(answers_file: Path, old: str, new: str) -> None:
    header, answers = read(answers_file)
    if old not in answers or new in answers:
        return  # answered under the new name already, or never asked
    write(answers_file, header, {new if key == old else key: value for key, value in answers.items()})


if __name__ == "__main__":
    sys.exit(main())
