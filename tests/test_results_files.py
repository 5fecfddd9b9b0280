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
    for name in SHIPPED + tuple(SUITE_FILES):
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


# --------------------------------------------------------------------------- article and permuted suites
SUITE_FILES = {"article_embedded.json": ("article", {"seeds": 3}),
               "permuted5_embedded.json": ("permuted", {"seeds": 3, "tasks": 5})}


@pytest.mark.parametrize("name", SUITE_FILES)
def test_every_shipped_suite_file_records_what_wrote_it(name):
    from ewc_helpers.runner import data_identity
    from ewc_helpers.sources import load_mnist
    from ewc_helpers.studies import suite_files

    suite, settings = SUITE_FILES[name]
    report = suite_files.load_suite_report(suite_files.shipped_file(name), suite)
    prov = report["provenance"]
    assert prov["package_version"] == __version__ and prov["suite"] == suite
    assert prov["command"].startswith("python -m ewc_helpers reproduce")
    assert f"--json ewc_helpers/results/{name}" in prov["command"]
    assert {k: prov["settings"][k] for k in settings} == settings
    # the digits it ran on are the ones the package ships now
    assert prov["data"] == data_identity(load_mnist(prov["data"]["source"], verbose=False))
    assert report["seconds"] > 0 and prov["date"]


@pytest.mark.parametrize("name", SUITE_FILES)
def test_the_table_computed_from_a_suite_file_is_the_one_its_run_printed(name):
    """The page's table is recomputed from the rows (not copied from stdout) and agrees with it."""
    from ewc_helpers.studies import suite_files

    report = suite_files.load_suite_report(suite_files.shipped_file(name), SUITE_FILES[name][0])
    assert "```\n" + report["title"] + "\n" + report["table"] + "\n" in suite_files.render(report)


def _suite_copy(name, tmp_path, edit) -> Path:
    from ewc_helpers.studies import suite_files

    report = json.loads(suite_files.shipped_file(name).read_text())
    edit(report)
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def test_a_suite_file_of_another_package_version_or_suite_is_refused(tmp_path):
    from ewc_helpers.studies import suite_files

    old = _suite_copy("article_embedded.json", tmp_path,
                      lambda r: r["provenance"].update(package_version="0.0.1"))
    with pytest.raises(ResultsMismatch, match=r"package version 0\.0\.1 there, .* now"):
        suite_files.load_suite_report(old, "article")
    with pytest.raises(ResultsMismatch, match="written by the article suite, not the permuted suite"):
        suite_files.load_suite_report(suite_files.shipped_file("article_embedded.json"), "permuted")
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"rows": [], "runs": []}))  # what reproduce --json wrote before provenance
    with pytest.raises(ResultsMismatch, match="not a results file of reproduce --json .missing 'provenance'"):
        suite_files.load_suite_report(bare, "article")
    bare.write_text("[1, 2]")
    with pytest.raises(ResultsMismatch, match="not a results file of reproduce --json"):
        suite_files.load_suite_report(bare, "article")


@pytest.mark.parametrize("name", SUITE_FILES)
def test_a_hand_edited_suite_block_is_caught(name, tmp_path, monkeypatch):
    """Change one number inside the generated block of the page: the check reports the page."""
    pages = _pages()
    page = next(p for p, names in pages.PAGES.items() if name in names)
    text = page.read_text()
    start, end = text.index(f"<!-- results:{name}:start -->"), text.index(f"<!-- results:{name}:end -->")
    inside = text[start:end]
    number = next(tok for tok in inside.split() if tok.startswith("0.") and len(tok) == 5)
    edited = text[:start] + inside.replace(number, "0.999", 1) + text[end:]
    assert edited != text
    copy = tmp_path / page.name
    copy.write_text(edited)
    monkeypatch.setattr(pages, "PAGES", {copy: pages.PAGES[page]})
    assert pages.stale() == [copy]


def test_a_suite_file_whose_numbers_changed_makes_its_page_stale(tmp_path, monkeypatch):
    """The page shows what the file holds: change a seed's numbers in the file, and the page is stale."""
    from ewc_helpers.studies import suite_files

    def edit(report):
        report["rows"][0]["test"]["A"] += 0.1

    path = _suite_copy("article_embedded.json", tmp_path, edit)
    pages = _pages()
    monkeypatch.setattr(suite_files, "shipped_file", lambda name: path if name == path.name
                        else scenario_suite.shipped(name))
    assert pages.ROOT / "docs" / "results.md" in pages.stale()
