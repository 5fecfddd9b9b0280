"""Shared helpers for the tests that drive a real browser (marked ``browser``).

The browser is Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it), driven by
Playwright for Python pointed at that binary: Playwright's own browser builds are never
downloaded (no ``playwright install``). ``EWC_CHROMIUM=PATH`` picks another Chromium or Chrome.

* :func:`require_browser` skips the calling test with one line when Playwright or Chromium is
  missing, and fails it instead under CI (``CI=true``), where the browser tests must run;
* :func:`launch_chromium` is a context manager that yields a headless browser context with a fresh
  profile (user-data-dir) and the flags below;
* :func:`artifacts_dir` is where screenshots go: ``EWC_ARTIFACTS/NAME`` when that variable is
  set (CI uploads it), otherwise a folder under pytest's temporary directory.

Usage::

    from browser_support import artifacts_dir, launch_chromium, require_browser

    def test_page(tmp_path):
        require_browser()
        with launch_chromium(tmp_path / "profile") as context:
            page = context.new_page()
            page.goto(url)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

#: Where Chromium is looked for, in order (``EWC_CHROMIUM`` first when set).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
#: Headless, no sandbox (containers run as root), and nothing that reaches the network by itself.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def on_ci() -> bool:
    """True under a CI service (``CI=true``, as GitHub Actions sets it, or ``CI=1``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when there is none."""
    wanted = os.environ.get("EWC_CHROMIUM", "").strip()
    for candidate in ((wanted,) if wanted else CHROMIUM_CANDIDATES):
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why no browser test can run here, in one line, or None when one can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; .ci/run installs it)"
    if chromium_path() is None:
        where = os.environ.get("EWC_CHROMIUM") or "/usr/bin/chromium"
        return (f"no Chromium at {where} (as root: apt-get install chromium chromium-driver; "
                ".ci/run installs it)")
    return None


def require_browser() -> None:
    """Skip the calling test with one clear line when the browser cannot run; fail it under CI."""
    reason = missing()
    if reason is None:
        return
    if on_ci():
        pytest.fail(f"browser test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"browser test skipped: {reason}")


@contextlib.contextmanager
def launch_chromium(profile: Path, viewport=(1280, 900)):
    """A headless Chromium context with a fresh profile at ``profile`` (created; must not hold an
    earlier profile), closed on exit."""
    from playwright.sync_api import sync_playwright

    profile = Path(profile)
    if profile.exists() and any(profile.iterdir()):
        raise ValueError(f"{profile} is not empty: each browser run needs a fresh user-data-dir")
    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": viewport[0], "height": viewport[1]})
        try:
            yield context
        finally:
            context.close()


def artifacts_dir(tmp_path_factory, name: str) -> Path:
    """A folder for this test's screenshots: ``$EWC_ARTIFACTS/name`` or one under pytest's tmp."""
    root = os.environ.get("EWC_ARTIFACTS", "").strip()
    folder = Path(root) / name if root else tmp_path_factory.mktemp(f"artifacts_{name}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
