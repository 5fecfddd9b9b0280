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
#    part of the number of task-A examples (Huszár, 2018);
# 4. (exercise 4) how to write the grid-growing `lam` search yourself.
#
# **Prerequisites:** lessons 04-06.

# %% [markdown]
# ## Setup
#
# The sweeps are those of lesson 06 (exact Fisher and L2, 3 seeds); if lesson 06 ran first they
# load from the cache.

# %%
import numpy as np
from ewc_helpers import exercises, load_mnist, make_anchor, make_tasks, noise_margin, plots
from ewc_helpers.studies import sensitivity, two_tasks
from ewc_helpers.studies.common import lesson_seeds, lesson_setup, search_lam

GRIDS = sensitivity.SENSITIVITY_GRIDS["quick"]
tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
run = sensitivity.seed_sweeps(tasks, setup, lesson_seeds(3), {"EWC exact": ("exact", GRIDS["exact"]),
                                                        "L2": (None, GRIDS[None])})
val = run.summary("val")

# %% [markdown]
# ## The two ends of the dial
#
# At the smallest `lam` the penalty barely acts; at the largest it freezes the weights. We compare
# each end with the runs it should resemble: naive training, and the task-A model itself (and, for
# the plot at the end, joint training on A and B), each a mean over the same seeds.

# %%
refs = sensitivity.reference_points(run, tasks, setup)
(naive_a, b_naive), a_only = refs.naive, refs.a_only[0]
for name, rows in val.items():
    lo, hi = rows[0], rows[-1]
    print(f"{name:<10} lam {lo.lam:g}: val A {lo.A:.3f}, B {lo.B:.3f} | lam {hi.lam:g}: val A {hi.A:.3f}, B {hi.B:.3f}")
print(f"naive: val A {naive_a:.3f}, B {b_naive:.3f} | task A only: val A {a_only:.3f}")

# %% [markdown]
# Where the small end lands depends on the data: a fixed `lam` is weak on one source and already
# holds part of task A on another, because the Fisher, and task B's gradients that the penalty
# must resist, both change with the data. So the lesson reports which way it went on this run:

# %%
ends = [(rows[0], rows[-1]) for rows in val.values()]
for name, (lo, _) in zip(val, ends):
    nearer = "naive training" if abs(lo.A - naive_a) < abs(lo.A - a_only) else "the task-A model"
    print(f"{name}: at its smallest lam ({lo.lam:g}) task A ({lo.A:.3f}) is nearer to {nearer} "
          f"(naive {naive_a:.3f}, task-A model {a_only:.3f})")

# %% [markdown]
# The large end must behave the same on any data: a stiff enough penalty keeps the task-A weights.

# %%
# NBVAL_CHECK_OUTPUT
margin = noise_margin(len(tasks["A"].val))
print("at the largest lam task A is closer to the task-A model than to naive training:",
      all(abs(hi.A - a_only) < abs(hi.A - naive_a) for _, hi in ends))
print("and task B is learned less than at the smallest lam, beyond the noise margin:",
      all(hi.B < lo.B - margin for lo, hi in ends))

# %% [markdown]
# ## Choosing `lam` on validation, with a grid that grows
#
# A grid that stops too early picks its own end and calls it the best. `search_lam` tries the
# grid, and while the best value is the smallest or the largest one tried, it adds a value a decade
# further out (up to three times per end), saying so each time. Here we start it on a deliberately
# short grid, on seed 0.
#
# > **Think!** The grid is `(30, 100)`, and lesson 06 chose a `lam` in the thousands for the exact
# > Fisher. Before you run the cell: which way will the grid grow, how many values will it add,
# > and will it stop because the best `lam` is inside or because it hit its limit?

# %%
sweeper, anchor = run.sweepers[0], run.anchor("exact")
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
article_f = make_anchor(run.a_results[0].model, tasks["A"], "article", num_batches=100)
alpha_exact = sensitivity.article_alpha_in_exact_units(25, article_f, anchor)
best_exact = sensitivity.best_row(val["EWC exact"]).lam
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
fig = plots.tradeoff(val, chosen={k: sensitivity.best_row(v) for k, v in val.items()}, references=refs.as_dict(),
                     title="validation accuracy, mean ± std over 3 seeds; stars: the lam chosen")

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
    near_naive = abs(lo.A - naive_a) < abs(lo.A - a_only)
    print(f"* {name} at its smallest lam ({lo.lam:g}): task A {lo.A:.3f}, "
          + ("nearer to naive training than to the task-A model" if near_naive else
             "nearer to the task-A model than to naive training, so the grid could start lower"))
print(f"* validation chose lam {best_exact:g} for the exact Fisher, {best_exact / (n_a / n_b):.0f} times "
      f"the literal N_A / N_B = {n_a / n_b:.2f}; the article's alpha = 25 is lam {alpha_exact:.3g} in its scale, "
      f"{'stiffer than anything in our grid' if alpha_exact > max(GRIDS['exact']) else 'inside our grid'}")

