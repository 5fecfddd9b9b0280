# %% [markdown]
# # 07 · How big should `lam` be?
#
# `lam` is EWC's one dial. Too small and task A is forgotten as if there were no penalty; too large
# and task B is never learned. This lesson looks at both ends, at how to choose in between without
# touching the test split, and at what the number `lam` stands for.
#
# **What you will learn**
#
# 1. what the two ends of a `lam` grid look like, over several seeds;
# 2. how `search_lam` chooses `lam` on validation, and extends its grid when the best sits at an
#    end;
# 3. what the article's alpha = 25 means in the scale of a correct Fisher, and why `lam` plays the
#    part of the number of task-A examples (Huszár, 2018).
#
# **Prerequisites:** lessons 04-06.

# %% [markdown]
# ## Setup
#
# The sweeps are those of lesson 06 (exact Fisher and L2, 3 seeds); if lesson 06 ran first they
# load from the cache.

# %%
import numpy as np
from ewc_helpers import load_mnist, make_anchor, make_tasks, noise_margin, plots
from ewc_helpers.studies import sensitivity, two_tasks
from ewc_helpers.studies.common import lesson_seeds, lesson_setup, search_lam

GRIDS = sensitivity.SENSITIVITY_GRIDS["quick"]
tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
run = sensitivity.seed_sweeps(tasks, setup, lesson_seeds(3), {"EWC exact": ("exact", GRIDS["exact"]),
                                                        "L2": (None, GRIDS[None])})
val = {k: sensitivity.sweep_summary(v, "val") for k, v in run["sweeps"].items()}

# %% [markdown]
# ## The two ends of the dial
#
# At the smallest `lam` the penalty barely acts; at the largest it freezes the weights. We compare
# each end with the two runs it should resemble: naive training, and the task-A model itself.

# %%
naive_a = np.mean([sw.run("naive").val["A"] for sw in run["sweepers"]])
a_only = np.mean([a.val["A"] for a in run["a_results"]])
b_naive = np.mean([sw.run("naive").val["B"] for sw in run["sweepers"]])
for name, rows in val.items():
    lo, hi = rows[0], rows[-1]
    print(f"{name:<10} lam {lo['lam']:g}: val A {lo['A']:.3f}, B {lo['B']:.3f} | lam {hi['lam']:g}: val A {hi['A']:.3f}, B {hi['B']:.3f}")
print(f"naive: val A {naive_a:.3f}, B {b_naive:.3f} | task A only: val A {a_only:.3f}")

# %% [markdown]
# Where the small end lands depends on the data: a fixed `lam` is weak on one source and already
# holds part of task A on another, because the Fisher, and task B's gradients that the penalty
# must resist, both change with the data. So the lesson reports which way it went on this run:

# %%
ends = [(rows[0], rows[-1]) for rows in val.values()]
for name, (lo, _) in zip(val, ends):
    nearer = "naive training" if abs(lo["A"] - naive_a) < abs(lo["A"] - a_only) else "the task-A model"
    print(f"{name}: at its smallest lam ({lo['lam']:g}) task A ({lo['A']:.3f}) is nearer to {nearer} "
          f"(naive {naive_a:.3f}, task-A model {a_only:.3f})")

# %% [markdown]
# The large end must behave the same on any data: a stiff enough penalty keeps the task-A weights.

# %%
# NBVAL_CHECK_OUTPUT
margin = noise_margin(len(tasks["A"].val))
print("at the largest lam task A is closer to the task-A model than to naive training:",
      all(abs(hi["A"] - a_only) < abs(hi["A"] - naive_a) for _, hi in ends))
print("and task B is learned less than at the smallest lam, beyond the noise margin:",
      all(hi["B"] < lo["B"] - margin for lo, hi in ends))

# %% [markdown]
# ## Choosing `lam` on validation, with a grid that grows
#
# A grid that stops too early picks its own end and calls it the best. `search_lam` tries the
# grid, and while the best value is the smallest or the largest one tried, it adds a value a decade
# further out (up to three times per end), saying so each time. Here we start it on a deliberately
# short grid, on seed 0:

# %%
sweeper, anchor = run["sweepers"][0], run["anchors"][0]["exact"]
short = search_lam(sweeper.runner("ewc", anchor), (30.0, 100.0), progress=print)
print("lam tried:", [f"{x:g}" for x in short.lams], "-> chosen", f"{short.best.lam:g}")

# %%
# NBVAL_CHECK_OUTPUT
print("the chosen lam lies inside the grid, or the grid was extended until it did or hit its limit:",
      not short.at_edge or len(short.extended) > 0)
print("every extension was reported:", len(short.lams) == 2 + len(short.extended))

# %% [markdown]
# ## The article's alpha = 25, in the scale of a correct Fisher
#
# The article used `alpha = 25` with its own "Fisher". A penalty with the exact Fisher charges the
# same for an even move of every weight when `lam = alpha × total(F_article) / total(F_exact)`:

