"""Issue 15, parts 3–5: the engine's shape, checked from the source so it cannot drift back.

* the engine is in rooms: ``registrations/services/`` modules of at most 500 lines;
* no climb: nothing in ``registrations`` imports ``reports`` (the counters listen through
  ``core.events``).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "unionevents"
ENGINE = PACKAGE / "registrations" / "services"


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, as absolute dotted names."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            found.append(prefix)
            found += [f"{prefix}.{alias.name}" for alias in node.names]
    return found


def test_the_registrations_package_never_imports_reports():
    offenders = [(str(path.relative_to(PACKAGE)), name)
                 for path in sorted((PACKAGE / "registrations").rglob("*.py"))
                 for name in _imports(path) if name == "unionevents.reports" or name.startswith("unionevents.reports.")]
    assert offenders == []


def test_the_engine_modules_are_small_rooms():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in ENGINE.glob("*.py")}
    assert {"state.py", "signup.py", "waitlist.py", "checkin.py", "walkin.py", "notices.py"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 500} == {}

