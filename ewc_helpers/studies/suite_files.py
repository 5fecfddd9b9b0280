"""The JSON files of the article and permuted suites: what they record and how they are read back.

``python -m ewc_helpers reproduce --suite article|permuted --json PATH`` writes every number of
the run and, under ``"provenance"``, what they depend on: the command line, the package version,
the date, the data (source, origin and a fingerprint of the pixels and labels, see
:func:`ewc_helpers.runner.data_identity`) and the suite's settings (:func:`provenance`).

:func:`load_suite_report` reads such a file back and refuses, with one
:class:`~ewc_helpers.runner.ResultsMismatch` line naming what differs, a file written by another
package version or by another suite, so a page never shows an older suite's numbers as this one's.
:func:`render_article` and :func:`render_permuted` compute the table and the paired findings from
the file's per-seed numbers (not from the stdout it printed); ``tools/results_pages.py`` writes
them into ``docs/results.md``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

__all__ = ["SUITES", "provenance", "load_suite_report", "render_article", "render_permuted", "shipped_file"]

#: The suites whose JSON this module reads.
SUITES = ("article", "permuted")


def provenance(suite: str, mnist, setup, command: str, **settings) -> dict:
    """What a suite's numbers depend on, to store beside them (``report["provenance"]``)."""
    from .. import __version__
    from ..runner import _now, data_identity

    if suite not in SUITES:
        raise ValueError(f"suite {suite!r}: expected one of {', '.join(SUITES)}")
    setup_fields = {k: v for k, v in dataclasses.asdict(setup).items() if k != "seed"}
    return {"suite": suite, "command": command, "package_version": __version__, "date": _now(),
            "data": data_identity(mnist), "settings": {"setup": setup_fields, **settings}}


def shipped_file(name: str) -> Path:
    """A results file shipped with the package (``ewc_helpers/results/NAME``)."""
    path = Path(__file__).resolve().parent.parent / "results" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file in this installation of ewc_helpers")
    return path


def load_suite_report(path, suite: str) -> dict:
    """The report in ``path`` (written by ``reproduce --suite SUITE --json``), checked first.

    Raises :class:`~ewc_helpers.runner.ResultsMismatch` when the file is not such a report, was
    written by another suite, or by another package version."""
    from .. import __version__
    from ..runner import ResultsMismatch

    if suite not in SUITES:
        raise ValueError(f"suite {suite!r}: expected one of {', '.join(SUITES)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    try:
        report = json.loads(path.read_text())
        prov = report["provenance"]
        version, written_by = prov["package_version"], prov["suite"]
        report["rows"], report["runs"]
    except KeyError as err:
        raise ResultsMismatch(f"{path}: not a results file of reproduce --json (missing {err})") from None
    except (ValueError, TypeError) as err:
        raise ResultsMismatch(f"{path}: not a results file of reproduce --json ({err})") from None
    if written_by != suite:
        raise ResultsMismatch(f"{path} was written by the {written_by} suite, not the {suite} suite")
    if version != __version__:
        raise ResultsMismatch(f"{path} was written by another suite (package version {version} there, "
                              f"{__version__} now); re-run the command in its provenance to refresh it")
    return report


def _fenced(report: dict, table: str, findings: list) -> str:
    lines = [report["title"], table]
    lines += [f"grid extended: {note}" for note in report.get("extended") or []]
    out = "```\n" + "\n".join(lines) + "\n```"
    if findings:
        out += "\n\nFindings of this run, in the words of its paired statistics:\n\n" + "\n".join(f"* {f}" for f in findings)
    return out


def _by_label(rows) -> dict:
    return {r["label"]: r for r in rows}


def _ranking(rows, key: str, what: str) -> str:
    ranked = sorted(rows, key=lambda r: -r[key])
    return f"highest mean {what}: " + ", then ".join(f"{r['label']} ({r[key]:.3f})" for r in ranked)


def render_article(report: dict) -> str:
    """The article suite's table, recomputed from the per-method rows of its JSON, and (with
    several seeds) what the seeds' paired intervals say about EWC against L2 and naive training on
    the mean of tasks A and B."""
    from ..stats import compare_seeds
    from .article import format_article_table
    from .sequences import EQUIVALENCE_DELTA

    rows = json.loads(json.dumps(report["rows"]))  # format_article_table edits its rows
    table = format_article_table(rows)
    findings = []
    if report["provenance"]["settings"]["seeds"] > 1:
        by = _by_label(rows)
        findings.append(_ranking([r for r in rows if r["method"] != "a_only"], "average", "accuracy on A and B"))
        for other in ("L2", "naive"):
            v = compare_seeds(by["EWC"]["per_seed"]["average"], by[other]["per_seed"]["average"],
                              EQUIVALENCE_DELTA, names=("EWC", other))
            findings.append(f"accuracy on A and B: {v.words}")
    return _fenced(report, table, findings)


def render_permuted(report: dict) -> str:
    """The permuted suite's table and paired comparisons (online EWC against each method, as the
    suite prints them), recomputed from the per-seed numbers of its JSON; then the methods ranked
    by mean and, with several seeds, per-task EWC against naive training paired by seed."""
    from ..stats import compare_seeds
    from .common import format_table
    from .sequences import paired_comparisons

    rows = report["rows"]
    delta = report["equivalence_delta"]
    table = format_table(rows, ("average", "learning", "bwt", "memory"))
    comparisons = paired_comparisons(rows, delta=delta) if report["provenance"]["settings"]["seeds"] > 1 else []
    if comparisons:
        table += "\n" + "\n".join(comparisons)
    findings = [_ranking(rows, "average", "average accuracy"), _ranking(rows, "learning", "learning accuracy")]
    if comparisons:
        by = _by_label(rows)
        for key, what in (("average", "average accuracy"), ("learning", "learning accuracy")):
            v = compare_seeds(by["EWC"]["per_seed"][key], by["naive"]["per_seed"][key], delta, names=("EWC", "naive"))
            findings.append(f"{what}: {v.words}")
    return _fenced(report, table, findings)


def render(report: dict) -> str:
    """The Markdown block of a report (its suite chooses the renderer)."""
    return {"article": render_article, "permuted": render_permuted}[report["provenance"]["suite"]](report)
