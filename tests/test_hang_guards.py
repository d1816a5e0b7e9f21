"""The tests bound how long they wait on a command by HANG_GUARD_SECONDS alone.

A bound of a test's own (a minute for `gosvc new`) is a timing assertion in disguise: CI runs four lanes of
tests on two cores, and such a bound failed there on a command that takes seconds on a quiet machine.
"""

from __future__ import annotations

import ast

from tests.conftest import PROJECT_ROOT


def own_bounds(source: str) -> list[int]:
    """Lines of `source` that give a wait a number of seconds: `timeout=<number>`, `<clock>() + <number>`."""
    nodes = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.keyword | ast.BinOp)]
    return sorted(node.lineno for node in nodes if _timeout_number(node) or _clock_plus_number(node))


def _timeout_number(node: ast.AST) -> bool:
    return isinstance(node, ast.keyword) and node.arg == "timeout" and _is_number(node.value)


def _clock_plus_number(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _is_clock(node.left) and _is_number(node.right)
    )


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _is_clock(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("monotonic", "time", "perf_counter")
    )


def test_no_test_bounds_a_wait_by_a_number_of_its_own() -> None:
    found = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for path in sorted((PROJECT_ROOT / "tests").glob("*.py"))
        if (lines := own_bounds(path.read_text()))
    }
    assert found == {}, f"use HANG_GUARD_SECONDS instead of these bounds (file: lines): {found}"


def test_the_rule_sees_each_form_of_bound() -> None:
    source = "\n".join(
        [
            "run(cmd, timeout=60)",
            "child = spawn(cmd, timeout=1.5)",
            "deadline = time.monotonic() + 60",
            "run(cmd, timeout=HANG_GUARD_SECONDS)",
            "deadline = time.monotonic() + HANG_GUARD_SECONDS",
        ]
    )
    assert own_bounds(source) == [1, 2, 3]
