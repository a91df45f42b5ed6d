"""The shape of the code: small modules, short functions, imports that point one way.

- no module of ``fiscalsafe/`` over :data:`MAX_MODULE_LINES` lines;
- no function over :data:`MAX_FUNCTION_LINES` lines (from its ``def`` to its last line,
  nested functions included), unless it is a measured hot loop: its body starts with, or
  the line above its ``def`` (or decorators) holds, a comment ``# hot loop: ...`` whose
  reason gives a measurement (a number: what splitting it cost);
- layers import one way only: ``cli`` -> ``pipeline`` -> ``verify`` -> ``formats`` ->
  ``crypto``/``minisign``; the test-data generators (``samples``) are used by ``cli`` only
  (``test_package_layout`` pins where); ``errors``, ``fsio`` and ``units`` serve all.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fiscalsafe"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
HOT_LOOP = re.compile(r"#\s*hot loop:\s*(?P<reason>.*\S)")

#: Modules not yet held to the size rules, while they are split into smaller ones; a
#: path ending in ``/`` covers a whole package. Each entry is removed once its split is in.
PENDING = {}

#: Rank of each layer: a module may import its own layer and those of lower rank.
LAYERS = {
    "__main__": 6,
    "cli": 5,
    "report": 4,  # what a report says and draws, from the pipeline's results
    "samples": 3,  # beside pipeline: only cli may import it
    "pipeline": 3,
    "verify": 2,
    "formats": 1,
    "crypto": 0,
    "minisign": 0,
}
#: Used by every layer, and importing none of them.
SHARED = {
    "__init__",
    "__version__",
    "errors",
    "fsio",
    "i18n",
    "localformat",
    "oscompat",
    "units",
}


def modules() -> list[tuple[str, str, ast.Module]]:
    """(path relative to the package, source, tree) of every module."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        out.append((path.relative_to(PACKAGE).as_posix(), source, ast.parse(source, str(path))))
    return out


def pending(rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in PENDING)


