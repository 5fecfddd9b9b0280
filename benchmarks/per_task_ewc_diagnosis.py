"""Issue 13: why EWC with one anchor per task falls to the naive level on 10 permuted tasks while
online EWC leads. Every number in REPORT-13.md is printed by this script.

    PYTHONPATH=. EWC_DATA=embedded python benchmarks/per_task_ewc_diagnosis.py --quick   # ~4 min
    PYTHONPATH=. EWC_DATA=embedded python benchmarks/per_task_ewc_diagnosis.py --full    # ~1 h on 2 cores
    ... --sections width data     # only some parts (core = 1-7, seed1, tasks5, width, data)
    ... --tables /tmp/p5.json /tmp/p10.json   # also summarise `reproduce --suite permuted --json` files
    ... --tables /tmp/p10.json --sections     # the tables alone

Sections (quick mode runs 1-7 on seed 0 with fewer lam values; full mode adds more lam values,
seed 1, five tasks, 8 and 9):
  1. is it a bug? the summed penalty over 9 anchors and each anchor's gradient against a float64
     numpy computation; anchors hold each task's own weights and Fisher; the loss adds the penalty;
  2. per-task against online EWC at the same lam: plasticity (accuracy on a task right after
     learning it) and how much the task just learnt is lost one task later;
  3. the summed penalty at the start of each task: its value, gradient, the anchors' spread, and
     what the network is worth at the penalty's minimum (the Fisher-weighted mean of old weights);
  4. the penalty alone (no new data), run for one task's worth of Adam steps from theta_{t-1};
  5. each anchor's term while the last task trains;
  6. the Fisher from 1,000 sampled examples against all ~3,600;
  7. fresh against carried-over Adam; lam / number of anchors;
  8. width: 1,000 hidden units (van de Ven's setup), lam = 100;
  9. data size: a 32,000-image stand-in made from the embedded digits by ewc_helpers.standin
     (seeded shifts, rotations, scaling and elastic warps), written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

# ---- the package
from types import SimpleNamespace

from ewc_helpers import sources, tasks as task_lib
from ewc_helpers.studies import common, sequences
from ewc_helpers.studies import per_task_ewc as pte
from ewc_helpers.evaluation import accuracy
from ewc_helpers.fisher import compute_fisher, subsample
from ewc_helpers.models import build_mlp
from ewc_helpers.penalties import QuadraticPenalty

import tensorflow as tf

#: The names this script uses from the data layer and the sequence study.
ewc_data = SimpleNamespace(IDX_FILES=sources.IDX_FILES, write_idx=sources.write_idx, load_mnist=sources.load_mnist,
                           make_permuted_tasks=task_lib.make_permuted_tasks)
studies = SimpleNamespace(Setup=common.Setup, PERMUTED_EPOCHS=sequences.PERMUTED_SETUP.epochs_per_task,
                          PERMUTED_FISHER_EXAMPLES=sequences.PERMUTED_SETUP.fisher_examples,
                          train_first_task=sequences.train_first_task, run_sequence=sequences.run_sequence)

LAM = 100.0  # where van de Ven runs EWC on permuted MNIST, and the middle of our grid


def say(*args):
    print(*args, flush=True)


def fmt(values, digits=2):
    return " ".join(f"{v:.{digits}f}" for v in values)


# --------------------------------------------------------------------------- helpers
class Probe:
    """Called before each task t >= 2 of a per-task run: the penalty's state at theta_{t-1}."""

    def __init__(self, tasks, setup, lam, steps, descent=True):
        self.tasks, self.lam, self.steps, self.descent = tasks, lam, steps, descent
        self.net = build_mlp(num_classes=10, hidden_units=setup.hidden_units)
        self.lr = setup.learning_rate

    def acc(self, weights, idx):
        self.net.set_weights([np.asarray(w, np.float32) for w in weights])
        return [accuracy(self.net, self.tasks[j], "test") for j in idx]

    def __call__(self, i, model, anchors, online_anchor):
        theta = [v.numpy() for v in model.trainable_variables]
        d = pte.penalty_decomposition(theta, anchors, self.lam)
        centre, f_sum = pte.fisher_weighted_centre(anchors)
        old = list(range(i))
        out = {"task": i + 1, "total": d["total"], "spread": d["spread"], "about_centre": d["about_centre"],
               "grad_norm": d["grad_norm"], "terms": d["terms"].tolist(),
               "online_value": float(QuadraticPenalty(online_anchor, self.lam)(model.trainable_variables)),
               "online_grad": float(np.sqrt(sum(np.sum(g ** 2) for g in
                                                pte.summed_gradient(theta, [online_anchor], self.lam)))),
               "fisher_share": [float(sum(np.sum(f) for f in a.fisher)) for a in anchors],
               "acc_start": self.acc(theta, old), "acc_centre": self.acc(centre, old)}
        if self.descent:
            moved = pte.penalty_only_descent(theta, anchors, self.lam, self.steps, self.lr)
            out["acc_descent"] = self.acc(moved, old)
            out["terms_descent"] = pte.anchor_terms(moved, anchors, self.lam).tolist()
        return out


