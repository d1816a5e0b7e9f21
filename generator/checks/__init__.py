"""The checks of a generated repository: the table (what each check is, reads and runs), the runner, the result
cache, and one module per family of checks."""

from generator.checks.cache import ResultCache
from generator.checks.context import CheckContext
from generator.checks.runner import (
    ERROR,
    FAIL,
    MISSING,
    NOT_APPLICABLE,
    PASS,
    Result,
    concerned,
    exit_status,
    key_of,
    run_checks,
    select,
)
from generator.checks.table import CHECKS, Check, Cost, names, slow_checks

__all__ = [
    "CHECKS",
    "ERROR",
    "FAIL",
    "MISSING",
    "NOT_APPLICABLE",
    "PASS",
    "Check",
    "CheckContext",
    "Cost",
    "Result",
    "ResultCache",
    "concerned",
    "exit_status",
    "key_of",
    "names",
    "run_checks",
    "select",
    "slow_checks",
]
