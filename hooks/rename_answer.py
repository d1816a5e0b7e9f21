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

import yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the question's previous name")
    parser.add_argument("new", help="its name now")
    parser.add_argument("--answers-file", default=".copier-answers.yml")
    args = parser.parse_args(argv)
    rename(Path(args.answers_file), args.old, args.new)
    return 0


def rename(answers_file: Path, old: str, new: str) -> None:
    text = answers_file.read_text(encoding="utf-8")
    answers = yaml.safe_load(text) or {}
    if old not in answers or new in answers:
        return  # answered under the new name already, or never asked
    renamed = {new if key == old else key: value for key, value in answers.items()}
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    answers_file.write_text(header + yaml.safe_dump(renamed, sort_keys=False, allow_unicode=True), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
