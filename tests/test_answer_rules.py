"""The answer rules of copier.yml, tried on many values: whole-value matching, Go's module path rules, the
image reference grammar, printable text, and the escaping that puts answers into YAML and Markdown.

Module paths and image references are compared with the real implementations
(golang.org/x/mod and github.com/distribution/reference, through tests/gocheck).
"""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from ruamel.yaml import YAML

from tests.conftest import PROJECT_ROOT, budget
from tests.rules import DEFAULTS, GoCheck, questions, render_macro, validated_questions, violation

LINE_ENDS = ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", " ", "\t", "\x00"]
TEXT_MACROS = "{% from 'includes/text.jinja' import yaml_string, yaml_text, markdown_text %}"

# Values that YAML 1.1 or 1.2 reads as something other than a string.
TYPED_SCALARS = [
    "yes", "no", "on", "off", "y", "n", "true", "false", "True", "NO", "null", "Null", "~", "",
    "123", "0x1f", "0o17", "017", "1e5", "1_000", ".inf", "-.inf", ".nan", "2001-12-14", "1:20", "=", "<<",
]  # fmt: skip


@pytest.fixture(scope="module")
def gocheck(tmp_path_factory: pytest.TempPathFactory) -> GoCheck:
    return GoCheck.build(tmp_path_factory.mktemp("gocheck"))


def test_every_question_has_a_valid_example() -> None:
    assert set(DEFAULTS) == set(questions()), "tests/rules.py DEFAULTS must answer every question"
    for question in validated_questions():
        assert violation(question, DEFAULTS[question]) == "", question


@pytest.mark.parametrize("question", [q for q in validated_questions() if isinstance(DEFAULTS[q], str)])
@pytest.mark.parametrize("end", LINE_ENDS, ids=repr)
def test_every_text_rule_refuses_a_line_break_or_space_at_either_end(question: str, end: str) -> None:
    valid = DEFAULTS[question]

    assert violation(question, valid + end), f"{question} accepts {valid + end!r}"
    assert violation(question, end + valid), f"{question} accepts {end + valid!r}"


def test_rules_match_whole_values_only() -> None:
    """One way of matching text in the rules: `fullmatch`, which anchors with \\A and \\Z."""
    searches = {}
    for path in sorted((PROJECT_ROOT / "includes").glob("*.jinja")):
        text = path.read_text(encoding="utf-8")
        searches[path.name] = text.count("regex_search(")
        assert not re.search(r"regex_(search|replace)\('\^", text), f"{path.name} anchors a pattern with ^...$"
    assert {name: count for name, count in searches.items() if count} == {"quantities.jinja": 1}
    fullmatch = (PROJECT_ROOT / "includes" / "quantities.jinja").read_text(encoding="utf-8")
    assert "regex_search('\\\\A(?:' ~ pattern ~ ')\\\\Z')" in fullmatch


