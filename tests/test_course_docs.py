"""Checks on the course's documents: the index (notebooks/README.md), its generated run-times table
(tools/course_index.py), the glossary and the teacher notes.

* every lesson source has a row in the index (course map and run times) and a section in the
  teacher notes;
* the run-times table shows every lesson with its times, "not measured yet" for missing ones, and
  totals; rewriting it is idempotent; the committed table matches notebooks/timings.json;
* the glossary defines an anchor for every term the lessons link to, every link to a glossary
  anchor resolves, and every reference has a link.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "README.md"
GLOSSARY = NOTEBOOKS / "GLOSSARY.md"
TEACHER_NOTES = NOTEBOOKS / "TEACHER_NOTES.md"
TIMINGS = NOTEBOOKS / "timings.json"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course_index = _load("course_index", ROOT / "tools" / "course_index.py")
SOURCES = course_index.lesson_sources()

#: The glossary terms the course promises, as anchors in GLOSSARY.md.
GLOSSARY_TERMS = (
    "fisher-information", "empirical-fisher", "sampled-fisher", "exact-fisher", "anchor", "lam",
    "laplace-approximation", "task-incremental", "domain-incremental", "class-incremental",
    "backward-transfer", "forgetting", "online-ewc", "replay",
)
#: Each reference the glossary must list, by a string its entry must contain (a DOI or arXiv id).
REFERENCES = {
    "Kirkpatrick et al. 2017": "10.1073/pnas.1611835114",
    "Huszár 2018": "10.1073/pnas.1717042115",
    "Schwarz et al. 2018": "1805.06370",
    "Zenke et al. 2017": "1703.04200",
    "Kunstner et al. 2019": "1905.12558",
    "Hsu et al. 2018": "1810.12488",
    "van de Ven & Tolias 2019": "1904.07734",
    "van de Ven et al. 2022": "10.1038/s42256-022-00568-3",
    "van de Ven 2025": "2502.11756",
    "Lopez-Paz & Ranzato 2017": "1706.08840",
    "the seed article": "seed article",
}

TITLES = {"00_first": "00 · The first lesson", "01_second": "01 · Second", "02_third": "Third, unnumbered"}
TIMES = {
    "00_first": {"embedded": 16.3, "fullsize": 125.0, "source": "abc"},
    "01_second": {"embedded": 30, "source": "def"},
    "99_not_a_lesson": {"embedded": 1000.0},
}


def _rows(table: str) -> dict:
    """Lesson name -> the cells of its row, from a rendered table."""
    rows = {}
    for line in table.splitlines():
        match = re.match(r"\|\s*\[[^\]]*\]\((\w+)\.ipynb\)\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in match.group(2).split("|")]
    return rows


def _total_row(table: str) -> list:
    line = next(l for l in table.splitlines() if l.startswith("| **Total"))
    return [c.strip().strip("*") for c in line.strip().strip("|").split("|")[1:]]


# --------------------------------------------------------------------------- every lesson is covered
def test_there_are_lesson_sources():
    assert SOURCES, "no lesson sources found in tools/notebook_sources/"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_lesson_has_a_row_in_the_index(source):
    text = INDEX.read_text(encoding="utf-8")
    before, block, after = course_index.split_index(text)
    link = f"({source.stem}.ipynb)"
    assert link in before + after, (f"the course map in {INDEX.name} has no row linking {link}; "
                                    "add the lesson (or fix its name) in the map's table")
    assert link in block, f"the run-times table has no row for {source.stem}: run  python tools/course_index.py"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_lesson_has_a_section_in_the_teacher_notes(source):
    headings = [l for l in TEACHER_NOTES.read_text(encoding="utf-8").splitlines() if l.startswith("## ")]
    assert any(f"`{source.stem}`" in h for h in headings), \
        f"{TEACHER_NOTES.name} has no section heading naming `{source.stem}`"


def test_index_links_only_to_lessons_that_have_a_source():
    """A row in the course map whose lesson has no source is a dead link (or a stale name)."""
    text = INDEX.read_text(encoding="utf-8")
    linked = set(re.findall(r"\((\d\d_\w+)\.ipynb\)", text))
    missing = sorted(linked - {s.stem for s in SOURCES})
    if missing and len(SOURCES) < 12:
        pytest.skip(f"lessons still being written: {', '.join(missing)} have no source yet")
    assert not missing, f"{INDEX.name} links to lessons with no source: {', '.join(missing)}"


# --------------------------------------------------------------------------- the run-times table
def test_render_shows_every_lesson_with_its_times():
    table = course_index.render_times_table(TIMES, TITLES)
    rows = _rows(table)
    assert sorted(rows) == sorted(TITLES), "one row per lesson in titles, and only those"
    assert rows["00_first"] == ["16 s", "2 min 05 s"]
    assert rows["01_second"] == ["30 s", "not measured yet"]
    assert rows["02_third"] == ["not measured yet", "not measured yet"]
    assert "1000" not in table and "16 min" not in table, "a timing with no lesson source was shown"


def test_render_numbers_lessons_by_file_name_and_links_them():
    table = course_index.render_times_table(TIMES, TITLES)
    assert "[00 · The first lesson](00_first.ipynb)" in table
    assert "[02 · Third, unnumbered](02_third.ipynb)" in table
    stale = course_index.render_times_table({}, {"05_x": "04 · Old number"})
    assert "[05 · Old number](05_x.ipynb)" in stale


def test_render_totals():
    assert _total_row(course_index.render_times_table(TIMES, TITLES)) == [
        "at least 46 s (1 not measured yet)", "at least 2 min 05 s (2 not measured yet)"]
    assert _total_row(course_index.render_times_table({}, TITLES)) == ["not measured yet"] * 2
    full = {name: {"embedded": 60, "fullsize": 600} for name in TITLES}
    assert _total_row(course_index.render_times_table(full, TITLES)) == ["3 min 00 s", "30 min 00 s"]


def test_render_ignores_unusable_times():
    odd = {"00_first": {"embedded": None, "fullsize": "fast"}, "01_second": {"embedded": -3.0}, "02_third": None}
    rows = _rows(course_index.render_times_table(odd, TITLES))
    assert all(cell == "not measured yet" for cells in rows.values() for cell in cells)


def _builder():
    pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    return _load("build_notebooks", ROOT / "tools" / "build_notebooks.py")


def test_format_matches_the_lessons_run_time_line():
    """The index and the line under each lesson's title must read alike."""
    build_notebooks = _builder()
    for seconds in (None, 0, 16.3, 89.4, 89.6, 90, 125, 3600.2):
        assert course_index.format_seconds(seconds) == build_notebooks._fmt_time(seconds)


