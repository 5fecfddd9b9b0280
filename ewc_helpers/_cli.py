"""What the commands of ``python -m ewc_helpers`` do, once their options are parsed and checked."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
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
    from .runner import command_line
    from .studies import common, suite_files
    from .tasks import make_tasks, summarize_tasks

    say = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    started = time.perf_counter()
    mnist = _load(args)
    if mnist is None:
        return 2
    if args.suite == "permuted" and args.subset:
        from .runner import load_data

        mnist = load_data(args.data, args.subset)
    if args.suite == "permuted" and args.protocol not in (None, "short"):
        report, title, setup = _permuted_protocol(args, mnist, say)
        if report is None:
            return 2
    elif args.suite == "permuted":
        from .studies import sequences

        setup = common.Setup(fisher=args.fisher, epochs_per_task=args.epochs,
                             fisher_examples=sequences.PERMUTED_SETUP.fisher_examples)
        report = sequences.run_permuted_suite(
            mnist, setup, num_tasks=args.tasks, seeds=args.seeds, gamma=args.gamma, progress=say,
            lams=sequences.FULL_SEQUENCE_LAMS if args.full_grid else None)
        from .studies.protocols import short_permuted_preset

        report["protocol"] = short_permuted_preset(setup, args.tasks, args.gamma, report["lams"])
        title = (f"Permuted MNIST ({mnist.source}): {args.tasks} tasks in sequence, {args.seeds} seed(s), "
                 f"{args.epochs} epochs per task, online-EWC gamma {args.gamma:g} (lam chosen on validation)\n"
                 "avg acc: mean test accuracy over every task after the last one; learning acc: mean "
                 "test accuracy on each task right after training on it;\nBWT: backward transfer "
                 "(negative = forgetting);\nbytes held after the last task, ready for the next one")
    elif args.suite == "scenarios":
        report, title = _scenarios(args, say)
        if report is None:
            return 2
    else:
        from .studies import article

        tasks = make_tasks(mnist)
        say(summarize_tasks(tasks))
        setup = common.Setup(fisher=args.fisher).with_epochs(args.epochs)
        runs, records = [], []
        clock = common.SeedClock(args.seeds, say)
        for seed in range(args.seeds):
            say(f"seed {seed + 1} of {args.seeds}")
            out = article.run_article_suite(tasks, setup.with_seed(seed), progress=say)
            runs.append(out["results"])
            records.append({"seed": seed, "results": [r.to_dict() for r in out["results"]],
                            "searches": {m: [r.to_dict() for r in s.results] for m, s in out["searches"].items()},
                            "extended": {m: s.extended for m, s in out["searches"].items()}})
            clock.finished(seed)
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
        if args.suite in suite_files.SUITES:  # scenarios reports carry their own provenance
            report.update(title=title, provenance=suite_files.provenance(
                args.suite, mnist, setup, command_line(), seeds=args.seeds, epochs=args.epochs, fisher=args.fisher,
                **({"tasks": args.tasks, "gamma": args.gamma, "full_grid": bool(args.full_grid)}
                   if args.suite == "permuted" else {})))
        args.json.write_text(json.dumps(report, indent=2, default=_jsonable))
        print(f"wrote {args.json}")
    return 0


def _permuted_protocol(args, mnist, say):
    """``reproduce --suite permuted --protocol hsu2018|vandeven2019``: the permuted suite with the
    published protocol's permuted-MNIST setup (:func:`~.studies.protocols.permuted_preset`)."""
    from .studies.protocols import permuted_preset, protocol_for, run_permuted_preset

    try:
        preset = permuted_preset(args.protocol)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return None, None, None
    args.tasks, args.gamma, args.epochs, args.fisher = (preset["num_tasks"], preset["gamma"], preset["epochs"],
                                                        preset["fisher"])
    report = run_permuted_preset(mnist, args.protocol, seeds=args.seeds, progress=say)
    train = (f"{preset['epochs']} epochs" if preset["epochs"] else f"{preset['iterations']:,} iterations")
    notes = "".join(f"\n{m} lam grid: {note}" for m, note in preset["lam_notes"].items())
    title = (f"Permuted MNIST ({mnist.source}, {mnist.origin}) under the {args.protocol} protocol: "
             f"{preset['num_tasks']} tasks in sequence, {args.seeds} seed(s), {train} per task, network "
             f"784-{'-'.join(map(str, preset['hidden']))}-10, {preset['optimizer']} lr {preset['learning_rate']:g} "
             f"batch {preset['batch_size']}, online-EWC gamma {preset['gamma']:g} (lam chosen on validation "
             f"from the protocol's grids; docs/protocols.md){notes}\n"
             "avg acc: mean test accuracy over every task after the last one; learning acc: mean "
             "test accuracy on each task right after training on it;\nBWT: backward transfer "
             "(negative = forgetting);\nbytes held after the last task, ready for the next one")
    return report, title, protocol_for(args.protocol).for_setting("permuted")


