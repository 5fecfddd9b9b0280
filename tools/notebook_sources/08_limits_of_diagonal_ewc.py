# %% [markdown]
# # 08 · Why does diagonal EWC protect task A only so much?
#
# On the article's task pair, EWC keeps more of task A than naive training, but not much more than
# plain L2 does at the same cost to task B (lessons 05-06). Here we open the trained networks and
# measure where task B moved the weights, what that cost task A, and what the *diagonal* Fisher
# could see of it.
#
# **What you will learn**
#
# 1. where the Fisher sits in the network, and which weights it leaves free;
# 2. how far naive training, L2 and EWC move each weight, against that weight's Fisher;
# 3. how much of the curvature the diagonal misses, measured against the *full* Fisher along the
#    same move, and what the units that are silent on task A do.
#
# **Prerequisites:** lessons 04-07.

# %% [markdown]
# ## Setup
#
# The sweeps of lesson 06 (exact Fisher and L2, 3 seeds) give each method's `lam`; they load from
# the cache if lesson 06 or 07 ran first. Every analysis here uses the *validation* split: it
# explains, and the test split is kept for final numbers.

# %%
import numpy as np
from ewc_helpers import load_mnist, make_tasks, noise_margin, plots
from ewc_helpers.studies import movement, sensitivity
from ewc_helpers.studies.common import lesson_seeds, lesson_setup

GRIDS = sensitivity.SENSITIVITY_GRIDS["quick"]
tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
run = sensitivity.seed_sweeps(tasks, setup, lesson_seeds(3), {"EWC exact": ("exact", GRIDS["exact"]),
                                                        "L2": (None, GRIDS[None])})
best = {r["label"]: r for r in sensitivity.sensitivity_table(run["sweeps"])}

# %% [markdown]
# ## Where does the Fisher sit?

# %%
mass = [movement.fisher_mass(a["exact"]) for a in run["anchors"]]
for layer in ("hidden", "output"):
    share = np.mean([m[layer]["mass"] for m in mass])
    print(f"{layer:<6} layer: {share:6.1%} of the Fisher, {mass[0][layer]['parameters']:6.1%} of the weights")
zero = np.mean([np.mean(a["exact"].fisher[0] == 0) for a in run["anchors"]])
print(f"first-layer weights with a Fisher of exactly 0: {zero:.1%}")

# %% [markdown]
# The output layer holds a large share of the Fisher with a tiny share of the weights, and part of
# the first layer has a Fisher of exactly zero (inputs that are blank in every task-A image, and
# hidden units that never fire on task A): EWC does not hold those at all.
#
# ## How far did each weight move?
#
# For every seed we train three task-B models from the same task-A weights (naive, L2 and EWC,
# each at its chosen `lam`) and measure them against `theta_A`.

# %%
models, reports = {"naive": [], "L2": [], "EWC exact": []}, {"naive": [], "L2": [], "EWC exact": []}
for sweeper, anchors in zip(run["sweepers"], run["anchors"]):
    for name, method in (("naive", "naive"), ("L2", "l2"), ("EWC exact", "ewc")):
        lam = best[name]["lam"] if name in best else 0.0
        model = sweeper.run(method, lam, anchors["exact"], keep_model=True).model
        models[name].append(model)
        reports[name].append(movement.movement_report(model, anchors["exact"], tasks))

# %%
fig = plots.movement_vs_fisher({name: ms[0] for name, ms in models.items()}, run["anchors"][0]["exact"],
                               run["anchors"][0]["exact"].fisher, title="seed 0: each weight's move against its Fisher")

# %% [markdown]
# L2 pulls every weight with the same force, so the weights task B pushes hardest, which are often
# the ones task A needs most, still move most under it. EWC lets the weights with a small Fisher
# move freely (in the figure many move further than under naive training), and holds the ones
# with a large Fisher. That is the
# design; the question is whether the small-Fisher weights were really free.

# %%
fig = plots.movement_summary(reports)

# %%
mean = lambda name, get: float(np.mean([get(r) for r in reports[name]]))
for name in reports:
    print(f"{name:<10} distance {mean(name, lambda r: r['movement']['total']['distance']):5.2f}"
          f"  sum F d^2 {mean(name, lambda r: r['movement']['total']['fisher_weighted']):.2e}"
          f"  task A loss rise: measured {mean(name, lambda r: r['rise']['measured']):.3f},"
          f" full Fisher {mean(name, lambda r: r['rise']['full']):.3f},"
          f" diagonal {mean(name, lambda r: r['rise']['diagonal']):.4f}")