def steps_per_task(task, setup):
    return math.ceil(len(task.train.labels) / setup.batch_size) * setup.epochs_per_task


def recent_loss(matrix):
    """Mean over t of acc(task t-1 right after learning it) - acc(task t-1 after task t)."""
    m = np.asarray(matrix.values)
    return float(np.mean([m[t - 1, t - 1] - m[t, t - 1] for t in range(1, len(m))]))


def summary_line(name, r):
    m = np.asarray(r["matrix"].values)
    return (f"{name:<34} avg {r['average_accuracy']:.3f}  BWT {r['backward_transfer']:+.3f}  "
            f"val {r['val_score']:.3f}  mean diag {np.mean(np.diag(m)):.3f}  last-task-lost-next "
            f"{recent_loss(r['matrix']):.3f}  ({r['seconds']:.0f}s)")


def run(tasks, setup, lam, form, first, **kw):
    return pte.run_ewc_sequence(tasks, setup, lam, form, first=first, **kw)


# --------------------------------------------------------------------------- sections
def section_bug_check(tasks, r, lam):
    say("\n== 1. Bug check: the summed penalty over the anchors, by TensorFlow and by hand")
    model, anchors = r["model"], r["anchors"]
    say(f"anchors held after {len(tasks)} tasks: {len(anchors)} (one per task but the last); "
        f"penalty while training task 10 uses tasks 1-{len(anchors)}")
    penalties = [QuadraticPenalty(a, lam) for a in anchors]
    model.set_penalties(penalties)
    tf_total = float(model.penalty())
    hand = pte.summed_penalty(model, anchors, lam)
    say(f"penalty at the final weights: TensorFlow {tf_total:.6g}, numpy float64 {hand:.6g}, "
        f"relative difference {abs(tf_total - hand) / hand:.1e}")
    x, y = tasks[-1].arrays("train")
    x, y = x[:256], y[:256]
    y_pred = model(x, training=False)
    with_pen = float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True))
    without = float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=False))
    say(f"training loss minus task loss (what fit() adds): {with_pen - without:.6g} "
        f"(relative difference to the hand sum {abs(with_pen - without - hand) / hand:.1e})")
    variables = model.trainable_variables
    worst = 0.0
    for k, (p, a) in enumerate(zip(penalties, anchors)):
        with tf.GradientTape() as tape:
            value = p(variables)
        auto = tape.gradient(value, variables)
        manual = pte.summed_gradient(model, [a], lam)
        err = max(float(np.max(np.abs(g.numpy() - m))) / (float(np.max(np.abs(m))) + 1e-30)
                  for g, m in zip(auto, manual))
        worst = max(worst, err)
    say(f"gradient of each anchor's term, autodiff against lam * F_k * (theta - theta_k): worst relative "
        f"error over {len(anchors)} anchors {worst:.1e}")
    same = [all(np.array_equal(x, y) for x, y in zip(a.theta, th)) for a, th in zip(anchors, r["thetas"])]
    distinct = min(float(sum(np.sum((np.asarray(a.theta[i], np.float64) - b.theta[i]) ** 2)
                             for i in range(len(a.theta)))) for a, b in zip(anchors[:-1], anchors[1:]))
    say(f"anchor k holds the weights at the end of task k: {all(same)}; smallest squared distance between "
        f"consecutive anchors {distinct:.3g} (not aliased)")
    # recompute F_1 and F_last from their weights
    net = build_mlp(num_classes=10, hidden_units=model.layers[-1].kernel.shape[0])
    errs = []
    for k in (0, len(anchors) - 1):
        net.set_weights(anchors[k].theta)
        seed = r["setup_seed"] + k
        xs, ys = subsample(*tasks[k].arrays("train"), r["fisher_examples"], seed)
        f = compute_fisher(net, (xs, ys), "exact", seed=seed)
        errs.append(max(float(np.max(np.abs(a - b))) / float(np.max(b)) for a, b in zip(f, anchors[k].fisher)))
    say(f"F_1 and F_{len(anchors)} recomputed from their anchors' weights: max relative difference {max(errs):.1e}")
    model.set_penalties(())
    ok = abs(tf_total - hand) / hand < 1e-4 and worst < 1e-4 and all(same) and max(errs) < 1e-4
    say(f"CONCLUSION 1: {'no bug found' if ok else 'MISMATCH'}: the code computes the per-task EWC "
        "penalty of Kirkpatrick et al. (one term per old task, each lam/2 F_k (theta - theta_k)^2)")


