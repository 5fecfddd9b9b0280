"""Checks on the committed lessons (nbval executes the teachers' edition; these check what is committed).

* both editions exist for every lesson source, and match the source;
* hygiene: no error outputs, no unexecuted code cells, no stderr, no saved widget state;
* anatomy: a title, what you will learn, prerequisites, run times, setup, a summary of what was
  measured, exercises with worked solutions (teachers' edition only), navigation links, at least
  one figure and one checked finding, short code cells, nbval markers as tags and not as comments;
* the kernel spec is the one JupyterLab writes, so opening a lesson does not mark it changed;
* every checked finding reads True, and the stated run times belong to the current source;
* determinism: nbval compares every checked cell of every lesson with the committed run (a second
  execution); lesson 02 is also executed twice here and its printed output compared.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_CELL_LINES = 16

spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)

SOURCES = build_notebooks.lessons()
STEMS = [s.stem for s in SOURCES]
EXPECTED = ("00_data_preparation", "01_multi_task_baseline", "02_catastrophic_forgetting",
            "03_l2_regularization", "04_ewc_from_first_principles", "05_elastic_weight_consolidation",
            "06_which_fisher", "07_how_big_lambda", "08_limits_of_diagonal_ewc",
            "09_optimizer_and_dropout", "10_task_sequences_online_ewc", "11_where_ewc_helps")


def _read(edition: str, stem: str):
    folder = build_notebooks.TEACHER if edition == "teacher" else build_notebooks.NOTEBOOKS
    return nbformat.read(folder / f"{stem}.ipynb", as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _tags(cell):
    return cell.metadata.get("tags", [])


def test_every_lesson_is_there():
    assert tuple(STEMS) == EXPECTED
    for edition in ("student", "teacher"):
        folder = build_notebooks.TEACHER if edition == "teacher" else build_notebooks.NOTEBOOKS
        assert sorted(p.stem for p in folder.glob("*.ipynb")) == list(EXPECTED), edition


@pytest.mark.parametrize("edition", ["student", "teacher"])
@pytest.mark.parametrize("stem", STEMS)
def test_committed_lesson_is_clean(stem, edition):
    nb = _read(edition, stem)
    problems = []
    for i, cell in enumerate(_code_cells(nb)):
        if cell.get("execution_count") is None:
            problems.append(f"code cell {i} was never executed")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"code cell {i} has an error output ({out.ename})")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"code cell {i} writes to stderr: {out.text[:120]!r}")
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                problems.append(f"code cell {i} saved a widget view (it renders as nothing without a kernel)")
    assert "widgets" not in nb.metadata, "saved widget state is committed"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stem", STEMS)
def test_lesson_anatomy(stem):
    nb = _read("teacher", stem)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "no title"
    assert nb.cells[1].source.startswith("*Run time, measured"), "no run times under the title"
    for heading in ("What you will learn", "Prerequisites", "## Setup", "## What we measured",
                    "## Exercises", "## Solutions"):
        assert heading in markdown, f"missing {heading!r}"
    assert markdown.index("## Exercises") < markdown.index("## Solutions")
    codes = _code_cells(nb)
    assert any("nbval-check-output" in _tags(c) for c in codes), "no checked finding"
    assert any(build_notebooks.SOLUTION_TAG in _tags(c) for c in codes), "no worked solution that runs"
    assert any("image/png" in o.get("data", {}) for c in codes for o in c.outputs), "no figure"
    long = [i for i, c in enumerate(codes) if len(c.source.splitlines()) > MAX_CELL_LINES]
    assert not long, f"code cells {long} are longer than {MAX_CELL_LINES} lines"
    markers = [i for i, c in enumerate(codes) if "NBVAL_" in c.source]
    assert not markers, f"code cells {markers} carry nbval comments; the builder turns them into tags"
    assert "Course index" in nb.cells[-1].source, "no navigation links at the bottom"


@pytest.mark.parametrize("stem", STEMS)
def test_first_code_cell_makes_the_package_importable(stem):
    nb = _read("student", stem)
    first = _code_cells(nb)[0].source
    assert "find_spec(\"ewc_helpers\")" in first and "google.colab" in first
    assert f'PACKAGE_SOURCE = "{build_notebooks.PACKAGE_SOURCE}"' in first
    assert "pip install" in first and first.rstrip().endswith("import ewc_helpers  # first, so that TensorFlow "
                                                              "starts without its wall of notices")


@pytest.mark.parametrize("stem", STEMS)
def test_students_edition_has_no_solutions(stem):
    student, teacher = _read("student", stem), _read("teacher", stem)
    assert not any(build_notebooks.SOLUTION_TAG in _tags(c) for c in student.cells)
    assert not any(build_notebooks.SOLUTION_BANNER_CODE in c.source for c in student.cells)
    assert any(build_notebooks.STUDENT_NOTE == c.source for c in student.cells)
    solutions = [c for c in teacher.cells if build_notebooks.SOLUTION_TAG in _tags(c)]
    banners = (build_notebooks.SOLUTION_BANNER_CODE, build_notebooks.SOLUTION_BANNER_MD)
    assert solutions and all(c.source.startswith(banners) for c in solutions), "solutions must be marked"
    rest = [c for c in teacher.cells if build_notebooks.SOLUTION_TAG not in _tags(c)]
    kept = [c for c in student.cells if c.source != build_notebooks.STUDENT_NOTE]
    assert [(c.cell_type, c.source) for c in rest] == [(c.cell_type, c.source) for c in kept]


@pytest.mark.parametrize("edition", ["student", "teacher"])
@pytest.mark.parametrize("stem", STEMS)
def test_kernelspec_is_what_jupyterlab_writes(stem, edition):
    from ipykernel.kernelspec import get_kernel_dict

    spec = _read(edition, stem).metadata["kernelspec"]
    installed = get_kernel_dict()
    assert spec == {"display_name": installed["display_name"], "language": installed["language"], "name": "python3"}


@pytest.mark.parametrize("stem", STEMS)
def test_checked_findings_hold(stem):
    """Every checked cell states findings as "...: True"; a False means a claim no longer holds."""
    nb = _read("teacher", stem)
    checked = [c for c in _code_cells(nb) if "nbval-check-output" in _tags(c)]
    for cell in checked:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        lines = [l for l in text.splitlines() if l.strip()]
        assert lines, f"checked cell prints nothing:\n{cell.source}"
        bad = [l for l in lines if not l.endswith(": True")]
        assert not bad, f"{stem}: findings that do not hold: {bad}"


@pytest.mark.parametrize("stem", STEMS)
def test_committed_lesson_matches_its_source(stem):
    source = build_notebooks.SOURCES / f"{stem}.py"
    built = build_notebooks.assemble(source, build_notebooks.read_timings())
    committed = _read("teacher", stem)
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in committed.cells], \
        f"{stem} differs from its source: run python tools/build_notebooks.py {stem[:2]}"


@pytest.mark.parametrize("stem", STEMS)
def test_stated_run_times_belong_to_this_source(stem):
    """A lesson's times were measured on the source it was built from; after a change they must be
    measured again (the builder re-times the embedded run; tools/measure_lessons.py the full-size)."""
    timings = build_notebooks.read_timings()
    entry = timings.get(stem)
    assert entry and "embedded" in entry, f"{stem}: no measured run time; build it"
    assert entry["source"] == build_notebooks.source_hash(build_notebooks.SOURCES / f"{stem}.py"), \
        f"{stem}: its source changed after its run time was measured; rebuild it"
    assert _read("student", stem).cells[1].source == build_notebooks.times_cell(stem, timings)


def _printed(nb):
    """Every text output of cells not tagged nbval-ignore-output, cell by cell."""
    out = []
    for cell in _code_cells(nb):
        if "nbval-ignore-output" in _tags(cell):
            continue
        texts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
        texts += [o.get("data", {}).get("text/plain", "") for o in cell.outputs if o.output_type == "execute_result"]
        out.append("".join(texts))
    return out


@pytest.mark.slow
def test_lesson_execution_is_deterministic():
    """Two executions of the forgetting lesson print identical findings and numbers (nbval then
    compares the checked cells of every lesson with the committed run)."""
    template = _read("teacher", "02_catastrophic_forgetting")
    runs = []
    for _ in range(2):
        nb = copy.deepcopy(template)
        build_notebooks.execute(nb, data=_test_data())
        runs.append(_printed(nb))
    assert runs[0] == runs[1]
    assert any("True" in text for text in runs[0])


def _test_data():
    import os

    return os.environ["EWC_DATA"]


def test_timings_file_is_valid_json():
    data = json.loads(build_notebooks.TIMINGS.read_text())
    assert set(data) >= set(STEMS)


def test_embedded_time_budget():
    """All lessons together run in at most 8 minutes on the embedded digits (as last measured by
    the builder, which re-times every lesson it builds)."""
    import importlib.util as iu

    spec = iu.spec_from_file_location("measure_lessons", ROOT / "tools" / "measure_lessons.py")
    measure = iu.module_from_spec(spec)
    spec.loader.exec_module(measure)
    timings = build_notebooks.read_timings()
    total = sum(timings[s]["embedded"] for s in STEMS)
    assert total <= measure.EMBEDDED_TOTAL_BUDGET, f"lessons take {total:.0f} s on the embedded digits"