# %% [markdown]
# Read the three panels from left to right.
#
# * **Distance.** EWC moves the weights much further than L2, nearly all of it in the hidden layer.
# * **Fisher-weighted distance.** EWC's move is nearly invisible to its own penalty: it goes where
#   the diagonal Fisher is small.
# * **Loss rise.** The diagonal Fisher's estimate of what the move costs task A (`(1/2) sum F_i
#   d_i^2`) is below what the *full* Fisher says for the same move (`(1/2) d^T F d`, with every
#   off-diagonal entry, computed exactly from the change of each example's logits). Both forms,
#   and the measured rise, use the same inputs: task A's validation digits, with the exact
#   Fisher's diagonal computed on them (`movement.exact_diagonal_fisher`). Many small
#   moves, each cheap on its own, act together on the same hidden units and logits; the diagonal
#   cannot see that.

# %%
# NBVAL_CHECK_OUTPUT
ratio = lambda name, k1, k2: min(r["rise"][k1] / r["rise"][k2] for r in reports[name])
dist = lambda name: [r["movement"]["total"]["distance"] for r in reports[name]]
fw = lambda name: [r["movement"]["total"]["fisher_weighted"] for r in reports[name]]
out = np.mean([m["output"]["mass"] / m["output"]["parameters"] for m in mass])
print("the output layer holds over 10 times its share of the weights in Fisher:", out > 10)
print("EWC moves the weights further than L2 does, on every seed:", all(e > l for e, l in zip(dist("EWC exact"), dist("L2"))))
print("but its Fisher-weighted move is smaller than naive training's, on every seed:",
      all(e < n for e, n in zip(fw("EWC exact"), fw("naive"))))
print("along EWC's move the full Fisher predicts a larger loss rise than the diagonal:", ratio("EWC exact", "full", "diagonal") > 1)

# %% [markdown]
# ## Units that are silent on task A
#
# A hidden unit that never fires on task-A images (its ReLU input is never positive) has a Fisher
# of exactly zero on its incoming *and* outgoing weights. How many are there, and does what task B
# does to them matter? We also put parts of each trained network back to `theta_A` and measure task
# A's validation accuracy: only the silent units' incoming weights, the output layer, or the
# hidden layer.

# %%
a_val = np.mean([a.val["A"] for a in run["a_results"]])
print(f"silent units on task A: {np.mean([r['dead_units'] for r in reports['naive']]):.1f} of 128 (mean over seeds)")
print(f"task A validation accuracy at theta_A: {a_val:.3f}; after B, and with one part put back to theta_A:")
for name, rs in reports.items():
    parts = {p: np.mean([r["acc_A_restored"][p] for r in rs]) for p in ("units", "output", "hidden")}
    print(f"{name:<10} as trained {np.mean([r['acc_A'] for r in rs]):.3f}; silent units back {parts['units']:.3f};"
          f" output layer back {parts['output']:.3f}; hidden layer back {parts['hidden']:.3f}")

# %% [markdown]
# Which of these gaps are real? Every variant is scored on the same validation digits, so we
# compare them *paired*, digit by digit (pooled over the seeds): a bootstrap interval for the
# accuracy difference and McNemar's exact test (`compare_on_test_set`). "Beats" needs both;
# "equivalent" needs the interval inside ±delta, here the noise margin of task A's validation
# split.

# %%
from ewc_helpers import compare_on_test_set

margin = noise_margin(len(tasks["A"].val))
pooled = lambda name, key=None: np.concatenate([r["correct_A_restored"][key] if key else r["correct_A"]
                                               for r in reports[name]])
ewc_words = {
    "hidden": compare_on_test_set(pooled("EWC exact", "hidden"), pooled("EWC exact"), margin,
                                  names=("EWC, hidden layer put back", "EWC as trained")),
    "units": compare_on_test_set(pooled("EWC exact", "units"), pooled("EWC exact"), margin,
                                 names=("EWC, silent units put back", "EWC as trained")),
    "units_vs_hidden": compare_on_test_set(pooled("EWC exact", "hidden"), pooled("EWC exact", "units"), margin,
                                           names=("EWC, hidden layer put back", "EWC, silent units put back")),
}
for v in ewc_words.values():
    print(v.words)

