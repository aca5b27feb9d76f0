"""The package's shape: ``core/`` knows no domain, and no two modules import each other at top level.

Both tests read the source with ``ast`` (nothing is imported), so they hold whatever the app does at
run time: an import written inside a function counts for the first test as much as one at the top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import unionevents

PACKAGE = "unionevents"
ROOT = Path(unionevents.__file__).resolve().parent
#: What ``unionevents.core`` may import from its own package: itself and the unbound extensions and
#: config the app factory binds.  Everything else (the domain packages, ``demo``, ``models``, the site
#: pages) is a domain, registered or injected at start-up, never imported by core.
CORE_MAY_IMPORT = ("unionevents.core", "unionevents.extensions", "unionevents.config")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names: ``from ..accounts import x`` in core is accounts."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(path):
        base = base[:-1]  # a module's relative imports start from its package
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, path: Path, node: ast.AST, known: dict[str, Path]) -> list[str]:
    """Every module of the package an import statement loads (``from pkg import mod`` names ``pkg.mod``)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        source = _resolve(module, path, node)
        names = [source]
        for alias in node.names:
            if f"{source}.{alias.name}" in known:
                names.append(f"{source}.{alias.name}")
    return [name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level_imports(body: list[ast.stmt]):
    """Import statements run when the module is imported: the module body and its if/try/with blocks,
    not functions, classes or ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _top_level_imports(block)
        elif isinstance(node, ast.With):
            yield from _top_level_imports(node.body)


def _import_module_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """``importlib.import_module("unionevents.x")`` with a literal name: an import by another spelling."""
    found = []
    for node in ast.walk(tree):
        name = getattr(node, "func", None)
        name = getattr(name, "attr", getattr(name, "id", None))
        if (isinstance(node, ast.Call) and name in ("import_module", "__import__") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def domain_imports_from_core() -> list[str]:
    """``path:line -> module`` for every import in ``unionevents/core`` of what core may not import."""
    known = _modules()
    found = []
    for module, path in known.items():
        if not (module == "unionevents.core" or module.startswith("unionevents.core.")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        statements = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
        targets = [(node.lineno, target)
                   for node in statements for target in _targets(module, path, node, known)]
        targets += [(line, name) for line, name in _import_module_calls(tree)
                    if name == PACKAGE or name.startswith(PACKAGE + ".")]
        for line, target in targets:
            if target == PACKAGE:
                continue  # the package itself: create_app, config and extensions, no domain
            if not any(target == allowed or target.startswith(allowed + ".") for allowed in CORE_MAY_IMPORT):
                found.append(f"{path.relative_to(ROOT.parent)}:{line} -> {target}")
    return found


def top_level_import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node in _top_level_imports(tree.body):
            edges.update(target for target in _targets(module, path, node, known) if target in known)
        edges.discard(module)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative, so a deep graph cannot hit the recursion limit
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
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
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
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
                        components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(components)


def test_core_imports_no_domain_package():
    found = domain_imports_from_core()
    assert not found, (
        "unionevents/core must not import a domain (register it from the app factory or inject it):\n  "
        + "\n  ".join(found))


def test_no_import_cycles_at_top_level():
    cycles = import_cycles(top_level_import_graph())
    assert not cycles, "modules that import each other at top level:\n  " + "\n  ".join(
        " <-> ".join(cycle) for cycle in cycles)


# --- The checks above must be able to fail -----------------------------------------------------------

def test_resolves_relative_imports_from_modules_and_packages(tmp_path):
    known = dict.fromkeys(["unionevents.core.x", "unionevents.accounts", "unionevents.accounts.models"])
    module_stmt = ast.parse("from ..accounts import models").body[0]
    assert _targets("unionevents.core.x", tmp_path / "x.py", module_stmt, known) == [
        "unionevents.accounts", "unionevents.accounts.models"]
    package_stmt = ast.parse("from .models import User").body[0]
    resolved = _resolve("unionevents.accounts", tmp_path / "__init__.py", package_stmt)
    assert resolved == "unionevents.accounts.models"


def test_finds_a_cycle_and_skips_type_checking_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
    body = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
                     "def f():\n    from . import c\n"
                     "try:\n    from . import d\nexcept ImportError:\n    pass\n").body
    assert [node.names[0].name for node in _top_level_imports(body)] == ["TYPE_CHECKING", "d"]


if __name__ == "__main__":  # python -m tests.core.test_structure: the current findings
    print("imports from core to domains:", len(domain_imports_from_core()))
    for line in domain_imports_from_core():
        print("  ", line)
    found_cycles = import_cycles(top_level_import_graph())
    print("top-level import cycles:", len(found_cycles))
    for cycle in found_cycles:
        print("  ", " <-> ".join(cycle))
