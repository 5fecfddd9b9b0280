"""What the commands of ``python -m ewc_helpers`` do, once their options are parsed and checked."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from .sources import DataError, load_mnist


def _load(args):
    try:
        return load_mnist(args.data, verbose=not args.quiet)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def reproduce(args) -> int:
    from .studies import common
    from .tasks import make_tasks, summarize_tasks

    say = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    started = time.perf_counter()
    mnist = _load(args)
    if mnist is None:
        return 2
    if args.suite == "permuted":
        from .studies import sequences

        setup = common.Setup(fisher=args.fisher, epochs_per_task=args.epochs,
                             fisher_examples=sequences.PERMUTED_SETUP.fisher_examples)
        report = sequences.run_permuted_suite(
            mnist, setup, num_tasks=args.tasks, seeds=args.seeds, gamma=args.gamma, progress=say,
            lams=sequences.FULL_SEQUENCE_LAMS if args.full_grid else None)
        title = (f"Permuted MNIST ({mnist.source}): {args.tasks} tasks in sequence, {args.seeds} seed(s), "
                 f"{args.epochs} epochs per task, online-EWC gamma {args.gamma:g} (lam chosen on validation)\n"
                 "avg acc: mean test accuracy over every task after the last one; learning acc: mean "
                 "test accuracy on each task right after training on it;\nBWT: backward transfer "
                 "(negative = forgetting);\nbytes held after the last task, ready for the next one")
    elif args.suite == "scenarios":
        from .studies import scenarios

        report = scenarios.run_scenarios_suite(mnist, None, seeds=args.seeds, progress=say)
        title = (f"Where EWC helps ({mnist.source} MNIST, {args.seeds} seed(s), lam chosen on validation): "
                 "average test accuracy over all tasks after the last one")
    else:
        from .studies import article

        tasks = make_tasks(mnist)
        say(summarize_tasks(tasks))
        setup = common.Setup(fisher=args.fisher).with_epochs(args.epochs)
        runs, records = [], []
        for seed in range(args.seeds):
            say(f"seed {seed + 1} of {args.seeds}")
            out = article.run_article_suite(tasks, setup.with_seed(seed), progress=say)
            runs.append(out["results"])
            records.append({"seed": seed, "results": [r.to_dict() for r in out["results"]],
                            "searches": {m: [r.to_dict() for r in s.results] for m, s in out["searches"].items()},
                            "extended": {m: s.extended for m, s in out["searches"].items()}})
        rows = common.summarize(runs)
        report = {"suite": "article", "rows": rows, "runs": records, "table": article.format_article_table(rows)}
        title = (f"Test accuracy on {mnist.source} MNIST, {args.seeds} seed(s), {args.epochs} epochs per task "
                 f"(lam chosen on validation; article: one run on full MNIST)")
    elapsed = time.perf_counter() - started
    print()
    print(title)
    print(report["table"])
    for note in report.get("extended") or []:
        print(f"grid extended: {note}")
    print(f"finished in {elapsed:.0f} s")
    if args.json is not None:
        report.update(source=mnist.source, origin=mnist.origin, seeds=args.seeds, epochs=args.epochs,
                      fisher=args.fisher, seconds=elapsed)
        args.json.write_text(json.dumps(report, indent=2, default=_jsonable))
        print(f"wrote {args.json}")
    return 0


def _jsonable(obj):
    import dataclasses

    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def standin(args) -> int:
    from .standin import write_standin

    started = time.perf_counter()
    try:
        folder = write_standin(args.folder, n_train=args.train, n_test=args.test, seed=args.seed,
                               overwrite=args.overwrite)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.train:,} training and {args.test:,} test images to {folder} "
          f"in {time.perf_counter() - started:.0f} s; use it with EWC_DATA={folder}")
    return 0


def lesson_folder(teacher: bool = False) -> Path:
    """The folder that holds one edition of the lessons (students' or, with ``teacher``, teachers').

    In an installed wheel that is package data, ``ewc_helpers/lessons/{student,teacher}/`` (see
    setup.py). In a source checkout or an editable install there is no such folder, and the
    repository's own ``notebooks/`` or ``notebooks/teacher/`` is used. Returns the package-data path
    when neither holds a lesson, so that an error names where the lessons should have been.
    """
    from importlib.resources import files

    packaged = Path(str(files("ewc_helpers") / "lessons" / ("teacher" if teacher else "student")))
    if any(packaged.glob("*.ipynb")):
        return packaged
    root = Path(__file__).resolve().parents[1]  # the checkout, when this file is not installed
    checkout = root / "notebooks" / "teacher" if teacher else root / "notebooks"
    if (root / "pyproject.toml").is_file() and any(checkout.glob("*.ipynb")):
        return checkout
    return packaged


def copy_notebooks(args) -> int:
    source = lesson_folder(args.teacher)
    notebooks = sorted(source.glob("*.ipynb")) if source.is_dir() else []
    if not notebooks:
        print(f"error: no lessons found in {source}; this copy of ewc_helpers was installed without them "
              "(in a source checkout, build them first: python tools/build_notebooks.py)", file=sys.stderr)
        return 2
    # The course index, glossary and notes (.md) and images (.png) go with either edition; the
    # teachers' edition shares the students' unless it has its own of the same name.
    extras = {}
    for folder in ([lesson_folder(False)] if args.teacher else []) + [source]:
        if folder.is_dir():
            extras.update({p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".md", ".png")})
    dest = args.folder.expanduser()
    if dest.exists() and not dest.is_dir():
        print(f"error: {dest} exists and is not a folder", file=sys.stderr)
        return 2
    files = notebooks + [extras[name] for name in sorted(extras)]
    clashes = [p.name for p in files if (dest / p.name).exists()]
    if clashes and not args.overwrite:
        print(f"error: {dest} already holds {', '.join(clashes[:3])}{' ...' if len(clashes) > 3 else ''}; "
              "pass --overwrite to replace them", file=sys.stderr)
        return 2
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, dest / path.name)
    edition = "teachers' edition, with solutions" if args.teacher else "students' edition"
    print(f"copied {len(notebooks)} lessons ({edition}) to {dest}; start with: jupyter lab {dest}")
    return 0