# %%
# NBVAL_CHECK_OUTPUT
acc = lambda name, key=None: np.array([r["acc_A_restored"][key] if key else r["acc_A"] for r in reports[name]])
print("naive training forgets in the hidden layer: restoring it brings task A back further than restoring the output layer:",
      bool(np.all(acc("naive", "hidden") > acc("naive", "output") + margin)))

# %% [markdown]
# For naive training the silent units are not the story: it forgets task A in the *hidden* layer: the old
# output layer on the new features is no better, while the old features under the new output
# layer bring A back. EWC protects the output layer and the weights the diagonal Fisher marks as
# important, but lets the many weights it marks as unimportant drift together. Whether that drift
# costs task A, and whether the silent units matter, is an outcome of the run, stated below.
#
# ## What we measured
#
# * The Fisher concentrates in the output layer (over 10 times its share of the weights); part of
#   the first layer has none at all.
# * EWC moves the weights further than L2, where its diagonal Fisher is small, so its own penalty
#   barely sees the move; along that move the full Fisher, off-diagonal terms included, predicts a
#   larger rise of task A's loss than the diagonal does, on the same inputs:

# %%
full_over_diag = [r["rise"]["full"] / r["rise"]["diagonal"] for r in reports["EWC exact"]]
print(f"* the full Fisher's predicted rise along EWC's move is {min(full_over_diag):.0f} to "
      f"{max(full_over_diag):.0f} times the diagonal's, over the seeds")
print(f"* naive training forgets in the hidden layer: putting it back restores task A to "
      f"{acc('naive', 'hidden').mean():.3f}, the output layer only to {acc('naive', 'output').mean():.3f}")
print(f"* EWC's drift of the hidden layer: {ewc_words['hidden'].words}")
print(f"* the units silent on task A, for EWC: {ewc_words['units'].words}")

# %% [markdown]
# ## Exercises
#
# 1. Which share of EWC's squared move lies on weights whose Fisher is exactly zero?
# 2. Add a weak L2 pull on top of EWC (both penalties in `fit_task`). Does it close part of the gap
#    between the diagonal's and the full Fisher's predicted loss rise?
# 3. Compare the loss rise predicted by the full Fisher with the measured one for L2. Is a
#    quadratic model around `theta_A` better for a short move than for a long one?

# %% [markdown] solution
# ## Solutions
#
# **1.** Sum the squared moves of the zero-Fisher weights and divide by the total.

# %% solution
anchor0, ewc0 = run["anchors"][0]["exact"], models["EWC exact"][0]
moves = [(v.numpy() - t) ** 2 for v, t in zip(ewc0.trainable_variables, anchor0.theta)]
zero_share = sum(float(m[f == 0].sum()) for m, f in zip(moves, anchor0.fisher)) / sum(float(m.sum()) for m in moves)
print(f"share of EWC's squared move on weights with F = 0: {zero_share:.1%}")

# %% [markdown] solution
# **2.** A weak L2 term holds the zero-Fisher weights a little. Compare the full/diagonal ratio with
# EWC's alone above: if it barely changes, the gap is not in the zero-Fisher weights.

# %% solution
from ewc_helpers import accuracies, ewc_penalty, fit_task, l2_penalty
from ewc_helpers.studies.common import new_model

both = new_model(setup, weights=run["a_results"][0].model.get_weights())
fit_task(both, tasks["B"], epochs=setup.epochs_b, seed=setup.seed + 1,
         penalties=[ewc_penalty(anchor0, best["EWC exact"]["lam"]), l2_penalty(anchor0, best["L2"]["lam"] / 10)])
rep = movement.movement_report(both, anchor0, tasks)
print(f"EWC + weak L2: full/diagonal rise {rep['rise']['full'] / rep['rise']['diagonal']:.0f}, val {accuracies(both, [tasks['A'], tasks['B']], 'val')}")

# %% [markdown] solution
# **3.** For L2's short move the full Fisher's prediction is closer to the measured rise than for
# naive training's long one: a quadratic model is local.

# %% solution
for name in ("L2", "naive"):
    print(f"{name:<6} measured / full-Fisher prediction: {mean(name, lambda r: r['rise']['measured'] / r['rise']['full']):.2f}")
