"""The lessons travel inside the package: build the sdist and, from it, the wheel; install the wheel
into a new virtual environment; copy both editions out with ``python -m ewc_helpers notebooks``
and run one lesson there.

The new environment sees the packages of the environment running the tests (through
``--system-site-packages`` and a ``.pth`` file), so TensorFlow and Jupyter come from here instead
of a 500 MB download; the wheel is installed into it with ``--no-deps``, and every command runs outside the repository without
PYTHONPATH, so ``import ewc_helpers`` can only find the installed copy. Those tests are marked
slow and take about a minute; one quick test checks the source checkout's folders.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDENT, TEACHER = ROOT / "notebooks", ROOT / "notebooks" / "teacher"
QUICK_LESSON = "00_data_preparation.ipynb"


def _run(cmd, cwd, env, timeout=900, check=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited with {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def _no_isolation_possible() -> bool:
    """True when this interpreter already has what pyproject.toml's [build-system] requires, so
    the build needs no download (otherwise ``build`` makes an isolated environment with pip)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in requires:
        req = Requirement(text)
        try:
            if not req.specifier.contains(version(req.name), prereleases=True):
                return False
        except PackageNotFoundError:
            return False
    return True


def _clean_env(venv: Path) -> dict:
    """The environment of a shell in ``venv``: no PYTHONPATH, the venv's bin first, embedded data."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               EWC_DATA="embedded", PYTHONNOUSERSITE="1")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the sdist and wheel from a copy of the checkout, install the wheel into a new venv."""
    if not TEACHER.is_dir() or not any(TEACHER.glob("*.ipynb")):
        pytest.skip("notebooks/teacher/ is missing: build the lessons first (python tools/build_notebooks.py)")
    pytest.importorskip("build", reason="the 'build' package builds the sdist and the wheel")
    base = tmp_path_factory.mktemp("wheel")
    # Build from a copy, so that the build leaves no build/ or *.egg-info in the checkout.
    src = base / "src"
    skip = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".ipynb_checkpoints", ".venv")
    # the checkout's own results/ (runs' output) stays behind; ewc_helpers/results/ is package data
    shutil.copytree(ROOT, src, ignore=lambda d, names: set(skip(d, names)) | ({"results"} if Path(d) == ROOT else set()))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = base / "dist"
    isolation = ["--no-isolation"] if _no_isolation_possible() else []
    _run([sys.executable, "-m", "build", *isolation, "--outdir", dist, src], cwd=base, env=env)
    (wheel,), (sdist,) = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=base, env=env)
    python = venv / "bin" / "python"
    venv_env = _clean_env(venv)
    # --system-site-packages reaches the *base* interpreter's packages; when the tests run in a
    # venv themselves, theirs are elsewhere. A .pth file appends them after the new venv's own
    # site-packages (plain paths: their .pth files, such as an editable install, are not read).
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=base, env=venv_env).stdout.strip()
    Path(purelib, "_test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel], cwd=base, env=venv_env)
    work = base / "work"  # outside the repository: nothing there to import by accident
    work.mkdir()
    return SimpleNamespace(wheel=wheel, sdist=sdist, venv=venv, python=python, env=venv_env, cwd=work)


def _lessons(folder: Path) -> list:
    return sorted(p.name for p in folder.glob("*.ipynb"))


def _solution_cells(path: Path) -> int:
    nb = json.loads(path.read_text())
    return sum("solution" in cell.get("metadata", {}).get("tags", []) for cell in nb["cells"])


# --------------------------------------------------------------------------- a source checkout
def test_a_checkout_reads_the_lessons_from_its_notebooks_folders(tmp_path):
    """Run from the repository (PYTHONPATH or an editable install) there is no package data: the
    command reads notebooks/ and notebooks/teacher/, and the teachers' copy gets the course index too."""
    import ewc_helpers
    from ewc_helpers import _cli

    if not Path(ewc_helpers.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("ewc_helpers is imported from an installed copy, not from this checkout")
    if not any(TEACHER.glob("*.ipynb")):
        pytest.skip("notebooks/teacher/ is missing: build the lessons first (python tools/build_notebooks.py)")
    assert _cli.lesson_folder() == STUDENT and _cli.lesson_folder(teacher=True) == TEACHER
    args = SimpleNamespace(folder=tmp_path / "t", teacher=True, overwrite=False)
    assert _cli.copy_notebooks(args) == 0
    assert _lessons(tmp_path / "t") == _lessons(TEACHER)
    # the course's pages, and the pages only teachers get (the exit ticket's answers)
    assert sorted(p.name for p in (tmp_path / "t").glob("*.md")) == sorted(
        {p.name for p in STUDENT.glob("*.md")} | {p.name for p in TEACHER.glob("*.md")})
    assert _cli.copy_notebooks(args) == 2  # everything is there already
    student = SimpleNamespace(folder=tmp_path / "s", teacher=False, overwrite=False)
    assert _cli.copy_notebooks(student) == 0
    assert not any((tmp_path / "s" / p.name).exists() for p in TEACHER.glob("*.md")), "a teachers' page reached students"


# --------------------------------------------------------------------------- what was built
@pytest.mark.slow
def test_the_wheel_holds_the_subpackages_and_both_editions(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    for module in ("ewc_helpers/__init__.py", "ewc_helpers/studies/__init__.py",
                   "ewc_helpers/studies/two_tasks.py", "ewc_helpers/plots/__init__.py",
                   "ewc_helpers/plots/core.py", "ewc_helpers/slider.py"):
        assert module in names, module
    # the shipped results files that lessons and the results pages read
    shipped = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ewc_helpers" / "results").glob("*.json"))
    assert shipped and set(shipped) <= set(names), set(shipped) - set(names)
    for edition, folder in (("student", STUDENT), ("teacher", TEACHER)):
        packed = sorted(n.rsplit("/", 1)[1] for n in names
                        if n.startswith(f"ewc_helpers/lessons/{edition}/") and n.endswith(".ipynb"))
        assert packed == _lessons(folder), edition
        if (STUDENT / "README.md").exists():
            assert f"ewc_helpers/lessons/{edition}/README.md" in names  # the course index, in both


@pytest.mark.slow
def test_the_sdist_carries_the_lessons(installed):
    names = tarfile.open(installed.sdist).getnames()
    for name in _lessons(TEACHER):
        assert any(n.endswith(f"/notebooks/teacher/{name}") for n in names), name
    assert any(n.endswith("/setup.py") for n in names) and any(n.endswith("/MANIFEST.in") for n in names)


@pytest.mark.slow
def test_import_resolves_to_the_installed_copy(installed):
    code = textwrap.dedent("""
        import importlib.util, json, ewc_helpers
        print(json.dumps([ewc_helpers.__file__] + [importlib.util.find_spec(f"ewc_helpers.{m}").origin
                                                   for m in ("studies", "plots", "slider", "_cli")]))
        from ewc_helpers._cli import lesson_folder
        print(json.dumps([str(lesson_folder()), str(lesson_folder(True))]))
    """)
    out = _run([installed.python, "-c", code], cwd=installed.cwd, env=installed.env).stdout.splitlines()
    modules, folders = json.loads(out[-2]), json.loads(out[-1])
    site = (installed.venv / "lib").resolve()
    for path in modules + folders:
        assert Path(path).resolve().is_relative_to(site), f"{path} is not in the new venv's site-packages"
        assert not Path(path).resolve().is_relative_to(ROOT), path
    assert folders[0].endswith(os.path.join("lessons", "student"))
    assert folders[1].endswith(os.path.join("lessons", "teacher"))


# --------------------------------------------------------------------------- copying them out
@pytest.mark.slow
def test_notebooks_command_copies_both_editions_and_refuses_to_overwrite(installed):
    cli = [installed.python, "-m", "ewc_helpers", "notebooks"]
    student, teacher = installed.cwd / "course", installed.cwd / "course-teacher"
    run = lambda *args, check=True: _run([*cli, *args], cwd=installed.cwd, env=installed.env, check=check)  # noqa: E731

    assert "students' edition" in run(student).stdout
    assert "teachers' edition" in run(teacher, "--teacher").stdout
    assert _lessons(student) == _lessons(STUDENT) and _lessons(teacher) == _lessons(TEACHER)
    assert sum(_solution_cells(p) for p in student.glob("*.ipynb")) == 0
    assert sum(_solution_cells(p) for p in teacher.glob("*.ipynb")) > 0
    if (STUDENT / "README.md").exists():
        assert (student / "README.md").exists() and (teacher / "README.md").exists()

    lesson = student / QUICK_LESSON
    original = lesson.read_bytes()
    lesson.write_text("a student's own work")
    refused = run(student, check=False)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert lesson.read_text() == "a student's own work"  # untouched
    run(student, "--overwrite")
    assert lesson.read_bytes() == original


@pytest.mark.slow
def test_a_copied_lesson_runs_in_the_new_venv(installed):
    folder = installed.cwd / "run"
    _run([installed.python, "-m", "ewc_helpers", "notebooks", folder], cwd=installed.cwd, env=installed.env)
    driver = textwrap.dedent(f"""
        import json, sys
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.read({str(folder / QUICK_LESSON)!r}, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(
            "import ewc_helpers, sys; print(ewc_helpers.__file__); print(sys.prefix)"))
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={{"metadata": {{"path": {str(folder)!r}}}}}).execute()
        errors = [o.get("ename", "") + ": " + o.get("evalue", "") for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.output_type == "error"]
        print(json.dumps({{"errors": errors, "where": nb.cells[-1].outputs[0]["text"].split()}}))
    """)
    out = _run([installed.python, "-c", driver], cwd=installed.cwd, env=installed.env).stdout
    report = json.loads(out.splitlines()[-1])
    assert report["errors"] == []
    module, prefix = report["where"]
    assert Path(prefix).resolve() == installed.venv.resolve(), "the kernel did not run in the new venv"
    assert Path(module).resolve().is_relative_to(installed.venv.resolve())
