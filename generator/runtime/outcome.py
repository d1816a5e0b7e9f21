"""What one check found."""

from __future__ import annotations

from dataclasses import dataclass

NOTE = "note: "
"""Output lines starting so are shown even when the check passes (a stand-in used, say)."""


@dataclass(frozen=True)
class Outcome:
    """Passed or not, and the tool's own words."""

    passed: bool
    output: str = ""
    cacheable: bool = True
    """False for what a rerun may not repeat (a crashed or timed-out tool): such a result is never kept."""
