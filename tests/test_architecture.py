"""The layout keeps its promises: no import cycles (not even inside functions), the engine
imports no area, probes return facts without knowing about areas, and modules stay readable."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "checks"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, Path] = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _runtime_imports(tree: ast.AST) -> List[ast.stmt]:
    """Every import statement that can run: at module level or inside functions, but not under
    `if TYPE_CHECKING:` (only type checkers read those)."""
    found: List[ast.stmt] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.orelse:
                    walk(stmt)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def _resolve(module: str, is_package: bool, stmt: ast.stmt) -> Set[str]:
    """The modules of `checks` that an import statement loads."""
    targets: Set[str] = set()
    if isinstance(stmt, ast.Import):
        targets |= {alias.name for alias in stmt.names}
    elif isinstance(stmt, ast.ImportFrom):
        if stmt.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (stmt.level - 1)]
            prefix = ".".join(base + ([stmt.module] if stmt.module else []))
        else:
            prefix = stmt.module or ""
        targets.add(prefix)
        targets |= {f"{prefix}.{alias.name}" for alias in stmt.names}
    return {t for t in targets if t in MODULES}


def _graph() -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: Set[str] = set()
        for stmt in _runtime_imports(tree):
            edges |= _resolve(name, path.name == "__init__.py", stmt)
        # A module's own parent packages are always initialised before it: not a dependency.
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = edges - {name} - ancestors
    return graph


def _cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle, as the list of modules along it, or None."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    # The runner imports its helpers inside functions (for start-up time): the graph must see them,
    # or the cycle test below could not fail for such an import.
    graph = _graph()
    assert "checks.probes.side" in graph["checks.runner"]
    assert "checks.tools.explain" in graph["checks"]
    assert "checks.areas.ssh.client" in graph["checks.areas.ssh"]


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ("areas", "probes", "tools")) else "engine"


def test_the_engine_imports_no_area_and_probes_no_verdicts() -> None:
    graph = _graph()
    wrong = []
    for module, edges in graph.items():
        layer = _layer(module)
        for target in edges:
            into = _layer(target)
            if layer == "engine" and into == "areas":
                wrong.append(f"{module} (engine) imports {target}")
            if layer == "probes" and into in ("areas", "tools"):
                wrong.append(f"{module} (probe) imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_areas_are_named_like_their_ids() -> None:
    from checks.registry import AREAS, all_checks

    for spec in all_checks():
        module = spec.func.__module__
        assert module.startswith(f"checks.areas.{spec.area}"), f"{spec.id} is defined in {module}"
    assert {p.stem for p in (PACKAGE / "areas").iterdir() if p.suffix == ".py" or p.is_dir()} - {"__init__", "__pycache__"} \
        == set(AREAS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_readable(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it (STYLE.md: past ~500 lines)"
