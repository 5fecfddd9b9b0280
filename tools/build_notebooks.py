"""Build the notebooks in notebooks/ from their sources in tools/notebook_sources/, and run them.

Each source is a Python file in the "percent" format: a line ``# %% [markdown]`` starts a markdown
cell (its lines lose their leading ``# ``) and a line ``# %%`` starts a code cell. The built
notebook is executed top to bottom on the ``python3`` kernel with ``EWC_DATA=embedded`` and saved
with its outputs, which is what nbval later compares against.

    python tools/build_notebooks.py            # every notebook
    python tools/build_notebooks.py 02 04      # the ones whose names start with these prefixes
    python tools/build_notebooks.py --no-run   # rebuild without executing
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tools" / "notebook_sources"
NOTEBOOKS = ROOT / "notebooks"


def parse(text: str) -> nbformat.NotebookNode:
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body.strip():
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def build(source: Path, run: bool = True, timeout: int = 600) -> Path:
    nb = parse(source.read_text())
    target = NOTEBOOKS / (source.stem + ".ipynb")
    if run:
        os.environ.setdefault("EWC_DATA", "embedded")
        started = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        print(f"{target.name}: executed in {time.perf_counter() - started:.0f} s")
    # Keep the committed files small and stable: no per-run metadata on cells.
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="build only notebooks whose names start with these")
    parser.add_argument("--no-run", action="store_true", help="do not execute")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.glob("*.py"))
    if args.prefixes:
        sources = [s for s in sources if s.stem.startswith(tuple(args.prefixes))]
    if not sources:
        print("no notebook sources matched", file=sys.stderr)
        return 1
    for source in sources:
        build(source, run=not args.no_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
