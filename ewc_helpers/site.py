"""The course as a static website: ``python -m ewc_helpers site DEST``.

The site is built with Sphinx and myst-nb, the toolchain of Jupyter Book, from the committed,
already executed lessons; nothing is executed again (``nb_execution_mode = "off"``). It holds:

* the front page (``README.md``), the course index with its class plan (``notebooks/README.md``),
  the glossary and the teacher notes;
* every lesson of the **students' edition** with its outputs and figures. The teachers' edition
  (``notebooks/teacher/``) is never read, and a lesson holding a worked solution stops the build,
  so that solutions cannot be published by accident;
* the pages of ``docs/``: the guide, the measured results, the corrections to the article, speed
  and tests;
* maths typeset by a copy of MathJax that ships inside the site (from the ``sphinx-mathjax-offline``
  package), so that the site works without a network;
* under each lesson's title, a link to download the notebook and, where the route works, links to
  run it on Colab or Binder (see :func:`launch_links`);
* with ``--wheel``, a built ewc_helpers wheel in ``wheels/``, linked from every lesson: published
  with the site, its address can be the lessons' ``PACKAGE_SOURCE`` (tools/build_notebooks.py).

The build needs no network. It reads the course repository this module sits in (a checkout or an
editable install); an installed wheel holds the lessons but not the rest of the site.

This module imports neither TensorFlow nor Sphinx at import time: Sphinx runs in a child process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The file that marks a folder as a site this command built: only such a folder is overwritten.
MARKER = ".ewc-course-site"
#: Documents of the course, relative to the repository root, in the order of the site's menu.
COURSE_DOCS = ("notebooks/README.md", "notebooks/GLOSSARY.md", "notebooks/TEACHER_NOTES.md", "notebooks/EXIT_TICKET.md")
#: Never published: the answers of the exit ticket live in the teachers' edition only.
TEACHERS_ONLY = ("notebooks/teacher/EXIT_TICKET_ANSWERS.md",)
#: Pages of docs/, in the order of the site's menu (any other .md in docs/ follows them).
DOC_PAGES = ("guide", "results", "article", "speed", "testing")
#: Text that only the teachers' edition holds (tools/build_notebooks.py writes these banners).
SOLUTION_MARKS = ("WORKED SOLUTION (teachers' edition)", "Worked solution (teachers' edition)")
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{name}.ipynb"
BINDER = "https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/notebooks/{name}.ipynb"
_PACKAGE_SOURCE = re.compile(r'^PACKAGE_SOURCE\s*=\s*"([^"]*)"', re.MULTILINE)
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LESSON = re.compile(r"^\d\d_\w+$")


class SiteError(Exception):
    """A site that cannot be built as asked; the message says why, in one line."""


@dataclass(frozen=True)
class Launch:
    """Where a lesson can be run from the site: a GitHub repository ("owner/name") and branch,
    if the course is published in one, and the package source its first cell installs on Colab."""

    repository: str = ""
    branch: str = "main"
    package_source: str = ""
    #: The file name of an ewc_helpers wheel shipped with the site (in its ``wheels/`` folder), or "".
    wheel: str = ""


# --------------------------------------------------------------------------- inputs
def course_files(root: Path = ROOT) -> dict:
    """``{"front": README.md, "docs": [...], "pages": [...], "lessons": [...]}`` of a course
    repository; raises :class:`SiteError` naming what is missing."""
    root = Path(root)
    front, notebooks = root / "README.md", root / "notebooks"
    missing = [str(p.relative_to(root)) for p in [front] + [root / d for d in COURSE_DOCS] if not p.is_file()]
    lessons = sorted(p for p in notebooks.glob("*.ipynb") if _LESSON.match(p.stem)) if notebooks.is_dir() else []
    if not lessons:
        missing.append("notebooks/NN_*.ipynb")
    if missing:
        raise SiteError(f"{root} is not a course repository with built lessons: missing {', '.join(missing)} "
                        "(the site is built from a checkout of the course, not from an installed wheel)")
    docs = root / "docs"
    pages = [docs / f"{name}.md" for name in DOC_PAGES if (docs / f"{name}.md").is_file()]
    pages += sorted(p for p in docs.glob("*.md") if p not in pages) if docs.is_dir() else []
    return {"front": front, "docs": [root / d for d in COURSE_DOCS], "pages": pages, "lessons": lessons}


def check_students_edition(lesson: Path) -> dict:
    """The lesson's notebook, after checking it is fit to publish: the students' edition (no worked
    solution, no cell tagged ``solution``), executed (every code cell has run). Raises
    :class:`SiteError` otherwise."""
    nb = json.loads(Path(lesson).read_text(encoding="utf-8"))
    for number, cell in enumerate(nb.get("cells", []), start=1):
        text = "".join(cell.get("source", ""))
        if "solution" in cell.get("metadata", {}).get("tags", []) or any(m in text for m in SOLUTION_MARKS):
            raise SiteError(f"{lesson.name}: cell {number} holds a worked solution; the site publishes only "
                            "the students' edition (rebuild it with tools/build_notebooks.py)")
        if cell.get("cell_type") == "code" and text.strip() and cell.get("execution_count") is None:
            raise SiteError(f"{lesson.name}: cell {number} has not been executed; the site shows the committed "
                            "outputs without running anything (build the lesson with tools/build_notebooks.py)")
    return nb


def package_source(nb: dict) -> str:
    """The ``PACKAGE_SOURCE`` a lesson's install cell names ("" when it names none): what the lesson
    installs on Colab, as tools/build_notebooks.py wrote it."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            match = _PACKAGE_SOURCE.search("".join(cell.get("source", "")))
            if match:
                return match.group(1)
    return ""


