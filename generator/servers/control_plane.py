"""An ephemeral Kubernetes control plane on 127.0.0.1: etcd and kube-apiserver, started and stopped by gosvc.

No kubelet, scheduler or controller manager: nothing runs, but every object
goes through what a cluster's API server does on a write (defaulting,
validation, admission with Pod Security, server-side apply).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generator.runtime.errors import GosvcError
from generator.runtime.processes import Server, free_port, start
from generator.tools import Toolbox

STARTUP_TIMEOUT_SECONDS = 120.0


class ControlPlaneError(GosvcError):
    """etcd or kube-apiserver did not start; the message ends with what it printed."""


@dataclass(frozen=True)
class ControlPlane:
    """A running API server: where it listens, a kubeconfig for it, and how long it took to become ready."""

    version: str
    server: str
    kubeconfig: Path
    seconds_to_ready: float


def apiserver_tool(kubernetes_version: str) -> str:
    """The tool name of the kube-apiserver built for `kubernetes_version` ("1.37.0" -> kube-apiserver-1.37)."""
    return "kube-apiserver-" + ".".join(kubernetes_version.split(".")[:2])


@contextmanager
def sharing_planes(versions: Sequence[str], toolbox: Toolbox) -> Iterator[dict[str, Path]]:
    """A local control plane per version, of the servers of `toolbox`, running until the block ends: their
    kubeconfigs by version, which a run of checks is given (CheckContext.planes) so that each check applies into
    them instead of starting its own."""
    with contextlib.ExitStack() as stack:
        planes = [stack.enter_context(local_control_plane(version, toolbox)) for version in versions]
        yield {plane.version: plane.kubeconfig for plane in planes}


@contextmanager
def local_control_plane(kubernetes_version: str, toolbox: Toolbox) -> Iterator[ControlPlane]:
    """The etcd and kube-apiserver of `toolbox` on free loopback ports, in a scratch folder removed afterwards."""
    apiserver = toolbox.find(apiserver_tool(kubernetes_version))
    etcd = toolbox.find("etcd")
    scratch = Path(tempfile.mkdtemp(prefix="gosvc-control-plane-"))
    servers: list[Server] = []
    try:
        started = time.monotonic()
        client, peer, secure = free_port(), free_port(), free_port()
        servers.append(start("etcd", [str(etcd), *_etcd_flags(scratch, client, peer)], scratch / "etcd.log"))
        token = secrets.token_hex(16)
        flags = _apiserver_flags(scratch, f"http://127.0.0.1:{client}", secure, token, toolbox)
        servers.append(start("kube-apiserver", [str(apiserver), *flags], scratch / "kube-apiserver.log"))
        server = f"https://127.0.0.1:{secure}"
        _wait_until_ready(server, token, servers)
        kubeconfig = _write_kubeconfig(scratch / "kubeconfig", server, token)
        yield ControlPlane(kubernetes_version, server, kubeconfig, time.monotonic() - started)
    finally:
        for started_server in reversed(servers):
            started_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _etcd_flags(scratch: Path, client: int, peer: int) -> list[str]:
    return [
        "--name", "gosvc",
        "--data-dir", str(scratch / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{client}",
        "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"gosvc=http://127.0.0.1:{peer}",
        "--log-level", "warn",
    ]  # fmt: skip


def _apiserver_flags(scratch: Path, etcd: str, port: int, token: str, toolbox: Toolbox) -> list[str]:
    key, public = scratch / "service-account.key", scratch / "service-account.pub"
    _run(toolbox, scratch, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    _run(toolbox, scratch, "openssl", "ec", "-in", str(key), "-pubout", "-out", str(public))
    tokens = scratch / "tokens.csv"
    tokens.write_text(f'{token},gosvc,gosvc,"system:masters"\n')
    return [
        "--etcd-servers", etcd,
        "--bind-address", "127.0.0.1",
        "--advertise-address", "127.0.0.1",
        "--endpoint-reconciler-type", "none",  # it refuses a loopback address, and there are no other servers
        "--secure-port", str(port),
        "--cert-dir", str(scratch / "certs"),
        "--token-auth-file", str(tokens),
        "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file", str(public),
        "--service-account-signing-key-file", str(key),
        "--service-cluster-ip-range", "10.96.0.0/16",
    ]  # fmt: skip


def _wait_until_ready(server: str, token: str, servers: list[Server]) -> None:
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # its own self-signed certificate, on loopback, for this process only
    request = urllib.request.Request(f"{server}/readyz", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        for started in servers:
            if (status := started.exited()) is not None:
                raise ControlPlaneError(f"{started.name} exited with {status}:\n{started.output()}")
        try:
            with urllib.request.urlopen(request, timeout=2, context=unverified) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read().decode(errors='replace')[-300:]}"
        except (urllib.error.URLError, OSError) as error:
            last = str(getattr(error, "reason", error))
        time.sleep(0.25)
    raise ControlPlaneError(
        f"kube-apiserver was not ready within {STARTUP_TIMEOUT_SECONDS:.0f}s (last: {last}):\n" + servers[-1].output()
    )


def _write_kubeconfig(path: Path, server: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gosvc", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "gosvc", "user": {"token": token}}],
        "contexts": [{"name": "gosvc", "context": {"cluster": "gosvc", "user": "gosvc"}}],
        "current-context": "gosvc",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def _run(toolbox: Toolbox, scratch: Path, *argv: str) -> None:
    result = toolbox.run(*argv, cwd=scratch)
    if result.returncode != 0:
        raise ControlPlaneError(f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()}")
