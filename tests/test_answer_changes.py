"""Which answers were edited by hand since the last update, read from the answers file's history.

What this proves that no cheaper test does: the history walk over any sequence of updates and hand edits (the
update test renders one such sequence); it needs git and no render, so it runs many.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.update import answer_changes
from tests.conftest import budget, git

KEYS = ("memory_limit", "replicas", "owner")
Step = tuple[str, str, str]
"""("update", version, "") or ("edit", key, value)."""

steps = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.sampled_from(["v1.0.0", "v2.0.0", "v3.0.0"]), st.just("")),
        st.tuples(st.just("edit"), st.sampled_from(KEYS), st.sampled_from(["0", "a", "1"])),
    ),
    max_size=6,
)


def _commit(repo: Path, answers: dict[str, str], message: str, digest: str | None) -> None:
    """Commit `answers` as the answers file, with `digest` recorded (None: none, as before digests were)."""
    header = "" if digest is None else f"# answers sha256: {digest}\n"
    (repo / ".copier-answers.yml").write_text(header + yaml.safe_dump(answers, sort_keys=False))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


@settings(max_examples=budget(25))
@given(history=steps)
def test_the_answers_as_last_written_are_found_and_only_later_edits_count(history: list[Step]) -> None:
    with _repo() as repo:
        answers = {"_commit": "v1.0.0", "_src_path": "gh:example/gosvc", **dict.fromkeys(KEYS, "0")}
        _commit(repo, answers, "generated", answer_changes.digest_of(answers))
        written = dict(answers)
        for kind, first, second in history:
            if kind == "update":  # an update, to another version or the same one with --data, records the digest
                answers = {**answers, "_commit": first}
                written = dict(answers)
            else:  # a hand edit leaves the digest of the answers before it
                answers = {**answers, first: second}
            _commit(repo, answers, kind, answer_changes.digest_of(written))

        found = answer_changes.as_written(repo, git(repo, "rev-parse", "HEAD").strip())

        assert found is not None and found.answers == written
        assert answer_changes.edited(found, answers) == {
            key: answers[key] for key in KEYS if answers[key] != written[key]
        }


def test_without_the_written_version_it_cannot_tell(tmp_path: Path) -> None:
    """A shallow clone that ends after the last update, or an answers file from before digests: None, and the
    update goes on as Copier does."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    answers = {"_commit": "v1.0.0", "replicas": "2"}
    _commit(origin, answers, "generated", answer_changes.digest_of(answers))
    _commit(origin, {**answers, "replicas": "3"}, "edit", answer_changes.digest_of(answers))
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth=1", f"file://{origin}", str(clone)], check=True)
    undigested = tmp_path / "undigested"
    undigested.mkdir()
    git(undigested, "init", "-q", "-b", "main")
    _commit(undigested, answers, "generated", None)

    assert answer_changes.as_written(clone, git(clone, "rev-parse", "HEAD").strip()) is None
    assert answer_changes.as_written(undigested, git(undigested, "rev-parse", "HEAD").strip()) is None
    found = answer_changes.as_written(origin, git(origin, "rev-parse", "HEAD").strip())
    assert found is not None and found.answers == answers, "the full history finds it"


class _repo:
    """A new git repository in a temporary folder (hypothesis runs a test many times in one tmp_path)."""

    def __enter__(self) -> Path:
        import tempfile

        self._folder = tempfile.TemporaryDirectory(prefix="gosvc-hand-edits-")
        repo = Path(self._folder.name)
        git(repo, "init", "-q", "-b", "main")
        return repo

    def __exit__(self, *_: object) -> None:
        self._folder.cleanup()
