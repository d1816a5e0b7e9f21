"""The kubernetes-server check against a cluster of the user's (`--kube-context`): a local control plane started
as if it were one, which the check must only dry-run against."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.checks.kubernetes.server import PSS_LABELS, SERVER_VERSIONS
from generator.servers.control_plane import ControlPlane, local_control_plane
from generator.tools import Toolbox
from tests.conftest import Render

pytestmark = [pytest.mark.slow, pytest.mark.slow_tools]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def users_cluster() -> Iterator[ControlPlane]:
    with local_control_plane(SERVER_VERSIONS[-1], Toolbox.default()) as plane:
        yield plane


def _kubectl(plane: ControlPlane, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    toolbox = Toolbox.default()
    return subprocess.run(
        [str(toolbox.find("kubectl")), "--kubeconfig", str(plane.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=toolbox.environment(),
    )


def _check_in_context(repo: Path, plane: ControlPlane) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gosvc"), "check", str(repo), "--only", "kubernetes-server", "--kube-context", "gosvc", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
    )


def test_a_users_cluster_is_only_dry_run_against(render: Render, users_cluster: ControlPlane, tmp_path: Path) -> None:
    project = render({"service_name": "orders-api"}).dest
    for namespace in ("orders-api", "orders-api-dev"):  # the namespaces a platform team made, restricted
        made = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": PSS_LABELS}}
        assert _kubectl(users_cluster, "apply", "--server-side", "-f", "-", stdin=json.dumps(made)).returncode == 0

    passed = _check_in_context(project, users_cluster)

    [row] = json.loads(passed.stdout)
    assert (passed.returncode, row["status"]) == (0, "pass"), row["output"]
    assert "dry run against context gosvc: nothing was written" in row["output"]
    for namespace in ("orders-api", "orders-api-dev"):
        listed = _kubectl(users_cluster, "get", "all,configmaps,networkpolicies", "-n", namespace, "-o", "name")
        written = [name for name in listed.stdout.split() if name != "configmap/kube-root-ca.crt"]
        assert listed.returncode == 0 and written == [], f"the check wrote to the user's cluster: {written}"

    broken = shutil.copytree(project, tmp_path / "broken" / "orders-api")
    pdb = broken / "deploy" / "base" / "poddisruptionbudget.yaml"
    pdb.write_text(pdb.read_text().replace("  maxUnavailable: 1", "  maxUnavailable: 1\n  minAvailable: 1"))

    refused = _check_in_context(broken, users_cluster)

    [row] = json.loads(refused.stdout)
    assert (refused.returncode, row["status"]) == (1, "fail")
    assert "minAvailable" in row["output"] or "maxUnavailable" in row["output"], row["output"]