@pytest.mark.parametrize(
    ("question", "value", "reason"),
    [
        ("service_name", "orders\n", "DNS-1035"),
        ("service_name", "testdata", "./... skips"),  # its tests, vet and lint never ran
        ("service_name", "vendor", "./... skips"),
        ("module_path", "github.com/a/b\n", "module path"),
        ("module_path", "github.com/acme/con", "Windows"),
        ("module_path", "github.com/acme/nul.txt", "Windows"),
        ("module_path", "github.com/acme/orders~1", "short names"),
        ("module_path", "github.com/acme/vendor/orders", "vendor"),
        ("module_path", "github.com/acme/orders/v1", "major version"),
        ("module_path", "gopkg.in/orders", "gopkg.in"),
        ("module_path", "GitHub.com/acme/orders", "domain"),
        ("module_path", "acme/orders", "domain"),
        ("description", "\ufeffOrders", "invisible"),
        ("description", "Orders\u202eredro", "invisible"),
        ("description", "Orders\x85API", "control"),
        ("description", "Orders\x9bAPI", "control"),
        ("description", " Orders", "space"),
        ("description", "x" * 201, "1-200"),
        ("image_registry", "acme", "Docker Hub"),
        ("image_registry", "acme/team", "Docker Hub"),
        ("image_registry", "ghcr.io/Acme", "lowercase"),
        ("image_registry", "ghcr.io/acme-", "path components"),
        ("image_registry", "ghcr.io:70000/acme", "port"),
        ("image_registry", "ghcr.io/" + "a" * 240, "255"),
        ("cpu_request", "0.5\n", "CPU quantity"),
        ("memory_request", "64Mi\n", "memory quantity"),
        ("repository_url", "https://github.com/acme/orders api.git", "Git URL"),
        ("repository_url", "ftp://example.com/acme/orders.git", "Git URL"),
        ("repository_url", "https://github.com/acme/orders.git\n", "Git URL"),
        ("repository_url", "https://github.com/" + "a" * 300, "300"),
        ("repository_url", "https://user:token@github.com/acme/orders.git", "Git URL"),
        ("argocd_project", "Team A", "Kubernetes"),
        ("otlp_endpoint", "otel-collector.monitoring.svc:4318", "http:// or https://"),
        ("otlp_endpoint", "grpc://otel-collector:4317", "http:// or https://"),
        ("otlp_endpoint", "http://user:token@otlp.example.com", "without credentials"),
        ("otlp_endpoint", "http://otel-collector:4318?tenant=a", "query"),
        ("otlp_endpoint", "http://otel-collector:70000", "URL"),
        ("otlp_endpoint", "http://otel-collector:0", "URL"),
        ("otlp_endpoint", "http://otel-collector.monitoring.svc:4318\n", "URL"),
        ("otlp_endpoint", "http://c." + "a" * 64 + ".svc:4318", "namespace"),
        ("owner", "system:shop", "group or user"),
        ("owner", "-team", "entity reference"),
        ("owner", "group:Default/team", "entity reference"),
        ("system", "group:shop", "system"),
        ("system", "a" * 64, "entity reference"),
    ],
)
def test_refused_with_a_reason(question: str, value: str, reason: str) -> None:
    assert reason in violation(question, value)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("service_name", "yes"),
        ("service_name", "null"),
        ("organization", "123"),
        ("organization", "0x1f"),
        ("organization", "2001-12-14"),
        ("module_path", "example.com/acme/orders/v2"),
        ("module_path", "gopkg.in/orders.v3"),
        ("module_path", "git.example.com/Team_A/orders~svc"),
        ("description", "Orders API: takes orders & keeps them (v2) — 100% in Go, #1 at <scale>"),
        ("description", "Bestellungen für Großkunden, 注文サービス"),
        ("image_registry", "localhost:5000"),
        ("image_registry", "123.45.67.89:5000/acme"),
        ("image_registry", "docker.io/acme"),
        ("image_registry", "registry.example.com/acme/team__one/sub-group"),
        ("repository_url", "https://gitlab.example.com:8443/group/sub/orders.git"),
        ("repository_url", "git@github.com:acme/orders.git"),
        ("repository_url", "ssh://git@git.example.com:2222/acme/orders"),
        ("otlp_endpoint", "https://otlp.vendor.example.com"),
        ("otlp_endpoint", "http://10.0.0.7:4318/"),
        ("otlp_endpoint", "http://Otel-Collector.Observability.svc.cluster.local:4318/otlp"),
        ("otlp_endpoint", "http://otel-collector:4318"),
        ("owner", "team-payments"),
        ("owner", "group:default/team_payments"),
        ("owner", "User:alice.smith"),
        ("system", "system:shop/checkout.v2"),
        ("system", "0x1f"),
    ],
)
def test_accepted(question: str, value: str) -> None:
    assert violation(question, value) == ""


def test_the_messages_are_bounded() -> None:
    for question in ("service_name", "module_path", "description", "image_registry", "cpu_request"):
        message = violation(question, "x" * 10_000 + "\n")
        assert message and len(message) < 400 and "\n" not in message, (question, message[:100])


# Module paths: elements Go treats specially, mixed with random ones.
_SPECIAL_ELEMENTS = [
    "con", "NUL", "aux.go", "com1", "lpt9.x", "b~1", "a~", "~1", "x~12y", "vendor", "vendored", "v0", "v1", "v2",
    "v01", "v2.0", "v10", ".hidden", "trail.", "a..b", "-dash", "", "internal", "_x", "x+y", "Ünï", "a b",
]  # fmt: skip
_ELEMENT = st.one_of(
    st.sampled_from(_SPECIAL_ELEMENTS),
    st.text(alphabet="abcxyzAZ019._~-+", min_size=1, max_size=8),
)
_FIRST = st.one_of(
    st.sampled_from(["github.com", "gopkg.in", "example.com", "con.example", "Example.com", "localhost", "a..b.c"]),
    st.text(alphabet="abcz09.-_", min_size=1, max_size=12),
)
module_paths = st.builds(
    lambda first, rest: "/".join([first, *rest]), _FIRST, st.lists(_ELEMENT, min_size=0, max_size=5)
)


