"""The results files lesson 11 reads ship with the package and were written by this version of it.

A results file records the package version and the protocol's fingerprint of the suite that wrote
it. ``scenario_suite.load_report`` refuses a file or folder whose record differs from this
package, so a lesson never shows an older suite's numbers as this one's; these tests fail when a
shipped file goes stale (re-run the command in its provenance) and when the check is removed.
"""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from ewc_helpers import __version__
from ewc_helpers.runner import ResultsMismatch
from ewc_helpers.studies import scenario_suite
from ewc_helpers.studies.protocols import protocol_for

SHIPPED = ("scenarios_short_embedded.json", "scenarios_hsu2018_standin")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_result_was_written_by_this_package_and_protocol(name):
    report = scenario_suite.load_report(scenario_suite.shipped(name))
    prov = report["provenance"]
    assert prov["package_version"] == __version__
    assert prov["protocol_fingerprint"] == protocol_for(report["protocol"]).fingerprint()
    assert prov["command"].startswith("python -m ewc_helpers reproduce --suite scenarios")
    # learning accuracy beside average accuracy in every row of a sequential method
    rows = [r for rs in report["rows"].values() for r in rs if r["method"] != "joint"]
    assert rows and all(r["learning"] is not None for r in rows)


def test_the_short_suite_covers_every_setting_and_method_over_three_seeds():
    report = scenario_suite.load_report(scenario_suite.shipped("scenarios_short_embedded.json"))
    assert set(report["rows"]) == {"task", "domain", "class", "permuted"}
    for rows in report["rows"].values():
        assert {r["method"] for r in rows} == {"naive", "l2", "ewc", "online_ewc", "si", "mas", "replay", "joint"}
        assert all(r["n"] == 3 for r in rows)


def _copy(name, tmp_path) -> Path:
    src = scenario_suite.shipped(name)
    dst = tmp_path / name
    (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    return dst


def test_a_results_file_of_another_package_version_is_refused(tmp_path):
    path = _copy("scenarios_short_embedded.json", tmp_path)
    report = json.loads(path.read_text())
    report["provenance"]["package_version"] = "0.0.1"
    path.write_text(json.dumps(report))
    with pytest.raises(ResultsMismatch, match=r"package version 0\.0\.1 there"):
        scenario_suite.load_report(path)


def test_a_results_folder_of_another_protocol_version_is_refused(tmp_path):
    path = _copy("scenarios_hsu2018_standin", tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["identity"]["protocol_fingerprint"] = "000000000000"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsMismatch, match="protocol hsu2018 fingerprint 000000000000 there"):
        scenario_suite.load_report(path)


def test_not_a_results_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ResultsMismatch, match="not a scenarios results file"):
        scenario_suite.load_report(bad)
    with pytest.raises(ResultsMismatch, match="no manifest.json"):
        scenario_suite.load_report(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such results file"):
        scenario_suite.shipped("nothing-here.json")


def test_the_results_are_package_data():
    """They sit inside the package (so a wheel, a copied lesson and Colab find them) and pyproject
    declares them as package data."""
    root = Path(str(files("ewc_helpers")))
    for name in SHIPPED:
        assert (root / "results" / name).exists()
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"results/*.json"' in text and '"results/*/units/*.json"' in text


def _pages():
    import importlib.util as iu

    path = Path(__file__).resolve().parents[1] / "tools" / "results_pages.py"
    spec = iu.spec_from_file_location("results_pages", path)
    module = iu.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documentation_tables_are_generated_from_the_shipped_results():
    """docs/results.md and docs/protocols.md show what the results files hold, nothing typed by hand."""
    pages = _pages()
    assert pages.stale() == []
    for page, names in pages.PAGES.items():
        for name in names:
            assert pages.block(name) in page.read_text()


def test_a_hand_edited_table_is_caught(tmp_path, monkeypatch):
    pages = _pages()
    page = next(iter(pages.PAGES))
    copy = tmp_path / page.name
    start = f"<!-- results:{pages.PAGES[page][0]}:start -->\n"
    copy.write_text(page.read_text().replace(start, start + "a line typed by hand\n", 1))
    monkeypatch.setattr(pages, "PAGES", {copy: pages.PAGES[page]})
    assert pages.stale() == [copy]