# %% [markdown]
# * `search_lam` extends a grid whose best value sits at an end, and reports each extension.
#
# ## Check your understanding
#
# 1. At the largest `lam` of the grid, task A stays near the task-A model. Why is that not a good
#    choice of `lam`, and which number of the plot shows it?
# 2. Why must `lam` be chosen on the validation split and not on the test split?
# 3. `search_lam` stops after three extensions per end. What does it tell you when its chosen
#    `lam` is still the last value tried?
#
# ## Exercises
#
# 1. Run `search_lam` on the grid `(1e5, 3e5)` instead. Which way does it extend, and where does it
#    stop?
# 2. Compute the Fisher of the task-A model on n and on 2n of task A's training examples (twice as
#    many), by passing the arrays to `compute_fisher`. Does its total change? What does that say
#    about treating `lam` as N_A?
# 3. For L2, which `lam` makes the penalty's total weight equal to EWC's at its best `lam`
#    (`lam_L2 × number of weights = lam_EWC × total(F)`)? Is it near L2's own best `lam`?
# 4. **Write the `lam` search.** Fill in `grow_and_choose(run, grid, max_extensions)`: call
#    `run(lam)` for every value of `grid` (it returns a result with `.lam` and `.val_score`, the
#    mean validation accuracy of A and B), choose the `lam` with the highest `val_score` (ties:
#    the smaller `lam`), and while the chosen `lam` is the smallest value tried, try one a decade
#    below it (the largest: a decade above), at most `max_extensions` times per end. Return the
#    chosen `lam` and the sorted list of every `lam` tried. `check_lam_search` runs it on three
#    quick made-up sweeps and compares it with `search_lam`.

# %%
def grow_and_choose(run, grid, max_extensions=3):
    """Run every lam of grid, extend it by decades while the best is at an end; (best lam, lams tried)."""
    raise NotImplementedError  # your code here: a dict lam -> result, then a while loop

check = exercises.check_lam_search(grow_and_choose)

# %% [markdown] solution
# ## Solutions
#
# **1.** The direction and the stopping reason are read from the search itself:

# %% solution
high = search_lam(sweeper.runner("ewc", anchor), (1e5, 3e5), progress=print)
lowest, down = min(high.lams), min(high.lams) < 1e5
print("chosen", f"{high.best.lam:g}", "after trying", [f"{x:g}" for x in high.lams])
print((f"the grid grew {'downwards' if down else 'upwards'} {len(high.extended)} time(s), to "
       f"{lowest if down else max(high.lams):g}," if high.extended else "the grid did not grow,"),
      f"and stopped {'at its limit of three extensions' if high.at_edge else 'because the best lam lies inside the grid'}")

# %% [markdown] solution
# **2.** The Fisher is a *mean* over examples; the Laplace precision N_A × F grows with N_A. How
# much the total moved when the examples doubled:

# %% solution
from ewc_helpers import compute_fisher

x_tr, y_tr = tasks["A"].arrays("train")
n = min(len(x_tr) // 2, 1000)  # n and 2n examples: all of them on the embedded digits
totals = [compute_fisher(run.a_results[0].model, (x_tr[:k], y_tr[:k]), "exact").total() for k in (n, 2 * n)]
change = totals[1] / totals[0] - 1
print(f"total(F): {n:,} examples {totals[0]:.4g}, {2 * n:,} examples {totals[1]:.4g} ({change:+.1%})")
print(f"so doubling the examples {'changed the total by under a tenth' if abs(change) < 0.1 else 'changed the total by a tenth or more'}, "
      "while N_A × F would have doubled: the literal lam is a ratio of data sizes, and the lam validation "
      "picks does not follow the number of examples")

# %% [markdown] solution
# **3.** The L2 `lam` whose total pull equals EWC's at its best `lam`, against the `lam`
# validation chose for L2 (both on the same seeds):

# %% solution
n_weights = sum(t.size for t in anchor.theta)
matched = best_exact * sensitivity.fisher_total(anchor) / n_weights
l2_best = sensitivity.best_row(val["L2"]).lam
factor = matched / l2_best
print(f"matched L2 lam {matched:.3g}; L2's best lam {l2_best:g} ({factor:.3g} times)")
print("so matching totals", "lands near L2's own best lam (within a factor of 3)" if 1 / 3 <= factor <= 3 else
      f"does not land near L2's own best lam ({'above' if factor > 1 else 'below'} it by more than a factor of 3)")

# %% [markdown] solution
# **4.** A dict from `lam` to its result keeps every run; the loop looks at the two ends.

# %% solution
from ewc_helpers.studies.common import choose_lam

def grow_and_choose(run, grid, max_extensions=3):
    results, added = {float(lam): run(lam) for lam in grid}, {"low": 0, "high": 0}
    while True:
        best, lo, hi = choose_lam(results.values()).lam, min(results), max(results)
        if best == lo and added["low"] < max_extensions and len(results) > 1:
            added["low"] += 1
            results[lo / 10] = run(lo / 10)
        elif best == hi and added["high"] < max_extensions:
            added["high"] += 1
            results[hi * 10] = run(hi * 10)
        else:
            return best, sorted(results)

# %% solution
check = exercises.check_lam_search(grow_and_choose)

# %% [markdown] solution
# **Check your understanding.** (1) It keeps task A by not learning task B: its task-B accuracy
# (right on the plot) is far below naive training's, so its mean of A and B is low. (2) The `lam`
# that scores best on a split is tuned to that split's noise; choosing on test and reporting test
# would overstate the result, so test is only read at the `lam` validation chose. (3) That the
# grid still does not reach the best `lam`: the value reported is a bound, not an optimum, and the
# grid must start further out.