@settings(max_examples=budget(20))
@given(paths=st.lists(module_paths, min_size=50, max_size=50))
def test_module_path_rule_agrees_with_go(paths: list[str], gocheck: GoCheck) -> None:
    for path, verdict in zip(paths, gocheck.verdicts("module", paths), strict=True):
        go_accepts = verdict == "ok"
        # Stricter than Go on purpose: `vendor` elements break `go build`; `..` is refused by Go's documentation.
        expected = go_accepts and "vendor" not in path.split("/") and len(path) <= 200 and ".." not in path
        assert (violation("module_path", path) == "") == expected, (path, verdict, violation("module_path", path))


_HOST = st.one_of(
    st.sampled_from(["ghcr.io", "localhost", "localhost:5000", "registry.example.com:443", "acme", "GHCR.io", "[::1]"]),
    st.sampled_from(["reg.io:0", "reg.io:65536", "123.45", "a-.io", "-a.io", "x.io:080"]),
    st.text(alphabet="abz09.-:", min_size=1, max_size=12),
)
_COMPONENT = st.one_of(
    st.sampled_from(["acme", "team__one", "a.b", "a_b", "a--b", "a._b", "A", "a-", "_a", "a___b"]),
    st.text(alphabet="abz09._-", min_size=1, max_size=8),
)
registries = st.builds(lambda host, rest: "/".join([host, *rest]), _HOST, st.lists(_COMPONENT, max_size=3))


@settings(max_examples=budget(20))
@given(values=st.lists(registries, min_size=50, max_size=50))
def test_image_registry_rule_agrees_with_the_reference_grammar(values: list[str], gocheck: GoCheck) -> None:
    name = DEFAULTS["service_name"]
    for value, verdict in zip(values, gocheck.verdicts("image", [f"{v}/{name}" for v in values]), strict=True):
        host = value.split("/")[0]
        port = host.partition(":")[2]
        expected = (
            verdict == f"ok {host}"  # valid, and Docker reads the first element as the registry, not a user
            and host == host.lower()
            and "[" not in host  # no IPv6 literals: they are globs in the CI pipelines' shell lines
            and (not port or 0 < int(port) <= 65535)
            and len(f"{value}/{name}") <= 255
        )
        assert (violation("image_registry", value) == "") == expected, (value, verdict)


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@settings(max_examples=budget(300))
@given(text=st.text(min_size=1, max_size=60))
def test_description_accepts_only_visible_one_line_text(text: str) -> None:
    if violation("description", text) == "":
        assert text == text.strip() and text.isprintable()
        assert not {unicodedata.category(char) for char in text} & _INVISIBLE
        assert not set(text) & set('"`$\\')


_YAML_12 = YAML(typ="safe", pure=True)


@settings(max_examples=budget(300))
@given(value=st.one_of(st.sampled_from(TYPED_SCALARS), st.text(st.characters(codec="utf-8"))))
def test_yaml_string_is_read_back_as_the_same_string(value: str) -> None:
    if not value.isprintable():
        return  # answers are printable: every text rule refuses the rest
    document = "key: " + render_macro(TEXT_MACROS, "{{ yaml_string(value) }}", value=value) + "\n"

    assert yaml.safe_load(document) == {"key": value}, document  # YAML 1.1, as PyYAML and Copier read it
    assert _YAML_12.load(io.StringIO(document)) == {"key": value}, document  # YAML 1.2, as Go's yaml.v3 reads it


@settings(max_examples=budget(200))
@given(words=st.lists(st.text(st.sampled_from("abcXYZ019#*:-'&|>!%@?,.\u00e9\u2026"), min_size=1, max_size=30)))
@example(words=["Orders"] * 40)
@example(words=["#" + "x" * 150, "y"])
def test_yaml_text_is_read_back_as_the_same_string_in_short_lines(words: list[str]) -> None:
    """A description up to its rule's 200 characters, once a line yamllint refused at 120 (catalog-info.yaml)."""
    value = " ".join(words)[:200].strip()
    if violation("description", value):
        return
    document = "metadata:\n  description: " + render_macro(TEXT_MACROS, "{{ yaml_text(value, 4) }}", value=value) + "\n"

    assert yaml.safe_load(document) == {"metadata": {"description": value}}, document
    assert _YAML_12.load(io.StringIO(document)) == {"metadata": {"description": value}}, document
    assert all(len(line) <= 120 or " " not in line.strip() for line in document.splitlines()), document


def test_yaml_string_leaves_plain_names_plain() -> None:
    for value in ("orders-api", "ghcr.io/acme/orders-api:main", "github.com/acme/orders-api"):
        assert render_macro(TEXT_MACROS, "{{ yaml_string(value) }}", value=value) == value


_MARKDOWN = MarkdownIt("commonmark").enable("table").enable("strikethrough")


