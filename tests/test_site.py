"""The course's front page and its rendered site.

* One source for run times: the front page (README.md) and the course index (notebooks/README.md)
  show tables generated from notebooks/timings.json by tools/course_index.py, and they agree.
"""

from __future__ import annotations

import importlib.util
import os
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
        if len(cells) not in (3, 4):  # the course index has a teaching-time column too
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
    assert index == course_index.render_times_table(timings, titles, "", course_index.read_teaching()), (
        "notebooks/README.md's run-times table is out of date: run  python tools/course_index.py")
    front_times = _times(front)
    index_times = {name: cells[1:] for name, cells in _times(index).items()}  # after the teaching time
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


# --------------------------------------------------------------------------- the site, built once
from html.parser import HTMLParser  # noqa: E402
from urllib.parse import unquote, urldefrag, urlsplit  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _run_cli(*args, cwd=ROOT):
    """``python -X importtime -m ewc_helpers ARGS``: (exit code, stdout, stderr without the
    import-time lines, the modules imported)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ewc_helpers", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("import time:"))
    return done.returncode, done.stdout, stderr, modules


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The course site, built once by the one command a reader runs."""
    dest = tmp_path_factory.mktemp("site") / "course-site"
    code, out, err, modules = _run_cli("site", dest)
    assert code == 0, err
    assert "course site built in" in out
    assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in modules), (
        "python -m ewc_helpers site imported TensorFlow")
    return dest


class _Page(HTMLParser):
    """The links, ids, images and scripts of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links, self.ids, self.images, self.scripts, self.math, self.text = [], set(), [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or ""):
            self.scripts.append(attrs["href"])
        if "math" in (attrs.get("class") or "").split():
            self.math += 1

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _internal(href: str) -> bool:
    return bool(href) and not urlsplit(href).scheme and not href.startswith(("//", "mailto:"))


def link_problems(site: Path) -> list:
    """Every internal link, anchor, image or script of every page of ``site`` that leads nowhere,
    and every page that loads a script or style sheet from the network."""
    pages = {p: _parse(p) for p in site.rglob("*.html")}  # _static/ holds the theme's page fragments
    problems = []
    for path, page in pages.items():
        where = path.relative_to(site)
        for src in page.scripts:
            if not _internal(src):
                problems.append(f"{where}: loads {src} from the network")
        for src in page.images:
            if not _internal(src) or not (path.parent / unquote(urlsplit(src).path)).is_file():
                problems.append(f"{where}: image {src} is missing")
        for href in page.links:
            if not _internal(href):
                continue
            target, fragment = urldefrag(href)
            file = (path.parent / unquote(target)).resolve() if target else path
            if file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                problems.append(f"{where}: link {href} leads to no file")
            elif fragment and file.suffix == ".html" and unquote(fragment) not in pages[file].ids:
                problems.append(f"{where}: link {href}: no anchor #{fragment} in {file.relative_to(site)}")
    return problems


def test_site_holds_every_page_and_no_solution(built_site):
    for page in ["index", "notebooks/README", "notebooks/GLOSSARY", "notebooks/TEACHER_NOTES",
                 "docs/results", "docs/speed", "docs/article"] + [f"notebooks/{n}" for n in LESSONS]:
        assert (built_site / f"{page}.html").is_file(), page
    assert (built_site / site_module().MARKER).is_file()
    assert not list(built_site.rglob("*teacher/*")), "the teachers' edition must not be published"
    for path in built_site.rglob("*.html"):
        text = "".join(_parse(path).text)
        assert "WORKED SOLUTION" not in text and "Worked solution (teachers' edition)." not in text, path
    lesson = "".join(_parse(built_site / "notebooks/05_elastic_weight_consolidation.html").text)
    assert "Run this lesson:" in lesson and "Download the notebook" in lesson
    # the numbers of the generated tables reach the site: every "mean ± std" of the article block
    # of docs/results.md (generated from its results file, checked by test_results_files)

    page = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    article = page.split("<!-- results:article_embedded.json:start -->")[1].split("<!-- results:article_embedded.json:end -->")[0]
    numbers = re.findall(r"\d\.\d{3} ± \d\.\d{3}", article)
    html = "".join(_parse(built_site / "docs/results.html").text)
    assert numbers and all(n in html for n in numbers), [n for n in numbers if n not in html]


def test_site_link_graph_is_whole(built_site):
    problems = link_problems(built_site)
    assert not problems, "\n".join(problems[:30])
    # every lesson and document is reachable from the front page
    pages = {p.relative_to(built_site).as_posix(): _parse(p) for p in built_site.rglob("*.html")}
    seen, todo = set(), ["index.html"]
    while todo:
        name = todo.pop()
        if name in seen or name not in pages:
            continue
        seen.add(name)
        base = Path(name).parent
        for href in pages[name].links:
            target = urldefrag(href)[0]
            if _internal(href) and target.endswith(".html"):
                todo.append(os.path.normpath(base / unquote(target)).replace(os.sep, "/"))
    wanted = {f"notebooks/{n}.html" for n in LESSONS} | {"notebooks/README.html", "notebooks/GLOSSARY.html",
                                                          "notebooks/TEACHER_NOTES.html", "docs/results.html"}
    assert wanted <= seen, sorted(wanted - seen)


def test_site_maths_and_glossary_anchors(built_site):
    mathjax = [s for s in _parse(built_site / "notebooks/04_ewc_from_first_principles.html").scripts if "mathjax" in s]
    assert mathjax and (built_site / "notebooks" / mathjax[0]).resolve().is_file(), mathjax
    assert _parse(built_site / "notebooks/04_ewc_from_first_principles.html").math > 0
    glossary = _parse(built_site / "notebooks/GLOSSARY.html").ids
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (ROOT / "notebooks/GLOSSARY.md").read_text(encoding="utf-8")))
    assert anchors and anchors <= glossary, sorted(anchors - glossary)


def test_link_problems_finds_a_broken_link_anchor_and_image(tmp_path):
    (tmp_path / "a.html").write_text('<p id="here"><a href="b.html#nowhere">x</a><a href="a.html#here">ok</a>'
                                     '<a href="c.html">gone</a><img src="missing.png">'
                                     '<script src="https://cdn.example/x.js"></script></p>', encoding="utf-8")
    (tmp_path / "b.html").write_text('<p id="somewhere"></p>', encoding="utf-8")
    problems = link_problems(tmp_path)
    assert len(problems) == 4, problems
    assert any("#nowhere" in p for p in problems) and any("c.html" in p for p in problems)
    assert any("missing.png" in p for p in problems) and any("network" in p for p in problems)


# --------------------------------------------------------------------------- refusals and launch links
def site_module():
    sys.path.insert(0, str(ROOT))
    import ewc_helpers.site as site  # imports no TensorFlow itself; the package's front door may

    return site


def test_site_refuses_a_folder_of_other_files(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("keep me", encoding="utf-8")
    code, out, err, _ = _run_cli("site", dest)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "not a course site" in err
    assert (dest / "thesis.tex").read_text(encoding="utf-8") == "keep me"
    code, _, err, _ = _run_cli("site", ROOT / "notebooks")
    assert code == 2 and "not a course site" in err


def _small_course(tmp_path):
    """A copy of what the site is built from: README, docs/ and the students' edition."""
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / "README.md", root / "README.md")
    shutil.copytree(ROOT / "docs", root / "docs")
    for path in (ROOT / "notebooks").iterdir():
        if path.is_file() and path.suffix in (".md", ".ipynb", ".png"):
            shutil.copy2(path, root / "notebooks" / path.name)
    return root


