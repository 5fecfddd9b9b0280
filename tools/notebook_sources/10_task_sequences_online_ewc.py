# %% [markdown]
# # 10 · Task sequences and online EWC
#
# Lessons 02 to 09 had two tasks. Continual learning means a stream of them, and that raises two
# questions the two-task setting hides: how does forgetting pile up over many tasks, and what must
# a method *keep* to protect them all? A reader of the article asked the second one directly: how
# should the Fisher be updated to train a third task C once task A's data is gone? The author had
# no firm answer. This lesson answers with measurements.
#
# The benchmark is permuted MNIST (Kirkpatrick et al., 2017): every task is the ten digits, but each
# task shuffles the 784 pixels with its own fixed permutation. The tasks are equally hard and share
# nothing a fully connected network can reuse, so each one has to be stored in the weights.
#
# **What you will learn**
#
# 1. how permuted-MNIST tasks are built, and how forgetting piles up over five of them;
# 2. how to choose `lam` for a whole sequence on validation data;
# 3. the accuracy of every task after each step, the average accuracy, the learning accuracy and
#    the backward transfer of naive training, L2, EWC with one anchor per task, and online EWC;
# 4. what each method stores, and how online EWC answers the reader's question;
# 5. why one anchor per task can fall behind a single running anchor: where the summed per-task
#    penalty pulls the weights, measured on this run's anchors (and, over ten tasks, in the
#    project's measured results).
#
# **Prerequisites:** lessons 02, 05 and 07.

# %% [markdown]
# ## Setup
#
# One network for every method, as in the earlier lessons (784-128 ReLU, Adam 0.001, batch 128),
# but with a 10-way head. Each task trains for 5 epochs on at most 3,600 training digits: all of
# them on the embedded digits, a random subsample (`with_train_subset`) of a larger source, so that
# the lesson's dozen task sequences fit a class period. Validation and test splits stay whole. Each
# Fisher uses 1,000 random training examples of the task just learnt.

# %%
import numpy as np
from ewc_helpers import Anchor, accuracy, load_mnist, make_permuted_tasks, noise_margin, plots
from ewc_helpers.studies import sequences
from ewc_helpers.studies.common import lesson_seed, lesson_setup, search_lam, summarize, format_table
from ewc_helpers.tasks import with_train_subset

mnist = load_mnist()
tasks = [with_train_subset(t, 3600) for t in make_permuted_tasks(mnist, num_tasks=5, seed=lesson_seed(0))]
setup = lesson_setup(tasks[0], epochs=5, reference_examples=3600, fisher_examples=1000)
margin = noise_margin(len(tasks[0].test))
print(", ".join(t.name for t in tasks), "| examples per task:", tasks[0].counts(), "| epochs per task:", setup.epochs_per_task)

# %% [markdown]
# ## Permuted MNIST
#
# `make_permuted_tasks` draws the permutation of task t from `numpy.random.default_rng([seed, t])`,
# so a seed always gives the same tasks. Each task keeps the images and their digit labels; only
# the pixel order differs. To us the permuted digits look like noise. To a fully connected network,
# which knows nothing of pixel neighbourhoods, each task is as easy as MNIST itself.

# %%
fig = plots.permuted_digits(tasks, index=0)

# %%
# NBVAL_CHECK_OUTPUT
(x1, y1), (x2, y2) = tasks[0].arrays("test"), tasks[1].arrays("test")
flat1, flat2 = x1.reshape(len(x1), -1), x2.reshape(len(x2), -1)
print("every task labels the same images with their digits 0-9:",
      np.array_equal(y1, y2) and set(y1.tolist()) == set(range(10)))
print("a permuted image holds exactly the original's pixel values:",
      np.array_equal(np.sort(flat1, axis=1), np.sort(flat2, axis=1)))
print("no two tasks share a permutation:", len({t.permutation.tobytes() for t in tasks}) == len(tasks))

# %% [markdown]
# ## Naive training, five tasks in a row
#
# No method adds a penalty to the first task, so we train it once (`sequences.train_first_task`)
# and let every run start from those weights; the results are identical to training it again.
# Each new task starts with a fresh optimizer, so that only the weights, and whatever a method
# stores on purpose, carry over. Row i of the accuracy matrix is the test accuracy on every task
# after training task i.

# %%
first = sequences.train_first_task(tasks, setup)
naive = sequences.run_sequence(tasks, setup, "naive", first=first)
print(naive.matrix.to_text())

# %%
fig = plots.accuracy_heatmap(naive.matrix, title="naive training: accuracy matrix")

