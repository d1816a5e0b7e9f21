"""What proves an update's merge: every overlay still builds and agrees with its base (every update), the Go code
still builds with its tests after a change of answers (which no update carries into the files the team owns), a
file merged by structure is refuted by the overlays or the checks that read it (see disproved), and a verified update
(`--verify`): the checks the update's changes concern, run on the merged repository, and each one that passed
before the update and fails after it reported.

The checks' declared inputs choose them (`checks.concerned`): an update of the alert rules runs the Prometheus
checks, not the Go ones. They run on the merged tree with the user's result cache; only a check that does not
pass there runs again, on the commit before the update (a scratch work tree of it), to tell a check the update
broke from one that was failing already. The repository stays as merged: the report says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator import checks
from generator.project import agreements, kube
from generator.runtime import git
from generator.tools import Toolbox
from generator.update import staged
from generator.update.errors import OverlaysBrokenError, UpdateRefusedError

EXIT_CHECKS_BROKEN = 6
"""Exit status of a verified update after which a check that passed before fails."""
_SHOWN_LINES = 3


@dataclass(frozen=True)
class Verification:
    """What `--verify` ran on the merged repository, and what the update broke."""

    ran: tuple[str, ...]
    broken: tuple[tuple[str, str], ...]
    """(check, the first lines of its output) for each check that passed before the update and fails after it."""
    unverified: tuple[tuple[str, str], ...] = ()
    """(check, why) for each check that could not run after the update (a tool missing, say)."""

    def as_json(self) -> dict[str, object]:
        return {
            "ran": list(self.ran),
            "broken": [{"check": name, "output": output} for name, output in self.broken],
            "unverified": [{"check": name, "reason": reason} for name, reason in self.unverified],
        }


def verify(top: Path, project: Path, commit: str, changed: Sequence[str]) -> Verification:
    """Run the checks that read any of `changed` (paths relative to `top`) on `project`, the update applied, and on
    `commit`, where they do not pass after it."""
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    relative = [path.removeprefix(prefix) for path in changed if path.startswith(prefix)]
    cache = checks.ResultCache()
    with staged.scratch_tree(top, commit) as scratch:
        before_project = scratch / prefix
        names = checks.concerned(relative, project, before_project)
        after = checks.run_checks(checks.CheckContext.from_environment(project, cache=cache), names) if names else []
        failing = [result for result in after if result.status == checks.FAIL]
        again = [result.check for result in failing]
        context = checks.CheckContext.from_environment(before_project, cache=cache)
        before = {result.check: result.status for result in (checks.run_checks(context, again) if again else [])}
    broken = tuple(
        (result.check, "\n".join(result.output.strip().splitlines()[:_SHOWN_LINES]))
        for result in failing
        if before.get(result.check) == checks.PASS
    )
    unverified = tuple(
        (result.check, result.output.strip().splitlines()[0] if result.output.strip() else result.status)
        for result in after
        if result.status in (checks.MISSING, checks.ERROR)
    )
    return Verification(ran=tuple(result.check for result in after), broken=broken, unverified=unverified)


def disproved(
    top: Path,
    project: Path,
    commit: str,
    merged: Sequence[str],
    built_before: Mapping[str, frozenset[str]],
    toolbox: Toolbox,
    run_checks: bool,
) -> set[str]:
    """The `merged` paths (relative to `top`) that a structure-aware merge settled and that prove wrong: every
    manifest of an overlay that no longer builds or agrees with its base as it did, and with `run_checks` every file
    a check reads that passed on `commit` and fails with the merge (see verify)."""
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    wrong = set()
    deploy = [path for path in merged if path.removeprefix(prefix).startswith(f"{kube.DEPLOY}/")]
    if deploy and _newly_broken_overlays(project, built_before, toolbox):
        wrong.update(deploy)
    rest = [path for path in merged if path not in wrong]
    if run_checks and rest:
        broken = {name for name, _ in verify(top, project, commit, rest).broken}
        wrong.update(path for path in rest if broken & set(checks.concerned([path.removeprefix(prefix)], project)))
    return wrong


def refuse_broken_overlays(
    project: Path, before: Mapping[str, frozenset[str]], conflicts: Sequence[str], toolbox: Toolbox
) -> None:
    """Every kustomization that built and agreed with the base before the update still does, or OverlaysBrokenError.

    `conflicts`: the paths (relative to the repository root) the update left conflicted.

    Manifests left with conflicts do not build until someone resolves them; the
    conflicts are reported, and resolving them is when the overlays are checked.
    """
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    if any(path.removeprefix(prefix).startswith(f"{kube.DEPLOY}/") for path in conflicts):
        return
    broken = _newly_broken_overlays(project, before, toolbox)
    if broken:
        raise OverlaysBrokenError(f"after the update, {broken[0]}")


def refuse_broken_build(top: Path, project: Path, commit: str, toolbox: Toolbox) -> None:
    """After a change of answers that deletes Go files, the Go code builds with its tests (`go vet ./...`) where it
    did on `commit`, or UpdateRefusedError: files the team owns may use what the change turns off (a database's
    example wired into the API), and the update rewrites none of them. A change that deletes no Go file takes
    nothing away from them, and costs no build."""
    deleted = git.run(top, "diff", "--name-only", "--diff-filter=D", commit, "--", "*.go")
    if not deleted.strip() or not (project / "go.mod").is_file():
        return
    after = toolbox.run("go", "vet", "./...", cwd=project)
    if after.returncode == 0:
        return
    prefix = git.run(project, "rev-parse", "--show-prefix").strip()
    with staged.scratch_tree(top, commit) as before:
        if toolbox.run("go", "vet", "./...", cwd=before / prefix).returncode != 0:
            return  # it did not build before either: not this update's doing
    lines = [line.strip() for line in after.stderr.splitlines() if line.strip() and not line.startswith("#")]
    first = lines[0] if lines else "go vet ./... failed"
    raise UpdateRefusedError(
        f"the changed answers break the Go build of files you own, which no update rewrites ({first}); change them "
        "in a commit first (nothing was changed)"
    )


def _newly_broken_overlays(project: Path, before: Mapping[str, frozenset[str]], toolbox: Toolbox) -> list[str]:
    """Each kustomization that built before and now has a problem it did not have, with the first such problem."""
    broken = []
    for name, problems in agreements.kustomization_problems(project, toolbox).items():
        earlier = before.get(name, frozenset())
        if any(problem.startswith(agreements.BUILD_FAILED) for problem in earlier):
            continue  # broken before the update: not the update's doing
        new = sorted(problems - earlier)
        if new:
            broken.append(f"{name} {new[0]}")
    return broken
