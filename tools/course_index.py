"""Keep the run-times tables of the course index (``notebooks/README.md``) and of the front page
(``README.md``) in step with the lessons: one source of times, two places that show them.

The table sits between two markers in each of the two files::

    <!-- times:start -->
    ... generated, never edited by hand ...
    <!-- times:end -->

and is made from two inputs:

* ``notebooks/timings.json``, written by ``tools/build_notebooks.py`` (and by the full-size
  measurement), one entry per lesson: ``{"embedded": seconds, "fullsize": seconds, "source": hash}``;
* the lessons' titles: the first Markdown heading (a line starting with ``# # ``) of each source
  ``tools/notebook_sources/NN_name.py``.

Every lesson source gets a row, measured or not; a time that is missing reads "not measured yet".
The two tables differ in their links (the front page links into ``notebooks/``), and the course
index has one more column: each lesson's *teaching* time, counted from its source by
:func:`teaching_minutes` (the rule is printed under the table).

    python tools/course_index.py           # rewrite the tables in notebooks/README.md and README.md
    python tools/course_index.py --check   # exit 1 if either table is out of date (for CI)

Standard library only, so that it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tools" / "notebook_sources"
NOTEBOOKS = ROOT / "notebooks"
INDEX = NOTEBOOKS / "README.md"
TIMINGS = NOTEBOOKS / "timings.json"
FRONT_PAGE = ROOT / "README.md"
#: Every file that shows the times, with the prefix that makes its links reach the lessons.
TARGETS = ((INDEX, ""), (FRONT_PAGE, "notebooks/"))

START = "<!-- times:start -->"
END = "<!-- times:end -->"
NOT_MEASURED = "not measured yet"
#: The two columns of times: the key in timings.json and the column heading.
COLUMNS = (("embedded", "5,000 embedded digits"), ("fullsize", "60,000-image source"))

_LESSON_NAME = re.compile(r"^(\d\d)_\w+$")
_NUMBER_PREFIX = re.compile(r"^\d+\s*[·.:\-–]\s*")


#: The rule for a lesson's teaching time, minutes per item of its source: reading or explaining a
#: Markdown cell, running a code cell and reading its output, pausing at a figure (the lam slider
#: counts as one), and setting one exercise. The sum is rounded up to the next 5 minutes.
TEACHING_RULE = {"markdown cell": 0.5, "code cell": 0.5, "figure": 2.0, "exercise": 1.0}
TEACHING_NOTE = ("Teaching time: half a minute per Markdown cell and per code cell, two minutes per "
                 "figure (the `lam` slider counts as one), one minute to set each exercise, rounded up "
                 "to the next 5 minutes (`tools/course_index.py`, `teaching_minutes`).")

_CELL = re.compile(r"^# %%(.*)$", re.M)
_FIGURE = re.compile(r"^\s*fig\s*=\s*plots\.|lam_slider\(", re.M)


def content_counts(source) -> dict:
    """``{"markdown cell", "code cell", "figure", "exercise"}`` counted in a lesson source: cells by
    their ``# %%`` markers, figures as ``fig = plots.`` lines and ``lam_slider(`` calls, exercises
    as the numbered items (``# 1. ``) under the ``# ## Exercises`` heading."""
    text = Path(source).read_text(encoding="utf-8")
    markers = _CELL.findall(text)
    markdown = sum("[markdown]" in m for m in markers)
    exercises, inside = 0, False
    for line in text.splitlines():
        if line.startswith("# #"):
            inside = line.strip().lower().startswith("# ## exercises")
        elif inside and re.match(r"^# \d+\. ", line):
            exercises += 1
    return {"markdown cell": markdown, "code cell": len(markers) - markdown,
            "figure": len(_FIGURE.findall(text)), "exercise": exercises}


def teaching_minutes(source) -> int:
    """A lesson's teaching time in minutes, from its content by :data:`TEACHING_RULE`."""
    counts = content_counts(source)
    minutes = sum(TEACHING_RULE[k] * counts[k] for k in TEACHING_RULE)
    return int(-(-minutes // 5) * 5)


def read_teaching(folder=None) -> dict:
    """``{lesson name: teaching minutes}`` for every lesson source."""
    return {p.stem: teaching_minutes(p) for p in lesson_sources(folder or SOURCES)}


# --------------------------------------------------------------------------- formatting
def format_seconds(seconds) -> str:
    """``16.3`` -> ``"16 s"``, ``125`` -> ``"2 min 05 s"``; ``None`` -> "not measured yet".

    The same format as the run-time line that ``tools/build_notebooks.py`` puts under each
    lesson's title, so that the index and the lessons read alike.
    """
    seconds = _seconds(seconds)
    if seconds is None:
        return NOT_MEASURED
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


def _seconds(value):
    """A usable number of seconds, or None for anything else (missing, null, text, negative)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value < 0:  # NaN or negative
        return None
    return float(value)


def _lesson_label(name: str, title: str) -> str:
    """``("02_catastrophic_forgetting", "02 · Catastrophic forgetting: A, then B")`` ->
    ``"02 · Catastrophic forgetting: A, then B"``, numbered by the file name (a heading's own number
    may lag behind a renumbering)."""
    match = _LESSON_NAME.match(name)
    title = _NUMBER_PREFIX.sub("", title.strip()) or name
    return f"{match.group(1)} · {title}" if match else title


def _total(values: list) -> str:
    measured = [v for v in values if v is not None]
    if not measured:
        return NOT_MEASURED
    text = format_seconds(sum(measured))
    missing = len(values) - len(measured)
    return text if not missing else f"at least {text} ({missing} {NOT_MEASURED})"


def render_times_table(timings: dict, titles: dict, link_prefix: str = "", teaching: dict | None = None) -> str:
    """The Markdown table of run times: one row per lesson in ``titles`` (``{name: title}``, in the
    order of the names), its link, its time on the embedded digits and on a 60,000-image source,
    and a row of totals. Lessons absent from ``timings``, or times absent from an entry, read
    "not measured yet"; entries of ``timings`` with no title are ignored. ``link_prefix`` goes
    before each lesson's file name in its link (``"notebooks/"`` for the front page). With
    ``teaching`` (``{name: minutes}``) a first column gives each lesson's teaching time."""
    head = ("| Lesson | " + ("Teaching time | " if teaching else "")
            + " | ".join(heading for _, heading in COLUMNS) + " |")
    lines = [head, "|---|" + "---:|" * (len(COLUMNS) + bool(teaching))]
    columns = {key: [] for key, _ in COLUMNS}
    for name in sorted(titles):
        entry = timings.get(name) or {}
        if not isinstance(entry, dict):
            entry = {}
        cells = []
        for key, _ in COLUMNS:
            seconds = _seconds(entry.get(key))
            columns[key].append(seconds)
            cells.append(format_seconds(seconds))
        if teaching:
            cells.insert(0, f"{teaching[name]} min" if name in teaching else "not counted")
        lines.append(f"| [{_lesson_label(name, titles[name])}]({link_prefix}{name}.ipynb) | " + " | ".join(cells) + " |")
    totals = [_total(columns[key]) for key, _ in COLUMNS]
    if teaching:
        totals.insert(0, f"{sum(teaching.get(n, 0) for n in titles)} min")
    lines.append(f"| **Total, {len(titles)} lessons** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    lines += ["", "*Generated by `python tools/course_index.py` from `notebooks/timings.json`: do not edit "
              "by hand. One run of each lesson, top to bottom, on 2 CPU cores.*"]
    if teaching:
        lines += ["", f"*{TEACHING_NOTE}*"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the index file
def split_index(text: str) -> tuple:
    """``(before, block, after)``: the text up to and including the start marker, the text between
    the markers, and the text from the end marker on. Raises ValueError unless each marker occurs
    exactly once, start before end."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise ValueError(f"the index must hold {START} and {END} exactly once each")
    head, rest = text.split(START)
    if END not in rest:
        raise ValueError(f"{END} comes before {START}")
    block, tail = rest.split(END)
    return head + START, block, END + tail


def times_block(text: str) -> str:
    """The generated table currently between the markers of an index's text, trimmed."""
    return split_index(text)[1].strip("\n")


def update_index(index_path, timings: dict, titles: dict, link_prefix: str = "", teaching: dict | None = None) -> bool:
    """Rewrite the text between the markers of ``index_path`` with :func:`render_times_table`.
    Returns True if the file changed; a second call with the same inputs returns False."""
    path = Path(index_path)
    text = path.read_text(encoding="utf-8")
    before, _, after = split_index(text)
    new = f"{before}\n{render_times_table(timings, titles, link_prefix, teaching)}\n{after}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def update_all(timings: dict, titles: dict, targets=TARGETS) -> list:
    """Rewrite the table in every file of ``targets`` (``((path, link_prefix), ...)``) that exists;
    returns the paths that changed."""
    return [path for path, prefix in targets
            if Path(path).exists() and update_index(path, timings, titles, prefix, _teaching_for(prefix))]


def stale_targets(timings: dict, titles: dict, targets=TARGETS) -> list:
    """The files of ``targets`` whose table differs from what ``timings`` and ``titles`` give
    (a missing file counts as stale)."""
    return [path for path, prefix in targets
            if not Path(path).exists()
            or times_block(Path(path).read_text(encoding="utf-8"))
            != render_times_table(timings, titles, prefix, _teaching_for(prefix))]


def _teaching_for(link_prefix: str):
    """The teaching times for the course index (the table beside the lessons, no link prefix);
    None for the front page."""
    return read_teaching() if link_prefix == "" else None


# --------------------------------------------------------------------------- inputs
def lesson_sources(folder: Path = SOURCES) -> list:
    """The lesson sources ``NN_name.py``, in order."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.py") if _LESSON_NAME.match(p.stem))


def title_of(source: Path) -> str:
    """The first Markdown heading of a lesson source: its first line starting with ``# # ``."""
    for line in Path(source).read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[len("# # "):].strip()
    raise ValueError(f"{Path(source).name}: no title (no line starting with '# # ')")


def read_titles(folder: Path = SOURCES) -> dict:
    """``{lesson name: title}`` for every lesson source."""
    return {p.stem: title_of(p) for p in lesson_sources(folder)}


def read_timings(path: Path = TIMINGS) -> dict:
    """The measured run times, or ``{}`` if none have been written yet."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a run-times table is out of date")
    parser.add_argument("--index", type=Path, default=None,
                        help="update only this file (default: notebooks/README.md and README.md)")
    args = parser.parse_args(argv)
    timings, titles = read_timings(), read_titles()
    if not titles:
        print(f"no lesson sources in {SOURCES}", file=sys.stderr)
        return 1
    targets = TARGETS if args.index is None else ((args.index, ""),)
    if args.check:
        stale = stale_targets(timings, titles, targets)
        for path in stale:
            print(f"{path}: the run-times table is out of date; run  python tools/course_index.py",
                  file=sys.stderr)
        if not stale:
            print("the run-times tables are up to date: " + ", ".join(str(p) for p, _ in targets))
        return 1 if stale else 0
    changed = update_all(timings, titles, targets)
    for path, _ in targets:
        print(f"{path}: run-times table {'updated' if path in changed else 'already up to date'} "
              f"({len(titles)} lessons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
