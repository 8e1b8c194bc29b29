"""The structure of src/dicomnet, checked: no import cycle (runtime, function-level and
TYPE_CHECKING imports all count), the layer contracts of pyproject.toml, and no private name of
one module used by another (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

SRC = Path(__file__).resolve().parent.parent / "src" / "dicomnet"


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _graph() -> dict[str, set[str]]:
    """Every module of dicomnet and those it imports (grimp: imports at any depth of the module,
    TYPE_CHECKING ones included)."""
    graph = grimp.build_graph("dicomnet", exclude_type_checking_imports=False)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"a.x"}, "a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "b": {"a"}}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_dicomnet() -> None:
    # The package itself (dicomnet/__init__) re-exports the facades lazily; it is the top.
    graph = _graph()
    assert _cycles(graph) == []


def test_layer_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency (pyproject.toml)"
    result = subprocess.run(
        [lint, "--no-cache"], capture_output=True, text=True, cwd=SRC.parent.parent, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _private_uses(path: Path, root: Path = SRC) -> list[str]:
    """``obj._name`` where ``obj`` is not self/cls and ``_name`` is not defined in this module:
    another module's private name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in defined:
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        uses.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return uses


def test_no_private_name_of_another_module_is_used() -> None:
    uses = [use for path in sorted(SRC.rglob("*.py")) for use in _private_uses(path)]
    assert uses == []


def test_the_private_name_check_sees_a_reach_in(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class A:\n    def m(self, other):\n        return self._x, other._mine\n"
        "    _mine = 1\n\ndef f(assoc):\n    return assoc._conn, assoc.conn\n"
    )
    assert _private_uses(sample, tmp_path) == ["sample.py:7: assoc._conn"]