@settings(max_examples=budget(300))
@given(
    description=st.one_of(
        st.sampled_from(["# Orders", "- list", "+ plus", "1. first", "2) second", "> quote", "=== x", "<b>bold</b>",
                         "a *b* _c_ [d](e) ![f](g) | h | ~~i~~ &amp; <http://x>", "***", "---"]),
        st.text(alphabet="abc #*_[]()<>|~&!+-=.0123456789:/", min_size=1, max_size=40),
    )
)  # fmt: skip
def test_description_shows_in_the_readme_as_written(description: str) -> None:
    if violation("description", description):
        return
    rendered = render_macro(TEXT_MACROS, "{{ markdown_text(value) }}", value=description)

    tokens = _MARKDOWN.parse(rendered + "\n")
    assert [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"], rendered
    children = tokens[1].children or []
    assert {child.type for child in children} <= {"text"}, (rendered, [child.type for child in children])
    assert "".join(child.content for child in children) == description, rendered


def test_readme_quotes_the_description_through_the_escaping_macro() -> None:
    readme = (PROJECT_ROOT / "template" / "README.md.jinja").read_text(encoding="utf-8")
    uses = re.findall(r"\{\{[^}]*description[^}]*\}\}", readme)
    assert uses and all("markdown_text(description)" in use or "description[-1:]" in use for use in uses), uses


def test_every_yaml_template_quotes_whole_answers() -> None:
    """Every YAML value that is exactly an answer goes through yaml_string."""
    answers = "|".join(name for name in questions() if isinstance(DEFAULTS[name], str))
    bare = re.compile(rf":\s+\{{\{{\s*({answers})\s*\}}\}}\s*$|^\s*-\s+\{{\{{\s*({answers})\s*\}}\}}\s*$", re.M)
    for path in sorted((PROJECT_ROOT / "template").rglob("*.jinja")):
        if re.search(r"\.ya?ml(\.jinja)?$|\.yml\}|gitlab-ci", path.name) or path.parent.name == "workflows":
            found = bare.findall(path.read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(PROJECT_ROOT)} writes {found} into YAML unquoted"


def test_tracing_keeps_the_port_of_jaegers_ui_free() -> None:
    assert "16686" in violation("tracing", "otlp", http_port=16686)
    assert "16686" in violation("tracing", "otlp", metrics_port=16686)
    assert violation("tracing", "off", http_port=16686) == ""


def test_ports_differ_only_among_the_servers_the_api_runs() -> None:
    assert "http_port" in violation("grpc_port", 8080, api="both", http_port=8080)
    assert violation("grpc_port", 8080, api="grpc", http_port=8080) == ""  # http_port is not asked
    assert "grpc_port" in violation("metrics_port", 50051, api="grpc", grpc_port=50051)
    assert violation("metrics_port", 8080, api="grpc", http_port=8080) == ""
    assert "http_port" in violation("metrics_port", 8080, api="http", http_port=8080)
    assert violation("tracing", "otlp", api="grpc", http_port=16686) == ""


COLLECTOR = "{% from 'includes/tracing.jinja' import collector_namespace, collector_port %}"


@pytest.mark.parametrize(
    ("url", "namespace", "port"),
    [
        ("http://otel-collector.monitoring.svc:4318", "monitoring", "4318"),
        ("http://Otel.Observability.svc.cluster.local:4318/otlp", "observability", "4318"),
        ("https://otlp.vendor.example.com", "", "443"),
        ("http://otel-collector", "", "80"),
        ("http://otel-collector.monitoring:4318", "", "4318"),
        ("http://svc.monitoring.svc.example.com:4318", "", "4318"),
        ("http://10.0.0.7:4318/", "", "4318"),
    ],
)
def test_the_network_policy_reaches_the_collector_where_the_endpoint_says(url: str, namespace: str, port: str) -> None:
    assert render_macro(COLLECTOR, "{{ collector_namespace(url) }}", url=url) == namespace
    assert render_macro(COLLECTOR, "{{ collector_port(url) }}", url=url) == port


_LABEL = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=budget(60))
@given(
    service=_LABEL,
    namespace=_LABEL,
    suffix=st.sampled_from([".svc", ".svc.cluster.local"]),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    scheme=st.sampled_from(["http", "https"]),
)
def test_every_in_cluster_endpoint_is_accepted_and_reached(
    service: str, namespace: str, suffix: str, port: int | None, scheme: str
) -> None:
    url = f"{scheme}://{service}.{namespace}{suffix}" + (f":{port}" if port else "")
    assert violation("otlp_endpoint", url) == ""
    assert render_macro(COLLECTOR, "{{ collector_namespace(url) }}", url=url) == namespace
    expected = port or (443 if scheme == "https" else 80)
    assert render_macro(COLLECTOR, "{{ collector_port(url) }}", url=url) == str(expected)
