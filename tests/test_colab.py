"""The Colab route, simulated: a lesson's first cell installs the package, and the lesson goes on.

On Colab a lesson opens in a kernel without ``ewc_helpers``; its first code cell (written by
``tools/build_notebooks.py`` from ``INSTALL_CELL`` and the one configuration value
``PACKAGE_SOURCE``) installs the package there. Here:

* the wheel is built from a copy of the checkout;
* a fresh virtual environment stands in for the Colab machine. It sees this environment's packages
  (TensorFlow, Jupyter: Colab has its own; ``--system-site-packages`` and a ``.pth`` file, as in
  ``test_wheel.py``) but not ``ewc_helpers``, and pip may not download anything (``PIP_NO_INDEX``),
  so the wheel's dependencies must already be there, as they are on Colab;
* a kernel in that environment gets ``google.colab`` faked in ``sys.modules`` before the cell runs.

Situations: outside Colab the cell names the local install and runs no pip; on Colab with nothing
published (``PACKAGE_SOURCE = ""``) and no wheel uploaded it stops with the instructions and runs
no pip; with ``PACKAGE_SOURCE`` pointing at the built wheel through a ``file://`` URL it installs
it and lesson 00's next cell runs in that environment; with a wheel uploaded next to the notebook
(and nothing published) it installs that. Marked slow (about two minutes: a wheel, two venvs).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import site
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from test_wheel import _clean_env, _no_isolation_possible, _run

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "00_data_preparation.ipynb"
FAKE_COLAB = 'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")'
WHERE = "import ewc_helpers, sys\nprint(ewc_helpers.__file__)\nprint(sys.prefix)"

spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("build", reason="the 'build' package builds the wheel")
    base = tmp_path_factory.mktemp("colab_wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".ipynb_checkpoints", ".venv", "results"))
    isolation = ["--no-isolation"] if _no_isolation_possible() else []
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    _run([sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", base / "dist", src], cwd=base, env=env)
    (built,) = sorted((base / "dist").glob("*.whl"))
    return built


def _colab_machine(base: Path) -> tuple:
    """A fresh venv without ewc_helpers, where pip cannot download; returns (python, env, workdir)."""
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=base, env=_clean_env(venv))
    python, env = venv / "bin" / "python", _clean_env(venv)
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=base, env=env).stdout.strip()
    Path(purelib, "_test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = base / "content"  # Colab's working folder is /content
    work.mkdir()
    missing = _run([python, "-c", "import importlib.util; print(importlib.util.find_spec('ewc_helpers'))"],
                   cwd=work, env=env).stdout.strip()
    assert missing == "None", f"the simulated Colab machine sees ewc_helpers already: {missing}"
    return python, env, work


def _run_cells(python, env, work, cells: list) -> list:
    """Run ``cells`` in a kernel of ``python`` (cwd ``work``); return each cell's outputs."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = work / "colab_run.ipynb"
    nbformat.write(nb, path)
    driver = textwrap.dedent(f"""
        import json, nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(path)!r}, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={{"metadata": {{"path": {str(work)!r}}}}}).execute()
        print(json.dumps([c.outputs for c in nb.cells]))
    """)
    out = _run([python, "-c", driver], cwd=work, env=env).stdout
    return json.loads(out.splitlines()[-1])


def _text(outputs) -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def _errors(outputs) -> list:
    return [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]


def _next_cell() -> str:
    codes = [c for c in nbformat.read(LESSON, as_version=4).cells if c.cell_type == "code"]
    assert codes[0].source == build_notebooks.install_cell(), "lesson 00's first cell is not the builder's"
    return codes[1].source


def _cell(source: str) -> str:
    return build_notebooks.INSTALL_CELL.format(source=source)