def section_compare(name, rs):
    say(f"\n== 2. Per-task against online EWC at the same lam ({name})")
    for label, r in rs.items():
        say(summary_line(label, r))
    for label, r in rs.items():
        m = np.asarray(r["matrix"].values)
        say(f"  {label:<32} diag (task t right after learning it): {fmt(np.diag(m))}")
        say(f"  {label:<32} final row (every task after the last):  {fmt(m[-1])}")


def section_probes(probes, lam):
    say(f"\n== 3. The summed per-task penalty at the start of each task (lam {lam:g}, at theta_(t-1))")
    say("task  anchors  penalty   spread  about-centre  |grad|  online-penalty online|grad|  "
        "acc old tasks: at theta_(t-1) / at centre   acc task t-1: at theta_(t-1) / at centre")
    for p in probes:
        say(f"{p['task']:>4}  {len(p['terms']):>7}  {p['total']:>7.3f}  {p['spread']:>7.3f}  "
            f"{p['about_centre']:>12.3f}  {p['grad_norm']:>6.2f}  {p['online_value']:>14.2g} {p['online_grad']:>12.2g}  "
            f"{np.mean(p['acc_start']):>26.3f} / {np.mean(p['acc_centre']):.3f}  "
            f"{p['acc_start'][-1]:>30.3f} / {p['acc_centre'][-1]:.3f}")
    last = probes[-1]
    share = np.array(last["fisher_share"]) / np.sum(last["fisher_share"])
    say(f"start of task {last['task']}: each anchor's term (tasks 1..{len(last['terms'])}): {fmt(last['terms'], 3)}")
    say(f"start of task {last['task']}: each anchor's share of F_sum:                {fmt(share, 3)}")
    say(f"CONCLUSION 3: at the start of task {last['task']} online EWC's penalty is {last['online_value']:.1g} "
        f"with zero gradient; the per-task penalty's theta-dependent term, (lam/2) F_sum (theta - theta_bar)^2, "
        f"is {last['about_centre']:.3f} nats with a gradient norm of {last['grad_norm']:.2f}: the pull towards the "
        f"Fisher-weighted centre. The rest, {last['spread']:.3f}, is the anchors' spread, a constant with no "
        f"gradient that cannot move the weights. At that centre the old tasks "
        f"score {np.mean(last['acc_centre']):.3f} against {np.mean(last['acc_start']):.3f} at theta_(t-1); "
        f"task {last['task'] - 1} scores {last['acc_centre'][-1]:.3f} against {last['acc_start'][-1]:.3f}.")


