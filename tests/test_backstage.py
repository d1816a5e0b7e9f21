"""Backstage: catalog-info.yaml and the Software Template, judged by Backstage's own validators.

Every rendered catalog-info.yaml passes @backstage/catalog-model as the
catalog applies it, whatever the CI system and for unusual but valid answers;
each way of breaking it fails with the validator's words. backstage/template.yaml
is exactly what copier.yml generates, passes the scaffolder's template schema,
asks every question with its type, choices and default, and its gosvc step,
run through the custom action, renders a repository holding those answers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import resources
from generator.checks.backstage import VALIDATOR_TOOLS, check_backstage, validate
from generator.cli.main import main
from generator.template import backstage
from generator.tools import Toolbox
from tests.conftest import PROJECT_ROOT, Render, budget
from tests.rules import questions, render_macro, violation

TEMPLATE = PROJECT_ROOT / backstage.TEMPLATE_FILE
HARNESS = PROJECT_ROOT / "tests" / "backstage_action.cjs"
JINJA = re.compile(r"\{\{|\{%")


@pytest.fixture(scope="module")
def validators() -> None:
    """Backstage's npm packages, as `gosvc tools install` puts them; a test that needs them fails without."""
    toolbox = Toolbox.default()
    for tool in (*VALIDATOR_TOOLS, "backstage-scaffolder-node"):
        toolbox.find(tool)


