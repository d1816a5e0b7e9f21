"""Migration: the template moved a file; carry the team's edits to its new path.

Re-rendering alone cannot do this. When a template version renames OLD to NEW,
`copier update` renders NEW from scratch and deletes OLD, so every edit a team
made to OLD would be gone from the work tree. Run this as an "after" migration
(Copier's default stage) of the version that moves the file:

    _migrations:
      - version: v2.0.0
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/move_file.py",
                  "OLD", "NEW", "--conflict={{ _copier_conf.conflict }}"]

It three-way merges the team's committed OLD (or NEW, if they moved it
themselves) with the template's new NEW, using OLD as the previous template
version rendered it as the common base, so both the team's edits and the
template's changes land. What cannot merge is left as Copier leaves any
conflict: inline markers and unmerged in git, or a NEW.rej file. A file the
team had deleted stays deleted. Run with the project as working directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LABELS = ("before updating", "last update", "after updating")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="path the previous template version rendered, relative to the project")
    parser.add_argument("new", help="path the template renders now")
    parser.add_argument("--conflict", choices=("inline", "rej"), default="inline")
    parser.add_argument("--answers-file", default=".copier-answers.yml")
    args = parser.parse_args(argv)
    move(args.old, args.new, conflict=args.conflict, answers_file=args.answers_file)
    return 0


def move(old: str, new: str, *, conflict: str = "inline", answers_file: str = ".copier-answers.yml") -> None:
    _note_moved(old)
    committed_old, committed_new = _committed(old), _committed(new)
    new_path = Path(new)
    Path(f"{old}.rej").unlink(missing_ok=True)  # the team's own edits, rejected on a file the update deletes
    if committed_old is not None and committed_new is not None:
        print(f"move_file: {old} and {new} are both committed; left {new} as the update made it", file=sys.stderr)
        return
    ours = committed_old if committed_old is not None else committed_new
    with tempfile.TemporaryDirectory(prefix="gosvc-move-") as scratch:
        base_path = _render_previous_version(Path(scratch) / "previous", answers_file) / old
        base = base_path.read_bytes() if base_path.is_file() else None
        if ours is None:
            if base is not None:  # rendered, then deleted by the team: keep it deleted
                new_path.unlink(missing_ok=True)
                Path(f"{new}.rej").unlink(missing_ok=True)
            return
        if not new_path.is_file():
            new_path.parent.mkdir(parents=True, exist_ok=True)
            new_path.write_bytes(ours)
            return
        theirs = new_path.read_bytes()
        merged, conflicts = _merge(Path(scratch), ours, base or b"", theirs)
        if not conflicts:
            new_path.write_bytes(merged)
        elif conflict != "rej" or not _apply_with_rejects(Path(scratch), new, base or b"", ours):
            new_path.write_bytes(merged)
            _mark_unmerged(new, base, ours, theirs)
    if conflicts:
        print(f"move_file: {new} has conflicts to resolve", file=sys.stderr)


def _note_moved(old: str) -> None:
    """Tell `gosvc update` that OLD went away by this move, so that its removal is no modify/delete conflict."""
    log = os.environ.get("GOSVC_MOVED_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:  # noqa: PTH123 - a path from the environment
            handle.write(old + "\n")


def _git(
    *args: str, stdin: bytes | None = None, check: bool = True, cwd: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], input=stdin, capture_output=True, check=check, cwd=cwd)


def _repo_path(path: str) -> tuple[str, str]:
    """The top of the work tree, and `path` relative to it (the project may sit in a subfolder)."""
    top = _git("rev-parse", "--show-toplevel").stdout.decode().strip()
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    return top, f"{prefix}{path}"


def _committed(path: str) -> bytes | None:
    result = _git("show", f"HEAD:./{path}", check=False)
    return result.stdout if result.returncode == 0 else None


def _render_previous_version(dest: Path, answers_file: str) -> Path:
    """The project as the template version it was last updated to rendered it, untouched."""
    import yaml
    from copier import run_copy

    answers: dict[str, Any] = yaml.safe_load(_committed(answers_file) or b"{}") or {}
    run_copy(
        src_path=str(answers["_src_path"]),
        dst_path=dest,
        data={key: value for key, value in answers.items() if not key.startswith("_")},
        vcs_ref=str(answers["_commit"]),
        answers_file=answers_file,
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=True,
        skip_tasks=True,
    )
    return dest


def _merge(scratch: Path, ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, int]:
    files = []
    for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
        path = scratch / name
        path.write_bytes(content)
        files.append(str(path))
    labels = [arg for label in LABELS for arg in ("-L", label)]
    result = _git("merge-file", "-p", *labels, *files, check=False)
    if result.returncode < 0 or result.returncode > 127:
        raise SystemExit(f"move_file: git merge-file failed: {result.stderr.decode(errors='replace')}")
    return result.stdout, result.returncode


def _apply_with_rejects(scratch: Path, new: str, base: bytes, ours: bytes) -> bool:
    """Apply the team's edits (base -> ours) to NEW as a patch; hunks that do not fit go to NEW.rej.

    False when git could not even read the patch, so the caller keeps both sides another way.
    """
    top, target = _repo_path(new)
    for side, content in (("a", base), ("b", ours)):
        path = scratch / side / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    diff = subprocess.run(
        ["git", "diff", "--no-index", "--no-prefix", "--no-color", "--unified=1", f"a/{target}", f"b/{target}"],
        cwd=scratch,
        capture_output=True,
        check=False,
    )
    applied = subprocess.run(
        ["git", "apply", "--reject", "-"], cwd=top, input=diff.stdout, capture_output=True, check=False
    )
    return applied.returncode == 0 or Path(f"{new}.rej").is_file()


def _mark_unmerged(new: str, base: bytes | None, ours: bytes, theirs: bytes) -> None:
    """Stage the three sides, as Copier does for its own inline conflicts, so `git status` lists NEW."""
    top, path = _repo_path(new)
    mode = "100755" if Path(new).stat().st_mode & 0o111 else "100644"
    lines = [f"0 {'0' * 40}\t{path}"]
    for stage, content in (("1", base), ("2", ours), ("3", theirs)):
        if content is not None:
            blob = _git("hash-object", "-w", "--stdin", stdin=content).stdout.decode().strip()
            lines.append(f"{mode} {blob} {stage}\t{path}")
    _git("update-index", "--index-info", stdin=("\n".join(lines) + "\n").encode(), cwd=top)


if __name__ == "__main__":
    sys.exit(main())
