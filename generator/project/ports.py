"""The ports a generated service listens on, from its answers: one source for the checks that start it and for
the image check that runs its container."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def service_ports(answers: Mapping[str, Any]) -> tuple[int | None, int]:
    """The HTTP API port (None when the service serves gRPC alone) and the metrics port of a generated service,
    from its answers."""
    http_port = None if answers.get("api", "http") == "grpc" else int(answers.get("http_port", 8080))
    return http_port, int(answers.get("metrics_port", 9102))


def grpc_port(answers: Mapping[str, Any]) -> int | None:
    """The gRPC port of a generated service that serves gRPC, from its answers; else None."""
    return int(answers.get("grpc_port", 50051)) if answers.get("api", "http") != "http" else None
