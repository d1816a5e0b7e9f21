"""Migration: the API's AddRoutes and RegisterServices become methods of api.API, which api.New builds.

Templates before api.New had the server call the functions api.AddRoutes(mux,
logger) and api.RegisterServices(s), declared in files the team owns and an
update therefore never rewrites. This "after" migration rewrites, in
internal/api, those declarations and the calls the template's own tests made
of them, keeping everything else of the team's; it runs on every update and
does nothing once they are methods:

    _migrations:
      - when: "{{ _stage == 'after' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/api_methods.py"]

A declaration in a form it does not know is named on stderr with what to
change, never left to fail the build unexplained. Run with the project as
working directory.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

API = Path("internal/api")
ADD_ROUTES = re.compile(r"^func AddRoutes\((\w+) \*http\.ServeMux, (\w+) \*slog\.Logger\) \{\n", re.MULTILINE)
REGISTER_SERVICES = re.compile(r"^func RegisterServices\((\w+) grpc\.ServiceRegistrar\) \{\n", re.MULTILINE)
OLD_DECLARATION = re.compile(r"^func (AddRoutes|RegisterServices)\(", re.MULTILINE)
CALL = re.compile(r"(?<![\w.])(AddRoutes|RegisterServices)\(")
SLOG_IMPORT = re.compile(r'^\t"log/slog"\n', re.MULTILINE)


def main() -> int:
    if not API.is_dir():
        return 0
    for path in sorted(API.glob("*.go")):
        text = path.read_text(encoding="utf-8")
        migrated = _migrate(text)
        if migrated != text:
            path.write_text(migrated, encoding="utf-8")
            print(
                f"api_methods: {path}: AddRoutes and RegisterServices are now methods of API (internal/api/api.go)",
                file=sys.stderr,
            )
        if left := OLD_DECLARATION.search(migrated):
            print(
                f"api_methods: {path} still declares func {left.group(1)}: the server now calls the method "
                f"(*API).{left.group(1)} without a logger; make it one, as internal/api/api.go describes",
                file=sys.stderr,
            )
    return 0


def _migrate(text: str) -> str:
    text = ADD_ROUTES.sub(lambda match: _add_routes(text, match), text)
    text = REGISTER_SERVICES.sub(r"func (a *API) RegisterServices(\1 grpc.ServiceRegistrar) {\n", text)
    text = _rewrite_calls(text)
    if "slog." not in text:
        text = SLOG_IMPORT.sub("", text)
    return text


def _add_routes(text: str, match: re.Match[str]) -> str:
    mux, logger = match.groups()
    body = text[match.end() : text.find("\n}\n", match.end())]
    declaration = f"func (a *API) AddRoutes({mux} *http.ServeMux) {{\n"
    return declaration + (f"\t{logger} := a.logger\n" if re.search(rf"\b{logger}\b", body) else "")


def _rewrite_calls(text: str) -> str:
    """AddRoutes(mux, logger) -> (&API{logger: logger}).AddRoutes(mux); RegisterServices(s) ->
    (&API{}).RegisterServices(s); declarations are left alone."""
    out, position = [], 0
    for match in CALL.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if match.start() < position or text.startswith("func ", line_start):
            continue
        arguments, end = _arguments(text, match.end())
        if arguments is None:
            continue
        name = match.group(1)
        if name == "AddRoutes" and len(arguments) == 2:
            replacement = f"(&API{{logger: {arguments[1]}}}).AddRoutes({arguments[0]})"
        elif name == "RegisterServices" and len(arguments) == 1:
            replacement = f"(&API{{}}).RegisterServices({arguments[0]})"
        else:
            continue
        out.append(text[position : match.start()] + replacement)
        position = end
    return "".join(out) + text[position:]


def _arguments(text: str, start: int) -> tuple[list[str] | None, int]:
    """The comma-separated arguments of the call whose "(" ends just before `start`, and the index after its ")"."""
    depth, arguments, current = 0, [], start
    for index in range(start, len(text)):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                arguments.append(text[current:index].strip())
                return arguments, index + 1
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append(text[current:index].strip())
            current = index + 1
        elif char == "\n" and depth == 0:
            return None, start
    return None, start


if __name__ == "__main__":
    sys.exit(main())