def section_descent(probes, steps):
    say(f"\n== 4. The penalty alone: {steps} Adam steps (one task's worth, lr 1e-3) from theta_(t-1), no data")
    say("task  acc task t-1: before -> after   mean acc tasks 1..t-2: before -> after   "
        "newest anchor's term: 0 -> after   older anchors' terms: before -> after")
    for p in probes:
        if "acc_descent" not in p:
            continue
        older_b = float(np.sum(p["terms"][:-1])) if len(p["terms"]) > 1 else 0.0
        older_a = float(np.sum(p["terms_descent"][:-1])) if len(p["terms"]) > 1 else 0.0
        early_b = np.mean(p["acc_start"][:-1]) if len(p["acc_start"]) > 1 else float("nan")
        early_a = np.mean(p["acc_descent"][:-1]) if len(p["acc_start"]) > 1 else float("nan")
        say(f"{p['task']:>4}  {p['acc_start'][-1]:>21.3f} -> {p['acc_descent'][-1]:.3f}   "
            f"{early_b:>31.3f} -> {early_a:.3f}   {p['terms_descent'][-1]:>26.3f}   "
            f"{older_b:>22.3f} -> {older_a:.3f}")
    drops = [p["acc_start"][-1] - p["acc_descent"][-1] for p in probes if "acc_descent" in p]
    say(f"CONCLUSION 4: the per-task penalty by itself, with no new data, costs the task just learnt "
        f"{np.mean(drops):.3f} accuracy on average (tasks 3-10: {np.mean(drops[1:]):.3f}); it trades the "
        "newest anchor's term for the older anchors' terms: the anchors pull against each other.")


def section_terms(rec, lam):
    say(f"\n== 5. Each anchor's term while the last task trains (lam {lam:g}); loss = Keras running loss")
    terms = rec.terms()
    say("step   " + " ".join(f"{'T' + str(k + 1):>6}" for k in range(terms.shape[1])) + "    total    loss")
    for r, t in zip(rec.records, terms):
        say(f"{r['step']:>4}   " + " ".join(f"{v:>6.3f}" for v in t) + f"  {t.sum():>7.3f}  {r['loss']:>6.3f}")
    say(f"CONCLUSION 5: over the last task the penalty goes from {terms[0].sum():.3f} to {terms[-1].sum():.3f}; "
        f"the newest anchor's term grows from 0 to {terms[-1][-1]:.3f} while the oldest's changes by "
        f"{terms[-1][0] - terms[0][0]:+.3f}.")


def section_fisher(tasks, first, setup, n_small):
    say(f"\n== 6. Fisher from {n_small:,} sampled examples against all {len(tasks[0].train.labels):,}")
    net = build_mlp(num_classes=10, hidden_units=setup.hidden_units)
    net.set_weights(first["weights"])
    x, y = tasks[0].arrays("train")
    full = compute_fisher(net, (x, y), setup.fisher)
    for seed in (0, 1):
        small = compute_fisher(net, subsample(x, y, n_small, seed), setup.fisher)
        e = pte.fisher_sampling_error(small, full)
        say(f"task 1, sample seed {seed}: sum|F_{n_small} - F_all| / sum F_all = {e['rel_l1']:.3f}; "
            f"total differs by {e['rel_total']:+.3f}; top-1% entries shared {e['top_overlap']:.2f}")
    return full


def make_standin(mnist, n_train: int, folder: Path, seed: int = 0):
    """A larger training set from the embedded digits: the package's stand-in (the originals plus
    seeded shifts, rotations, scaling and elastic warps; ewc_helpers.standin), with the 1,000 real
    test digits as its test split. Written as the four IDX files."""
    from ewc_helpers.standin import write_standin

    write_standin(folder, n_train=n_train, n_test=len(mnist.test), seed=seed, overwrite=True)
    return ewc_data.load_mnist(str(folder), verbose=False)


