"""The `proto` check: the gRPC API's contract, with buf and the pinned protoc plugins.

`buf lint` finds nothing in proto/; the Go code `buf generate` makes of it with
the pinned protoc-gen-go and protoc-gen-go-grpc is exactly the code in
internal/gen, so that nobody ships a contract the code does not implement; and
when the repository has a commit, the working tree breaks no client of it
(`buf breaking` against `.git#ref=HEAD`). The generated repository's
`make check-proto` does the same in CI, against the previous commit.
"""

from __future__ import annotations

import filecmp
import subprocess
import tempfile
from pathlib import Path

from generator.outcome import Outcome
from generator.tools import find, run_tool

GENERATED = Path("internal") / "gen"


def check_proto(repo: Path) -> Outcome:
    # buf runs the plugins it finds on PATH, where run_tool puts the pinned ones: fail now if they are missing.
    find("protoc-gen-go")
    find("protoc-gen-go-grpc")
    lint = run_tool("buf", "lint", cwd=repo)
    if lint.returncode != 0:
        return Outcome(False, f"buf lint:\n{(lint.stdout + lint.stderr).strip()}")
    with tempfile.TemporaryDirectory(prefix="gosvc-proto-") as scratch:
        generated = run_tool("buf", "generate", "--output", scratch, cwd=repo)
        if generated.returncode != 0:
            return Outcome(False, f"buf generate:\n{(generated.stdout + generated.stderr).strip()}")
        stale = _differences(Path(scratch) / GENERATED, repo / GENERATED)
    if stale:
        return Outcome(False, f"{GENERATED} is not what buf generates from proto/ (`make proto`): {', '.join(stale)}")
    report = ["buf lint: no findings", f"{GENERATED}: what buf generate makes of proto/"]
    if not _has_commit(repo):
        report.append("buf breaking: no commit to compare the API with")
        return Outcome(True, "\n".join(report))
    breaking = run_tool("buf", "breaking", "--against", ".git#ref=HEAD", cwd=repo)
    if breaking.returncode != 0:
        return Outcome(False, f"buf breaking against HEAD:\n{(breaking.stdout + breaking.stderr).strip()}")
    report.append("buf breaking: no change breaks a client of HEAD")
    return Outcome(True, "\n".join(report))


def _differences(expected: Path, actual: Path) -> list[str]:
    """The files under the two folders that differ, or that only one of them has."""
    found: list[str] = []

    def walk(compared: filecmp.dircmp[str], prefix: Path) -> None:
        found.extend(str(prefix / name) + " differs" for name in compared.diff_files)
        found.extend(str(prefix / name) + " is not generated" for name in compared.right_only)
        found.extend(str(prefix / name) + " is missing" for name in compared.left_only)
        for name, sub in compared.subdirs.items():
            walk(sub, prefix / name)

    if not actual.is_dir():
        return [f"{GENERATED} is missing"]
    walk(filecmp.dircmp(expected, actual, ignore=[]), GENERATED)
    return found


def _has_commit(repo: Path) -> bool:
    probe = subprocess.run(
        ["git", "rev-parse", "--quiet", "--verify", "HEAD"], cwd=repo, capture_output=True, check=False
    )
    return probe.returncode == 0
