"""The repository's Prometheus configuration as the prometheus-e2e check runs it: only the scrape targets and
the intervals changed, and every `for:` of its rules shortened by TIME_SCALE (the output says to what)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.checks.prometheus import queries

CONFIG = Path("prometheus") / "prometheus.yml"
INTERVAL = "1s"
"""Every scrape and evaluation interval (and scrape timeout) Prometheus runs here, whatever the repository's."""
INTERVAL_SECONDS = 1.0
TIME_SCALE = 60
"""Each `for:` of the rules is divided by this, and kept at least one evaluation interval: 5m becomes 5s, five
evaluations, time enough to be seen pending."""
PROMETHEUS_DEFAULT_PORT = "9090"
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class ScrapePlan:
    """The repository's Prometheus config as run here: what changed in it, and the service's job."""

    config: dict[str, Any]
    job: str
    changed: list[str]
    """The target addresses changed."""
    faster: list[str]
    """The intervals changed to INTERVAL."""


def adapt_config(repo: Path, metrics_port: int, service: str, prometheus: str) -> ScrapePlan:
    """The config with the service's targets pointed at `service`, Prometheus' own at `prometheus`, and every
    scrape and evaluation interval, and every scrape timeout it sets, INTERVAL."""
    try:
        config = yaml.safe_load((repo / CONFIG).read_text())
    except yaml.YAMLError as error:
        raise queries.E2EFailure(f"{CONFIG} is not YAML: {error}") from error
    if not isinstance(config, dict):
        raise queries.E2EFailure(f"{CONFIG} is not a mapping")
    changed: list[str] = []
    jobs: list[str] = []
    config["global"] = global_config = config.get("global") or {}
    faster = _speed_up(global_config, "global", ("scrape_interval", "evaluation_interval"), ("scrape_timeout",))
    for scrape in config.get("scrape_configs") or []:
        job = str(scrape.get("job_name"))
        faster += _speed_up(scrape, f"job {job}", (), ("scrape_interval", "scrape_timeout"))
        for static in scrape.get("static_configs") or []:
            targets = []
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if port == str(metrics_port):
                    targets.append(service)
                    if job not in jobs:
                        jobs.append(job)
                elif port == PROMETHEUS_DEFAULT_PORT and host in ("localhost", "127.0.0.1"):
                    targets.append(prometheus)
                else:
                    targets.append(target)
                if targets[-1] != target:
                    changed.append(f"{target} -> {targets[-1]}")
            static["targets"] = targets
    if len(jobs) != 1:
        raise queries.E2EFailure(
            f"{CONFIG} scrapes the metrics port {metrics_port} in {len(jobs)} jobs, not one: "
            + (", ".join(jobs) or "Prometheus would not scrape the service")
        )
    return ScrapePlan(config, jobs[0], changed, faster)


def _speed_up(section: dict[str, Any], where: str, always: tuple[str, ...], if_set: tuple[str, ...]) -> list[str]:
    """Set the intervals `always` and those of `if_set` that `section` sets to INTERVAL; say what they were."""
    said = []
    for key in always + tuple(key for key in if_set if section.get(key) is not None):
        before = section.get(key)
        _seconds(before, 0)  # a malformed duration fails here, as Prometheus would refuse it
        said.append(f"{where} {key} {before if before is not None else '(default)'} -> {INTERVAL}")
        section[key] = INTERVAL
    return said


def write_rules(repo: Path, folder: Path, plan: ScrapePlan) -> tuple[str, float]:
    """Write the rule files the config names, `for:` shortened and group intervals INTERVAL, beside the config;
    say what changed, and return the longest shortened `for:` of a critical alert."""
    changes: dict[str, str] = {}
    intervals: list[str] = []
    critical_for = 0.0
    for entry in plan.config.get("rule_files") or []:
        for source in sorted((repo / CONFIG.parent).glob(str(entry))):
            rules = yaml.safe_load(source.read_text()) or {}
            for group in rules.get("groups") or []:
                intervals += _speed_up(group, f"group {group.get('name')}", (), ("interval",))
                for rule in group.get("rules") or []:
                    if "for" in rule:
                        shortened = max(INTERVAL_SECONDS, _seconds(rule["for"], 0) / TIME_SCALE)
                        changes[str(rule["for"])] = _duration(shortened)
                        rule["for"] = _duration(shortened)
                        if (rule.get("labels") or {}).get("severity") == "critical":
                            critical_for = max(critical_for, shortened)
            target = folder / source.relative_to(repo / CONFIG.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(rules))
    ordered = sorted(changes.items(), key=lambda change: _seconds(change[0], 0))
    said = [f"{before} -> {after}" for before, after in ordered] + intervals
    return ", ".join(said) or "no rule has a `for:`", critical_for


def _seconds(duration: object, default: float) -> float:
    """A Prometheus duration ("1m30s") in seconds; `default` when it is absent."""
    if duration is None:
        return default
    text = str(duration)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise queries.E2EFailure(f"{text!r} is not a Prometheus duration")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    minutes, rest = divmod(whole, 60)
    return (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest or not minutes else "")
