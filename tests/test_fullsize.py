"""Every lesson on a full-size source: the findings hold and the time budget is met.

Left out of the default run (about 20 minutes): ``python -m pytest -m fullsize tests/test_fullsize.py``.
It runs on ``EWC_FULLSIZE_DATA`` (any source ``EWC_DATA`` accepts, e.g. a folder of full MNIST IDX
files) or, by default, on the 60,000 + 10,000 image stand-in made from the embedded digits.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("measure_lessons", ROOT / "tools" / "measure_lessons.py")
measure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measure)


@pytest.mark.fullsize
def test_every_lesson_holds_on_full_size_data_within_budget():
    data = os.environ.get("EWC_FULLSIZE_DATA") or measure.default_standin()
    results = measure.run_lessons(data)
    failed = {stem: r["failed"] for stem, r in results.items() if r["failed"]}
    assert not failed, f"findings that do not hold on {data}: {failed}"
    assert all(r["findings"] for r in results.values()), "a lesson printed no checked finding"
    slow = {stem: round(r["seconds"]) for stem, r in results.items() if r["seconds"] > measure.LESSON_BUDGET}
    assert not slow, f"lessons over {measure.LESSON_BUDGET:.0f} s: {slow}"
    total = sum(r["seconds"] for r in results.values())
    assert total <= measure.TOTAL_BUDGET, f"all lessons took {total:.0f} s"