@pytest.mark.slow
def test_the_first_cell_on_and_off_colab_then_the_lesson_goes_on(wheel, tmp_path):
    """One kernel on the simulated Colab machine: off Colab the cell names the local install; on
    Colab with nothing published it says how to get the wheel, without running pip; with
    PACKAGE_SOURCE pointing at the wheel it installs it, and lesson 00's next cell runs."""
    python, env, work = _colab_machine(tmp_path)
    outputs = _run_cells(python, env, work, [
        _cell("https://example.invalid/ewc_helpers-0.2.0-py3-none-any.whl"),  # not on Colab: no pip
        FAKE_COLAB, _cell(""), _cell(wheel.as_uri()), _next_cell(), WHERE])
    off_colab, _, unpublished, published, next_cell, where = outputs

    (error,) = _errors(off_colab)
    assert "pip install -e ." in error and "restart the kernel" in error, error
    assert _text(off_colab) == "", "pip must not run outside Colab"

    (error,) = _errors(unpublished)
    assert error.startswith("ModuleNotFoundError: ewc_helpers is missing."), error
    for step in ("python -m build --wheel", "upload dist/ewc_helpers-*.whl to /content", "run this cell again"):
        assert step in error, f"the message does not say {step!r}: {error}"
    assert _text(unpublished) == "", f"pip ran or printed something: {_text(unpublished)!r}"

    assert _errors(published) == [] and "error" not in _text(published).lower(), _text(published)
    assert _errors(next_cell) == [] and _errors(where) == []
    module, prefix = _text(where).split()
    assert Path(prefix).resolve() == (tmp_path / "venv").resolve(), "the kernel did not run in the fresh venv"
    assert Path(module).resolve().is_relative_to((tmp_path / "venv").resolve()), f"imported from {module}"


@pytest.mark.slow
def test_on_colab_an_uploaded_wheel_is_installed_when_nothing_is_published(wheel, tmp_path):
    python, env, work = _colab_machine(tmp_path)
    shutil.copy(wheel, work / wheel.name)  # what the Files pane does: the upload lands in /content
    outputs = _run_cells(python, env, work, [FAKE_COLAB, _cell(""), WHERE])
    assert [_errors(o) for o in outputs] == [[], [], []]
    assert Path(_text(outputs[2]).split()[0]).resolve().is_relative_to((tmp_path / "venv").resolve())


def test_the_committed_first_cell_is_the_builders():
    """The cell the simulation runs is the one every lesson carries, from PACKAGE_SOURCE."""
    for folder in (build_notebooks.NOTEBOOKS, build_notebooks.TEACHER):
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            codes = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            assert codes[0].source == build_notebooks.install_cell(), f"{path}: rebuild or --refresh it"


def test_refresh_rewrites_only_the_install_cell_and_metadata(tmp_path, monkeypatch):
    """Publishing the wheel means setting PACKAGE_SOURCE and running ``build_notebooks.py
    --refresh``: every lesson's first cell and metadata change, nothing else, nothing re-run."""
    stem = LESSON.stem
    (tmp_path / "teacher").mkdir()
    shutil.copy(build_notebooks.TEACHER / f"{stem}.ipynb", tmp_path / "teacher" / f"{stem}.ipynb")
    shutil.copy(LESSON, tmp_path / f"{stem}.ipynb")
    monkeypatch.setattr(build_notebooks, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(build_notebooks, "TEACHER", tmp_path / "teacher")
    url = "https://example.org/course/ewc_helpers-0.2.0-py3-none-any.whl"
    monkeypatch.setattr(build_notebooks, "PACKAGE_SOURCE", url)
    info = {"name": "python", "version": "3.99.0"}
    before = [nbformat.read(p, as_version=4) for p in (tmp_path / "teacher" / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb")]
    written = build_notebooks.refresh(build_notebooks.SOURCES / f"{stem}.py", info)
    assert len(written) == 2
    for old, path in zip(before, written):
        new = nbformat.read(path, as_version=4)
        first = next(i for i, c in enumerate(new.cells) if c.cell_type == "code")
        assert f'PACKAGE_SOURCE = "{url}"' in new.cells[first].source
        assert new.metadata["language_info"] == info
        assert new.metadata["kernelspec"] == build_notebooks.KERNELSPEC
        new.cells[first].source = old.cells[first].source
        assert new.cells == old.cells, f"{path.name}: refresh changed more than the install cell"


def test_refresh_refuses_a_lesson_without_the_install_cell(tmp_path, monkeypatch):
    stem = LESSON.stem
    (tmp_path / "teacher").mkdir()
    nb = nbformat.read(LESSON, as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").source = "import ewc_helpers"
    for path in (tmp_path / "teacher" / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb"):
        nbformat.write(nb, path)
    monkeypatch.setattr(build_notebooks, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(build_notebooks, "TEACHER", tmp_path / "teacher")
    with pytest.raises(ValueError, match="not the builder's install cell"):
        build_notebooks.refresh(build_notebooks.SOURCES / f"{stem}.py", {"name": "python"})