def _scenarios(args, say):
    """``reproduce --suite scenarios``: units into a results folder, the table from that folder."""
    import os

    from .runner import ResultsMismatch, command_line, load_data
    from .studies import scenario_suite
    from .studies.protocols import METHODS, SETTINGS

    protocol = args.protocol or "short"
    data = args.data or os.environ.get("EWC_DATA") or "auto"
    try:
        mnist = load_data(data, args.subset)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return None, None
    out = args.out or Path("results") / f"scenarios-{protocol}"
    try:
        report = scenario_suite.run_suite(
            data, mnist, protocol, settings=args.settings or SETTINGS, methods=args.methods or METHODS,
            seeds=args.seeds, out=out, backend=args.backend, workers=args.workers or 1, address=args.address,
            cpus_per_unit=args.cpus_per_unit, lam_mode=args.lam, subset=args.subset, command=command_line(),
            progress=say)
    except (ResultsMismatch, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None, None
    title = (f"Where EWC helps: {protocol} protocol on {mnist.source} MNIST ({mnist.origin}), {args.seeds} seed(s), "
             f"lam {report['lam_mode']}; results folder {out}\n"
             "avg acc: mean test accuracy over every task after the last one; learning acc: mean test accuracy "
             "on each task right after training on it; BWT: backward transfer (negative = forgetting)")
    return report, title


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


def fail(message) -> int:
    """Print one ``error:`` line to stderr and return the exit status of a refused command."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def standin(args) -> int:
    from .standin import ExistingSetError, write_standin

    started = time.perf_counter()
    try:
        folder = write_standin(args.folder, n_train=args.train, n_test=args.test, seed=args.seed,
                               overwrite=args.overwrite, progress=lambda msg: print(msg, flush=True))
    except ExistingSetError as err:
        return fail(f"{err.folder} already holds {', '.join(err.names)}; pass --overwrite to replace them")
    except DataError as err:
        return fail(err)
    except OSError as err:
        return fail(f"cannot write the stand-in to {args.folder}: {err.strerror or err}")
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


def lesson_sources() -> list:
    """Every folder lessons are copied from: the package's lessons folder and, in a checkout, the
    repository's ``notebooks/`` and ``notebooks/teacher/`` (resolved; some may not exist)."""
    from importlib.resources import files

    found = [Path(str(files("ewc_helpers") / "lessons")), lesson_folder(False), lesson_folder(True)]
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        found += [root / "notebooks", root / "notebooks" / "teacher"]
    return list(dict.fromkeys(p.resolve() for p in found))


def _refuse_source(dest: Path):
    """Why ``dest`` must not receive a copy (it is, holds or lies in a lesson source), or None."""
    package = Path(__file__).resolve().parent
    if dest == package or package in dest.parents:
        return f"{dest} is inside the installed ewc_helpers package; copies there would become the lessons"
    for source in lesson_sources():
        if dest == source:
            return f"{dest} is where the lessons are copied from; choose a new folder"
        if dest in source.parents:
            return f"{dest} holds {source}, where the lessons are copied from; choose a new folder"
    return None


def copy_notebooks(args) -> int:
    """Copy one edition of the lessons into ``args.folder``, all or nothing, losing nothing.

    Every file is first copied into a staging folder inside the destination; only when all are
    there are they moved into place. A file already in the destination that differs from the one
    replacing it (a student's edited lesson, a README of their own, a link) is first renamed to a
    backup beside it, and each is named. Nothing is written outside the destination: a link there
    is itself replaced (after its backup), never followed.
    """
    from .standin import check_folder  # numpy only, no TensorFlow

    source = lesson_folder(args.teacher)
    notebooks = sorted(source.glob("*.ipynb")) if source.is_dir() else []
    if not notebooks:
        return fail(f"no lessons found in {source}; this copy of ewc_helpers was installed without them "
                    "(in a source checkout, build them first: python tools/build_notebooks.py)")
    # The course index, glossary and notes (.md) and images (.png) go with either edition; the
    # teachers' edition shares the students' unless it has its own of the same name.
    extras = {}
    for folder in ([lesson_folder(False)] if args.teacher else []) + [source]:
        if folder.is_dir():
            extras.update({p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".md", ".png")})
    try:
        dest = check_folder(args.folder).absolute()
        if dest.is_symlink() and not dest.exists():
            return fail(f"{dest} is a link to a folder that does not exist")
        if dest.exists() and not dest.is_dir():
            return fail(f"{dest} exists and is not a folder")
        refusal = _refuse_source(dest.resolve())
        files = notebooks + [extras[name] for name in sorted(extras)]
        clashes = [p.name for p in files if os.path.lexists(dest / p.name)]
    except DataError as err:
        return fail(err)
    except OSError as err:  # a name too long, a folder that cannot be read, ...
        return fail(f"cannot write to {args.folder}: {err.strerror or err}")
    if refusal:
        return fail(refusal)
    if clashes and not args.overwrite:
        return fail(f"{dest} already holds {', '.join(clashes[:3])}{' ...' if len(clashes) > 3 else ''}; "
                    "pass --overwrite to replace them (files that differ from the lessons are kept as backups)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob(_COPY_PREFIX + "*"):  # left by an interrupted copy: ours to clear
            shutil.rmtree(old, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=_COPY_PREFIX, dir=dest))
    except OSError as err:
        return fail(f"cannot write to {dest}: {err.strerror or err}")
    moved = 0
    try:
        for path in files:
            shutil.copyfile(path, staging / path.name)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for path in files:  # every file is staged: from here on, renames only
            target = dest / path.name
            if os.path.lexists(target) and not _same_file_content(target, staging / path.name):
                backup = dest / f"{target.stem}.backup-{stamp}{target.suffix}"
                n = 1
                while os.path.lexists(backup):
                    n += 1
                    backup = dest / f"{target.stem}.backup-{stamp}-{n}{target.suffix}"
                os.rename(target, backup)  # renames a link itself, never what it points to
                print(f"replacing {target.name}, which differs from the lesson; your version is kept as "
                      f"{backup.name}", flush=True)
            os.replace(staging / path.name, target)
            moved += 1
    except OSError as err:
        done = ("nothing in it was replaced" if not moved else
                f"{moved} of {len(files)} files were replaced; run the command again to finish")
        return fail(f"cannot copy the lessons to {dest}: {err.strerror or err}"
                    f"{f' ({err.filename})' if err.filename else ''}; {done}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    edition = "teachers' edition, with solutions" if args.teacher else "students' edition"
    print(f"copied {len(notebooks)} lessons ({edition}) to {dest}; start with: jupyter lab {dest}")
    return 0


_COPY_PREFIX = ".ewc-lessons-copying-"


def _same_file_content(a: Path, b: Path) -> bool:
    """Whether ``a`` is a regular file (not a link) with the same bytes as ``b``."""
    if a.is_symlink() or not a.is_file():
        return False
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()