# --------------------------------------------------------------------------- launch links
def launch_links(name: str, launch: Launch) -> list:
    """``[(label, url), ...]``: the routes that can run lesson ``name`` from the site.

    * Binder needs the repository: it builds ``environment.yml``, which installs the course.
    * Colab needs the repository (it opens the notebook from GitHub) *and* a package source in the
      lesson's install cell: without one, that cell can only ask the student to upload a wheel.
    Without a repository there is no link at all; the download link always works.
    """
    if not launch.repository:
        return []
    fields = {"repo": launch.repository, "branch": launch.branch, "name": name}
    links = [("Open in Colab", COLAB.format(**fields))] if launch.package_source else []
    return links + [("Launch on Binder", BINDER.format(**fields))]


def _launch_cell(name: str, launch: Launch) -> dict:
    parts = [f"{{download}}`Download the notebook <{name}.ipynb>`"]
    parts += [f"[{label}]({url})" for label, url in launch_links(name, launch)]
    text = ("**Run this lesson:** " + " · ".join(parts) + ", or get every lesson with "
            "`python -m ewc_helpers notebooks FOLDER`.")
    if launch.wheel:
        text += (f' The package: <a href="../wheels/{launch.wheel}" download>{launch.wheel}</a> '
                 "(on Colab, upload it beside the notebook and run the first cell).")
    return {"cell_type": "markdown", "metadata": {"tags": ["launch-links"]}, "source": text}


# --------------------------------------------------------------------------- staging
CONF = '''\
# Written by ewc_helpers.site for one build; not a source file.
project = "Catastrophic forgetting and EWC"
author = "the course authors"
root_doc = "index"
extensions = ["myst_nb", "sphinx-mathjax-offline"]
exclude_patterns = ["_build", "**/teacher/**", "**.ipynb_checkpoints"]
nb_execution_mode = "off"          # show the committed outputs; never run a lesson
nb_ipywidgets_js = {}              # no widget state is saved, and nothing may load from a CDN
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {"use_download_button": False, "use_fullscreen_button": False,
                      "show_toc_level": 2, "navigation_with_keys": False}
html_context = {"default_mode": "light"}  # a first visit has no saved mode: without this, a console error
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
suppress_warnings = ["mystnb.unknown_mime_type"]
'''

TOCTREE = """

```{{toctree}}
:hidden:
:caption: {caption}

{entries}
```
"""


def _anchor_targets(text: str) -> str:
    """``<a id="x"></a>`` anchors (the glossary's) also become MyST targets ``(x)=``, so that links
    to ``GLOSSARY.md#x`` resolve and are checked by Sphinx."""
    return re.sub(r'^<a id="([^"]+)"></a>\s*$', r"(\1)=", text, flags=re.MULTILINE)


def stage(root: Path, folder: Path, launch_repository: str = "", branch: str = "main", wheel=None) -> list:
    """Write the site's sources into ``folder`` (the repository's layout, so that every relative
    link keeps working); returns the staged lessons' names. ``wheel`` (a built ewc_helpers wheel)
    is shipped as ``wheels/NAME`` and linked from every lesson."""
    files = course_files(root)
    folder = Path(folder)
    conf = CONF
    if wheel is not None:
        (folder / "_extra" / "wheels").mkdir(parents=True)
        shutil.copy2(wheel, folder / "_extra" / "wheels" / Path(wheel).name)
        conf += 'html_extra_path = ["_extra"]\n'
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    (folder / "docs").mkdir(exist_ok=True)
    names = []
    for lesson in files["lessons"]:
        nb = check_students_edition(lesson)
        launch = Launch(launch_repository, branch, package_source(nb), Path(wheel).name if wheel else "")
        cells = nb["cells"]
        at = 2 if len(cells) > 1 and "Run time" in "".join(cells[1].get("source", "")) else 1
        cells.insert(at, _launch_cell(lesson.stem, launch))
        (folder / "notebooks" / lesson.name).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        names.append(lesson.stem)
    for doc in files["docs"]:
        text = doc.read_text(encoding="utf-8")
        (folder / "notebooks" / doc.name).write_text(_anchor_targets(text), encoding="utf-8")
    for page in files["pages"]:
        shutil.copy2(page, folder / "docs" / page.name)
    for image in (root / "notebooks").glob("*.png"):
        shutil.copy2(image, folder / "notebooks" / image.name)
    course = ["notebooks/README"] + [f"notebooks/{n}" for n in names] + ["notebooks/GLOSSARY", "notebooks/TEACHER_NOTES", "notebooks/EXIT_TICKET"]
    front = files["front"].read_text(encoding="utf-8")
    front += TOCTREE.format(caption="The course", entries="\n".join(course))
    if files["pages"]:
        front += TOCTREE.format(caption="Reference", entries="\n".join(f"docs/{p.stem}" for p in files["pages"]))
    (folder / "index.md").write_text(front, encoding="utf-8")
    (folder / "conf.py").write_text(conf, encoding="utf-8")
    return names


