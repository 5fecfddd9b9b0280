"""The command line: ``python -m ewc_helpers COMMAND [options]``.

Parsing and ``--help`` never import TensorFlow, so they answer at once; a command imports what it
needs only when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
Catastrophic forgetting and Elastic Weight Consolidation (EWC) with Keras 3: run the studies
behind the lessons and print their tables, or make data and copy the lessons out.

commands:
  reproduce   run a suite of experiments and print its table
                python -m ewc_helpers reproduce --data embedded
                python -m ewc_helpers reproduce --suite permuted --tasks 10 --seeds 2
                python -m ewc_helpers reproduce --suite scenarios --seeds 3 --json results.json
  standin     write a full-size MNIST stand-in (60,000 + 10,000 distorted real digits) as IDX files
                python -m ewc_helpers standin ~/mnist-standin
  notebooks   copy the lessons into a folder (students' edition, or --teacher with solutions)
                python -m ewc_helpers notebooks ~/ewc-course
  site        build the course as a static website from the committed lessons (offline)
                python -m ewc_helpers site ~/ewc-site

Run "python -m ewc_helpers COMMAND --help" for a command's options.
"""

#: Defaults shown by --help (kept equal to the studies' own by a test; not imported from there so
#: that --help stays fast).
ARTICLE_EPOCHS = 6
PERMUTED_EPOCHS = 5
PERMUTED_TASKS = 5


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def folder_path(text):
    """A destination folder: an empty string is refused, not read as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the folder is an empty string; give the path of a folder")
    return Path(text)


SCENARIO_SETTINGS = ("task", "domain", "class", "permuted")
SCENARIO_METHODS = ("naive", "l2", "ewc", "online_ewc", "si", "mas", "replay", "joint")


def _choices(allowed):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}")
        return tuple(dict.fromkeys(items))
    return parse


def _unit_interval(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _parser(sub, name, help_text, example):
    return sub.add_parser(name, help=help_text, description=f"{help_text[0].upper()}{help_text[1:]}.",
                          epilog=f"example:\n  {example}", allow_abbrev=False,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ewc_helpers", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = _parser(sub, "reproduce", "run a suite of experiments and print its table",
                  "python -m ewc_helpers reproduce --suite permuted --tasks 10 --seeds 2 --data embedded")
    rep.add_argument("--suite", default="article", choices=("article", "permuted", "scenarios"),
                     help="article: the even/odd split (default); permuted: a permuted-MNIST task sequence; "
                          "scenarios: task-, domain- and class-incremental split MNIST and permuted MNIST")
    rep.add_argument("--data", default=None, metavar="SOURCE",
                     help="auto (default, or $EWC_DATA), tfds, embedded, or a folder of MNIST IDX .gz files")
    rep.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                     help="run seeds 0..N-1 and report mean ± std (default 1)")
    rep.add_argument("--epochs", type=_positive_int, default=None, metavar="E",
                     help=f"epochs per task (default {ARTICLE_EPOCHS} for article, as the article trains; "
                          f"{PERMUTED_EPOCHS} for permuted; the scenarios suite's own otherwise)")
    rep.add_argument("--fisher", default="exact", choices=("empirical", "sampled", "exact"),
                     help="Fisher method for EWC (default exact)")
    rep.add_argument("--tasks", type=_positive_int, default=None, metavar="T",
                     help=f"number of permuted tasks, at least 2 (--suite permuted; default {PERMUTED_TASKS})")
    rep.add_argument("--gamma", type=_unit_interval, default=None,
                     help="online-EWC decay in (0, 1] (--suite permuted; default 1)")
    rep.add_argument("--full-grid", action="store_true",
                     help="start lam from twice as many values (--suite permuted; default: 3 per method)")
    sc = rep.add_argument_group("scenarios suite (--suite scenarios; --protocol and --subset also --suite permuted)")
    sc.add_argument("--protocol", default=None, choices=("short", "hsu2018", "vandeven2019"),
                    help="short: the lessons' protocol (default); hsu2018 / vandeven2019: the published "
                         "protocols' network, optimizer, training length, buffer and lams (docs/protocols.md; "
                         "with --suite permuted: their permuted-MNIST network, training, tasks and lam grids)")
    sc.add_argument("--settings", type=_choices(SCENARIO_SETTINGS), default=None, metavar="LIST",
                    help="comma-separated subset of " + ",".join(SCENARIO_SETTINGS) + " (default: all)")
    sc.add_argument("--methods", type=_choices(SCENARIO_METHODS), default=None, metavar="LIST",
                    help="comma-separated subset of " + ",".join(SCENARIO_METHODS) + " (default: all)")
    sc.add_argument("--lam", default=None, choices=("search", "published"),
                    help="search: choose lam on seed 0's validation data; published: the protocol's values "
                         "(default: short searches, the published protocols use theirs)")
    sc.add_argument("--backend", default="local", choices=("local", "ray"),
                    help="local: run the units in this process (default); ray: hand them to Ray (pip install ray)")
    sc.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                    help="Ray workers started locally (default 1; --backend ray)")
    sc.add_argument("--address", default=None, metavar="ADDR", help="join this running Ray cluster (--backend ray)")
    sc.add_argument("--cpus-per-unit", type=_positive_int, default=1, metavar="C",
                    help="CPUs (TensorFlow threads) each unit asks of Ray (default 1)")
    sc.add_argument("--out", type=Path, default=None, metavar="FOLDER",
                    help="results folder: one file per unit as it finishes; a re-run skips the units done "
                         "(default results/scenarios-PROTOCOL)")
    sc.add_argument("--subset", type=_positive_int, default=None, metavar="N",
                    help="use N training images (and N/6 test images) of the data source, for quick checks")
    rep.add_argument("--json", type=Path, default=None, metavar="PATH",
                     help="also write every number to PATH (checked before anything runs)")
    rep.add_argument("--quiet", action="store_true", help="print only the final table")
    rep.set_defaults(subparser=rep)

    st = _parser(sub, "standin", "write a full-size MNIST stand-in as the four IDX .gz files",
                 "python -m ewc_helpers standin ~/mnist-standin && EWC_DATA=~/mnist-standin jupyter lab")
    st.add_argument("folder", type=folder_path, help="folder to write (created if missing)")
    st.add_argument("--train", type=_positive_int, default=60_000, metavar="N", help="training images (default 60,000)")
    st.add_argument("--test", type=_positive_int, default=10_000, metavar="N", help="test images (default 10,000)")
    st.add_argument("--seed", type=int, default=0, help="seed of the distortions (default 0)")
    st.add_argument("--overwrite", action="store_true", help="replace IDX files already in the folder")
    st.set_defaults(subparser=st)

    nb = _parser(sub, "notebooks", "copy the lessons into a folder",
                 "python -m ewc_helpers notebooks ~/ewc-course --teacher")
    nb.add_argument("folder", type=folder_path, help="folder to copy the notebooks into (created if missing)")
    nb.add_argument("--teacher", action="store_true", help="the teachers' edition, with worked solutions")
    nb.add_argument("--overwrite", action="store_true", help="replace notebooks already in the folder")
    nb.set_defaults(subparser=nb)

    site = _parser(sub, "site", "build the course as a static website from the committed lessons",
                   "python -m ewc_helpers site ~/ewc-site && xdg-open ~/ewc-site/index.html")
    site.add_argument("dest", type=Path, help="a new or empty folder, or a site built here before (replaced)")
    site.add_argument("--repository", default="", metavar="OWNER/NAME",
                      help="the course's GitHub repository: adds Binder and (if the lessons name a package "
                           "source) Colab links to every lesson")
    site.add_argument("--branch", default="main", help="the repository's branch for those links (default main)")
    site.add_argument("--wheel", type=Path, default=None, metavar="WHEEL",
                      help="ship this built ewc_helpers wheel in DEST/wheels/ and link it from every lesson")
    site.set_defaults(subparser=site)
    return parser


def _check_suite_options(parser, args):
    """Options that belong to one suite only, and the defaults that differ between suites."""
    if args.suite != "permuted":
        given = [name for name in ("tasks", "gamma") if getattr(args, name) is not None]
        given += ["full-grid"] if args.full_grid else []
        if given:
            parser.error(" and ".join(f"--{g}" for g in given)
                         + (" apply" if len(given) > 1 else " applies") + " only to --suite permuted")
    if args.suite == "permuted" and args.protocol not in (None, "short"):
        given = [n for n in ("epochs", "tasks", "gamma") if getattr(args, n) is not None]
        given += (["full-grid"] if args.full_grid else []) + (["fisher"] if args.fisher != "exact" else [])
        if given:
            parser.error(" and ".join(f"--{g}" for g in given) + f" cannot be set with --protocol {args.protocol}: "
                         "the protocol sets the training, tasks, Fisher and lam grids (docs/protocols.md)")
    if args.suite != "scenarios":
        shared = ("protocol", "subset") if args.suite == "permuted" else ()
        given = [n for n in ("protocol", "settings", "methods", "lam", "workers", "address", "out", "subset")
                 if getattr(args, n) is not None and n not in shared] + (["backend"] if args.backend != "local" else [])
        if given:
            parser.error(" and ".join(f"--{g.replace('_', '-')}" for g in given)
                         + (" apply" if len(given) > 1 else " applies") + " only to --suite scenarios")
    elif args.backend != "ray" and (args.workers is not None or args.address is not None):
        parser.error("--workers and --address apply only to --backend ray")
    if args.suite == "scenarios":
        given = (["epochs"] if args.epochs is not None else []) + (["fisher"] if args.fisher != "exact" else [])
        if given:
            parser.error(" and ".join(f"--{g}" for g in given) + " cannot be set for --suite scenarios: "
                         "each setting has its own budget (see ewc_helpers.studies.scenarios.SETTINGS)")
    if args.suite == "article":
        args.epochs = ARTICLE_EPOCHS if args.epochs is None else args.epochs
    elif args.suite == "permuted":
        args.tasks = PERMUTED_TASKS if args.tasks is None else args.tasks
        args.gamma = 1.0 if args.gamma is None else args.gamma
        args.epochs = PERMUTED_EPOCHS if args.epochs is None else args.epochs
        if args.tasks < 2:
            parser.error(f"--tasks {args.tasks}: a task sequence needs at least 2 tasks")


def _check_json_path(parser, path):
    """Fail now, not after the run, if ``--json PATH`` cannot be written."""
    if path is None:
        return
    if path.is_dir():
        parser.error(f"--json {path}: is a folder; give a file path")
    if not path.parent.is_dir():
        parser.error(f"--json {path}: folder {path.parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        parser.error(f"--json {path}: the file is not writable")
    if not path.exists() and not os.access(path.parent, os.W_OK):
        parser.error(f"--json {path}: folder {path.parent} is not writable")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        _check_json_path(args.subparser, args.json)
        _check_suite_options(args.subparser, args)
        from ._cli import reproduce  # TensorFlow loads here, not before

        return reproduce(args)
    if args.command == "standin":
        from ._cli import standin

        return standin(args)
    if args.command == "site":
        from .site import main as build_site  # Sphinx runs in a child process; no TensorFlow

        return build_site(args)
    from ._cli import copy_notebooks

    return copy_notebooks(args)


if __name__ == "__main__":
    sys.exit(main())
