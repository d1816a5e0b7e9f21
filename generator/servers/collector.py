"""An OpenTelemetry Collector on loopback for the prometheus-e2e check: the service exports its spans to it over
OTLP/HTTP, as it would to the collector its OTEL_EXPORTER_OTLP_ENDPOINT names, and the collector's debug exporter
writes each span it receives to its output, which this module reads back."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from generator.runtime.processes import Server, free_port, start
from generator.tools import Toolbox

READY = "Everything is ready"
"""What the collector logs once its receiver listens."""

_SERVICE_NAME = re.compile(r"^\s*-> service\.name: Str\((.*)\)$")
_TRACE_ID = re.compile(r"^\s*Trace ID\s*: ([0-9a-f]{32})$")
_NAME = re.compile(r"^\s*Name\s*: (.*)$")


@dataclass(frozen=True)
class ReceivedSpan:
    """A span as the collector received it: the service.name of its resource, its trace ID and name."""

    service: str
    trace_id: str
    name: str


def start_collector(scratch: Path, toolbox: Toolbox) -> tuple[Server, str]:
    """Start the collector of `toolbox` with an OTLP/HTTP receiver on a free loopback port; the server and the
    endpoint to put in OTEL_EXPORTER_OTLP_ENDPOINT."""
    port = free_port()
    config = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{port}"}}}},
        "exporters": {"debug": {"verbosity": "detailed"}},
        "service": {
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["debug"]}},
        },
    }
    path = scratch / "otelcol.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    argv = [str(toolbox.find("otelcol")), f"--config={path}"]
    return start("OpenTelemetry Collector", argv, scratch / "otelcol.log"), f"http://127.0.0.1:{port}"


def is_ready(collector: Server) -> bool:
    return READY in collector.output(lines=None)


def received_spans(collector: Server) -> list[ReceivedSpan]:
    """Every span the collector has written out so far."""
    spans: list[ReceivedSpan] = []
    service = trace_id = ""
    for line in collector.output(lines=None).splitlines():
        if found := _SERVICE_NAME.match(line):
            service = found.group(1)
        elif found := _TRACE_ID.match(line):
            trace_id = found.group(1)
        elif (found := _NAME.match(line)) and trace_id:
            spans.append(ReceivedSpan(service, trace_id, found.group(1)))
            trace_id = ""
    return spans


def wait_for_trace(collector: Server, trace_id: str, timeout: float) -> list[ReceivedSpan]:
    """The spans of trace `trace_id` once the collector has received one, or none after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        spans = [span for span in received_spans(collector) if span.trace_id == trace_id]
        if spans or time.monotonic() > deadline:
            return spans
        time.sleep(0.25)
