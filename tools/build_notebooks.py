"""Build both editions of every lesson from its one source, and run them.

Each source in ``tools/notebook_sources/`` is a Python file in the "percent" format:

* ``# %% [markdown]`` starts a Markdown cell (its lines lose their leading ``# ``) and ``# %%`` a
  code cell;
* ``# %% solution`` and ``# %% [markdown] solution`` start a worked solution. Solutions go at the
  end, under the exercises; only the teachers' edition has them;
* a code cell whose first line is ``# NBVAL_CHECK_OUTPUT`` or ``# NBVAL_IGNORE_OUTPUT`` gets the
  nbval tag ``nbval-check-output`` or ``nbval-ignore-output``; the comment itself is dropped, so a
  student sees only the code.

The builder adds to every lesson: its measured run times under the title (from
``notebooks/timings.json``), a first code cell that makes sure ``ewc_helpers`` can be imported
(installing it on Colab from :data:`PACKAGE_SOURCE`), and links to the previous and next lessons
and the course index at the bottom. Its metadata holds the kernel spec and the ``language_info``
block exactly as JupyterLab writes them when the kernel connects, so that opening a lesson does
not mark it changed.

The teachers' edition (``notebooks/teacher/``) is executed top to bottom with
``EWC_DATA=embedded``; the students' edition (``notebooks/``) is the same notebook without the
solution cells, so both show the outputs of one run. The run time is written to
``notebooks/timings.json`` with a hash of the source, and a test checks that every time stated in
a notebook belongs to the source it was built from.

    python tools/build_notebooks.py            # every lesson
    python tools/build_notebooks.py 02 04      # the lessons whose names start with these prefixes
    python tools/build_notebooks.py --no-run   # rebuild without executing (outputs dropped)
    python tools/build_notebooks.py --refresh  # rewrite only the builder's own parts (install cell,
                                               # kernel spec, language_info); outputs kept
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tools" / "notebook_sources"
NOTEBOOKS = ROOT / "notebooks"
TEACHER = NOTEBOOKS / "teacher"
TIMINGS = NOTEBOOKS / "timings.json"

#: Where the ewc-helpers wheel is published: the one value the lessons' first cell installs from
#: on Colab when ``ewc_helpers`` is missing. A wheel URL (for example the wheel a course site or a
#: CI run ships next to the lessons, ``https://.../ewc_helpers-0.2.0-py3-none-any.whl``), a
#: ``file://`` path, or any pip requirement. Empty while the package is published nowhere: the
#: cell then installs a wheel uploaded next to the notebook, or says exactly how to make one.
#: After changing it, ``python tools/build_notebooks.py --refresh`` rewrites every lesson's cell.
PACKAGE_SOURCE = ""
#: The kernel spec of a plain ipykernel "python3" kernel, as JupyterLab writes it: a different one
#: makes JupyterLab rewrite the notebook's metadata, and mark it changed, the moment it opens.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
MARKERS = {"# NBVAL_CHECK_OUTPUT": "nbval-check-output", "# NBVAL_IGNORE_OUTPUT": "nbval-ignore-output"}
SOLUTION_TAG = "solution"
SOLUTION_BANNER_CODE = "# ---- WORKED SOLUTION (teachers' edition) ----"
SOLUTION_BANNER_MD = "> **Worked solution (teachers' edition).**"
STUDENT_NOTE = ("Worked solutions are in the teachers' edition: "
                "`python -m ewc_helpers notebooks FOLDER --teacher` copies it out.")

INSTALL_CELL = '''\
# Make sure the course's helper package can be imported (on Colab, this installs it).
import glob, importlib, importlib.util, sys
PACKAGE_SOURCE = "{source}"  # where the ewc-helpers wheel is published ("": not yet)
on_colab, wheels = "google.colab" in sys.modules, sorted(glob.glob("ewc_helpers-*.whl"))
if importlib.util.find_spec("ewc_helpers") is None and on_colab and (PACKAGE_SOURCE or wheels):
    get_ipython().run_line_magic("pip", f"install --quiet {{(PACKAGE_SOURCE or wheels[-1])!r}}")
    importlib.invalidate_caches()
if importlib.util.find_spec("ewc_helpers") is None:
    raise ModuleNotFoundError("ewc_helpers is missing. " + (
        "Make its wheel in the course repository (pip install build && python -m build --wheel), "
        "upload dist/ewc_helpers-*.whl to /content with the Files pane, and run this cell again."
        if on_colab else "Run  pip install -e .  in the course repository (or pip install the "
        "wheel it builds), then restart the kernel."))
import ewc_helpers  # first, so that TensorFlow starts without its wall of notices'''


# --------------------------------------------------------------------------- parsing
def parse_cells(text: str) -> list:
    """The source's cells as dicts ``{"kind", "source", "solution", "tags"}``."""
    cells, header, lines = [], None, []

    def flush():
        if header is None:
            return
        body = "\n".join(lines).strip("\n")
        kind = "markdown" if "[markdown]" in header else "code"
        solution = header.split()[-1] == "solution"
        tags = []
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
        else:
            first = body.splitlines()[0].strip() if body.strip() else ""
            if first in MARKERS:
                tags.append(MARKERS[first])
                body = "\n".join(body.splitlines()[1:]).strip("\n")
        if body.strip():
            cells.append({"kind": kind, "source": body, "solution": solution, "tags": tags})

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            header, lines = line, []
        else:
            lines.append(line)
    flush()
    return cells


