"""Build step that puts the lessons inside the package; every piece of metadata is in pyproject.toml.

A wheel carries both editions of the lessons as package data, where ``python -m ewc_helpers
notebooks FOLDER [--teacher]`` finds them (``ewc_helpers._cli.lesson_folder``)::

    ewc_helpers/lessons/student/   notebooks/*.ipynb, notebooks/*.md
    ewc_helpers/lessons/teacher/   notebooks/teacher/*.ipynb, notebooks/*.md, notebooks/teacher/*.md

An editable install (``pip install -e .``) copies nothing: the command reads notebooks/ and
notebooks/teacher/ of the checkout. MANIFEST.in puts notebooks/ into the sdist, so that a wheel
built from the sdist has the lessons too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"
#: edition -> the (folder, pattern) pairs it is made of; a later file of the same name wins.
EDITIONS = {
    "student": [(NOTEBOOKS, "*.ipynb"), (NOTEBOOKS, "*.md")],
    "teacher": [(NOTEBOOKS / "teacher", "*.ipynb"), (NOTEBOOKS, "*.md"), (NOTEBOOKS / "teacher", "*.md")],
}


class build_py_with_lessons(build_py):
    """``build_py``, then the lessons copied into ``<build_lib>/ewc_helpers/lessons/<edition>/``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's notebooks/ folders
        for edition, parts in EDITIONS.items():
            files = {p.name: p for folder, pattern in parts for p in sorted(folder.glob(pattern))}
            if not any(name.endswith(".ipynb") for name in files):
                self.warn(f"no lessons for the {edition}s' edition in {parts[0][0]}: "
                          "the package is built without them (run tools/build_notebooks.py first)")
                continue
            target = Path(self.build_lib) / "ewc_helpers" / "lessons" / edition
            if target.exists():
                shutil.rmtree(target)  # no lesson left over from an earlier build
            target.mkdir(parents=True)
            for name, path in sorted(files.items()):
                shutil.copy2(path, target / name)


setup(cmdclass={"build_py": build_py_with_lessons})
