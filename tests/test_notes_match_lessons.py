"""Statements in the glossary and the teacher notes that cite a lesson's result match that lesson's
committed output (issue 16, section 5). Each entry pairs a phrase of a note with the output the
lesson must print for that phrase to be true; when a lesson's run says otherwise, this test fails
and the note must be rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTES = {"notes": ROOT / "notebooks" / "TEACHER_NOTES.md", "glossary": ROOT / "notebooks" / "GLOSSARY.md"}

#: (document, phrase it states, lesson, text the lesson's output must contain)
CLAIMS = [
    ("notes", "on the committed run: more of task A", "05_elastic_weight_consolidation",
     "EWC at the chosen lam kept more of task A than naive training"),
    ("notes", "less of task B). On this", "05_elastic_weight_consolidation", "and learned less of task B"),
    ("notes", "lesson 02 prints how far\n  above chance it ended", "02_catastrophic_forgetting",
     "from chance (0.2): above chance by more than the noise margin"),
    ("notes", "find no Fisher that beats plain L2", "06_which_fisher", "no Fisher beats plain L2"),
    ("glossary", "lesson 06's paired comparisons find no Fisher that beats plain L2", "06_which_fisher",
     "no Fisher beats plain L2"),
    ("notes", "Naive training forgets task A in the hidden features", "08_limits_of_diagonal_ewc",
     "naive training forgets in the hidden layer: restoring it brings task A back further than restoring "
     "the output layer: True"),
    ("notes", "so the lesson prints that ordering as contradicted", "11_where_ewc_helps",
     "   contradicted: task-incremental: every regulariser beats naive fine-tuning"),
    ("notes", "3 seeds leave it not established and 10 seeds reproduce it", "11_where_ewc_helps",
     "hsu2018, 10 seeds: reproduced: task-incremental: every regulariser beats naive fine-tuning"),
    ("notes", "EWC keeps old\ndigits partly by not learning new ones", "11_where_ewc_helps",
     "EWC learned the new tasks worse than naive training"),
    ("notes", "Replay beats every regulariser in the domain-incremental\nsetting", "11_where_ewc_helps",
     "reproduced: domain-incremental: replay beats every regulariser"),
    ("notes", "that ordering holds under Hsu et al.'s protocol", "11_where_ewc_helps",
     "   reproduced: class-incremental: replay beats every regulariser"),
    ("notes", "is not established on the short runs", "11_where_ewc_helps",
     "not established: class-incremental: replay beats every regulariser"),
]
#: Phrases the notes once held that the lessons' outputs contradict; they must not come back.
RETIRED = [
    ("notes", "weight penalties help a lot"),
    ("notes", "they stay near naive training. Replay"),
    ("notes", "reach best results within\nthe noise of each other"),
    ("glossary", "Weight penalties alone\nstay near the level of naive training here"),
    ("notes", "Replay of a few stored\nexamples beats every regulariser in the class-incremental setting"),
]


def lesson_output(name: str) -> str:
    nb = json.loads((ROOT / "notebooks" / "teacher" / f"{name}.ipynb").read_text())
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain") or ""
            out.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(out)


@pytest.mark.parametrize("doc, phrase, lesson, printed", CLAIMS)
def test_a_note_citing_a_lesson_matches_its_output(doc, phrase, lesson, printed):
    assert phrase in NOTES[doc].read_text(), f"{doc} no longer says {phrase!r}: update CLAIMS"
    assert printed in lesson_output(lesson), (
        f"{doc} says {phrase!r}, but lesson {lesson} no longer prints {printed!r}")


@pytest.mark.parametrize("doc, phrase", RETIRED)
def test_contradicted_statements_stay_out(doc, phrase):
    assert phrase not in NOTES[doc].read_text()
