"""Checks on the committed notebooks (nbval executes them; these check what is committed).

* hygiene: no error outputs, no unexecuted code cells, no stderr (warnings) in outputs;
* anatomy: a title, "What you will learn", a summary of what was measured, exercises, at least
  one figure, at least one checked finding, short code cells;
* the committed notebook matches its source in tools/notebook_sources/;
* determinism: executing a notebook twice gives identical checked (and printed) outputs.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 16

spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    for expected in ("00_data_preparation", "01_multi_task_baseline", "02_catastrophic_forgetting",
                     "03_l2_regularization", "04_elastic_weight_consolidation",
                     "05_fisher_and_lambda", "06_task_sequences_online_ewc"):
        assert f"{expected}.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for i, cell in enumerate(_code_cells(nb)):
        if cell.get("execution_count") is None:
            problems.append(f"code cell {i} was never executed")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"code cell {i} has an error output ({out.ename})")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"code cell {i} writes to stderr: {out.text[:120]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "no title"
    for heading in ("What you will learn", "## Setup", "## What we measured", "## Exercises"):
        assert heading in markdown, f"missing section {heading!r}"
    codes = _code_cells(nb)
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in codes), "no checked finding"
    assert any("image/png" in o.get("data", {}) for c in codes for o in c.outputs), "no figure"
    long = [i for i, c in enumerate(codes) if len(c.source.splitlines()) > MAX_CELL_LINES]
    assert not long, f"code cells {long} are longer than {MAX_CELL_LINES} lines"
    assert not any(c.metadata.get("tags") for c in codes), "use comment markers (# NBVAL_...), not cell tags"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_findings_hold(path):
    """Every checked cell states findings as "...: True"; a False means a claim no longer holds."""
    nb = nbformat.read(path, as_version=4)
    for cell in _code_cells(nb):
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        lines = [l for l in text.splitlines() if l.strip()]
        assert lines, f"checked cell prints nothing:\n{cell.source}"
        bad = [l for l in lines if not l.endswith(": True")]
        assert not bad, f"{path.name}: findings that do not hold: {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(path):
    source = ROOT / "tools" / "notebook_sources" / f"{path.stem}.py"
    assert source.exists(), f"{source} is missing"
    built = build_notebooks.parse(source.read_text())
    committed = nbformat.read(path, as_version=4)
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in committed.cells], \
        f"{path.name} differs from {source.name}: run python tools/build_notebooks.py {path.stem[:2]}"


def _printed(nb):
    """Every text output of cells not marked NBVAL_IGNORE_OUTPUT, cell by cell."""
    out = []
    for cell in _code_cells(nb):
        if "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        texts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
        texts += [o.get("data", {}).get("text/plain", "") for o in cell.outputs
                  if o.output_type in ("execute_result",)]
        out.append("".join(texts))
    return out


def test_notebook_execution_is_deterministic(tmp_path):
    """Two executions of the forgetting notebook print identical findings and numbers."""
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "02_catastrophic_forgetting.ipynb"
    template = nbformat.read(path, as_version=4)
    runs = []
    for _ in range(2):
        nb = copy.deepcopy(template)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        runs.append(_printed(nb))
    assert runs[0] == runs[1]
    checked = [t for t, c in zip(runs[0], [c for c in _code_cells(template) if "NBVAL_IGNORE_OUTPUT" not in c.source])
               if "NBVAL_CHECK_OUTPUT" in c.source]
    assert checked and all(re.search(r": (True|False)", t) for t in checked)