def core(mnist, setup, num_tasks, lam, fisher_examples, label, descent=True, record_terms=False,
         naive=True, extra_forms=()):
    """Per-task (with probes) and online EWC at one lam, plus naive, on one task sequence."""
    tasks = ewc_data.make_permuted_tasks(mnist, num_tasks, seed=setup.seed)
    first = studies.train_first_task(tasks, setup)
    steps = steps_per_task(tasks[0], setup)
    probe = Probe(tasks, setup, lam, steps, descent=descent)
    recorders = {}

    def callbacks_for(i, anchors):
        if record_terms and i == len(tasks) - 1:
            recorders[i] = pte.AnchorTermRecorder(anchors, lam, every=max(1, steps // 7))
            return [recorders[i]]
        return []

    rs = {}
    if naive:
        rs["naive"] = run(tasks, setup, 0.0, "per_task", first, fisher_examples=fisher_examples)
    rs[f"per-task EWC lam {lam:g}"] = run(tasks, setup, lam, "per_task", first, fisher_examples=fisher_examples,
                                          probe=probe, callbacks_for=callbacks_for)
    rs[f"online EWC lam {lam:g}"] = run(tasks, setup, lam, "online", first, fisher_examples=fisher_examples)
    for name, kw in extra_forms:
        kw = {"fisher_examples": fisher_examples, **kw}
        rs[name] = run(tasks, setup, kw.pop("lam"), kw.pop("form"), first, **kw)
    per_task = rs[f"per-task EWC lam {lam:g}"]
    per_task["setup_seed"], per_task["fisher_examples"] = setup.seed, fisher_examples
    return tasks, first, rs, per_task, recorders.get(len(tasks) - 1), steps


def tables(paths):
    say("\n== 10. reproduce --suite permuted results (mean ± std over seeds; lam chosen on validation)")
    for path in paths:
        rep = json.loads(Path(path).read_text())
        n, seeds = rep["num_tasks"], len(rep["runs"])
        say(f"-- {path}: {n} tasks, {seeds} seeds, {rep.get('seconds', float('nan')):.0f} s")
        for row in rep["rows"]:
            lams = ",".join(f"{x:g}" for x in row["lam"]) or "-"
            recent = [recent_loss(_Matrix(next(r for r in run["results"] if r["method"] == row["method"])["matrix"]))
                      for run in rep["runs"]]
            say(f"   {row['label']:<16} lam {lams:<12} avg {row['average']:.3f} ± "
                f"{row['average_std']:.3f}  BWT {row['bwt']:+.3f} ± "
                f"{row['bwt_std']:.3f}  last-task-lost-next {np.mean(recent):.3f}")
        for method in ("ewc", "online_ewc"):
            for run in rep["runs"]:
                tried = sorted(run["searches"][method], key=lambda r: r["lam"])
                say(f"   seed {run['seed']} {method:<10} validation by lam "
                    + "  ".join(f"{r['lam']:g}:{r['val_score']:.3f}" for r in tried)
                    + " | test " + "  ".join(f"{r['average_accuracy']:.3f}" for r in tried))


class _Matrix:
    def __init__(self, d):
        self.values = np.asarray(d["matrix"], float)


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="seed 0, sections 1-7 (the default)")
    mode.add_argument("--full", action="store_true",
                      help="sections 1-9: adds more lam values, seed 1, 5 tasks, 1,000 units, 32,000 images")
    ap.add_argument("--sections", nargs="*", default=None,
                    help="run only these of: core (1-7), seed1, tasks5, width, data (default: core in quick "
                         "mode, all in full mode)")
    ap.add_argument("--data-epochs", type=int, default=None,
                    help="epochs per task for the 32,000-image stand-in (default: the usual 5)")
    ap.add_argument("--tables", nargs="*", default=[], help="reproduce --json files to summarise (section 10)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    full = args.full
    sections = args.sections if args.sections is not None else (
        ["core", "seed1", "tasks5", "width", "data"] if full else ["core"])
    if args.tables:
        tables(args.tables)
    mnist = ewc_data.load_mnist("embedded", verbose=False)
    setup = studies.Setup().with_epochs(studies.PERMUTED_EPOCHS)
    nfish = studies.PERMUTED_FISHER_EXAMPLES
    if sections:
        say(f"setup: 784-{setup.hidden_units}-10 MLP, Adam {setup.learning_rate:g} (fresh per task), batch "
            f"{setup.batch_size}, {setup.epochs_per_task} epochs per task, exact Fisher from {nfish:,} examples; "
            f"embedded digits ({len(mnist.train.labels):,} train / {len(mnist.test.labels):,} test)")
    main_keys = ["naive", f"per-task EWC lam {LAM:g}", f"online EWC lam {LAM:g}"]

    if "core" in sections:
        tasks, first, rs, per_task, rec, steps = core(
            mnist, setup, 10, LAM, nfish, "10 tasks", record_terms=True,
            extra_forms=[(f"per-task EWC lam {LAM:g}, Fisher from all examples",
                          dict(lam=LAM, form="per_task", fisher_examples=None)),
                         (f"per-task EWC lam {LAM:g}, Adam carried over",
                          dict(lam=LAM, form="per_task", reset_optimizer=False)),
                         (f"online EWC lam {LAM:g}, Adam carried over",
                          dict(lam=LAM, form="online", reset_optimizer=False))]
            + [(f"per-task EWC lam {x:g} / anchors", dict(lam=x, form="per_task_mean"))
               for x in ((300.0, 1000.0, 3000.0) if full else (1000.0,))]
            + [(f"per-task EWC lam {x:g}", dict(lam=x, form="per_task")) for x in ((3.0, 10.0, 30.0) if full else (10.0,))]
            + [(f"online EWC lam {x:g}", dict(lam=x, form="online")) for x in ((3.0, 10.0, 30.0) if full else (10.0,))])
        section_bug_check(tasks, per_task, LAM)
        section_compare("seed 0, 10 tasks, embedded digits, 128 units", {k: rs[k] for k in main_keys})
        section_probes(per_task["probes"], LAM)
        section_descent(per_task["probes"], steps)
        section_terms(rec, LAM)
        section_fisher(tasks, first, setup, nfish)
        say("\n== 7. Variants on the same 10 tasks (seed 0): Fisher from all examples, Adam carried over, "
            "lam / number of anchors, other lam")
        for k, r in rs.items():
            if k not in main_keys:
                say(summary_line(k, r))
        p_all = rs[f"per-task EWC lam {LAM:g}, Fisher from all examples"]
        say(f"CONCLUSION 6/7: with the Fisher from all examples per-task EWC scores {p_all['average_accuracy']:.3f} "
            f"against {per_task['average_accuracy']:.3f} from {nfish:,}; compare every variant above with online "
            f"EWC's {rs[f'online EWC lam {LAM:g}']['average_accuracy']:.3f} at lam {LAM:g}.")

    if "seed1" in sections:
        say("\n== 2b. Second seed (seed 1), same comparison")
        _, _, rs1, pt1, _, _ = core(mnist, replace(setup, seed=1), 10, LAM, nfish, "seed 1", descent=True)
        section_compare("seed 1, 10 tasks", rs1)
        section_probes(pt1["probes"], LAM)
        section_descent(pt1["probes"], steps_per_task(ewc_data.make_permuted_tasks(mnist, 1, seed=1)[0], setup))
    if "tasks5" in sections:
        say("\n== 2c. Five tasks (seed 0), same lam")
        _, _, rs5, pt5, _, _ = core(mnist, setup, 5, LAM, nfish, "5 tasks", descent=True)
        section_compare("seed 0, 5 tasks", rs5)
        section_probes(pt5["probes"], LAM)
    if "width" in sections:
        say(f"\n== 8. Width: 1,000 hidden units (van de Ven's permuted-MNIST network), lam {LAM:g}, seed 0")
        wide = replace(setup, hidden_units=1000)
        _, _, rsw, ptw, _, stw = core(mnist, wide, 10, LAM, nfish, "1000 units", descent=True)
        section_compare("seed 0, 10 tasks, 1,000 hidden units", rsw)
        section_probes(ptw["probes"], LAM)
        section_descent(ptw["probes"], stw)
    if "data" in sections:
        big_setup = setup if args.data_epochs is None else setup.with_epochs(args.data_epochs)
        say(f"\n== 9. Data size: 32,000 training images (the package's stand-in: embedded digits and seeded distortions), "
            f"lam {LAM:g}, seed 0, {big_setup.epochs_per_task} epochs per task")
        with tempfile.TemporaryDirectory(prefix="issue13_standin_") as tmp:
            big = make_standin(mnist, 32_000, Path(tmp))
            say(f"stand-in written to a temporary folder, deleted afterwards ({len(big.train.labels):,} train "
                f"before the validation hold-out, {len(big.test.labels):,} real test digits)")
            _, _, rsb, ptb, _, stb = core(big, big_setup, 10, LAM, nfish, "32k", descent=True)
        section_compare("seed 0, 10 tasks, 32,000 training images", rsb)
        section_probes(ptb["probes"], LAM)
        section_descent(ptb["probes"], stb)
    say(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
