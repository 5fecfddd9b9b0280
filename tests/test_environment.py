"""pyproject.toml and environment.yml must declare the same requirements."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> str:
    """'importlib_resources>=5' -> 'importlib-resources>=5' (PEP 503 name, spec untouched)."""
    requirement = requirement.strip()
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", requirement)
    assert match, f"not a requirement string: {requirement!r}"
    name, rest = match.groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def pyproject_requirements() -> list:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["test"])


def environment_pip_list() -> list:
    text = (ROOT / "environment.yml").read_text()
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with jupyter; keep a fallback anyway
        return _pip_list_by_hand(text)
    env = yaml.safe_load(text)
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    by_hand = _pip_list_by_hand(text)
    assert by_hand == pip_sections[0], "the hand parser and PyYAML disagree"
    return pip_sections[0]


def _pip_list_by_hand(text: str) -> list:
    """The items under `- pip:` (deeper indented `- ...` lines), without PyYAML."""
    items, pip_indent = [], None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if pip_indent is None:
            if stripped == "- pip:":
                pip_indent = indent
            continue
        if indent <= pip_indent:
            break
        assert stripped.startswith("- "), f"unexpected line under pip: {line!r}"
        items.append(stripped[2:].strip())
    return items


def test_environment_yml_installs_the_package_editable():
    pip = environment_pip_list()
    assert "-e ." in pip


def test_environment_yml_and_pyproject_name_the_same_requirements():
    pip = [item for item in environment_pip_list() if item != "-e ."]
    declared = pyproject_requirements()
    assert sorted(map(normalise, pip)) == sorted(map(normalise, declared))
    # No duplicates hiding on either side.
    assert len(set(map(normalise, pip))) == len(pip)
    assert len(set(map(normalise, declared))) == len(declared)


def test_importlib_resources_is_declared():
    names = {re.split(r"[<>=!~;\[ ]", normalise(r))[0] for r in pyproject_requirements()}
    assert "importlib-resources" in names


def test_tools_the_tests_rely_on_are_declared():
    names = {re.split(r"[<>=!~;\[ ]", normalise(r))[0] for r in pyproject_requirements()}
    for needed in ("pytest", "nbval", "tensorflow", "tensorflow-datasets", "mlxtend", "numpy"):
        assert needed in names, needed


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("importlib_resources>=5", "importlib-resources>=5"),
        ("TensorFlow >= 2.16", "tensorflow>=2.16"),
        ("zope.interface", "zope-interface"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_hand_parser_reads_a_pip_section():
    text = "name: x\ndependencies:\n  - python=3.11\n  - pip:\n      - a>=1\n      # note\n      - -e .\nother: 1\n"
    assert _pip_list_by_hand(text) == ["a>=1", "-e ."]
