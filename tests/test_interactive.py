"""`gosvc new` on a terminal asks every question, re-asks on a bad answer, then renders."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pexpect
import yaml

from tests.conftest import HANG_GUARD_SECONDS, PROJECT_ROOT
from tests.rules import DEFAULTS, render_macro

CLEAR_LINE = "\x15"  # Ctrl-U: drop the default the prompt offers


def _questions_asked_by_default() -> list[tuple[str, str]]:
    """(name, help) of the questions a terminal session meets with the defaults (autoscaling on, no Argo CD):
    each whose `when` holds for the default answers."""
    questions = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    return [(name, spec["help"]) for name, spec in questions.items() if not name.startswith("_") and _asked(spec)]


def _asked(spec: dict[str, Any]) -> bool:
    when = spec.get("when")
    return when is None or render_macro("", str(when), **DEFAULTS).strip() == "True"


def test_terminal_session_asks_each_question_and_reasks_after_a_bad_answer(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "pay-svc"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "generator", "new", str(dest), "--template", str(template_repo)],
        cwd=str(PROJECT_ROOT),
        encoding="utf-8",
        timeout=HANG_GUARD_SECONDS,
        dimensions=(50, 200),
        # A terminal answers prompt_toolkit's cursor position request at once; pexpect never does, and each
        # prompt would wait for the answer until it gives up.
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    for name, help_text in _questions_asked_by_default():
        child.expect_exact(help_text)
        if name == "module_path":
            child.send(CLEAR_LINE)
            child.sendline("not a module path")
            child.expect_exact("Validation error for question 'module_path'")
            child.send(CLEAR_LINE)
            child.sendline("example.com/payments/pay-svc")
        else:
            child.sendline("")  # accept the default
    child.expect_exact(f"Created pay-svc in {dest}")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["service_name"] == "pay-svc"
    assert answers["module_path"] == "example.com/payments/pay-svc"
    assert "module example.com/payments/pay-svc" in (dest / "go.mod").read_text()
