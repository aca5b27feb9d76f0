"""The package's shape: ``core/`` knows no domain, no two modules import each other (at top level or
inside a function), no module reaches for another package's private names, and no file is a big room.

The tests read the source with ``ast`` (nothing is imported), so they hold whatever the app does at
run time: an import written inside a function counts as much as one at the top, except for the
top-level test, which says which circles would break the import itself.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import unionevents

PACKAGE = "unionevents"
ROOT = Path(unionevents.__file__).resolve().parent
#: What ``unionevents.core`` may import from its own package: itself and the unbound extensions and
#: config the app factory binds.  Everything else (the domain packages, ``demo``, ``models``, the site
#: pages) is a domain, registered or injected at start-up, never imported by core.
CORE_MAY_IMPORT = ("unionevents.core", "unionevents.extensions", "unionevents.config")
#: A file past this many lines holds more than one job a newcomer can name: split it into modules.
MAX_LINES = 600
#: Files allowed over ``MAX_LINES`` for now, each with the reason.  Remove an entry once it is split.
OVER_MAX_LINES_FOR_NOW = {
    "reports/services.py": "being split by the reports helper (wave 2, issue 15)",
    "reports/queries.py": "being split by the reports helper (wave 2, issue 15)",
}
#: ``_name`` (one leading underscore): private to its package.  ``_`` alone is gettext's alias.
PRIVATE_NAME = re.compile(r"^_[^_]")


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


def all_import_graph() -> dict[str, set[str]]:
    """Every import of the package's modules, wherever it is written (not ``if TYPE_CHECKING:``)."""
    known = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        type_checking = {id(inner) for node in ast.walk(tree)
                         if isinstance(node, ast.If) and _is_type_checking(node) for inner in ast.walk(node)}
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in type_checking:
                edges.update(target for target in _targets(module, path, node, known)
                             if target in known and not _only_parent_of(target, module, path, node, known))
        edges.discard(module)
        graph[module] = edges
    return graph


def _only_parent_of(target: str, module: str, path: Path, node: ast.AST, known: dict[str, Path]) -> bool:
    """``from .. import rules`` names the parent package only on the way to its submodule ``rules``:
    Python has run the parent's ``__init__`` before any child anyway, so that is no tie to it."""
    return (isinstance(node, ast.ImportFrom) and module.startswith(target + ".")
            and _resolve(module, path, node) == target
            and all(f"{target}.{alias.name}" in known for alias in node.names))


def _package_of(module: str, known: dict[str, Path]) -> str:
    """A package is its own package; a module's is the one it lies in."""
    return module if _is_package(known[module]) else module.rpartition(".")[0]


def private_imports(module: str, path: Path, tree: ast.AST, known: dict[str, Path]) -> list[str]:
    """``line: name`` for every private name ``module`` takes from a module of another package, by
    ``from m import _name`` or as ``m._name`` on a module it imported."""
    own_package = _package_of(module, known)
    found = []
    modules_by_local_name: dict[str, str] = {}

    def foreign(source: str) -> bool:
        return source in known and _package_of(source, known) != own_package

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    modules_by_local_name[alias.asname or alias.name] = submodule
                if PRIVATE_NAME.match(alias.name) and foreign(submodule if submodule in known else source):
                    found.append(f"{node.lineno}: from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in known:
                    modules_by_local_name[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules_by_local_name and PRIVATE_NAME.match(node.attr)
                and foreign(modules_by_local_name[node.value.id])):
            found.append(f"{node.lineno}: {modules_by_local_name[node.value.id]}.{node.attr}")
    return found


def test_no_import_cycles_even_inside_functions():
    """An import moved into a function still ties the two modules: the circle is only hidden."""
    cycles = import_cycles(all_import_graph())
    assert not cycles, "modules that import each other (counting imports inside functions):\n  " + (
        "\n  ".join(" <-> ".join(cycle) for cycle in cycles))


def test_no_module_takes_another_packages_private_names():
    """A ``_name`` is for its own package; what another package needs gets a public name (and a home)."""
    known = _modules()
    found = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(ROOT.parent)
        found += [f"{where}:{hit}" for hit in private_imports(module, path, tree, known)]
    assert not found, "private names taken from another package:\n  " + "\n  ".join(found)


def test_no_file_is_a_big_room():
    over = {str(path.relative_to(ROOT)): lines for path in sorted(ROOT.rglob("*.py"))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    unexpected = {name: lines for name, lines in over.items() if name not in OVER_MAX_LINES_FOR_NOW}
    assert not unexpected, (
        f"files over {MAX_LINES} lines (split them into modules a newcomer can name): {unexpected}")
    stale = sorted(set(OVER_MAX_LINES_FOR_NOW) - set(over))
    assert not stale, f"no longer over {MAX_LINES} lines, so take them off OVER_MAX_LINES_FOR_NOW: {stale}"


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


def test_finds_private_names_taken_from_another_package(tmp_path):
    known = {"unionevents.a": tmp_path / "a" / "__init__.py", "unionevents.a.x": tmp_path / "a" / "x.py",
             "unionevents.a.y": tmp_path / "a" / "y.py", "unionevents.b": tmp_path / "b" / "__init__.py",
             "unionevents.b.z": tmp_path / "b" / "z.py"}
    code = ("from ..a.x import _helper, public\n"       # another package's private name
            "from ..a import x\n"
            "x._other()\n"                            # the same, through the module
            "from ..a.x import __version__\n"         # dunders are not private
            "from flask_babel import gettext as _\n")  # nor is gettext's alias
    found = private_imports("unionevents.b.z", known["unionevents.b.z"], ast.parse(code), known)
    assert found == ["1: from unionevents.a.x import _helper", "3: unionevents.a.x._other"]
    sibling = "from .x import _helper\nfrom . import x\nx._other()\n"  # within one package: its own business
    assert private_imports("unionevents.a.y", known["unionevents.a.y"], ast.parse(sibling), known) == []


if __name__ == "__main__":  # python -m tests.core.test_structure: the current findings
    print("imports from core to domains:", len(domain_imports_from_core()))
    for line in domain_imports_from_core():
        print("  ", line)
    found_cycles = import_cycles(top_level_import_graph())
    print("top-level import cycles:", len(found_cycles))
    for cycle in found_cycles:
        print("  ", " <-> ".join(cycle))
    found_cycles = import_cycles(all_import_graph())
    print("import cycles counting imports inside functions:", len(found_cycles))
    for cycle in found_cycles:
        print("  ", " <-> ".join(cycle))
    big = {str(p.relative_to(ROOT)): n for p in sorted(ROOT.rglob("*.py"))
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    print("files over 500 lines:", len(big), big)
