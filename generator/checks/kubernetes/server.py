"""The `kubernetes-server` check: every overlay applied to a real kube-apiserver, into a restricted namespace.

By default on an ephemeral control plane gosvc starts on 127.0.0.1, at the
oldest and the newest Kubernetes version the template supports, with
server-side apply. With a context of the user's own (GOSVC_KUBE_CONTEXT, as
`gosvc check --kube-context` sets it), a server-side dry run only: nothing
is written. Whatever the server refuses fails the check, and so does every
warning it returns (Pod Security "restricted" warns about a pod template
that it would refuse in a Pod).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.checks.kubernetes.argocd import APPLICATIONS, applications
from generator.project import crds, kube
from generator.runtime.outcome import Outcome
from generator.servers.control_plane import apiserver_tool, local_control_plane
from generator.tools import TOOLS, Toolbox

"""A kubeconfig context to dry-run against instead of the local control plane (`--kube-context`)."""

ESTABLISHED_TIMEOUT_SECONDS = 60.0
"""How long a CustomResourceDefinition may take to be served."""

SERVER_VERSIONS = (kube.KUBERNETES_VERSIONS[0], kube.KUBERNETES_VERSIONS[-1])
"""The oldest and the newest Kubernetes the template supports: the local control planes."""

PSS_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")} | {
    "pod-security.kubernetes.io/enforce-version": "latest"
}


def check_kubernetes_server(
    repo: Path, toolbox: Toolbox, kube_context: str = "", planes: Mapping[str, Path] | None = None
) -> Outcome:
    """Every overlay dry-run in `kube_context` when one is given, or else applied to local control planes: the
    running `planes` (kubeconfigs by Kubernetes version) where given, else planes of its own."""
    rendered, problems = kube.render_all(repo, toolbox)
    overlays = kube.deployed(rendered)
    if rendered and not overlays:
        problems.append("nothing under deploy/ that is deployed to apply: only the kustomize base renders")
    if argo := applications(repo):  # Argo CD's, into its namespace
        overlays.append(kube.Rendered(str(APPLICATIONS), [document for _, document in argo]))
    report: list[str] = []
    context = kube_context
    if context:
        for overlay in overlays:
            found, said = _apply(overlay, ["--context", context], toolbox, dry_run=True)
            problems += found
            report += said
        report.append(f"server-side dry run against context {context}: nothing was written")
        return Outcome(not problems, "\n".join([*problems, *report]))
    shared = planes or {}
    for version in SERVER_VERSIONS:
        label = f"kube-apiserver {TOOLS[apiserver_tool(version)].version}"
        with contextlib.ExitStack() as stack:
            if version in shared:
                kubeconfig, suffix = shared[version], "-" + secrets.token_hex(3)  # beside other runs' objects
                report.append(f"{label}: local, shared by this run")
            else:
                plane = stack.enter_context(local_control_plane(version, toolbox))
                kubeconfig, suffix = plane.kubeconfig, ""
                report.append(f"{label}: local, ready in {plane.seconds_to_ready:.1f}s")
            target = ["--kubeconfig", str(kubeconfig)]
            if problem := _serve_definitions(overlays, target, toolbox):
                problems.append(f"{label}: {problem}")
                continue
            for overlay in overlays:
                found, said = _apply(overlay, target, toolbox, dry_run=False, suffix=suffix)
                problems += [f"{label}: {problem}" for problem in found]
                report += [f"{label}: {line}" for line in said]
    return Outcome(not problems, "\n".join([*problems, *report]))


def _apply(
    overlay: kube.Rendered, target: list[str], toolbox: Toolbox, *, dry_run: bool, suffix: str = ""
) -> tuple[list[str], list[str]]:
    """Problems (refusals and warnings) and a summary line of applying one rendered overlay; with `suffix`, into
    namespaces so renamed."""
    objects = [_in_namespace(obj, suffix) for obj in overlay.objects]
    namespaces = sorted({str(obj["metadata"]["namespace"]) for obj in objects if obj["metadata"].get("namespace")})
    if not dry_run:  # namespaces of our own, labelled as restricted ones are
        objects = [_namespace(name) for name in namespaces] + objects
    with tempfile.TemporaryDirectory(prefix="gosvc-apply-") as scratch:
        manifest = Path(scratch) / "objects.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        result = toolbox.run(
            "kubectl", *target, "apply", "--server-side", "--field-manager", "gosvc-check",
            *(["--dry-run=server"] if dry_run else []), "--filename", str(manifest), cwd=Path(scratch),
        )  # fmt: skip
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    problems = [f"{overlay.name}: {line}" for line in said if not _APPLIED.search(line)]
    if result.returncode != 0 and not problems:
        problems.append(f"{overlay.name}: kubectl apply failed with exit status {result.returncode}")
    done = "sent server-side, not all taken," if result.returncode else "dry-run" if dry_run else "applied"
    summary = f"{overlay.name}: {len(overlay.objects)} objects {done}" + ("" if result.returncode else " server-side")
    return problems, [summary + (f" into namespace {', '.join(namespaces)}" if namespaces else "")]


def _serve_definitions(overlays: list[kube.Rendered], target: list[str], toolbox: Toolbox) -> str:
    """Apply the CustomResourceDefinitions the overlays' objects need and wait until the server serves them; a
    problem, or "" when it does. A server this process has given the same definitions already has them: planes
    shared by a run get each set once, however many repositories and overlays are applied to them. (A cluster of
    the user's own has them already, or the dry run says it lacks them.)"""
    definitions = crds.definitions_for((obj for overlay in overlays for obj in overlay.objects), toolbox)
    if not definitions:
        return ""
    published = [{key: value for key, value in item.items() if key != "status"} for item in definitions]
    content = json.dumps({"apiVersion": "v1", "kind": "List", "items": published}, sort_keys=True)
    served = (*target, hashlib.sha256(content.encode()).hexdigest())
    with _SERVED_LOCK:
        if served in _SERVED:
            return ""
    names = [f"crd/{definition['metadata']['name']}" for definition in definitions]
    with tempfile.TemporaryDirectory(prefix="gosvc-definitions-") as scratch:
        manifest = Path(scratch) / "definitions.json"
        manifest.write_text(content)
        applied = toolbox.run(
            "kubectl", *target, "apply", "--server-side", "--field-manager", "gosvc-check", "--filename",
            str(manifest), cwd=Path(scratch),
        )  # fmt: skip
        if applied.returncode != 0:
            said = (applied.stderr or applied.stdout).strip()
            return f"the published definitions of {', '.join(names)} were not taken: {said}"
        # Polled rather than `kubectl wait`, which fails at once on a definition the server has not given
        # conditions yet instead of waiting for them.
        deadline = time.monotonic() + ESTABLISHED_TIMEOUT_SECONDS
        query = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
        waiting = list(names)
        while waiting and time.monotonic() < deadline:
            state = toolbox.run("kubectl", *target, "get", waiting[0], "--output", query, cwd=Path(scratch))
            if state.returncode == 0 and state.stdout.strip() == "True":
                waiting.pop(0)
            else:
                time.sleep(0.2)
    if waiting:
        return f"{', '.join(waiting)} not established after {ESTABLISHED_TIMEOUT_SECONDS:.0f}s"
    with _SERVED_LOCK:
        _SERVED.add(served)
    return ""


_SERVED: set[tuple[str, ...]] = set()
"""The servers (kubectl's target) and the definitions (their hash) this process has seen served."""
_SERVED_LOCK = threading.Lock()


_APPLIED = re.compile(r"^\S+ (serverside-applied|unchanged|configured|created)( \(server dry run\))?$")
"""kubectl's line for an object the server took; every other line is a refusal or a warning."""


def _in_namespace(obj: dict[str, Any], suffix: str) -> dict[str, Any]:
    namespace = obj["metadata"].get("namespace")
    if not suffix or not namespace:
        return obj
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace + suffix}}


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": PSS_LABELS}}
