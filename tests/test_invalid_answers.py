"""Malformed answers are refused with exit status 2, one line naming the question, and no DEST."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli.main import main

INVALID = [
    # (answers, question named in the message)
    ({"service_name": "Orders"}, "service_name"),
    ({"service_name": "orders_api"}, "service_name"),
    ({"service_name": "9orders"}, "service_name"),
    ({"service_name": "orders-"}, "service_name"),
    ({"service_name": "a" * 51}, "service_name"),
    ({"service_name": "orders\nkind: Secret"}, "service_name"),
    ({"organization": "Acme Corp"}, "organization"),
    ({"module_path": "orders"}, "module_path"),
    ({"module_path": "github.com/acme/orders api"}, "module_path"),
    ({"module_path": 'github.com/acme/x"; os.Exit(1); "'}, "module_path"),
    ({"description": "line one\nline two"}, "description"),
    ({"description": 'say "hi"'}, "description"),
    ({"description": "costs $(rm -rf /)"}, "description"),
    ({"go_version": "1.19"}, "go_version"),
    ({"http_port": "80"}, "http_port"),
    ({"http_port": "70000"}, "http_port"),
    ({"http_port": "eighty"}, "http_port"),
    ({"base_image": "ubuntu"}, "base_image"),
    ({"image_registry": "GHCR.IO/acme"}, "image_registry"),
    ({"image_registry": "ghcr.io/acme; curl evil"}, "image_registry"),
    ({"replicas": "0"}, "replicas"),
    ({"replicas": "-1"}, "replicas"),
    ({"cpu_request": "abc"}, "cpu_request"),
    ({"cpu_request": "0"}, "cpu_request"),
    ({"cpu_request": "100Mi"}, "cpu_request"),
    ({"cpu_limit": "50m"}, "cpu_limit"),
    ({"cpu_request": "2", "cpu_limit": "1500m"}, "cpu_limit"),
    ({"memory_request": "64MB"}, "memory_request"),
    ({"memory_request": "1Gi", "memory_limit": "512Mi"}, "memory_limit"),
    ({"memory_limit": "128Mi\n  privileged: true"}, "memory_limit"),
    ({"hpa_enabled": "maybe"}, "hpa_enabled"),
    ({"hpa_min_replicas": "0"}, "hpa_min_replicas"),
    ({"hpa_min_replicas": "5", "hpa_max_replicas": "3", "replicas": "4"}, "hpa_max_replicas"),
    ({"replicas": "12"}, "hpa_max_replicas"),
    ({"hpa_min_replicas": "3", "replicas": "2"}, "hpa_max_replicas"),
    ({"hpa_cpu_utilization": "0"}, "hpa_cpu_utilization"),
    ({"hpa_cpu_utilization": "101"}, "hpa_cpu_utilization"),
    ({"ci_system": "travis"}, "ci_system"),
    ({"no_such_question": "1"}, "no_such_question"),
]


@pytest.mark.parametrize(("answers", "question"), INVALID, ids=[q + "-" + str(i) for i, (_, q) in enumerate(INVALID)])
def test_invalid_answer_is_refused(
    answers: dict[str, str],
    question: str,
    template_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "svc"
    argv = ["new", str(dest), "--defaults", "--template", str(template_repo)]
    for key, value in answers.items():
        argv += ["--data", f"{key}={value}"]

    status = main(argv)

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1, err
    assert err[0].startswith("gosvc: ")
    assert question in err[0]
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == [], "no staging folder may be left behind"


def test_existing_destination_is_left_exactly_as_it_was(
    template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")

    status = main(["new", str(dest), "--defaults", "--template", str(template_repo)])

    assert status == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert (dest / "notes.txt").read_text() == "mine\n"


def test_empty_existing_destination_is_filled(template_repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "orders-api"
    dest.mkdir()

    assert main(["new", str(dest), "--defaults", "--template", str(template_repo), "--json"]) == 0
    assert (dest / ".copier-answers.yml").is_file()


def test_bad_folder_name_as_default_service_name_is_refused(
    template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "Orders_API"

    status = main(["new", str(dest), "--defaults", "--template", str(template_repo)])

    assert status == 2
    assert "service_name" in capsys.readouterr().err
    assert not dest.exists()


def test_without_defaults_and_without_a_terminal_nothing_is_asked(
    template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "svc"

    status = main(["new", str(dest), "--template", str(template_repo)])

    assert status == 2
    assert "--defaults" in capsys.readouterr().err
    assert not dest.exists()


def test_data_file_answers_are_checked_too(
    template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text("service_name: orders-api\nreplicas: many\n")
    dest = tmp_path / "svc"

    status = main(["new", str(dest), "--defaults", "--template", str(template_repo), "--data-file", str(answers)])

    assert status == 2
    assert "replicas" in capsys.readouterr().err
    assert not dest.exists()