# --------------------------------------------------------------------------- destination
def check_destination(dest: Path) -> Path:
    """``dest`` as an absolute path if the site may be written there: a new folder, an empty one,
    or one this command built before (it holds :data:`MARKER`). Raises :class:`SiteError`
    otherwise, so that nothing else is ever overwritten."""
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and not dest.is_dir():
        raise SiteError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise SiteError(f"{dest} holds files that are not a course site (no {MARKER} in it); "
                        "give a new or empty folder")
    if dest == ROOT or ROOT in dest.parents and dest.parts[len(ROOT.parts)] in ("notebooks", "docs", "ewc_helpers"):
        raise SiteError(f"{dest} is inside the course's own sources; give a folder outside them")
    return dest


def build_site(dest, root: Path = ROOT, repository: str = "", branch: str = "main", wheel=None,
               quiet: bool = True) -> Path:
    """Build the site into ``dest`` and return the path of its front page (``index.html``).

    ``repository`` ("owner/name" on GitHub) turns on the launch links of :func:`launch_links`;
    ``wheel``, a built ``ewc_helpers-*.whl``, is shipped with the site, so that its address can be
    the lessons' ``PACKAGE_SOURCE`` once the site is published.
    Raises :class:`SiteError` if ``dest`` may not be written, the lessons are not fit to publish,
    or Sphinx reports any warning (a broken link or anchor, a missing image, ...)."""
    dest = check_destination(dest)
    absent = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline")
              if importlib.util.find_spec(m) is None]
    if absent:
        raise SiteError(f"the site needs {', '.join(absent)}: pip install -e \".[site]\" in the course repository")
    if wheel is not None and not (Path(wheel).is_file() and re.match(r"^ewc_helpers-[^-]+-.+\.whl$", Path(wheel).name)):
        raise SiteError(f"--wheel {wheel}: not a built ewc_helpers wheel (ewc_helpers-VERSION-...whl); "
                        "make one with  python -m build --wheel")
    if repository and not _REPOSITORY.match(repository):
        raise SiteError(f"--repository {repository!r}: expected owner/name, as in a GitHub address")
    with tempfile.TemporaryDirectory(prefix="ewc-site-") as tmp:
        source, out, warnings = Path(tmp) / "source", Path(tmp) / "html", Path(tmp) / "warnings.txt"
        stage(root, source, repository, branch, wheel)
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-n", "--keep-going",
                   "-w", str(warnings), "-d", str(Path(tmp) / "doctrees"), str(source), str(out)]
        if quiet:
            command.insert(3, "-q")
        env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        done = subprocess.run(command, capture_output=quiet, text=True, env=env)
        found = warnings.read_text(encoding="utf-8").strip() if warnings.exists() else ""
        if done.returncode != 0 or found:
            detail = found or (done.stderr or "").strip() or f"sphinx exited with code {done.returncode}"
            lines = [line.replace(str(source) + os.sep, "") for line in detail.splitlines()]
            raise SiteError(f"the site did not build cleanly ({len(lines)} line(s) from Sphinx): "
                            + " | ".join(lines[:20]))
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(out, dest)
        (dest / MARKER).write_text("Built by python -m ewc_helpers site; the folder is replaced on each build.\n",
                                   encoding="utf-8")
    return dest / "index.html"


def main(args) -> int:
    """The ``site`` command: build, print where the site is, or one line saying why not."""
    try:
        index = build_site(args.dest, repository=args.repository or "", branch=args.branch,
                           wheel=getattr(args, "wheel", None))
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    pages = sum(1 for _ in index.parent.rglob("*.html"))
    print(f"course site built in {index.parent} ({pages} pages); open {index}")
    return 0