# %% [markdown]
# Each task is learnt (the diagonal) and then erodes with every task that follows; above the
# diagonal the tasks are not yet seen and accuracy is at chance, 0.1. Forgetting is gradual here,
# not the collapse of lesson 02: the tasks do not fight over the meaning of the outputs (digit 3 is
# class 3 in every task), but each new task rewrites part of the weights the old ones rely on.

# %% [markdown]
# ## Three ways to remember
#
# All three methods add $\frac{\lambda}{2} \sum_i F_i (\theta_i - \theta^*_i)^2$ while a new task
# trains. They differ in what they keep after each task:
#
# | method | stores after each task | penalty while training the next |
# |---|---|---|
# | L2 | $\theta^*$: the latest weights | $F = 1$, around the latest $\theta^*$ |
# | EWC, per task | an anchor ($\theta^*_k$, $F_k$) for *every* task $k$ so far | one term per stored anchor |
# | online EWC | one anchor: $F \leftarrow \gamma F + F_k$, $\theta^*$ = the latest weights | one term |
#
# [Online EWC](GLOSSARY.md#online-ewc) (Schwarz et al., 2018) never needs an old task's data again. We use $\gamma = 1$:
# its running Fisher is then the sum of the per-task Fishers. (With $\gamma < 1$ our penalty uses
# $F^*$ itself; Schwarz et al. and van de Ven's code multiply it by $\gamma$ once more, $\gamma F^*$,
# which is our penalty at $\gamma$ times the `lam`. The exercise on $\gamma$ says what that changes.)

# %% [markdown]
# ## Choosing lam on validation
#
# A sequence has one `lam` for all its tasks. For each value we train the whole sequence and keep
# the `lam` with the best average *validation* accuracy over all tasks after the last one, with the
# same `search_lam` as before (it extends the grid when the best sits at an end). The starting
# grids, `sequences.SEQUENCE_LAMS`, have three half-decade steps per method.

# %%
searches, chosen = {}, {"naive": naive}
for method in ("l2", "ewc", "online_ewc"):
    searches[method] = search_lam(sequences.sequence_runner(tasks, setup, method, first=first),
                                  sequences.SEQUENCE_LAMS[method], progress=print)
    chosen[method] = searches[method].best
for method, s in searches.items():
    print(f"{s.best.label:<11} validation average by lam  " + "  ".join(f"{r.lam:g}: {r.val_score:.3f}" for r in s.results))

# %%
fig = plots.sequence_sweep({s.best.label: s.results for s in searches.values()},
                           {s.best.label: s.best for s in searches.values()})

# %% [markdown]
# ## Accuracy of every task after each step
#
# One panel per method, at its chosen `lam`. Each line is one task, from the step it is learnt to
# the end of the sequence: a flat line is a task remembered, a falling one a task forgotten.

# %%
results = {r.label: r for r in chosen.values()}
fig = plots.sequence_curves(results)

# %%
fig = plots.accuracy_heatmaps(results)

# %% [markdown]
# ## Average accuracy, learning accuracy, backward transfer and memory
#
# *Average accuracy* is the mean test accuracy over all tasks after the last one. *Learning
# accuracy* is the mean accuracy on each task right after training on it, the outlined diagonal
# above (Riemer et al., 2019): a method cannot win by not learning, so it stands beside the others.
# *Backward transfer* (BWT) is the mean change in a task's accuracy between just after it was
# learnt and the end; negative means forgetting (Lopez-Paz and Ranzato, 2017). *Bytes held* is
# what the method stores after the last task, ready for the next.

# %%
rows = summarize([list(chosen.values())])
print(format_table(rows, ("average", "learning", "bwt", "memory")))

# %%
# NBVAL_CHECK_OUTPUT
by = {r["method"]: r for r in rows}
print("online EWC forgets less than naive training, beyond the noise margin (BWT):", by["online_ewc"]["bwt"] - by["naive"]["bwt"] > margin)
print("per-task EWC forgets less than naive training, beyond the noise margin (BWT):", by["ewc"]["bwt"] - by["naive"]["bwt"] > margin)

# %% [markdown]
# Does online EWC end *better* than naive training, not only forget less? Both final models are
# scored on the same test digits of all five tasks, so we compare them digit by digit: a paired
# bootstrap interval and McNemar's exact test (`compare_on_test_set`), with delta the noise
# margin of one task's test split.

# %%
from ewc_helpers import compare_on_test_set, correct_answers

