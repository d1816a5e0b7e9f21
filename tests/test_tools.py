"""The tools as `gosvc tools install` builds them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from generator import tools

VENDOR_DISCOVERY = {"aws", "azure", "digitalocean", "gce", "ionos", "oci", "outscale", "xds"}
"""The service discoveries promtool and Prometheus are built without: each brings a cloud vendor's SDK."""


def _module_folder(module: str, version: str) -> Path:
    found = subprocess.run(
        [str(tools.Toolbox.default().find("go")), "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(found.stdout)["Dir"])


def test_prometheus_is_built_with_every_discovery_of_its_release_but_the_vendors() -> None:
    """A discovery a new release adds is built in unless it is named here: an upgrade has to decide."""
    plugins = _module_folder("github.com/prometheus/prometheus", tools.PROMETHEUS_VERSION) / "plugins"
    published = {
        match for path in plugins.glob("plugin_*.go") for match in re.findall(r"enable_(\w+)_sd", path.read_text())
    }
    assert published, f"no plugin of {plugins} has a build tag"

    enabled = {
        tag.removeprefix("enable_").removesuffix("_sd") for tag in tools.PROMETHEUS_TAGS if tag.startswith("enable_")
    }

    assert "remove_all_sd" in tools.PROMETHEUS_TAGS
    assert enabled == published - VENDOR_DISCOVERY
    assert tools.TOOLS["prometheus"].tags == tools.TOOLS["promtool"].tags == tools.PROMETHEUS_TAGS


SCRAPE_CONFIG = """
scrape_configs:
  - job_name: service
    {discovery}:
      - {settings}
"""
DISCOVERIES = {
    "kubernetes_sd_configs": "role: pod",
    "consul_sd_configs": "server: localhost:8500",
    "dns_sd_configs": "names: [service.example.org]",
    "file_sd_configs": "files: [targets.json]",
    "http_sd_configs": "url: http://localhost:8080/targets",
    "static_configs": "targets: ['localhost:8080']",
}


def _promtool_check_config(tmp_path: Path, discovery: str, settings: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / f"{discovery}.yml"
    config.write_text(SCRAPE_CONFIG.format(discovery=discovery, settings=settings))
    return subprocess.run(
        [str(tools.Toolbox.default().find("promtool")), "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_promtool_reads_the_discoveries_a_service_uses_and_names_a_vendor_one_it_lacks(tmp_path: Path) -> None:
    for discovery, settings in DISCOVERIES.items():
        checked = _promtool_check_config(tmp_path, discovery, settings)
        assert checked.returncode == 0, (discovery, checked.stdout + checked.stderr)

    vendor = _promtool_check_config(tmp_path, "ec2_sd_configs", "region: eu-west-1")

    assert vendor.returncode != 0
    assert "ec2_sd_configs" in vendor.stdout + vendor.stderr