def title_of(source: Path) -> str:
    """The lesson's title: its first Markdown heading, without the leading ``# ``."""
    for cell in parse_cells(source.read_text()):
        if cell["kind"] == "markdown":
            return cell["source"].splitlines()[0].lstrip("# ").strip()
    raise ValueError(f"{source.name}: no title")


def source_hash(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()[:16]


def lessons() -> list:
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


# --------------------------------------------------------------------------- assembling
def _load_course_index():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_index", ROOT / "tools" / "course_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course_index = _load_course_index()
#: One time format for the line under each title and the course index's table.
_fmt_time = course_index.format_seconds


def times_cell(name: str, timings: dict) -> str:
    entry = timings.get(name, {})
    return (f"*Run time, measured on 2 CPU cores: {_fmt_time(entry.get('embedded'))} on the 5,000 embedded digits, "
            f"{_fmt_time(entry.get('fullsize'))} on a 60,000-image MNIST stand-in "
            "(re-measured with `tools/measure_lessons.py` in the course repository).*")


def nav_cell(index: int, sources: list) -> str:
    parts = []
    if index > 0:
        prev = sources[index - 1]
        parts.append(f"← Previous: [{title_of(prev)}]({prev.stem}.ipynb)")
    parts.append("[Course index](README.md)")
    if index + 1 < len(sources):
        nxt = sources[index + 1]
        parts.append(f"Next: [{title_of(nxt)}]({nxt.stem}.ipynb) →")
    return " · ".join(parts)


def assemble(source: Path, timings: dict, sources: list | None = None) -> nbformat.NotebookNode:
    """The teachers' edition of one lesson, unexecuted."""
    sources = sources or lessons()
    cells = parse_cells(source.read_text())
    nb_cells, install_added = [], False
    for i, cell in enumerate(cells):
        if cell["kind"] == "code" and not install_added:
            nb_cells.append(nbformat.v4.new_code_cell(install_cell()))
            install_added = True
        text = cell["source"]
        if cell["solution"]:
            text = (SOLUTION_BANNER_CODE + "\n" if cell["kind"] == "code" else SOLUTION_BANNER_MD + "\n\n") + text
        new = nbformat.v4.new_code_cell(text) if cell["kind"] == "code" else nbformat.v4.new_markdown_cell(text)
        tags = cell["tags"] + ([SOLUTION_TAG] if cell["solution"] else [])
        if tags:
            new.metadata["tags"] = tags
        nb_cells.append(new)
        if i == 0:
            nb_cells.append(nbformat.v4.new_markdown_cell(times_cell(source.stem, timings)))
    nb_cells.append(nbformat.v4.new_markdown_cell(nav_cell(sources.index(source), sources)))
    nb = nbformat.v4.new_notebook(cells=nb_cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def student_edition(teacher: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The teachers' edition without its solution cells (outputs of the other cells kept); the
    first solution cell is replaced by a note saying where the solutions are."""
    nb = copy.deepcopy(teacher)
    cells, noted = [], False
    for cell in nb.cells:
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            if not noted:
                cells.append(nbformat.v4.new_markdown_cell(STUDENT_NOTE))
                noted = True
            continue
        cells.append(cell)
    nb.cells = cells
    return nb


def kernel_language_info(timeout: float = 60) -> dict:
    """The ``language_info`` block the lessons' kernel (``python3``) reports when it connects.

    JupyterLab writes exactly this block into a notebook's metadata as soon as its kernel is
    connected, and marks the notebook changed unless the block is there already (it compares the
    whole block: name, version, mimetype, codemirror_mode, pygments_lexer, nbconvert_exporter and
    file_extension). So the builder writes it as the kernel reports it, rather than a stub."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=KERNELSPEC["name"], startup_timeout=timeout)
    try:
        client.kernel_info()
        reply = client.get_shell_msg(timeout=timeout)
        while reply["msg_type"] != "kernel_info_reply":
            reply = client.get_shell_msg(timeout=timeout)
        return dict(reply["content"]["language_info"])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _tidy(nb, language_info: dict):
    """Keep the committed files small and stable: no per-run metadata. The kernel spec and
    ``language_info`` are written as JupyterLab writes them (see :func:`kernel_language_info`)."""
    nb.metadata.pop("widgets", None)  # saved widget state is not committed
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
        cell["id"] = f"cell-{i:03d}"  # stable ids: a rebuild changes only what changed
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = copy.deepcopy(language_info)
    return nb


def read_timings() -> dict:
    return json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}


def write_timings(timings: dict) -> None:
    TIMINGS.write_text(json.dumps(dict(sorted(timings.items())), indent=1) + "\n")


def update_course_index(timings: dict) -> None:
    """Rewrite the times tables of the course index (notebooks/README.md) and of the front page
    (README.md) from ``timings``."""
    course_index.update_all(timings, {s.stem: title_of(s) for s in lessons()})


def execute(nb, data: str = "embedded", timeout: int = 900) -> float:
    """Run ``nb`` in place on ``data``; return the seconds it took."""
    env_before = os.environ.get("EWC_DATA")
    os.environ["EWC_DATA"] = data
    os.environ["EWC_STATIC"] = "1"  # widgets draw a static figure: a saved live widget shows nothing
    try:
        started = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        return time.perf_counter() - started
    finally:
        if env_before is None:
            os.environ.pop("EWC_DATA", None)
        else:
            os.environ["EWC_DATA"] = env_before


def build(source: Path, run: bool = True, language_info: dict | None = None) -> Path:
    timings = read_timings()
    teacher = assemble(source, timings)
    if run:
        seconds = execute(teacher)
        language_info = teacher.metadata["language_info"]  # as the kernel reported it to nbclient
        entry = timings.setdefault(source.stem, {})
        if entry.get("source") != source_hash(source):
            entry.pop("fullsize", None)  # measured on another source: stale
        entry.update(embedded=round(seconds, 1), source=source_hash(source))
        write_timings(timings)
        update_course_index(timings)
        teacher.cells[1].source = times_cell(source.stem, timings)
        print(f"{source.stem}: executed in {seconds:.0f} s")
    language_info = language_info or kernel_language_info()
    TEACHER.mkdir(parents=True, exist_ok=True)
    nbformat.write(_tidy(teacher, language_info), TEACHER / f"{source.stem}.ipynb")
    nbformat.write(_tidy(student_edition(teacher), language_info), NOTEBOOKS / f"{source.stem}.ipynb")
    return NOTEBOOKS / f"{source.stem}.ipynb"


def install_cell() -> str:
    return INSTALL_CELL.format(source=PACKAGE_SOURCE)


def refresh(source: Path, language_info: dict) -> list:
    """Rewrite the builder's own parts of both committed editions of ``source`` without executing
    anything: the install cell (from :data:`PACKAGE_SOURCE`), the kernel spec and
    ``language_info``. Every other cell, and every output, stays as committed. Returns the paths
    written."""
    written = []
    for path in (TEACHER / f"{source.stem}.ipynb", NOTEBOOKS / f"{source.stem}.ipynb"):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: build it first (python tools/build_notebooks.py {source.stem[:2]})")
        nb = nbformat.read(path, as_version=4)
        first = next((c for c in nb.cells if c.cell_type == "code"), None)
        if first is None or not first.source.startswith("# Make sure the course's helper package"):
            raise ValueError(f"{path}: its first code cell is not the builder's install cell; rebuild it")
        first.source = install_cell()
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = copy.deepcopy(language_info)
        nbformat.write(nb, path)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="build only lessons whose names start with these")
    parser.add_argument("--no-run", action="store_true", help="do not execute")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite only the install cell, kernel spec and language_info of the "
                             "committed lessons (nothing executed, outputs kept)")
    args = parser.parse_args(argv)
    sources = lessons()
    if args.prefixes:
        sources = [s for s in sources if s.stem.startswith(tuple(args.prefixes))]
    if not sources:
        print("no notebook sources matched", file=sys.stderr)
        return 1
    if args.refresh:
        info = kernel_language_info()
        for source in sources:
            for path in refresh(source, info):
                print(f"refreshed {path.relative_to(ROOT)}")
        return 0
    for source in sources:
        build(source, run=not args.no_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
