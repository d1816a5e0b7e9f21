"""What the prometheus-e2e check asks a running Prometheus through its HTTP API: queries, target health, alerts
and rule evaluations; and the failure that ends the check."""

from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime
from typing import Any

from generator.runtime.processes import http_get

POLL_SECONDS = 0.1
"""How often a wait asks again: a tenth of an interval, so that no wait overshoots what it waits for by much."""


class E2EFailure(Exception):
    """A step of the check found something wrong; the message says what."""


def pages_someone(alert: dict[str, Any]) -> bool:
    return bool(alert.get("labels", {}).get("severity") == "critical" and alert.get("state") in ("pending", "firing"))


def describe_alerts(alerts: list[dict[str, Any]]) -> str:
    return "; ".join(f"{alert['labels'].get('alertname')} is {alert['state']}" for alert in alerts)


def evaluated_since(base: str, moment: float) -> bool:
    """Whether every rule group has been evaluated since `moment` (time.time())."""
    groups = _api(base, "rules").get("groups") or []
    return bool(groups) and all(parse_timestamp(group.get("lastEvaluation", "")) > moment for group in groups)


def parse_timestamp(rfc3339: str) -> float:
    """Seconds since the epoch of Prometheus' RFC 3339 time stamps (nanoseconds cut to microseconds)."""
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    if match is None:
        return 0.0
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}").timestamp()


def _api(base: str, path: str, **params: str) -> dict[str, Any]:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    status, body = http_get(url, timeout=10)
    if status != 200:
        raise E2EFailure(f"Prometheus answered {status} to {url}: {body[:300]}")
    data = json.loads(body).get("data")
    return data if isinstance(data, dict) else {}


def instant_query(base: str, promql: str) -> list[dict[str, Any]]:
    result = _api(base, "query", query=promql).get("result")
    return result if isinstance(result, list) else []


def scalar_value(base: str, promql: str) -> float:
    """The value of a query with one result; -1 while it has none."""
    result = instant_query(base, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else -1.0


def target_up(base: str, job: str) -> bool:
    return scalar_value(base, f"up{{job={json.dumps(job)}}}") == 1


def scrape_errors(base: str, job: str) -> str:
    targets = _api(base, "targets", state="active").get("activeTargets") or []
    said = [
        f"{target.get('scrapeUrl')} {target.get('health')}: {target.get('lastError') or 'no error'}"
        for target in targets
        if target.get("labels", {}).get("job") == job
    ]
    return "; ".join(said) or f"no target of job {job}"


def has_counted(base: str, promql: str, count: int) -> bool:
    return scalar_value(base, promql) >= count


def active_alerts(base: str) -> list[dict[str, Any]]:
    alerts = _api(base, "alerts").get("alerts")
    return alerts if isinstance(alerts, list) else []


def series_text(result: list[dict[str, Any]]) -> str:
    return ", ".join(
        "{" + ", ".join(f'{key}="{value}"' for key, value in sorted(item["metric"].items())) + "}" for item in result
    )