online_final = sequences.run_sequence(tasks, setup, "online_ewc", chosen["online_ewc"].lam, first=first).model
right = lambda model: np.concatenate([correct_answers(model, t) for t in tasks])
final_verdict = compare_on_test_set(right(online_final), right(naive.model), margin,
                                    names=("online EWC", "naive training"))
print(final_verdict.words)

# %% [markdown]
# ## Memory held as tasks accumulate

# %%
for r in chosen.values():
    held = "  ".join(f"{h['arrays']:>2} arrays {h['bytes'] / 1e6:.2f} MB" for h in r.info["memory_history"])
    print(f"{r.label:<11} after each task: {held}")
fig = plots.memory_growth(results)

# %%
# NBVAL_CHECK_OUTPUT
online, per_task = chosen["online_ewc"].info["memory_history"], chosen["ewc"].info["memory_history"]
print("online EWC holds the same memory after 5 tasks as after 2:", online[4] == online[1])
print("per-task EWC memory grows linearly with tasks:",
      all(h == {"arrays": (k + 1) * per_task[0]["arrays"], "bytes": (k + 1) * per_task[0]["bytes"]}
          for k, h in enumerate(per_task)))
print("after 5 tasks per-task EWC holds 5 times what online EWC holds:", per_task[4]["bytes"] == 5 * online[4]["bytes"])
print("L2 holds theta* only, half of one EWC anchor:", 2 * chosen["l2"].memory["bytes"] == online[4]["bytes"])

# %% [markdown]
# ## The reader's question: task C once task A's data is gone
#
# Call P1, P2, P3 tasks A, B and C. Online EWC never needs A's data after A: right after A it
# computes $F_A$ (A's data is still at hand) and keeps the anchor. After B it computes $F_B$ on
# B's data alone, at the new weights, and folds it in: $F = \gamma F_A + F_B$, centred on the
# weights after B. Task C trains against that one anchor.
#
# The author's guess was to use B's data alone, i.e. to replace A's Fisher by B's. That is online
# EWC with $F_A$ dropped; we run it with $\gamma = 0.001$ ($\gamma$ must be positive) at the same
# `lam` (in our form the penalty then uses $F_B + 0.001 F_A$; in the published $\gamma F^*$ form the
# same $\gamma$ would also shrink the whole penalty a thousandfold), and read everything after task C from row 3 of the accuracy matrices.

# %%
b_only = sequences.run_sequence(tasks, setup, "online_ewc", chosen["online_ewc"].lam, gamma=0.001, first=first)
after_c = {**results, "online EWC, B's Fisher only": b_only}
for name, r in after_c.items():
    row, mem = r.matrix.values[2], r.info["memory_history"][1]
    print(f"{name:<28} after C: A {row[0]:.3f}  B {row[1]:.3f}  C {row[2]:.3f}"
          f"  | held while learning C: {mem['arrays']:>2} arrays, {mem['bytes'] / 1e6:.2f} MB")

# %%
# NBVAL_CHECK_OUTPUT
a_after_c = {name: r.matrix.values[2, 0] for name, r in after_c.items()}
print("after task C, online EWC keeps at least as much of task A as naive training, within the noise margin:",
      a_after_c["online EWC"] > a_after_c["naive"] - margin)
print("online EWC learnt C with one anchor, as per-task EWC holds after A alone:",
      chosen["online_ewc"].info["memory_history"][1] == chosen["ewc"].info["memory_history"][0])
print("keeping A's Fisher keeps task A after C no worse than B's Fisher alone, within the noise margin:",
      a_after_c["online EWC"] > a_after_c["online EWC, B's Fisher only"] - margin)

# %% [markdown]
# So the answer to the reader: **keep a running Fisher.** After B, add B's Fisher (from B's data,
# at the weights after B) to the Fisher you already hold from A, and centre the penalty on the
# weights after B. A's data is not needed, and the memory is one anchor however many tasks follow.
# The rows above compare it with naive training, with per-task EWC and with the author's guess;
# on three tasks the running Fisher and B's Fisher alone may differ by less than the noise
# margin, but only the running Fisher keeps every old task in its penalty (Huszár 2018).

