"""Where code may import from: the test-data generators stay out of the operational code."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fiscalsafe"
SAMPLES = "fiscalsafe.samples"
#: The one operational module that may use the generators, and only inside this command.
SAMPLE_COMMAND = ("cli/sample_cmd.py", "register")  # the sample command, registered there


def imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def sample_imports(tree: ast.AST) -> list[tuple[int, str | None]]:
    """(line, enclosing top-level function or None) of every import of the generators."""
    found = []
    for top in ast.iter_child_nodes(tree):
        owner = top.name if isinstance(top, ast.FunctionDef) else None
        for node in ast.walk(top):
            if any(m == SAMPLES or m.startswith(SAMPLES + ".") for m in imported_modules(node)):
                found.append((node.lineno, owner))
    return found


def test_nothing_operational_imports_the_test_data_generators() -> None:
    offenders = []
    allowed = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("samples/"):
            continue
        for line, owner in sample_imports(ast.parse(path.read_text(), str(path))):
            if (rel, owner) == SAMPLE_COMMAND:
                allowed.append(rel)
            else:
                offenders.append(f"{rel}:{line}")
    assert offenders == []
    assert allowed, "the sample command no longer imports the generators: update this test"


def test_the_generators_import_nothing_operational() -> None:
    for path in sorted((PACKAGE / "samples").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for module in imported_modules(node):
                assert not module.startswith(("fiscalsafe.pipeline", "fiscalsafe.cli")), (
                    f"{path.name} imports {module}"
                )


#: The generators' size limits: a module with one job stays short, and so does a function.
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 500, 80


def test_the_generators_are_small_modules_of_short_functions() -> None:
    too_long = []
    for path in sorted((PACKAGE / "samples").glob("*.py")):
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
