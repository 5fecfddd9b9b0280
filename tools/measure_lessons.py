"""Run every lesson on a full-size source, check its findings, and record its run time.

    python tools/measure_lessons.py                      # on a 60,000-image stand-in (made once)
    python tools/measure_lessons.py --data ~/mnist-idx   # on any source EWC_DATA accepts
    python tools/measure_lessons.py 05 06                # only these lessons

Each lesson's teachers' edition (exercise solutions included) is executed on the source, with a
fresh cache folder, so that the times are those of a first run. Every checked finding must read
True. The times go to ``notebooks/timings.json`` as ``"fullsize"`` (with the source hash they
belong to), the run-time line under each lesson's title is rewritten in both editions, and the
course index's table is updated. Exits 1 if a finding fails or the budget (3 minutes a lesson,
20 minutes in all) is exceeded.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSON_BUDGET, TOTAL_BUDGET = 180.0, 1200.0
EMBEDDED_TOTAL_BUDGET = 480.0


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_notebooks = _load("build_notebooks")


def default_standin() -> Path:
    """The 60,000 + 10,000 image stand-in in the cache folder, written on first use."""
    sys.path.insert(0, str(ROOT))
    from ewc_helpers.standin import write_standin
    from ewc_helpers.studies import task_a_cache

    folder = task_a_cache.folder() / "standin60k"
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        write_standin(folder)
    return folder


def checked_lines(nb) -> list:
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "nbval-check-output" in cell.metadata.get("tags", []):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            lines += [l for l in text.splitlines() if l.strip()]
    return lines


def run_lessons(data, stems=None, progress=print) -> dict:
    """Execute the teachers' edition of each lesson on ``data``; ``{stem: {"seconds", "findings",
    "failed"}}``. Each lesson starts with an empty cache, as on a student's first run."""
    out = {}
    stems = stems or [s.stem for s in build_notebooks.lessons()]
    saved = os.environ.get("EWC_CACHE")
    with tempfile.TemporaryDirectory(prefix="ewc_measure_") as cache:
        os.environ["EWC_CACHE"] = cache
        try:
            for stem in stems:
                nb = copy.deepcopy(nbformat.read(build_notebooks.TEACHER / f"{stem}.ipynb", as_version=4))
                seconds = build_notebooks.execute(nb, data=str(data), timeout=1800)
                lines = checked_lines(nb)
                out[stem] = {"seconds": seconds, "findings": lines,
                             "failed": [l for l in lines if not l.endswith(": True")]}
                progress(f"{stem}: {seconds:.0f} s, {len(lines)} findings, {len(out[stem]['failed'])} failed")
        finally:
            if saved is None:
                os.environ.pop("EWC_CACHE", None)
            else:
                os.environ["EWC_CACHE"] = saved
    return out


def record(results: dict) -> None:
    """Write the full-size times to timings.json and into both editions' run-time lines."""
    timings = build_notebooks.read_timings()
    for stem, r in results.items():
        entry = timings.setdefault(stem, {})
        source_hash = build_notebooks.source_hash(build_notebooks.SOURCES / f"{stem}.py")
        if entry.get("source") != source_hash:
            print(f"{stem}: its source changed since it was built; rebuild it first", file=sys.stderr)
            continue
        entry["fullsize"] = round(r["seconds"], 1)
    build_notebooks.write_timings(timings)
    for stem in results:
        for folder in (build_notebooks.NOTEBOOKS, build_notebooks.TEACHER):
            path = folder / f"{stem}.ipynb"
            nb = nbformat.read(path, as_version=4)
            nb.cells[1].source = build_notebooks.times_cell(stem, timings)
            nbformat.write(nb, path)
    build_notebooks.update_course_index(timings)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="only lessons whose names start with these")
    parser.add_argument("--data", default=None, help="the source to run on (default: the 60,000-image stand-in)")
    parser.add_argument("--no-record", action="store_true", help="check and time, but write nothing")
    args = parser.parse_args(argv)
    data = args.data or default_standin()
    stems = [s.stem for s in build_notebooks.lessons() if not args.prefixes or s.stem.startswith(tuple(args.prefixes))]
    started = time.perf_counter()
    results = run_lessons(data, stems)
    total = time.perf_counter() - started
    failed = {s: r["failed"] for s, r in results.items() if r["failed"]}
    slow = {s: r["seconds"] for s, r in results.items() if r["seconds"] > LESSON_BUDGET}
    print(f"all lessons: {total:.0f} s (budget {TOTAL_BUDGET:.0f} s); slowest: "
          f"{max(results, key=lambda s: results[s]['seconds'])}")
    for stem, lines in failed.items():
        print(f"{stem}: findings that do not hold on {data}: {lines}")
    for stem, seconds in slow.items():
        print(f"{stem}: {seconds:.0f} s, over the {LESSON_BUDGET:.0f} s budget")
    if not args.no_record:
        record(results)
    return 1 if failed or slow or (len(stems) == len(build_notebooks.lessons()) and total > TOTAL_BUDGET) else 0


if __name__ == "__main__":
    sys.exit(main())
