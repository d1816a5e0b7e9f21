"""The fleet's state as Prometheus metrics, for node_exporter's textfile collector: alert on a fleet behind.

`gosvc fleet status ROOT --metrics FILE`, run on a schedule, writes FILE whole (a temporary file renamed over it,
as the collector requires), one series per repository and state.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from generator.runtime.errors import InvalidInputError
from generator.update.fleet import FleetStatus, RepoStatus

_STATES = (
    ("gosvc_fleet_repository_behind", "1 when the repository is behind the newest template version.", "outdated"),
    ("gosvc_fleet_repository_conflicted", "1 when the repository holds conflicts an update left.", "conflicts"),
)


def metrics_text(status: FleetStatus) -> str:
    """The exposition text of `status`: an info series per repository, and one gauge per state."""
    lines = [
        "# HELP gosvc_fleet_repository_info The template version of each repository the fleet found.",
        "# TYPE gosvc_fleet_repository_info gauge",
    ]
    lines += [
        f"gosvc_fleet_repository_info{_labels(repo, version=repo.version or '', newest=status.newest or '')} 1"
        for repo in status.repos
    ]
    for name, help_text, state in _STATES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{_labels(repo)} {int(repo.state == state)}" for repo in status.repos if not repo.skipped]
    name = "gosvc_fleet_repository_attention"
    lines += [
        f"# HELP {name} 1 when someone must look at the repository (unreadable, an update interrupted or running).",
        f"# TYPE {name} gauge",
    ]
    lines += [f"{name}{_labels(repo)} {int(repo.attention)}" for repo in status.repos]
    return "\n".join(lines) + "\n"


def write_metrics(status: FleetStatus, path: Path) -> None:
    """Write the metrics of `status` to `path` whole: the collector never reads half a file."""
    path = path.absolute()
    try:
        descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise InvalidInputError(f"cannot write the metrics in {path.parent}: {error.strerror or error}") from error
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(metrics_text(status))
        Path(partial).chmod(0o644)
        Path(partial).replace(path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _labels(repo: RepoStatus, **extra: str) -> str:
    labels = {"path": str(repo.path), "service": repo.service_name or "", **extra}
    return "{" + ",".join(f'{key}="{_escaped(value)}"' for key, value in labels.items()) + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
