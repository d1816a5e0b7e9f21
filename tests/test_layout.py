"""The package's layout is its architecture: each subpackage imports only those below it, none grows past what a
reader takes in at once, and each says what it owns."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "generator"
LAYERS = (
    ("runtime", "resources"),
    ("tools",),
    ("project", "merge"),
    ("template",),
    ("images", "servers"),
    ("checks",),
    ("update",),
    ("matrix",),
    ("cli",),
)
"""The subpackages from the bottom up: a module may import its own subpackage and those of lower layers only."""
MOST_LINES = 420
MOST_MODULES = 12


def _layer(subpackage: str) -> int:
    return next(index for index, names in enumerate(LAYERS) if subpackage in names)


def _modules(root: Path = PACKAGE) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _subpackage(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def _imported_subpackages(path: Path, root: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "generator" and len(parts) > 1 and (root / parts[1]).is_dir():
                found.add(parts[1])
    return found


def upward_imports(root: Path) -> list[str]:
    """Each import of a subpackage of a higher layer than the importing module's, as `module -> subpackage`, in the
    package at `root`."""
    found = []
    for path in _modules(root):
        own = _subpackage(path, root)
        if own is None:
            continue
        for imported in sorted(_imported_subpackages(path, root)):
            if _layer(imported) > _layer(own):
                found.append(f"{path.relative_to(root)} -> {imported}")
    return found


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert subpackages == {name for names in LAYERS for name in names}


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(PACKAGE) == []


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    copy = shutil.copytree(PACKAGE, tmp_path / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    errors = copy / "runtime" / "errors.py"
    late_import = "\n\ndef _late() -> None:\n    from generator import checks\n"
    errors.write_text(errors.read_text(encoding="utf-8") + late_import)

    assert upward_imports(copy) == ["runtime/errors.py -> checks"]


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_is_longer_than_a_reader_takes_in(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MOST_LINES


def test_each_folder_holds_few_modules_and_says_what_it_owns() -> None:
    for folder in sorted({path.parent for path in _modules()}):
        modules = [path for path in folder.glob("*.py") if path.name != "__init__.py"]
        assert len(modules) <= MOST_MODULES, folder
        init = folder / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} names no job"
