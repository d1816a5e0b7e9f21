"""The pinned tools the checks run: the table of each tool, its version and how it is installed, and the
Toolbox that finds, installs and runs them. It imports only runtime."""

from generator.tools.toolbox import (
    PINNED_SOURCES,
    PROMETHEUS_TAGS,
    PROMETHEUS_VERSION,
    TOOLS,
    TOOLS_ENV_VAR,
    Tool,
    Toolbox,
    chosen,
    python_requirements,
)

__all__ = [
    "PINNED_SOURCES",
    "PROMETHEUS_TAGS",
    "PROMETHEUS_VERSION",
    "TOOLS",
    "TOOLS_ENV_VAR",
    "Tool",
    "Toolbox",
    "chosen",
    "python_requirements",
]