def test_site_refuses_a_lesson_with_a_worked_solution(tmp_path):
    site = site_module()
    root = _small_course(tmp_path)
    teacher = ROOT / "notebooks" / "teacher" / "02_catastrophic_forgetting.ipynb"
    shutil.copy2(teacher, root / "notebooks" / teacher.name)
    with pytest.raises(site.SiteError, match="worked solution"):
        site.build_site(tmp_path / "out", root=root)
    assert not (tmp_path / "out").exists()


def test_site_build_fails_on_a_broken_link(tmp_path):
    site = site_module()
    root = _small_course(tmp_path)
    glossary = root / "notebooks" / "GLOSSARY.md"
    glossary.write_text(glossary.read_text(encoding="utf-8") + "\nSee [nothing](GLOSSARY.md#no-such-term).\n",
                        encoding="utf-8")
    with pytest.raises(site.SiteError, match="no-such-term") as raised:
        site.build_site(tmp_path / "out", root=root)
    assert "(1 line(s) from Sphinx)" in str(raised.value), raised.value  # the copy is otherwise clean


def test_launch_links_only_where_the_route_works():
    site = site_module()
    assert site.launch_links("05_x", site.Launch()) == []
    binder_only = site.launch_links("05_x", site.Launch("me/course", "main", ""))
    assert [label for label, _ in binder_only] == ["Launch on Binder"]
    assert binder_only[0][1] == "https://mybinder.org/v2/gh/me/course/main?urlpath=lab/tree/notebooks/05_x.ipynb"
    both = site.launch_links("05_x", site.Launch("me/course", "dev", "https://example.org/ewc.whl"))
    assert both[0] == ("Open in Colab",
                       "https://colab.research.google.com/github/me/course/blob/dev/notebooks/05_x.ipynb")
    nb = json.loads((ROOT / "notebooks" / f"{LESSONS[0]}.ipynb").read_text(encoding="utf-8"))
    build = _load("build_notebooks_for_site", ROOT / "tools" / "build_notebooks.py")
    assert site.package_source(nb) == build.PACKAGE_SOURCE, (
        "the committed lessons name another PACKAGE_SOURCE than tools/build_notebooks.py")