def test_titles_match_the_notebook_builder():
    build_notebooks = _builder()
    for source in SOURCES:
        assert course_index.title_of(source) == build_notebooks.title_of(source)


INDEX_TEXT = """# Course

Some prose that must survive.

<!-- times:start -->
an old, hand-typed table
<!-- times:end -->

More prose after the table.
"""


def test_update_index_rewrites_only_between_the_markers_and_is_idempotent(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(INDEX_TEXT, encoding="utf-8")
    assert course_index.update_index(path, TIMES, TITLES) is True
    first = path.read_text(encoding="utf-8")
    assert "hand-typed" not in first
    assert first.startswith("# Course\n\nSome prose that must survive.\n\n<!-- times:start -->\n")
    assert first.endswith("<!-- times:end -->\n\nMore prose after the table.\n")
    assert course_index.times_block(first) == course_index.render_times_table(TIMES, TITLES)

    assert course_index.update_index(path, TIMES, TITLES) is False
    assert path.read_text(encoding="utf-8") == first

    newer = {**TIMES, "02_third": {"embedded": 5.0}}
    assert course_index.update_index(path, newer, TITLES) is True
    assert _rows(course_index.times_block(path.read_text(encoding="utf-8")))["02_third"][0] == "5 s"


@pytest.mark.parametrize("text", ["no markers at all\n",
                                  "<!-- times:end -->\n<!-- times:start -->\n",
                                  "<!-- times:start -->\n<!-- times:start -->\n<!-- times:end -->\n"])
def test_update_index_refuses_bad_markers(tmp_path, text):
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        course_index.update_index(path, TIMES, TITLES)
    assert path.read_text(encoding="utf-8") == text


def test_committed_times_table_matches_timings_json():
    if not TIMINGS.exists():
        pytest.skip("notebooks/timings.json does not exist yet: build the lessons with "
                    "python tools/build_notebooks.py, then run python tools/course_index.py")
    timings = json.loads(TIMINGS.read_text(encoding="utf-8"))
    expected = course_index.render_times_table(timings, course_index.read_titles(), "",
                                               course_index.read_teaching())
    committed = course_index.times_block(INDEX.read_text(encoding="utf-8"))
    assert committed == expected, ("notebooks/README.md's run-times table is out of date: "
                                   "run  python tools/course_index.py")


# --------------------------------------------------------------------------- glossary
def _anchors(text: str) -> list:
    return re.findall(r'<a id="([^"]+)"></a>', text)


def test_glossary_has_an_anchor_for_every_term():
    anchors = _anchors(GLOSSARY.read_text(encoding="utf-8"))
    missing = [t for t in GLOSSARY_TERMS if t not in anchors]
    assert not missing, f"GLOSSARY.md has no anchor for: {', '.join(missing)}"
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    assert not duplicates, f"anchors defined twice: {duplicates}"


def test_links_to_glossary_anchors_resolve():
    """Every `GLOSSARY.md#x` link (in the course documents and the lesson sources) and every `#x`
    link inside the glossary names an anchor the glossary defines."""
    anchors = set(_anchors(GLOSSARY.read_text(encoding="utf-8")))
    broken = []
    for path in [INDEX, TEACHER_NOTES, GLOSSARY, *SOURCES]:
        text = path.read_text(encoding="utf-8")
        targets = re.findall(r"GLOSSARY\.md#([\w-]+)", text)
        if path == GLOSSARY:
            targets += re.findall(r"\]\(#([\w-]+)\)", text)
        broken += [f"{path.name} -> #{t}" for t in targets if t not in anchors and t != "references"]
    assert not broken, "links to undefined glossary anchors: " + ", ".join(broken)


def _reference_entries() -> list:
    text = GLOSSARY.read_text(encoding="utf-8")
    assert "## References" in text, "GLOSSARY.md has no References section"
    refs = text.split("## References", 1)[1]
    return [e.strip() for e in re.split(r"\n(?=<a id=|\* )", refs) if e.strip().startswith("* ")]


def test_every_reference_is_listed_and_has_a_link():
    entries = _reference_entries()
    assert entries, "the References section is empty"
    unlinked = [e.splitlines()[0] for e in entries if not re.search(r"\]\(https?://[^)\s]+\)", e)]
    assert not unlinked, f"references without a link: {unlinked}"
    for name, key in REFERENCES.items():
        assert any(key in e for e in entries), f"{name} ({key}) is not in the References"


def test_doi_and_arxiv_links_point_where_their_text_says():
    for entry in _reference_entries():
        for label, url in re.findall(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", entry):
            if label.startswith("doi:"):
                assert url == f"https://doi.org/{label[4:]}", (label, url)
            if label.startswith("arXiv:"):
                assert url == f"https://arxiv.org/abs/{label[6:]}", (label, url)


# --------------------------------------------------------------------------- issue 18: a class plan that fits
def _plan_rows() -> list:
    """``(start, end, lesson or None, mode, text)`` of the in-class plan table, minutes from 0."""
    text = INDEX.read_text(encoding="utf-8")
    plan = text[text.index("## A 90-minute class"):]
    plan = plan[plan.index("**In class.**"):]
    rows = []
    for line in plan.splitlines():
        m = re.match(r"\|\s*(\d):(\d\d)-(\d):(\d\d)\s*\|([^|]*)\|([^|]*)\|(.*)\|\s*$", line)
        if m:
            h0, m0, h1, m1 = (int(g) for g in m.groups()[:4])
            lesson = re.match(r"\s*(\d\d)\b", m.group(5))
            rows.append((60 * h0 + m0, 60 * h1 + m1, lesson.group(1) if lesson else None,
                         m.group(6).strip(), m.group(7)))
    return rows


def test_every_lesson_has_a_teaching_time_from_its_content_in_the_index():
    rows = _rows(course_index.times_block(INDEX.read_text(encoding="utf-8")))
    for source in SOURCES:
        minutes = course_index.teaching_minutes(source)
        assert minutes >= 5 and minutes % 5 == 0
        assert rows[source.stem][0] == f"{minutes} min", source.stem
    assert course_index.TEACHING_NOTE in INDEX.read_text(encoding="utf-8")


def test_teaching_minutes_follow_the_stated_rule(tmp_path):
    source = tmp_path / "99_x.py"
    source.write_text("# %% [markdown]\n# # Title\n# %%\nfig = plots.tradeoff(x)\n# %%\nlam_slider(g)\n"
                      "# %% [markdown]\n# ## Exercises\n#\n# 1. One.\n# 2. Two.\n", encoding="utf-8")
    counts = course_index.content_counts(source)
    assert counts == {"markdown cell": 2, "code cell": 2, "figure": 2, "exercise": 2}
    assert course_index.teaching_minutes(source) == 10  # 1 + 1 + 4 + 2 = 8, rounded up to 10


def test_the_class_plan_fills_90_minutes_and_each_live_lesson_gets_its_teaching_time():
    rows = _plan_rows()
    assert rows, "no plan table under '**In class.**'"
    assert rows[0][0] == 0 and rows[-1][1] == 90, "the plan must run from 0:00 to 1:30"
    for (_, end, *_), (start, *_) in zip(rows, rows[1:]):
        assert end == start, "the plan's slots must follow each other without gaps"
    teaching = {p.stem[:2]: course_index.teaching_minutes(p) for p in SOURCES}
    live = [r for r in rows if r[2] and r[3].startswith("live")]
    assert live, "the plan teaches no lesson live"
    for start, end, lesson, _, _ in live:
        assert end - start >= teaching[lesson], (
            f"lesson {lesson} gets {end - start} min live but its content needs {teaching[lesson]} min")


def test_the_plan_puts_the_slider_where_it_sits():
    text = INDEX.read_text(encoding="utf-8")
    assert "end with the `lam` slider" not in text
    source = next(p for p in SOURCES if p.stem.startswith("05")).read_text(encoding="utf-8")
    after = source[source.index("lam_slider("):]
    assert "fig = plots." in after, "the slider is no longer mid-lesson: reword the plan"
    row = next(r for r in _plan_rows() if r[2] == "05")
    assert "slider" in row[4] and "mid-lesson" in row[4]


def test_the_plan_makes_no_claim_about_lesson_11s_result():
    """Lesson 11 is the homework; the plan must not state what its figure shows before it runs."""
    plan = INDEX.read_text(encoding="utf-8").split("## A 90-minute class")[1]
    assert "teaser" not in plan.lower()


def _numbered(block: str) -> list:
    return re.findall(r"(?m)^(\d+)\. ", block)


def test_teacher_notes_answer_every_discussion_question():
    text = TEACHER_NOTES.read_text(encoding="utf-8")
    for section in re.split(r"(?m)^(?=## \d\d )", text)[1:]:
        name = section.splitlines()[0]
        if "**Discussion questions.**" not in section:
            continue
        questions = section.split("**Discussion questions.**")[1].split("**Answers.**")[0]
        assert "**Answers.**" in section, f"{name}: the discussion questions have no answers"
        answers = section.split("**Answers.**")[1]
        assert _numbered(questions) == _numbered(answers), f"{name}: one answer per question"


EXIT_TICKET = NOTEBOOKS / "EXIT_TICKET.md"
EXIT_ANSWERS = NOTEBOOKS / "teacher" / "EXIT_TICKET_ANSWERS.md"


def test_exit_ticket_for_students_and_its_answers_for_teachers_only():
    questions = _numbered(EXIT_TICKET.read_text(encoding="utf-8"))
    answers = _numbered(EXIT_ANSWERS.read_text(encoding="utf-8"))
    assert len(questions) >= 4 and questions == answers
    assert not (NOTEBOOKS / "EXIT_TICKET_ANSWERS.md").exists(), "the answers must not be in the students' folder"
    from ewc_helpers import site

    assert "notebooks/EXIT_TICKET.md" in site.COURSE_DOCS
    assert not any("ANSWERS" in d for d in site.COURSE_DOCS)


@pytest.mark.parametrize("teacher", [False, True])
def test_notebooks_command_copies_the_answers_only_with_the_teachers_edition(tmp_path, teacher):
    import subprocess
    import sys

    dest = tmp_path / "course"
    args = [sys.executable, "-m", "ewc_helpers", "notebooks", str(dest)] + (["--teacher"] if teacher else [])
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (dest / "EXIT_TICKET.md").is_file()
    assert (dest / "EXIT_TICKET_ANSWERS.md").is_file() == teacher
