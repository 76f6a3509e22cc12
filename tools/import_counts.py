"""Counts for issue 21's closing note: function-level imports, import cycles, long files.

    python tools/import_counts.py            # the three counts
    python tools/import_counts.py --list     # and every function-level import, by file

Function-level imports are `import` / `from ... import` statements nested inside a `def`
(at any depth) in src/bulwark, leaving out tests, migrations and conftest.py. Cycles are
read from grimp's import graph (the one import-linter checks; imports inside functions
count, as they are imports all the same): the strongly connected groups of apps (packages
under bulwark that reach each other through imports) and of modules. Long files are production
modules over 800 lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "bulwark"
LONG = 800


def production_sources() -> list[Path]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if "tests" in parts or "migrations" in parts or path.name == "conftest.py":
            continue
        found.append(path)
    return found


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, statement) of each import nested inside a function of the module."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child.lineno, ast.unparse(child)))
            walk(child, inside)

    walk(tree, False)
    return found


def module_cycles() -> tuple[list[set[str]], list[set[str]]]:
    """Strongly connected groups of modules, and of apps (size > 1 each), tests left out."""
    import grimp

    sys.path.insert(0, str(ROOT / "src"))
    graph = grimp.build_graph("bulwark", cache_dir=None)
    modules = sorted(m for m in graph.modules if ".tests" not in m and "conftest" not in m)
    edges = {
        m: {t for t in graph.find_modules_directly_imported_by(m) if t in modules}
        for m in modules
    }
    apps = sorted(m for m in graph.find_children("bulwark") if graph.find_children(m))

    def app(module: str) -> str | None:
        found = ".".join(module.split(".")[:2])
        return found if found in apps else None

    app_edges: dict[str, set[str]] = {a: set() for a in apps}
    for source, targets in edges.items():
        for target in targets:
            a, b = app(source), app(target)
            if a and b and a != b:
                app_edges[a].add(b)
    return strongly_connected(modules, edges), strongly_connected(apps, app_edges)


def strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; only the groups of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return groups


def main() -> None:
    sources = production_sources()
    per_file = {path: function_level_imports(path) for path in sources}
    total = sum(len(found) for found in per_file.values())
    long_files = [
        (len(path.read_text().splitlines()), path)
        for path in sources
        if len(path.read_text().splitlines()) > LONG
    ]
    if "--list" in sys.argv:
        for path, found in per_file.items():
            for line, statement in found:
                print(f"{path.relative_to(ROOT)}:{line}: {statement}")
    print(f"function-level imports: {total} in {sum(1 for f in per_file.values() if f)} files")
    groups, app_groups = module_cycles()
    print(f"app cycles (strongly connected groups of apps): {len(app_groups)}")
    for group in app_groups:
        print(f"  {', '.join(sorted(group))}")
    print(
        f"module cycles (strongly connected groups): {len(groups)},"
        f" {sum(len(g) for g in groups)} modules"
    )
    for group in groups:
        print(f"  {', '.join(sorted(group))}")
    print(f"files over {LONG} lines: {len(long_files)}")
    for lines, path in sorted(long_files, reverse=True):
        print(f"  {lines} {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
