"""No module of fer_lightning imports, directly or through others, a module that imports it.

Read from the source (every import statement, the ones inside functions included, since a
deferred import only hides a cycle, and every ``"fer_lightning.x:function"`` string, which
``importlib`` imports: the subcommands' table), so a cycle fails here rather than by import
order."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fer_lightning

PACKAGE = Path(fer_lightning.__file__).parent
#: ``"fer_lightning.commands.report:main"``: a module that importlib imports by this name.
IMPORTLIB = r"fer_lightning(\.\w+)+:\w+"


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (never run)."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        else:
            todo += ast.iter_child_nodes(node)
    return nodes


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` -> the modules of it it imports. ``from pkg import x``
    imports the submodule ``pkg.x`` when there is one, else ``pkg`` itself."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in run_time_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                targets |= subs or {node.module}
            elif isinstance(node, ast.Constant) and re.fullmatch(IMPORTLIB, str(node.value)):
                targets.add(node.value.split(":")[0])  # imported by importlib
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A shortest import path from ``start`` back to itself, or None."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycles = [cycle for name in sorted(graph) if (cycle := cycle_through(graph, name))]
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert cycle_through(graph, "d") is None


def test_the_check_sees_an_import_made_by_importlib(tmp_path: Path) -> None:
    package = tmp_path / "fer_lightning"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text('TABLE = {"b": "fer_lightning.b:main"}\n')
    (package / "b.py").write_text("def main():\n    from fer_lightning import a\n")
    graph = import_graph(package)
    assert cycle_through(graph, "fer_lightning.a") == [
        "fer_lightning.a",
        "fer_lightning.b",
        "fer_lightning.a",
    ]