# %% [markdown]
# ## Why one anchor per task can fall behind one running anchor
#
# Per-task EWC adds one quadratic per finished task. A sum of quadratics is one quadratic:
#
# $$\sum_k \tfrac{\lambda}{2} F_k (\theta - \theta_k)^2 = \tfrac{\lambda}{2} F_\Sigma (\theta - \bar\theta)^2 + \text{spread},
# \qquad F_\Sigma = \sum_k F_k, \quad \bar\theta = \frac{\sum_k F_k \theta_k}{F_\Sigma},$$
#
# where the spread, $\sum_k \tfrac{\lambda}{2} F_k (\bar\theta - \theta_k)^2$, is how much the anchors
# disagree. The spread does not depend on $\theta$: it is a constant, with no gradient, and cannot
# move the weights. What pulls is the first term, whose gradient is
# $\lambda F_\Sigma (\theta - \bar\theta)$. So per-task EWC has exactly online EWC's stiffness
# $F_\Sigma$, but it is centred on a Fisher-weighted average $\bar\theta$ of *all* the old
# anchors, not on the weights just learnt. Each $\theta_k$ was itself learnt under the earlier
# tasks' penalties; pulling towards every one of them again counts the old tasks twice (Huszár,
# 2018), and the pull points from the latest weights back towards $\bar\theta$. We measure the
# $\theta$-dependent term and the gradient's size at the weights a sixth task would start from:

# %%
import math
from ewc_helpers.studies import per_task_ewc
from ewc_helpers.studies.common import new_model

lam = chosen["online_ewc"].lam
anchors = sequences.run_sequence(tasks, setup, "ewc", lam, first=first).info["anchors"]
parts = per_task_ewc.penalty_decomposition(anchors[-1], anchors, lam)
print(f"at the weights after P5, lam {lam:g}: the theta-dependent term (lam/2) F_sum (theta - theta_bar)^2 "
      f"= {parts['about_centre']:.3f} nats, the norm of its gradient {parts['grad_norm']:.3f}; "
      f"online EWC's penalty and gradient there: 0 and 0 (the constant spread, {parts['spread']:.3f}, moves nothing)")

# %% [markdown]
# With no new data at all, what does that pull alone do to the network? We run one task's worth
# of Adam steps on the per-task penalty only, starting from the weights after P5, and compare the
# task just learnt before and after on the same validation digits (paired: a bootstrap interval
# and McNemar's test, delta the noise margin of one task's validation split):

# %%
steps = math.ceil(len(tasks[0].train) / setup.batch_size) * setup.epochs_per_task
pulled = per_task_ewc.penalty_only_descent(anchors[-1], anchors, lam, steps)
probe = new_model(setup, num_classes=10)
before, after = {}, {}
for label, weights, out in (("before", anchors[-1].theta, before), ("after", pulled, after)):
    probe.set_weights(weights)
    out.update({t.name: accuracy(probe, t, "val") for t in tasks})
print("P5 (the task just learnt), validation:", f"{before['P5']:.3f} -> {after['P5']:.3f}")
print("P1-P4, mean validation:", f"{np.mean([before[t] for t in ('P1', 'P2', 'P3', 'P4')]):.3f} -> "
      f"{np.mean([after[t] for t in ('P1', 'P2', 'P3', 'P4')]):.3f}")

# %%
p5_right = {}
for label, weights in (("before", anchors[-1].theta), ("after", pulled)):
    probe.set_weights(weights)
    p5_right[label] = correct_answers(probe, tasks[-1], "val")
pull_verdict = compare_on_test_set(p5_right["after"], p5_right["before"], noise_margin(len(tasks[-1].val)),
                                   names=("P5 after the penalty alone", "P5 before"))
print(pull_verdict.words)

# %%
# NBVAL_CHECK_OUTPUT
print("the per-task penalty is one quadratic about the centre plus the anchors' spread:",
      abs(parts["total"] - parts["about_centre"] - parts["spread"]) < 1e-6 * max(parts["total"], 1e-12))
online_anchor = Anchor(anchors[-1].theta, per_task_ewc.fisher_weighted_centre(anchors)[1])  # F_sum at the latest weights
print("it is not zero where the last task ended, while online EWC's penalty is:",
      parts["total"] > 0 and per_task_ewc.summed_penalty(anchors[-1], [online_anchor], lam) == 0)

# %% [markdown]
# The pull towards $\bar\theta$ grows as the anchors drift apart, because the latest weights sit
# ever further from the Fisher-weighted centre of all the old ones. Over ten permuted tasks on
# this network, `benchmarks/per_task_ewc_diagnosis.py` measures it step by step (sum by hand,
# gradients, each anchor's term, Fisher noise, Adam, width, data size): per-task EWC unlearns
# each task it has just learnt while the next one trains, and validation answers by choosing a
# `lam` so small that per-task EWC is barely more than naive training; online EWC, centred on the
# latest weights, has no such pull. The ten-task table and those measurements are in the
# project's measured results (`docs/results.md`).
#
# **Which form to use when.** For a stream of tasks, use online EWC: one anchor, centred on the
# latest weights, with `gamma = 1` (or a little below 1 for a long stream). Per-task EWC holds one
# more anchor per task and, once the tasks disagree, pulls away from the recent ones; it is the
# right tool only for showing why a single running penalty is the Bayesian form. With few tasks,
# or a network wide enough that the tasks barely disagree, the two are close.

