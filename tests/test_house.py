"""The house rules that a reader checks by eye, checked here: small modules and
short functions (STYLE.md rule 8). A function may run over 60 lines when a comment
starting with ``# long:`` on the line above its ``def`` says why."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

PACKAGE = Path(__file__).parents[1] / "src" / "atomtrain"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> List[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_modules_stay_under_400_lines() -> None:
    assert len(_modules()) > 100
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_long_functions_say_why() -> None:
    unexplained = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            explained = first > 1 and lines[first - 2].strip().startswith("# long:")
            if length > MAX_FUNCTION_LINES and not explained:
                unexplained.append(f"{path.relative_to(PACKAGE)}:{node.name} {length}")
    assert unexplained == [], (
        f"functions over {MAX_FUNCTION_LINES} lines: {unexplained}"
    )
