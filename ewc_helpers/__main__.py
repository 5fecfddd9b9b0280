"""Command line: ``python -m ewc_helpers reproduce [options]``.

``reproduce`` runs the article's experiments (multi-task, A only, naive, L2 and EWC with lam chosen
on validation, plus the article's own EWC recipe as an ablation) and prints task A and B test
accuracy per method beside the article's published figures. ``--suite permuted`` runs a
permuted-MNIST task sequence instead (``--tasks`` tasks, 5 epochs each unless ``--epochs`` says
otherwise): naive, L2, EWC with one anchor per task and online EWC (decay ``--gamma``), each lam
chosen on validation, and prints average accuracy, backward transfer and the memory each method
holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: Epochs per task of the permuted suite (kept equal to experiments.PERMUTED_EPOCHS by a test;
#: not imported from there so that --help and bad options stay fast).
PERMUTED_EPOCHS = 5


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _unit_interval(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ewc_helpers", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rep = sub.add_parser("reproduce", help="run the article's experiments and print the results table")
    rep.add_argument("--data", default=None, metavar="SOURCE",
                     help="auto (default, or $EWC_DATA), tfds, embedded, or a folder of MNIST IDX .gz files")
    rep.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                     help="run seeds 0..N-1 and report mean ± std (default 1)")
    rep.add_argument("--epochs", type=_positive_int, default=None, metavar="E",
                     help="epochs per task for every method (default 6, as in the article; "
                          f"{PERMUTED_EPOCHS} per task for --suite permuted)")
    rep.add_argument("--fisher", default="exact", choices=("empirical", "sampled", "exact"),
                     help="Fisher method for EWC (default exact)")
    rep.add_argument("--suite", default="article", choices=("article", "permuted"),
                     help="article: the even/odd split; permuted: a permuted-MNIST task sequence")
    rep.add_argument("--tasks", type=_positive_int, default=None, metavar="T",
                     help="number of permuted tasks, at least 2 (--suite permuted; default 5)")
    rep.add_argument("--gamma", type=_unit_interval, default=None,
                     help="online-EWC decay in (0, 1] (--suite permuted; default 1)")
    rep.add_argument("--full-grid", action="store_true",
                     help="sweep lam over twice as many values (--suite permuted; default: 3 per method)")
    rep.add_argument("--json", type=Path, default=None, metavar="PATH", help="write every number to PATH")
    rep.add_argument("--quiet", action="store_true", help="print only the final table")
    rep.set_defaults(subparser=rep)  # so that errors found after parsing show this command's usage
    return parser


def _check_suite_options(parser, args):
    """Options that belong to one suite only, and the defaults that differ between suites."""
    if args.suite == "article":
        given = [name for name in ("tasks", "gamma") if getattr(args, name) is not None]
        given += ["full-grid"] if args.full_grid else []
        if given:
            parser.error(" and ".join(f"--{g}" for g in given)
                         + (" apply" if len(given) > 1 else " applies") + " only to --suite permuted")
        args.epochs = 6 if args.epochs is None else args.epochs
        return
    args.tasks = 5 if args.tasks is None else args.tasks
    args.gamma = 1.0 if args.gamma is None else args.gamma
    args.epochs = PERMUTED_EPOCHS if args.epochs is None else args.epochs
    if args.tasks < 2:
        parser.error(f"--tasks {args.tasks}: a task sequence needs at least 2 tasks")


def _check_json_path(parser, path):
    if path is None:
        return
    if path.exists() and path.is_dir():
        parser.error(f"--json {path}: is a folder; give a file path")
    if not path.parent.exists():
        parser.error(f"--json {path}: folder {path.parent} does not exist")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_json_path(parser, args.json)
    _check_suite_options(args.subparser, args)

    from . import data, experiments  # imported here so that --help and bad options stay fast

    say = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    started = time.perf_counter()
    try:
        mnist = data.load_mnist(args.data, verbose=not args.quiet)
    except data.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    setup = experiments.Setup(fisher=args.fisher).with_epochs(args.epochs)
    if args.suite == "permuted":
        report = experiments.run_permuted_suite(
            mnist, setup, num_tasks=args.tasks, seeds=args.seeds, gamma=args.gamma, progress=say,
            lams=experiments.FULL_SEQUENCE_LAMS if args.full_grid else None)
        table = report["table"]
        title = (f"Permuted MNIST ({mnist.source}): {args.tasks} tasks in sequence, {args.seeds} seed(s), "
                 f"{args.epochs} epochs per task, online-EWC gamma {args.gamma:g} (lam chosen on validation)\n"
                 "avg acc: mean test accuracy over every task after the last one; BWT: backward transfer "
                 "(negative = forgetting);\nmemory held after the last task, ready for the next one")
    else:
        tasks = data.make_tasks(mnist)
        say(data.summarize_tasks(tasks))
        runs = []
        for seed in range(args.seeds):
            say(f"seed {seed + 1} of {args.seeds}")
            runs.append(experiments.run_article_suite(tasks, experiments.Setup(
                **{**setup.__dict__, "seed": seed}), progress=say))
        rows = experiments.summarize(runs)
        table = experiments.format_table(rows, with_std=args.seeds > 1)
        title = (f"Test accuracy on {mnist.source} MNIST, {args.seeds} seed(s), {args.epochs} epochs per task "
                 f"(lam chosen on validation; article: one run on full MNIST)")
        report = {"suite": "article", "rows": rows,
                  "runs": [{"seed": r["seed"], "results": [x.to_dict() for x in r["results"]],
                            "sweeps": {k: [x.to_dict() for x in v] for k, v in r["sweeps"].items()}}
                           for r in runs]}
    elapsed = time.perf_counter() - started
    print()
    print(title)
    print(table)
    print(f"finished in {elapsed:.0f} s")
    if args.json is not None:
        report.update(source=mnist.source, origin=mnist.origin, seeds=args.seeds, epochs=args.epochs,
                      fisher=args.fisher, seconds=elapsed, setup=setup.__dict__)
        args.json.write_text(json.dumps(report, indent=2, default=_jsonable))
        print(f"wrote {args.json}")
    return 0


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


if __name__ == "__main__":
    sys.exit(main())
