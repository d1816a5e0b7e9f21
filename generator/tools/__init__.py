"""The pinned tools the checks run: the table (a row per tool: its backend and version), the backends (one
class per way of installing a tool, each keeping it under its name and version), and the Toolbox that finds,
runs and installs them. It imports only runtime and resources."""

from generator.tools.backends import Tool
from generator.tools.table import PROMETHEUS_TAGS, PROMETHEUS_VERSION, TOOLS, chosen, python_requirements
from generator.tools.toolbox import TOOLS_ENV_VAR, Toolbox

__all__ = [
    "PROMETHEUS_TAGS",
    "PROMETHEUS_VERSION",
    "TOOLS",
    "TOOLS_ENV_VAR",
    "Tool",
    "Toolbox",
    "chosen",
    "python_requirements",
]
