"""How the prometheus-e2e check reads a repository before it starts anything (durations, scrape targets, intervals,
routes), and how it waits.

The check itself runs on real servers in test_checks (every mutation named there) and in the matrix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.checks.prometheus import e2e, scrape_config, traffic
from generator.checks.prometheus.queries import E2EFailure
from generator.checks.prometheus.traffic import route_label

CONFIG = """\
global:
  scrape_interval: 10s
  evaluation_interval: 20s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [localhost:9090]
  - job_name: orders
    scrape_interval: 5s
    static_configs:
      - targets: ["orders:9102", "sidecar:7000"]
"""


def _repo(tmp_path: Path, config: str) -> Path:
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "prometheus.yml").write_text(config)
    return tmp_path


@given(st.integers(min_value=1, max_value=10**7))
def test_durations_read_back_as_written(seconds: int) -> None:
    written = scrape_config._duration(seconds)

    assert scrape_config._seconds(written, 0) == seconds


@pytest.mark.parametrize("text", ["5", "5x", "m5", "5m ", "1h-5m", ""])
def test_a_malformed_duration_fails_the_check(text: str) -> None:
    with pytest.raises(E2EFailure, match="not a Prometheus duration"):
        scrape_config._seconds(text, 0)


def test_only_target_addresses_and_intervals_change(tmp_path: Path) -> None:
    plan = scrape_config.adapt_config(_repo(tmp_path, CONFIG), 9102, "127.0.0.1:1", "127.0.0.1:2")

    assert plan.job == "orders"
    assert plan.changed == ["localhost:9090 -> 127.0.0.1:2", "orders:9102 -> 127.0.0.1:1"]
    assert plan.faster == [
        "global scrape_interval 10s -> 1s",
        "global evaluation_interval 20s -> 1s",
        "job orders scrape_interval 5s -> 1s",
    ]
    scrapes = plan.config["scrape_configs"]
    assert [static["targets"] for scrape in scrapes for static in scrape["static_configs"]] == [
        ["127.0.0.1:2"],
        ["127.0.0.1:1", "sidecar:7000"],
    ]
    assert plan.config["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert [scrape.get("scrape_interval") for scrape in scrapes] == [None, "1s"]
    assert plan.config["rule_files"] == ["alerts.yml"]


def test_default_intervals_and_set_timeouts_run_at_the_checks_interval(tmp_path: Path) -> None:
    config = (
        "scrape_configs:\n  - job_name: orders\n    scrape_timeout: 30s\n    static_configs: [{targets: [o:9102]}]\n"
    )

    plan = scrape_config.adapt_config(_repo(tmp_path, config), 9102, "a:1", "b:2")

    assert plan.faster == [
        "global scrape_interval (default) -> 1s",
        "global evaluation_interval (default) -> 1s",
        "job orders scrape_timeout 30s -> 1s",
    ]
    assert plan.config["scrape_configs"][0]["scrape_timeout"] == "1s"


def test_a_malformed_interval_fails_the_check(tmp_path: Path) -> None:
    repo = _repo(tmp_path, CONFIG.replace("scrape_interval: 5s", "scrape_interval: 5 s"))

    with pytest.raises(E2EFailure, match="'5 s' is not a Prometheus duration"):
        scrape_config.adapt_config(repo, 9102, "a:1", "b:2")


def test_a_config_that_scrapes_no_metrics_port_fails(tmp_path: Path) -> None:
    with pytest.raises(E2EFailure, match="in 0 jobs, not one: Prometheus would not scrape the service"):
        scrape_config.adapt_config(_repo(tmp_path, CONFIG), 9999, "a:1", "b:2")


def test_two_jobs_scraping_the_metrics_port_fail(tmp_path: Path) -> None:
    config = CONFIG + "  - job_name: again\n    static_configs:\n      - targets: [other:9102]\n"

    with pytest.raises(E2EFailure, match="in 2 jobs, not one: orders, again"):
        scrape_config.adapt_config(_repo(tmp_path, config), 9102, "a:1", "b:2")


def test_rules_are_shortened_but_never_below_one_evaluation(tmp_path: Path) -> None:
    repo = _repo(tmp_path, CONFIG)
    (repo / "prometheus" / "alerts.yml").write_text(
        "groups:\n  - name: g\n    interval: 30s\n    rules:\n"
        "      - alert: Down\n        expr: up == 0\n        for: 5m\n        labels: {severity: critical}\n"
        "      - alert: Slow\n        expr: up == 0\n        for: 30s\n        labels: {severity: warning}\n"
        "      - alert: Now\n        expr: up == 0\n"
    )
    plan = scrape_config.adapt_config(repo, 9102, "a:1", "b:2")

    said, critical_for = scrape_config.write_rules(repo, tmp_path / "out", plan)

    assert said == "30s -> 1s, 5m -> 5s, group g interval 30s -> 1s"
    assert critical_for == 5
    written = json.loads((tmp_path / "out" / "alerts.yml").read_text())
    assert written["groups"][0]["interval"] == "1s"
    assert [rule.get("for") for rule in written["groups"][0]["rules"]] == ["5s", "1s", None]


@pytest.mark.parametrize(
    ("pattern", "label"),
    [("/{$}", "/"), ("/orders/{id}", "/orders/{id}"), ("/files/{path...}", "/files/{path...}"), ("/a/", "/a/")],
)
def test_route_labels_are_the_patterns_path(pattern: str, label: str) -> None:
    assert route_label(pattern) == label


def test_routes_come_from_literal_patterns_outside_tests(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "routes.go").write_text(
        'mux.Handle("GET /{$}", h)\nmux.HandleFunc("GET /orders/{id}", h)\nmux.Handle("POST /orders", h)\n'
    )
    (tmp_path / "api" / "routes_test.go").write_text('mux.Handle("GET /only-in-tests", h)\n')

    assert traffic.api_routes(tmp_path) == {"/": "/{$}", "/orders/{id}": "/orders/{id}"}


def test_no_route_to_request_fails(tmp_path: Path) -> None:
    with pytest.raises(E2EFailure, match="nothing to request"):
        traffic.api_routes(tmp_path)


def test_waits_end_together_once_each_condition_has_held() -> None:
    polls = {"first": 0, "second": 0}

    def holds_from(name: str, poll: int) -> Callable[[], bool]:
        def condition() -> bool:
            polls[name] += 1
            return polls[name] >= poll

        return condition

    held = e2e._wait_for_all([("first", holds_from("first", 3), 10), ("second", holds_from("second", 1), 10)])

    assert polls == {"first": 3, "second": 1}  # a condition that held is not asked again
    assert held[1] <= held[0]


def test_a_wait_that_outlasts_its_timeout_names_what_it_waited_for() -> None:
    with pytest.raises(E2EFailure, match="timed out after 0s waiting for never"):
        e2e._wait_for_all([("always", lambda: True, 0), ("never", lambda: False, 0)])