def _catalog(repo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / "catalog-info.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.usefixtures("validators")
@pytest.mark.parametrize(
    ("ci_system", "module_path", "annotation", "value"),
    [
        ("github-actions", "github.com/acme/orders-api", "github.com/project-slug", "acme/orders-api"),
        ("gitlab-ci", "gitlab.com/acme/orders-api/v2", "gitlab.com/project-slug", "acme/orders-api"),
        ("jenkins", "git.acme.example/orders-api", "jenkins.io/job-full-name", "acme/orders-api"),
        ("none", "github.com/acme/orders-api", None, None),
    ],
)
def test_catalog_info_passes_the_catalog_validators_for_each_ci_system(
    render: Render, ci_system: str, module_path: str, annotation: str | None, value: str | None
) -> None:
    repo = render({"ci_system": ci_system, "organization": "acme", "module_path": module_path}).dest
    outcome = check_backstage(repo, Toolbox.default())
    assert outcome.passed, outcome.output
    annotations = _catalog(repo)["metadata"]["annotations"]
    ci_annotations = {key for key in annotations if key.split("/")[0] in ("github.com", "gitlab.com", "jenkins.io")}
    assert ci_annotations == ({annotation} if annotation else set())
    if annotation:
        assert annotations[annotation] == value
    assert annotations["backstage.io/kubernetes-label-selector"] == "app.kubernetes.io/name=orders-api"
    linted = Toolbox.default().run("yamllint", "--strict", "-c", ".yamllint.yml", "catalog-info.yaml", cwd=repo)
    assert linted.returncode == 0, linted.stdout


@pytest.mark.usefixtures("validators")
@pytest.mark.parametrize(
    "answers",
    [
        {"service_name": "yes", "organization": "123", "description": "Orders: #1 *fast* <b>api</b> | 50% off & more"},
        {"service_name": "null", "organization": "2001-12-14", "owner": "group:default/Team_A.b", "system": "0x1f"},
        {"organization": "true", "module_path": "example.com/yes", "owner": "user:n-s/on", "system": "system:null"},
        {
            "description": "x: y - z {a} [b] @c %d !e",
            "owner": "GROUP:ab--c/a" + "b" * 61 + "c",
            "lifecycle": "deprecated",
        },
    ],
)
def test_unusual_but_valid_answers_pass(render: Render, answers: dict[str, str]) -> None:
    repo = render(answers, name=answers.get("service_name", "orders-api")).dest
    outcome = check_backstage(repo, Toolbox.default())
    assert outcome.passed, outcome.output
    spec = _catalog(repo)["spec"]
    for question in ("owner", "system", "lifecycle"):
        if question in answers:
            assert spec[question] == answers[question]


def _replace(old: str, new: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return apply


CATALOG_MUTATIONS = {
    "owner removed": (_replace("  owner: example\n", ""), "must have required property 'owner'"),
    "spec.type removed": (_replace("  type: service\n", ""), "must have required property 'type'"),
    "an invalid entity name": (_replace("name: orders-api", "name: orders_api-"), '"metadata.name" is not valid'),
    "a bad annotation key": (
        _replace("backstage.io/kubernetes-id:", "backstage.io/kubernetes id:"),
        '"annotations.backstage.io/kubernetes id" is not valid',
    ),
    "an owner of the wrong kind": (
        _replace("owner: example", "owner: system:example"),
        "must refer to a Group or User",
    ),
    "a system no entity could be": (_replace("system: example", "system: example/a/b"), "no entity can have the name"),
    "an unknown kind": (_replace("kind: Component", "kind: Service"), "unknown kind backstage.io/v1alpha1/Service"),
    "an unknown root field": (_replace("spec:\n", "status: {}\nspec:\n"), "Unknown field status"),
    "broken YAML": (_replace("spec:\n", "spec: [\n"), "YAML error"),
}


@pytest.fixture(scope="module")
def pristine(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generator.template.render import new_project

    dest = tmp_path_factory.mktemp("backstage") / "orders-api"
    return new_project(
        dest, {"service_name": "orders-api"}, defaults=True, template=str(template_repo), quiet=True
    ).dest


@pytest.mark.usefixtures("validators")
@pytest.mark.parametrize("name", CATALOG_MUTATIONS)
def test_a_broken_catalog_info_fails_with_the_validators_words(pristine: Path, tmp_path: Path, name: str) -> None:
    mutate, said = CATALOG_MUTATIONS[name]
    repo = tmp_path / "orders-api"
    repo.mkdir()
    (repo / "catalog-info.yaml").write_text(mutate((pristine / "catalog-info.yaml").read_text(encoding="utf-8")))
    outcome = check_backstage(repo, Toolbox.default())
    assert not outcome.passed
    assert said in outcome.output


# Backstage's own rules (KubernetesValidatorFunctions: isValidObjectName, isValidNamespace) and the name and
# namespace patterns of includes/rules.jinja's entity_reference; each strategy's values must pass both.
_BACKSTAGE_NAME = st.from_regex(r"\A([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]\Z").filter(lambda n: len(n) <= 63)
_BACKSTAGE_NAMESPACE = st.from_regex(r"\A[a-z0-9]+(-+[a-z0-9]+)*\Z").filter(lambda n: len(n) <= 63)
_RULE_NAME = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")


@st.composite
def _references(draw: st.DrawFn, kinds: tuple[str, ...]) -> str:
    kind = draw(st.sampled_from(["", *kinds, *(kind.upper() for kind in kinds), *(k.title() for k in kinds)]))
    namespace = draw(st.none() | _BACKSTAGE_NAMESPACE)
    name = draw(_BACKSTAGE_NAME | _RULE_NAME)
    return (f"{kind}:" if kind else "") + (f"{namespace}/" if namespace else "") + name


@pytest.mark.usefixtures("validators")
@settings(max_examples=budget(4))
@given(
    st.lists(st.tuples(_references(("group", "user")), _references(("system",))), min_size=1, max_size=40, unique=True)
)
def test_owner_and_system_rules_agree_with_backstage(tmp_path_factory: pytest.TempPathFactory, pairs: Any) -> None:
    """Every owner and system Backstage would accept, our rule accepts, and the catalog-info.yaml the template
    writes with it (through yaml_string) passes the validators: the rule is neither looser nor stricter."""
    documents = []
    for number, (owner, system) in enumerate(pairs):
        assert violation("owner", owner) == "", owner
        assert violation("system", system) == "", system
        quoted = [
            render_macro("{% from 'includes/text.jinja' import yaml_string %}", "{{ yaml_string(value) }}", value=v)
            for v in (owner, system)
        ]
        documents.append(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: service-{number}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: {quoted[0]}\n  system: {quoted[1]}\n"
        )
    folder = tmp_path_factory.mktemp("references")
    (folder / "catalog-info.yaml").write_text("---\n".join(documents), encoding="utf-8")
    outcome = check_backstage(folder, Toolbox.default())
    assert outcome.passed, outcome.output


def test_template_yaml_is_what_copier_yml_generates() -> None:
    assert TEMPLATE.read_text(encoding="utf-8") == backstage.template_text(PROJECT_ROOT / "copier.yml")
    assert main(["backstage", "template", "--check"]) == 0


def test_check_flag_fails_in_one_line_when_the_committed_file_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PROJECT_ROOT / "copier.yml", tmp_path / "copier.yml")
    (tmp_path / "backstage").mkdir()
    drifted = TEMPLATE.read_text(encoding="utf-8").replace("default: 8080", "default: 8081")
    (tmp_path / backstage.TEMPLATE_FILE).write_text(drifted, encoding="utf-8")
    monkeypatch.setattr(resources, "CHECKOUT", tmp_path)
    assert main(["backstage", "template", "--check"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "differs from what copier.yml generates" in error
    assert (tmp_path / backstage.TEMPLATE_FILE).read_text(encoding="utf-8") == drifted
    assert main(["backstage", "template"]) == 0
    assert main(["backstage", "template", "--check"]) == 0


@pytest.mark.usefixtures("validators")
def test_template_yaml_passes_the_scaffolder_schema() -> None:
    outcome = validate(TEMPLATE, "Template", Toolbox.default())
    assert outcome.passed, outcome.output


TEMPLATE_MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "parameters neither an object nor a list": (
        lambda t: t["spec"].__setitem__("parameters", "service_name"),
        "/spec/parameters must be object",
    ),
    "a step without its action": (
        lambda t: t["spec"]["steps"][0].pop("action"),
        "must have required property 'action'",
    ),
    "a step condition of the wrong type": (
        lambda t: t["spec"]["steps"][1].__setitem__("if", 1),
        "/spec/steps/1/if must be string,boolean",
    ),
    "apiVersion missing": (lambda t: t.pop("apiVersion"), "apiVersion"),
    "a bad template name": (lambda t: t["metadata"].__setitem__("name", "gosvc go"), '"metadata.name" is not valid'),
    "no steps": (lambda t: t["spec"].pop("steps"), "must have required property 'steps'"),
}


@pytest.mark.usefixtures("validators")
@pytest.mark.parametrize("name", TEMPLATE_MUTATIONS)
def test_a_broken_template_fails_the_scaffolder_schema(tmp_path: Path, name: str) -> None:
    mutate, said = TEMPLATE_MUTATIONS[name]
    document = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    mutate(document)
    broken = tmp_path / "template.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    outcome = validate(broken, "Template", Toolbox.default())
    assert not outcome.passed
    assert said in outcome.output


def _fields() -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each form field of the template: its schema, and the `if` that shows it (None: always shown)."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for page in yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))["spec"]["parameters"]:
        for name, field in page["properties"].items():
            found[name] = (field, None)
        for branch in page.get("allOf", []):
            for name, field in branch["then"]["properties"].items():
                found[name] = (field, branch["if"])
    return found


def test_every_question_is_a_parameter_with_its_type_choices_and_default() -> None:
    fields = _fields()
    types = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    assert set(fields) == {*questions(), "repoUrl"}
    for name, spec in questions().items():
        field, shown_when = fields[name]
        assert field["type"] == types[spec["type"]], name
        choices = spec.get("choices")
        assert field.get("enum") == (
            list(choices.values() if isinstance(choices, dict) else choices) if choices else None
        )
        if isinstance(choices, dict):
            assert field["enumNames"] == list(choices)
        default = spec.get("default")
        assert field.get("default") == (None if isinstance(default, str) and JINJA.search(default) else default), name
        assert " ".join(spec["help"].split()).rstrip(".") in field["description"]
        if "when" in spec:
            terms = re.findall(r"([a-z_]+)(?: (==|!=) '([^']*)')?", spec["when"].strip("{} "))
            expected = {
                term: {"not": {"const": value}} if operator == "!=" else {"const": value or True}
                for term, operator, value in terms
                if term != "and"
            }
            assert shown_when == {"properties": expected, "required": sorted(expected)}, name
        else:
            assert shown_when is None, name


def _defaults(parameters: dict[str, Any]) -> dict[str, Any]:
    """What the form holds when nobody changes a field: each shown field's default, `if` branches included."""
    pages = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))["spec"]["parameters"]
    values = dict(parameters)
    for page in pages:
        values |= {n: f["default"] for n, f in page["properties"].items() if "default" in f and n not in values}
        for branch in page.get("allOf", []):
            if jsonschema.Draft7Validator(branch["if"]).is_valid(values):
                fields = branch["then"]["properties"].items()
                values |= {n: f["default"] for n, f in fields if "default" in f and n not in values}
    return values


def _run_action(workspace: Path, parameters: dict[str, Any], template_repo: Path) -> subprocess.CompletedProcess[str]:
    workspace.mkdir(parents=True)
    request = {
        "template": str(TEMPLATE),
        "parameters": parameters,
        "workspacePath": str(workspace),
        "input": {"template": str(template_repo)},
    }
    gosvc = Path(sys.executable).parent / "gosvc"
    toolbox = Toolbox.default()
    return subprocess.run(
        [str(toolbox.find("node")), str(HARNESS)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        env={**toolbox.environment(), "NODE_PATH": str(toolbox.npm_modules()), "GOSVC_COMMAND": str(gosvc)},
    )


@pytest.mark.usefixtures("validators")
def test_the_gosvc_action_renders_the_template_defaults(template_repo: Path, tmp_path: Path) -> None:
    parameters = _defaults({"service_name": "orders-api", "owner": "group:default/payments", "repoUrl": "x"})
    ran = _run_action(tmp_path / "workspace", parameters, template_repo)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"]["serviceName"] == "orders-api"
    answers = yaml.safe_load((tmp_path / "workspace" / ".copier-answers.yml").read_text(encoding="utf-8"))
    asked = {name: value for name, value in parameters.items() if name in questions()}
    assert {name: answers[name] for name in asked} == asked
    assert "argocd_project" not in parameters  # gitops none hides it
    assert answers["module_path"] == "github.com/example/orders-api"  # left empty: gosvc's default
    assert check_backstage(tmp_path / "workspace", Toolbox.default()).passed


@pytest.mark.usefixtures("validators")
def test_the_gosvc_action_fails_with_gosvcs_one_line_message(template_repo: Path, tmp_path: Path) -> None:
    parameters = _defaults({"service_name": "orders-api", "http_port": 80})
    ran = _run_action(tmp_path / "workspace", parameters, template_repo)
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1
    assert ran.stderr.startswith("gosvc: invalid answer for http_port:"), ran.stderr
    assert not any((tmp_path / "workspace").iterdir())
