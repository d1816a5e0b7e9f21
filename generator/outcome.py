"""What one check found."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """Passed or not, and the tool's own words."""

    passed: bool
    output: str = ""