# %%
article_f = make_anchor(run["a_results"][0].model, tasks["A"], "article", num_batches=100)
alpha_exact = sensitivity.article_alpha_in_exact_units(25, article_f, anchor)
best_exact = sensitivity.best_row(val["EWC exact"])["lam"]
print(f"alpha = 25 on the article's Fisher ~ lam = {alpha_exact:.3g} on the exact Fisher")
print(f"  = {alpha_exact / best_exact:.0f} times the best lam for the exact Fisher ({best_exact:g})")

# %%
# NBVAL_CHECK_OUTPUT
print("alpha = 25 is stiffer than the largest lam of the exact Fisher's grid:", alpha_exact > max(GRIDS["exact"]))

# %% [markdown]
# ## What `lam` stands for
#
# Lesson 04 derived the penalty from a Laplace approximation of p(θ | A): a Gaussian whose
# precision is N_A × F, where N_A is the number of task-A examples. Our task-B loss is a *mean*
# over N_B examples, so taken literally `lam` would be N_A / N_B. Huszár (2018) points out that in
# practice `lam` replaces N_A as a free knob, and that is how we use it: chosen on validation.

# %%
n_a, n_b = len(tasks["A"].train), len(tasks["B"].train)
print(f"N_A / N_B = {n_a:,} / {n_b:,} = {n_a / n_b:.2f}; the best lam for the exact Fisher is {best_exact:g}, "
      f"{best_exact / (n_a / n_b):.0f} times the literal value")
fig = plots.tradeoff(val, chosen={k: sensitivity.choose_lam(v, score=lambda r: r["score"]) for k, v in val.items()},
                     title="validation accuracy over 3 seeds; stars: the lam chosen")

# %% [markdown]
# The literal Bayesian value and the one validation picks need not agree: the diagonal
# approximation drops most of the Fisher (lesson 08), and a network trained for a few epochs is
# not at the exact optimum the Laplace approximation assumes.
#
# ## What we measured
#
# * At the large end of the grid EWC and L2 keep task A close to the task-A model and learn less
#   of task B, beyond the noise margin. Where the small end lands depends on the run:

# %%
for name, (lo, _) in zip(val, ends):
    near_naive = abs(lo["A"] - naive_a) < abs(lo["A"] - a_only)
    print(f"* {name} at its smallest lam ({lo['lam']:g}): task A {lo['A']:.3f}, "
          + ("nearer to naive training than to the task-A model" if near_naive else
             "nearer to the task-A model than to naive training, so the grid could start lower"))
print(f"* validation chose lam {best_exact:g} for the exact Fisher, {best_exact / (n_a / n_b):.0f} times "
      f"the literal N_A / N_B = {n_a / n_b:.2f}; the article's alpha = 25 is lam {alpha_exact:.3g} in its scale, "
      f"{'stiffer than anything in our grid' if alpha_exact > max(GRIDS['exact']) else 'inside our grid'}")

# %% [markdown]
# * `search_lam` extends a grid whose best value sits at an end, and reports each extension.
#
# ## Exercises
#
# 1. Run `search_lam` on the grid `(1e5, 3e5)` instead. Which way does it extend, and where does it
#    stop?
# 2. Compute the Fisher of the task-A model on twice as many examples by passing task A's training
#    and validation data together to `compute_fisher`. Does its total change? What does that say
#    about treating `lam` as N_A?
# 3. For L2, which `lam` makes the penalty's total weight equal to EWC's at its best `lam`
#    (`lam_L2 × number of weights = lam_EWC × total(F)`)? Is it near L2's own best `lam`?

# %% [markdown] solution
# ## Solutions
#
# **1.** The best value sits at the low end, so the grid grows downwards by decades.

# %% solution
high = search_lam(sweeper.runner("ewc", anchor), (1e5, 3e5), progress=print)
print("chosen", f"{high.best.lam:g}", "after trying", [f"{x:g}" for x in high.lams])

# %% [markdown] solution
# **2.** The Fisher is a *mean* over examples, so its total barely moves with more data, while the
# Laplace precision N_A × F grows with N_A: the literal `lam` is a ratio of data sizes, and the
# `lam` validation picks is not a law of the data size.

# %% solution
from ewc_helpers import compute_fisher

x_tr, y_tr = tasks["A"].arrays("train"); x_va, y_va = tasks["A"].arrays("val")
both = compute_fisher(run["a_results"][0].model, (np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])), "exact")
print(f"total(F): training split {sensitivity.fisher_total(anchor):.4g}, training + validation {both.total():.4g}")

# %% [markdown] solution
# **3.** Matching totals gives an L2 `lam` of the right order but not the best one: L2 spends its
# pull evenly, EWC where task A needs it.

# %% solution
n_weights = sum(t.size for t in anchor.theta)
matched = best_exact * sensitivity.fisher_total(anchor) / n_weights
print(f"matched L2 lam {matched:.3g}; L2's best lam {sensitivity.best_row(val['L2'])['lam']:g}")
