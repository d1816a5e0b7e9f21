"""Every error a user can cause is one line and exit status 2, never a traceback, whatever the input.

Each case runs the real `gosvc` command on input a hostile but realistic user
gives: odd digits, huge numbers, files that are not UTF-8, nested too deep or
built to explode, answers files edited by hand, destinations that cannot be
written, arguments out of range. Where a destination exists and is empty, it is
filled in place, keeping its inode and mode.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import HANG_GUARD_SECONDS
from tests.template_versions import commit_all

GOSVC = str(Path(sys.executable).parent / "gosvc")
MESSAGE_LIMIT = 600


def gosvc(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GOSVC, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=HANG_GUARD_SECONDS,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str, status: int = 2) -> str:
    """The command failed with `status` and one bounded line on stderr holding every word; return that line."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == status, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1, lines[:10]
    assert lines[0].startswith("gosvc: ") and len(lines[0]) <= MESSAGE_LIMIT, lines[0][:800]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@dataclass(frozen=True)
class Case:
    """A command line (built in a scratch folder) that must fail in one line naming `words`."""

    name: str
    build: Callable[[Path, Path], list[str]]  # (scratch folder, template) -> arguments
    words: tuple[str, ...]


def _new(dest: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    return lambda scratch, template: ["new", str(scratch / dest), "--defaults", "--template", str(template), *extra]


def _subfolder_of_a_repository(scratch: Path) -> list[str]:
    (scratch / "orders-api" / "deploy").mkdir(parents=True)
    (scratch / "orders-api" / ".copier-answers.yml").write_text("service_name: orders-api\n")
    return ["check", str(scratch / "orders-api" / "deploy")]


def _data_file(content: bytes) -> Callable[[Path, Path], list[str]]:
    def build(scratch: Path, template: Path) -> list[str]:
        path = scratch / "answers.yml"
        path.write_bytes(content)
        return [*_new("svc")(scratch, template), "--data-file", str(path)]

    return build


def _parent_is_a_file(scratch: Path, template: Path) -> list[str]:
    (scratch / "notes.txt").write_text("a file\n")
    return _new("notes.txt/svc")(scratch, template)


def _inside_template(_scratch: Path, template: Path) -> list[str]:
    return ["new", str(template / "services" / "svc"), "--defaults", "--template", str(template)]


CASES = [
    Case("superscript digit as a port", _new("svc", "--data", "http_port=\u00b2"), ("http_port",)),
    Case("a port of five thousand digits", _new("svc", "--data", "http_port=" + "9" * 5000), ("http_port",)),
    Case("a value ten thousand characters long", _new("svc", "--data", "service_name=" + "a" * 10_000),
         ("service_name", "at most 50")),
    Case("a trailing newline", _new("svc", "--data", "module_path=github.com/a/b\n"), ("module_path",)),
    Case("an unknown question", _new("svc", "--data", "colour=blue"), ("colour",)),
    Case("--data without =", _new("svc", "--data", "service_name"), ("KEY=VALUE",)),
    Case("a data file that is not UTF-8", _data_file(b"service_name: caf\xe9\n"), ("UTF-8", "answers.yml")),
    Case("a data file nested deeply", _data_file(b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n"), ("nests deeper",)),
    Case("a data file built to explode (aliases)",
         _data_file(b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
             b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((ord("b") + i,) * 2 + (ord("a") + i,) * 9)
             for i in range(20))), ("alias",)),
    Case("a data file of 2 MiB", _data_file(b"# " + b"x" * (2 << 20) + b"\n"), ("KiB",)),
    Case("a data file that is a list", _data_file(b"- service_name\n"), ("mapping",)),
    Case("a data file with a tab indentation error", _data_file(b"a:\n\tb: c\n"), ("line 2",)),
    Case("a data file that does not exist", _new("svc", "--data-file", "/nonexistent/answers.yml"), ("cannot read",)),
    Case("a data file that is a folder", lambda s, t: [*_new("svc")(s, t), "--data-file", str(s)], ("folder",)),
    Case("DEST under a file", _parent_is_a_file, ("is a file",)),
    Case("DEST with a name too long for the file system", _new("s" * 300), ("cannot write",)),
    Case("DEST inside the template", _inside_template, ("inside the template",)),
    Case("check an empty folder", lambda s, _t: ["check", str(s)], ("is not a generated repository",)),
    Case("check a repository's subfolder", lambda s, _t: _subfolder_of_a_repository(s), ("give its root",)),
    Case("check --jobs -1", lambda s, _t: ["check", str(s), "--jobs", "-1"], ("--jobs",)),
    Case("check --jobs 0", lambda s, _t: ["check", str(s), "--jobs", "0"], ("--jobs",)),
    Case("check --only ,", lambda s, _t: ["check", str(s), "--only", ","], ("names no check",)),
    Case("check --only ''", lambda s, _t: ["check", str(s), "--only", ""], ("names no check",)),
    Case("check --only an unknown name", lambda s, _t: ["check", str(s), "--only", "yamllint,x" * 1000], ("unknown",)),
    Case("tools install --only an unknown tool", lambda _s, _t: ["tools", "install", "--only", "yq,helmm"], ("helmm",)),
    Case("tools install --skip ,", lambda _s, _t: ["tools", "install", "--skip", ","], ("names no tool",)),
    Case("fleet update --jobs -1", lambda s, _t: ["fleet", "update", str(s), "--jobs", "-1"], ("--jobs",)),
    Case("an unknown option", lambda s, _t: ["new", str(s / "svc"), "--colour"], ("--colour",)),
    Case("a missing argument", lambda _s, _t: ["new"], ("DEST",)),
    Case("an unknown command", lambda _s, _t: ["make"], ("make",)),
    Case("update of a folder that is no repository", lambda s, _t: ["update", str(s)], ("copier-answers",)),
    Case(
        "matrix edits without an older version to make them on",
        lambda _s, t: ["matrix", "--template", str(t), "--edit-with", "true", "--random", "0"],
        ("--edit-with", "--updated-from"),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_is_one_line_and_exit_2(case: Case, template_repo: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = sorted(path.name for path in scratch.iterdir())
    argv = case.build(scratch, template_repo)
    before = sorted(path.name for path in scratch.iterdir())

    result = gosvc(*argv)

    assert_one_line_error(result, *case.words)
    assert sorted(path.name for path in scratch.iterdir()) == before, "nothing is written"
    assert not (template_repo / "services").exists()


@contextlib.contextmanager
def mounted_tmpfs(path: Path, *options: str) -> Iterator[Path]:
    """A tmpfs mounted at `path` (root only: the tests run as root in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root; CI runs these tests as root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(["size=64m", *options]), "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_parent_is_one_line(template_repo: Path, tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "ro", "ro") as parent:
        result = gosvc("new", str(parent / "svc"), "--defaults", "--template", str(template_repo))

        assert_one_line_error(result, "Read-only file system")


def test_an_empty_mount_point_is_filled_in_place(template_repo: Path, tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "orders-api", "mode=0750") as mount_point:
        inode = mount_point.stat().st_ino

        result = gosvc("new", str(mount_point), "--defaults", "--template", str(template_repo))

        assert result.returncode == 0, result.stderr
        assert (mount_point / ".copier-answers.yml").is_file()
        assert (mount_point.stat().st_ino, mount_point.stat().st_mode & 0o777) == (inode, 0o750)
        assert not list(mount_point.glob(".gosvc-new-*"))


def test_the_current_empty_folder_is_filled_in_place(template_repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "orders-api"
    folder.mkdir(mode=0o711)
    folder.chmod(0o711)
    inode = folder.stat().st_ino

    result = gosvc("new", ".", "--defaults", "--template", str(template_repo), cwd=folder)

    assert result.returncode == 0, result.stderr
    assert "service_name: orders-api" in (folder / ".copier-answers.yml").read_text()
    assert (folder.stat().st_ino, folder.stat().st_mode & 0o777) == (inode, 0o711)


def test_a_failed_render_into_an_empty_folder_leaves_it_empty(template_repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "orders-api"
    folder.mkdir()

    result = gosvc("new", str(folder), "--defaults", "--template", str(template_repo), "--data", "replicas=0")

    assert_one_line_error(result, "replicas")
    assert list(folder.iterdir()) == []


def test_a_template_clone_owned_by_someone_else_is_named_as_such(template_repo: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a clone to another user needs root; CI runs these tests as root")
    clone = tmp_path / "gosvc"
    shutil.copytree(template_repo, clone, symlinks=True)
    subprocess.run(["chown", "-R", "12345:12345", str(clone)], check=True)

    result = gosvc("new", str(tmp_path / "svc"), "--defaults", "--template", str(clone))

    assert_one_line_error(result, "belongs to another user", "safe.directory")
    env_result = subprocess.run(
        [GOSVC, "new", str(tmp_path / "svc"), "--defaults"],
        env={**os.environ, "GOSVC_TEMPLATE": str(clone)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert_one_line_error(env_result, "safe.directory")


@pytest.fixture
def generated(template_repo: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "repos" / "orders-api"
    assert gosvc("new", str(dest), "--defaults", "--template", str(template_repo)).returncode == 0
    return dest


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (b"\xff\xfe_src_path: x\n", ("UTF-8",)),
        (b"_src_path: '~nosuchuser/gosvc'\n_commit: v1.0.0\nservice_name: x\n", ("nosuchuser",)),
        (b'_src_path: "/tmp/a\\0b"\n_commit: v1.0.0\n', ("_src_path",)),
        (b"_src_path: [1, 2]\n_commit: v1.0.0\n", ("_src_path",)),
        (b"a: &x [*x]\n", ("alias",)),
        (b"just text\n", ("mapping",)),
    ],
    ids=["not-utf8", "tilde-user", "nul-byte", "list", "alias", "scalar"],
)
def test_a_hand_edited_answers_file_is_one_line(generated: Path, answers: bytes, words: tuple[str, ...]) -> None:
    (generated / ".copier-answers.yml").write_bytes(answers)
    commit_all(generated, "edited by hand")

    assert_one_line_error(gosvc("update", str(generated)), *words)
    fleet = gosvc("fleet", "status", str(generated.parent), "--json", "--template", str(generated))
    assert "Traceback" not in fleet.stderr
    assert fleet.returncode == 1, fleet.stderr
    check = gosvc("check", str(generated), "--only", "kubernetes-consistency")
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert "FAIL" in check.stdout


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("deploy/base/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: orders-api\n"),
        ("deploy/base/kustomization.yaml", "resources: [: :\n"),
        ("deploy/base/service.yaml", "\xc3\x28 not UTF-8"),
        ("internal/api/routes.go", None),
    ],
    ids=["deployment-without-spec", "kustomization-not-yaml", "service-not-utf8", "go-not-utf8"],
)
def test_manifests_check_cannot_read_are_a_failed_row(generated: Path, path: str, content: str | None) -> None:
    target = generated / path
    if content is None:
        target.write_bytes(b"package api\n// \xff\xfe\n")
    else:
        target.write_bytes(content.encode("latin-1"))

    result = gosvc("check", str(generated), "--only", "kubernetes-schema,kubernetes-consistency")

    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == (0 if content is None else 1), result.stdout
    if content is not None:
        assert "FAIL" in result.stdout


def test_output_to_a_closed_pipe_is_no_traceback() -> None:
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    result = subprocess.run(
        [GOSVC, "tools", "list", "--json"], stdout=reader.stdin, stderr=subprocess.PIPE, text=True, check=False
    )
    assert reader.stdin is not None
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in result.stderr
