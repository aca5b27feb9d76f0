"""Issue 15, parts 3–5: the engine's shape, checked from the source so it cannot drift back.

* the engine is in rooms: ``registrations/services/`` modules of at most 500 lines;
* one writer: outside the engine's state changer nothing sets a registration's state;
* no climb: nothing in ``registrations`` imports ``reports`` (the counters listen through
  ``core.events``), and ``accounts.privacy`` reaches registrations only through erasure hooks.
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


def test_account_erasure_reaches_registrations_only_through_hooks():
    names = _imports(PACKAGE / "accounts" / "privacy.py")
    assert not [name for name in names if name.startswith("unionevents.registrations")]


def test_the_engine_modules_are_small_rooms():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in ENGINE.glob("*.py")}
    assert {"state.py", "signup.py", "waitlist.py", "checkin.py", "walkin.py", "notices.py"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def _state_writes(path: Path) -> list[int]:
    """Lines that set a registration's state: ``x.state = <a RegistrationState>`` or ``.values(state=...)``."""
    source = path.read_text(encoding="utf-8")
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "state":
                    value = ast.get_source_segment(source, node.value) or ""
                    if "RegistrationState" in value or value.startswith("S.") or "CANCELLED" in value:
                        lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            if any(keyword.arg == "state" for keyword in node.keywords):
                lines.append(node.lineno)
    return lines


def test_only_the_state_changer_writes_a_registration_state():
    """``services/state.py`` changes states; ``services/signup.py`` inserts new rows with theirs."""
    allowed = {ENGINE / "state.py"}
    offenders = {str(path.relative_to(PACKAGE)): lines for path in sorted(PACKAGE.rglob("*.py"))
                 if path not in allowed and (lines := _state_writes(path))}
    assert offenders == {}