def hot_loop_reason(func: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    """The reason of a ``# hot loop:`` comment above the function or opening its body."""
    first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body  # after the docstring
    above = lines[first - 2 : first - 1] if first > 1 else []
    opening = lines[func.lineno - 1 : body[0].lineno - 1] if body else []
    for line in [*above, *opening]:
        match = HOT_LOOP.search(line)
        if match:
            return match.group("reason")
    return ""


def long_functions(rel: str, source: str, tree: ast.Module) -> list[str]:
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        if length <= MAX_FUNCTION_LINES:
            continue
        reason = hot_loop_reason(node, lines)
        if not re.search(r"\d", reason):
            found.append(f"{rel}:{node.lineno} {node.name} is {length} lines")
    return found


def layer_of_module(rel: str) -> str:
    return rel.split("/", 1)[0].removesuffix(".py")


def layer_of_import(name: str) -> str | None:
    """The layer an absolute import of ``fiscalsafe`` code reaches (None: not ours)."""
    parts = name.split(".")
    if parts[0] != "fiscalsafe":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import of ``fiscalsafe`` code, lazy ones included."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"relative import at line {node.lineno}"
            if node.module == "fiscalsafe":  # from fiscalsafe import minisign, __version__
                out += [(node.lineno, f"fiscalsafe.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def layer_violations(rel: str, tree: ast.Module) -> list[str]:
    own = layer_of_module(rel)
    found = []
    for line, name in imports(tree):
        target = layer_of_import(name)
        if target is None or target == own:
            continue
        if target not in LAYERS and target not in SHARED:
            found.append(f"{rel}:{line} imports {name}: no layer known for it")
        elif own in SHARED and target not in SHARED:
            found.append(f"{rel}:{line} imports {name}: a shared module imports no layer")
        elif target == "samples" and own != "cli":
            found.append(f"{rel}:{line} imports {name}: only cli uses the generators")
        elif target in LAYERS and own in LAYERS and LAYERS[target] > LAYERS[own]:
            found.append(f"{rel}:{line} imports {name}, a layer above {own}")
        elif own == "samples" and target == "pipeline" or own == "pipeline" and target == "samples":
            found.append(f"{rel}:{line} imports {name}: samples and pipeline are apart")
    return found


def test_no_module_is_over_the_line_limit() -> None:
    too_long = [
        f"{rel} is {len(source.splitlines())} lines"
        for rel, source, _tree in modules()
        if len(source.splitlines()) > MAX_MODULE_LINES and not pending(rel)
    ]
    assert too_long == []


def test_no_function_is_over_the_line_limit_unless_a_measured_hot_loop() -> None:
    too_long = []
    for rel, source, tree in modules():
        if not pending(rel):
            too_long += long_functions(rel, source, tree)
    assert too_long == []


def test_every_pending_entry_still_names_code() -> None:
    for entry in PENDING:
        assert (PACKAGE / entry).exists(), f"{entry} is gone: remove it from PENDING"


def test_imports_point_one_way() -> None:
    violations = []
    for rel, _source, tree in modules():
        violations += layer_violations(rel, tree)
    assert violations == []


# The checks themselves, on small made-up modules.


def _tree(source: str) -> ast.Module:
    return ast.parse(source)


def _function(body_lines: int, *, before: str = "", opening: str = "") -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines))
    return f"{before}def f():\n{opening}{body}"


def test_a_long_function_is_reported_with_its_length() -> None:
    source = _function(MAX_FUNCTION_LINES)
    assert long_functions("m.py", source, _tree(source)) == [
        f"m.py:1 f is {MAX_FUNCTION_LINES + 1} lines"
    ]
    source = _function(MAX_FUNCTION_LINES - 1)
    assert long_functions("m.py", source, _tree(source)) == []


@pytest.mark.parametrize(
    ("before", "opening"),
    [
        ("# hot loop: splitting costs 9% per member (1M members)\n", ""),
        ("", "    # hot loop: splitting costs 9% per member (1M members)\n"),
        ("", '    """Doc."""\n    # hot loop: a call per ticket costs 12 ms per 100k\n'),
    ],
)
def test_a_measured_hot_loop_may_be_long(before: str, opening: str) -> None:
    source = _function(MAX_FUNCTION_LINES, before=before, opening=opening)
    assert long_functions("m.py", source, _tree(source)) == []


@pytest.mark.parametrize(
    ("before", "opening"),
    [
        ("# hot loop: it is fast\n", ""),  # no measurement
        ("# hot loop:\n", ""),
        ("# a hot path\n", ""),
        ("# hot loop: 5% slower\n\n", ""),  # not on the line above
    ],
)
def test_an_unmeasured_or_misplaced_hot_loop_mark_is_not_enough(before: str, opening: str) -> None:
    source = _function(MAX_FUNCTION_LINES, before=before, opening=opening)
    [problem] = long_functions("m.py", source, _tree(source))
    assert problem.endswith(f"f is {MAX_FUNCTION_LINES + 1} lines")


def test_nested_functions_count_in_their_enclosing_function() -> None:
    inner = "".join(f"        y{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    source = f"def register():\n    def command():\n{inner}"
    problems = long_functions("m.py", source, _tree(source))
    assert [p.split(" ")[1] for p in problems] == ["register", "command"]


@pytest.mark.parametrize(
    ("rel", "source", "reason"),
    [
        ("formats/x.py", "from fiscalsafe.verify import findings", "a layer above formats"),
        ("verify/x.py", "from fiscalsafe.pipeline.state import StateStore", "a layer above"),
        ("minisign/x.py", "from fiscalsafe.formats import paths", "a layer above minisign"),
        ("pipeline/x.py", "def f():\n    from fiscalsafe.cli import main", "a layer above"),
        ("pipeline/x.py", "from fiscalsafe.samples import sample", "only cli uses"),
        ("verify/x.py", "import fiscalsafe.samples.tamper", "only cli uses"),
        ("samples/x.py", "from fiscalsafe.pipeline import backup", "apart"),
        ("fsio.py", "from fiscalsafe import crypto", "a shared module imports no layer"),
        ("formats/x.py", "from fiscalsafe.newlayer import thing", "no layer known"),
    ],
)
def test_an_import_against_the_layers_is_reported(rel: str, source: str, reason: str) -> None:
    [problem] = layer_violations(rel, _tree(source))
    assert reason in problem


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("cli/x.py", "from fiscalsafe.pipeline.backup import backup_dossier"),
        ("cli/x.py", "from fiscalsafe.samples import sample"),
        ("pipeline/x.py", "from fiscalsafe import __version__, fsio, minisign"),
        ("verify/x.py", "from fiscalsafe.formats import journal as fj"),
        ("minisign/x.py", "from fiscalsafe.minisign.fileformat import SIG_ALG"),
        ("formats/x.py", "from fiscalsafe.errors import MalformedError\nimport json"),
    ],
)
def test_imports_that_point_down_are_allowed(rel: str, source: str) -> None:
    assert layer_violations(rel, _tree(source)) == []