# %% [markdown]
# ## What we measured
#
# On permuted MNIST, five tasks, one seed, `lam` chosen on validation (`python -m ewc_helpers
# reproduce --suite permuted --seeds 3` runs it over three seeds, with paired comparisons):
#
# * **Forgetting piles up.** Naive training learns each task and then loses part of it with every
#   later task.
# * **Both EWC variants forget less** than naive training (BWT), beyond the noise margin; online
#   EWC holds one anchor whatever the number of tasks, per-task EWC one more per task.
# * **The reader's question has a measured answer:** a running Fisher, updated with each new task's
#   data only, protects old tasks with one anchor. What this run says about ending better, and
#   about the price on the diagonal:

# %%
print(f"* final accuracy on all five tasks: {final_verdict.words}")
for key in ("ewc", "online_ewc", "l2"):
    gap = by[key]["learning"] - by["naive"]["learning"]
    words = (f"learns new tasks less well than naive training beyond the noise margin ({gap:+.3f})"
             if gap < -margin else f"no difference in learning accuracy from naive training detected at "
             f"this margin ({gap:+.3f}, margin {margin:.3f})")
    print(f"* {by[key]['label']}: learning accuracy {by[key]['learning']:.3f} against naive {by['naive']['learning']:.3f}: {words}")
print(f"* the per-task penalty alone, with no data: {pull_verdict.words}")

# %% [markdown]
# ## Exercises
#
# 1. Rerun the search for online EWC with `gamma=0.9` (`sequences.sequence_runner(..., gamma=0.9)`).
#    Does forgetting old tasks' Fishers a little help the later tasks? Our running Fisher is
#    `F* = gamma F*_old + F_k`, and the penalty uses `F*`; Schwarz et al. (2018) and van de Ven's
#    code penalise with `gamma F*`, i.e. our penalty at `gamma × lam`. At a `lam` chosen on
#    validation the two forms are the same family; at a fixed `lam` ours is the stiffer by `1/gamma`.
# 2. Train each task for 2 epochs instead of 5 (`setup.with_epochs(2)`). Does naive training forget
#    less?
# 3. How many tasks could per-task EWC hold in 100 MB with this network? And online EWC?

# %% [markdown] solution
# ## Solutions
#
# **1.** A `gamma` below 1 shrinks old Fishers at every task, so old tasks should be held a little
# less and new ones learnt a little more; the rows show how much on this run, with the published
# form (`gamma F*`, run here as our penalty at `gamma × lam`) beside ours.

# %% solution
lam_online = chosen["online_ewc"].lam
g = sequences.run_sequence(tasks, setup, "online_ewc", lam_online, gamma=0.9, first=first)
g_pub = sequences.run_sequence(tasks, setup, "online_ewc", 0.9 * lam_online, gamma=0.9, first=first)
for name, r in (("gamma 1", chosen["online_ewc"]), ("gamma 0.9, ours", g), ("gamma 0.9, published", g_pub)):
    print(f"{name:<21} average {r.average_accuracy:.3f}, learning {r.learning_accuracy:.3f}, "
          f"BWT {r.backward_transfer:+.3f}")

# %% [markdown] solution
# **2.** Fewer epochs per task move the weights less, so naive training forgets less and learns
# each task a little less.

# %% solution
short = setup.with_epochs(2)
naive2 = sequences.run_sequence(tasks, short, "naive")
print(f"2 epochs: average {naive2.average_accuracy:.3f}, learning {naive2.learning_accuracy:.3f}, "
      f"BWT {naive2.backward_transfer:+.3f} | {setup.epochs_per_task} epochs: average {naive.average_accuracy:.3f}, "
      f"learning {naive.learning_accuracy:.3f}, BWT {naive.backward_transfer:+.3f}")

# %% [markdown] solution
# **3.** One anchor holds two float32 copies of every weight; per-task EWC needs one anchor per
# task, online EWC one in all.

# %% solution
anchor_bytes = chosen["online_ewc"].memory["bytes"]
print(f"one anchor: {anchor_bytes / 1e6:.2f} MB; per-task EWC fits {int(100e6 // anchor_bytes)} tasks in 100 MB; "
      "online EWC fits any number")
