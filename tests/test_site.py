"""The course's front page and its rendered site.

* One source for run times: the front page (README.md) and the course index (notebooks/README.md)
  show tables generated from notebooks/timings.json by tools/course_index.py, and they agree.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_PAGE = ROOT / "README.md"
INDEX = ROOT / "notebooks" / "README.md"
TIMINGS = ROOT / "notebooks" / "timings.json"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course_index = _load("course_index", ROOT / "tools" / "course_index.py")


# --------------------------------------------------------------------------- one source for times
def _times(table: str) -> dict:
    """``{lesson file name or "total": (embedded, fullsize)}`` from a generated run-times table."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            continue
        link = re.search(r"\(([^)]*?)(\d\d_\w+)\.ipynb\)", cells[0])
        if link:
            rows[link.group(2)] = tuple(cells[1:])
        elif cells[0].startswith("**Total"):
            rows["total"] = tuple(c.strip("*") for c in cells[1:])
    return rows


def test_front_page_and_index_show_the_same_times_from_timings_json():
    timings = json.loads(TIMINGS.read_text(encoding="utf-8"))
    titles = course_index.read_titles()
    front = course_index.times_block(FRONT_PAGE.read_text(encoding="utf-8"))
    index = course_index.times_block(INDEX.read_text(encoding="utf-8"))
    assert front == course_index.render_times_table(timings, titles, "notebooks/"), (
        "README.md's run-times table is out of date: run  python tools/course_index.py")
    assert index == course_index.render_times_table(timings, titles), (
        "notebooks/README.md's run-times table is out of date: run  python tools/course_index.py")
    front_times, index_times = _times(front), _times(index)
    assert set(front_times) == set(titles) | {"total"}
    assert front_times == index_times
    for name, (embedded, _) in front_times.items():
        if name != "total":
            assert embedded == course_index.format_seconds(timings[name]["embedded"]), name


def test_front_page_links_reach_the_lessons():
    front = course_index.times_block(FRONT_PAGE.read_text(encoding="utf-8"))
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", front)
    assert links and all((ROOT / link).exists() for link in links), links


def test_update_all_rewrites_both_tables_and_check_finds_a_stale_one(tmp_path):
    titles = {"00_first": "00 · First", "01_second": "01 · Second"}
    index, front = tmp_path / "index.md", tmp_path / "front.md"
    for path in (index, front):
        path.write_text("prose\n\n<!-- times:start -->\n| old | 25 s |\n<!-- times:end -->\n", encoding="utf-8")
    targets = ((index, ""), (front, "notebooks/"))
    timings = {"00_first": {"embedded": 27.1}, "01_second": {"embedded": 8.4, "fullsize": 13.8}}
    assert course_index.stale_targets(timings, titles, targets) == [index, front]
    assert course_index.update_all(timings, titles, targets) == [index, front]
    assert course_index.stale_targets(timings, titles, targets) == []
    assert course_index.update_all(timings, titles, targets) == []
    assert "](notebooks/00_first.ipynb)" in front.read_text(encoding="utf-8")
    assert "](00_first.ipynb)" in index.read_text(encoding="utf-8")
    assert _times(course_index.times_block(front.read_text(encoding="utf-8")))["00_first"][0] == "27 s"
    newer = {**timings, "00_first": {"embedded": 30.0}}
    assert course_index.stale_targets(newer, titles, targets) == [index, front]