# --------------------------------------------------------------------------- in a real browser
#: Pages screenshotted for the record (the index and two lessons).
SCREENSHOTS = {"index": "index.html", "lesson_04": "notebooks/04_ewc_from_first_principles.html",
               "lesson_05": "notebooks/05_elastic_weight_consolidation.html"}

#: Run in each page once it has loaded: what a reader would see broken.
PAGE_REPORT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = Array.from(document.images);
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const maths = Array.from(document.querySelectorAll('.math'));
  return {
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    broken_images: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    images: images.length,
    maths: maths.length,
    typeset: maths.filter(m => m.querySelector('mjx-container') && !m.querySelector('mjx-merror')).length,
    raw_tex: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
  };
}"""


@pytest.fixture()
def served_site(built_site):
    """The built site on a local HTTP server: ``(base URL, folder)``."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", built_site
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_every_page_in_chromium(served_site, tmp_path, tmp_path_factory):
    """Every page of the site, opened in Chromium with the network cut off: no console error, no
    request leaves the machine, every image loads, every formula is typeset by the bundled MathJax,
    every internal link and anchor leads somewhere. Screenshots of the index and two lessons."""
    from browser_support import artifacts_dir, launch_chromium, require_browser

    require_browser()
    base, folder = served_site
    shots = artifacts_dir(tmp_path_factory, "site")
    pages = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html")
                   if not p.relative_to(folder).as_posix().startswith("_static/"))
    problems, reports, outside = [], {}, []
    with launch_chromium(tmp_path / "profile") as context:
        context.route("**/*", lambda route: (route.continue_() if route.request.url.startswith(base)
                                             else (outside.append(route.request.url), route.abort())))
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        for name in pages:
            errors.clear()
            response = page.goto(base + name, wait_until="load")
            if response is None or response.status != 200:
                problems.append(f"{name}: HTTP {response and response.status}")
                continue
            report = page.evaluate(PAGE_REPORT)
            reports[name] = report
            problems += [f"{name}: {e}" for e in errors]
            problems += [f"{name}: image {src} did not load" for src in report["broken_images"]]
            if report["typeset"] != report["maths"]:
                problems.append(f"{name}: {report['maths'] - report['typeset']} of {report['maths']} formulas "
                                f"not typeset, e.g. {report['raw_tex'][:2]}")
            for shot, target in SCREENSHOTS.items():
                if name == target:
                    page.screenshot(path=str(shots / f"{shot}.png"))
                    if report["images"]:
                        page.locator("img").first.scroll_into_view_if_needed()
                        page.screenshot(path=str(shots / f"{shot}_figure.png"))
    ids = {base + name: set(report["ids"]) for name, report in reports.items()}
    for name, report in reports.items():
        for href in report["links"]:
            if not href.startswith(base):
                continue
            target, fragment = urldefrag(href)
            path = urlsplit(target).path[1:] or "index.html"
            if not (folder / unquote(path)).is_file():
                problems.append(f"{name}: link {href} leads to no file")
            elif fragment and target in ids and unquote(fragment) not in ids[target]:
                problems.append(f"{name}: link {href}: no such anchor")
    problems += [f"a page asked the network for {url}" for url in sorted(set(outside))]
    assert len(reports) == len(pages) >= 12 + 4
    assert sum(r["maths"] for r in reports.values()) > 0 and sum(r["images"] for r in reports.values()) > 12
    assert all((shots / f"{shot}.png").is_file() for shot in SCREENSHOTS)
    assert not problems, "\n".join(problems[:40])


def test_the_test_extra_includes_the_site_extra():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert extras["site"] and set(extras["site"]) <= set(extras["test"])


def test_site_ships_a_wheel_and_links_it_from_every_lesson(tmp_path):
    site = site_module()
    wheel = tmp_path / "ewc_helpers-0.2.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: the site copies it, never opens it
    with pytest.raises(site.SiteError, match="not a built ewc_helpers wheel"):
        site.build_site(tmp_path / "out", wheel=tmp_path / "ewc_helpers.zip")
    index = site.build_site(tmp_path / "out", root=_small_course(tmp_path), wheel=wheel)
    assert (index.parent / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    for name in LESSONS:
        assert f'href="../wheels/{wheel.name}"' in (index.parent / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
    assert not link_problems(index.parent)
