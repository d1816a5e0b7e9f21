"""Where a pod gets its database's URL, which holds the database's password: from a file of a mounted Secret only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DATABASE_URL_FILE = "DATABASE_URL_FILE"
"""The variable that names the file holding the database's URL, a key of the pod's Secret mounted as a file."""


def database_url_problems(pod: dict[str, Any], settings: dict[str, str]) -> Iterator[str]:
    """The database's URL, which holds its password, reaches the pod only as a file of a mounted Secret: never an
    env value or a ConfigMap key, which the API server, `kubectl describe` and the pod's environment show to
    whoever reads them; and the file the service is told of is under a Secret's mount."""
    if "DATABASE_URL" in settings:
        yield "a ConfigMap sets DATABASE_URL: the database's URL holds its password; mount it from a Secret"
    containers = [*pod["spec"].get("initContainers", []), *pod["spec"].get("containers", [])]
    secret_volumes = {volume["name"] for volume in pod["spec"].get("volumes", []) if "secret" in volume}
    for container in containers:
        env = {variable.get("name"): variable for variable in container.get("env", [])}
        if "DATABASE_URL" in env:
            yield (
                f"container {container['name']} sets DATABASE_URL in its env: the database's URL holds its "
                f"password; mount it from a Secret and set {DATABASE_URL_FILE}"
            )
        url_file = env.get(DATABASE_URL_FILE, {}).get("value")
        if url_file is None:
            continue
        mounts = [
            mount["mountPath"] for mount in container.get("volumeMounts", []) if mount.get("name") in secret_volumes
        ]
        if not any(str(url_file).startswith(str(mount).rstrip("/") + "/") for mount in mounts):
            yield f"container {container['name']} reads the database's URL from {url_file}, which no Secret mounts"
