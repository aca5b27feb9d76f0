"""pyproject.toml's [project] table: metadata that matches what is installed and deployed."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata

from bench.stack import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_project_table_names_the_app():
    project = PYPROJECT["project"]
    assert project["name"] == "unionevents"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["requires-python"] == ">=3.11"
    # Dependencies are requirements.txt itself: one list to keep.
    assert "dependencies" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["optional-dependencies"]["dev"] == {"file": ["requirements-dev.txt"]}
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["unionevents", "unionevents.*"]


def test_every_requirement_is_an_exact_pin_and_installed_at_it():
    """The venv the tests run in is the one requirements*.txt describe (a pin bumped without a
    reinstall, or a package added by hand, shows here)."""
    for path in (ROOT / "requirements.txt", ROOT / "requirements-dev.txt"):
        for name, version in _pins(path).items():
            assert metadata.version(name) == version, f"{path.name}: {name}=={version}"


def test_shared_pins_agree_between_files():
    """Both files go into one venv: a package pinned in both must have one version.  (requirements-audit.txt
    has a venv of its own, .venv-audit.)"""
    runtime, dev = _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements-dev.txt")
    shared = set(runtime) & set(dev)
    assert {"certifi", "urllib3"} <= shared
    for name in shared:
        assert runtime[name] == dev[name], name
