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
#
# > **Think!** In lesson 02 task A fell to chance as soon as task B trained. Before you run the next
# > cell, predict: after five permuted tasks, will the first task be back at chance (0.1), or
# > somewhere above it? Which is different here: the pixels, or what each output unit means?

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

# %% [markdown]
# The curves are flat near their tops. Each point is an average over every task's validation
# digits, so each gets a 95 % binomial interval, $1.96\sqrt{p(1-p)/N}$ with $N$ the number of those
# digits (the methods are nudged sideways so that their bars do not hide each other). The bar is
# for one point alone; two points scored on the same digits are compared more tightly by a paired
# test (lesson 05). The cell under the figure says whether the neighbours of online EWC's star lie
# inside its interval: if they do, the star is the best *measured* `lam`, not one shown to be better.

# %%
val_digits = sum(len(t.val) for t in tasks)
fig = plots.sequence_sweep({s.best.label: s.results for s in searches.values()},
                           {s.best.label: s.best for s in searches.values()}, val_digits=val_digits)
best = chosen["online_ewc"].val_score
half = 1.96 * np.sqrt(best * (1 - best) / val_digits)
others = [r.val_score for r in searches["online_ewc"].results if r.lam != chosen["online_ewc"].lam]
print(f"{val_digits:,} validation digits: online EWC's star, {best:.3f}, has a 95% interval of ±{half:.3f}; "
      f"{sum(abs(v - best) < half for v in others)} of its {len(others)} other lam values lie inside it")

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
bwt = {method: r.backward_transfer for method, r in chosen.items()}
print("online EWC forgets less than naive training, beyond the noise margin (BWT):", bwt["online_ewc"] - bwt["naive"] > margin)
print("per-task EWC forgets less than naive training, beyond the noise margin (BWT):", bwt["ewc"] - bwt["naive"] > margin)

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
held = {method: sequences.memory_held(r) for method, r in chosen.items()}  # a list of Held per method
for method, history in held.items():
    print(f"{chosen[method].label:<11} after each task: "
          + "  ".join(f"{h.arrays:>2} arrays {h.megabytes:.2f} MB" for h in history))
fig = plots.memory_growth(results)

# %%
# NBVAL_CHECK_OUTPUT
online, per_task = held["online_ewc"], held["ewc"]
print("online EWC holds the same memory after 5 tasks as after 2:", online[4] == online[1])
print("per-task EWC memory grows linearly with tasks:",
      all(h.arrays == (k + 1) * per_task[0].arrays and h.bytes == (k + 1) * per_task[0].bytes
          for k, h in enumerate(per_task)))
print("after 5 tasks per-task EWC holds 5 times what online EWC holds:", per_task[4].bytes == 5 * online[4].bytes)
print("L2 holds theta* only, half of one EWC anchor:", 2 * held["l2"][4].bytes == online[4].bytes)

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
    row, mem = r.matrix.values[2], sequences.memory_held(r)[1]
    print(f"{name:<28} after C: A {row[0]:.3f}  B {row[1]:.3f}  C {row[2]:.3f}"
          f"  | held while learning C: {mem.arrays:>2} arrays, {mem.megabytes:.2f} MB")

# %%
# NBVAL_CHECK_OUTPUT
a_after_c = {name: r.matrix.values[2, 0] for name, r in after_c.items()}
print("after task C, online EWC keeps at least as much of task A as naive training, within the noise margin:",
      a_after_c["online EWC"] > a_after_c["naive"] - margin)
print("online EWC learnt C with one anchor, as per-task EWC holds after A alone:",
      held["online_ewc"][1] == held["ewc"][0])
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
      f"= {parts.about_centre:.3f} nats, the norm of its gradient {parts.grad_norm:.3f}; "
      f"online EWC's penalty and gradient there: 0 and 0 (the constant spread, {parts.spread:.3f}, moves nothing)")

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
      abs(parts.total - parts.about_centre - parts.spread) < 1e-6 * max(parts.total, 1e-12))
online_anchor = Anchor(anchors[-1].theta, per_task_ewc.fisher_weighted_centre(anchors)[1])  # F_sum at the latest weights
print("it is not zero where the last task ended, while online EWC's penalty is:",
      parts.total > 0 and per_task_ewc.summed_penalty(anchors[-1], [online_anchor], lam) == 0)

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
    mine, base = chosen[key].learning_accuracy, chosen["naive"].learning_accuracy
    words = (f"learns new tasks less well than naive training beyond the noise margin ({mine - base:+.3f})"
             if mine - base < -margin else f"no difference in learning accuracy from naive training detected at "
             f"this margin ({mine - base:+.3f}, margin {margin:.3f})")
    print(f"* {chosen[key].label}: learning accuracy {mine:.3f} against naive {base:.3f}: {words}")
print(f"* the per-task penalty alone, with no data: {pull_verdict.words}")

# %% [markdown]
# ## Check your understanding
#
# 1. Per-task EWC and online EWC with $\gamma = 1$ have the same stiffness $F_\Sigma$. What differs,
#    and why does only one of them pull the network away from the task just learnt?
# 2. A method's average accuracy beats naive training's. What must you read beside it before
#    calling the method better?
# 3. How many arrays does online EWC hold after 100 tasks, against 5? And per-task EWC?
#
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
# 4. **Write online EWC as published.** Fill in `online_update`, the running Fisher after a task,
#    $F^* = \gamma F^*_\text{old} + F_\text{new}$ (just $F_\text{new}$ after the first task, when
#    `fisher_old` is None), and `published_penalty`, Schwarz et al.'s penalty
#    $\frac{\lambda}{2}\sum_i \gamma F^*_i (\theta_i - \theta^*_i)^2$ as a scalar tensor (the library's
#    `OnlineEWC` leaves $\gamma$ out of the penalty, see "Three ways to remember"). Each takes and
#    returns one array per trainable variable. `check_online_ewc` compares them with the library's
#    `OnlineEWC` and `QuadraticPenalty` at $\gamma\lambda$, and says what differs.

# %%
import tensorflow as tf
from ewc_helpers import exercises

def online_update(fisher_old, fisher_new, gamma):
    """The running Fisher after a task: gamma * F_old + F_new, one array per variable."""
    raise NotImplementedError  # your code here

def published_penalty(variables, theta_star, fisher_star, lam, gamma):
    """lam / 2 * sum over all weights of gamma * F* * (theta - theta*)^2, a scalar tensor."""
    raise NotImplementedError  # your code here

check = exercises.check_online_ewc(online_update, published_penalty)

# %% [markdown] solution
# ## Solutions
#
# **Check your understanding.** (1) Where the pull points: per-task EWC is centred on the
# Fisher-weighted mean $\bar\theta$ of all old anchors, online EWC on the latest weights; at the
# weights just learnt online EWC's gradient is zero and per-task EWC's is not. (2) Its learning
# accuracy beside naive training's (a method can keep old tasks by not learning new ones), and an
# interval that excludes zero. (3) Online EWC: one anchor, two arrays per variable, after 5 tasks
# as after 100. Per-task EWC: one anchor per task, 100 times as many arrays as after one task.
#
# **1.** A `gamma` below 1 shrinks old Fishers at every task, so old tasks should be held a little
# less and new ones learnt a little more; the rows show how much on this run, with the published
# form (`gamma F*`, run here as our penalty at `gamma × lam`) beside ours, and the last two lines
# answer the question for each form.

# %% solution
lam_online = chosen["online_ewc"].lam
g = sequences.run_sequence(tasks, setup, "online_ewc", lam_online, gamma=0.9, first=first)
g_pub = sequences.run_sequence(tasks, setup, "online_ewc", 0.9 * lam_online, gamma=0.9, first=first)
for name, r in (("gamma 1", chosen["online_ewc"]), ("gamma 0.9, ours", g), ("gamma 0.9, published", g_pub)):
    print(f"{name:<21} average {r.average_accuracy:.3f}, learning {r.learning_accuracy:.3f}, "
          f"BWT {r.backward_transfer:+.3f}")
for name, r in (("ours", g), ("published", g_pub)):
    gain = r.learning_accuracy - chosen["online_ewc"].learning_accuracy
    print(f"gamma 0.9 ({name}) {'helps' if gain > margin else 'hurts' if gain < -margin else 'does not detectably change'}"
          f" the later tasks' learning accuracy at the noise margin ({gain:+.3f} against ±{margin:.3f})")

# %% [markdown] solution
# **2.** Fewer epochs per task move the weights less; the second line says, from this run, whether
# naive training forgot less, beyond the noise margin, and what it cost on the diagonal.

# %% solution
short = setup.with_epochs(2)
naive2 = sequences.run_sequence(tasks, short, "naive")
print(f"2 epochs: average {naive2.average_accuracy:.3f}, learning {naive2.learning_accuracy:.3f}, "
      f"BWT {naive2.backward_transfer:+.3f} | {setup.epochs_per_task} epochs: average {naive.average_accuracy:.3f}, "
      f"learning {naive.learning_accuracy:.3f}, BWT {naive.backward_transfer:+.3f}")
less = naive2.backward_transfer - naive.backward_transfer
print(f"with 2 epochs naive training {'forgets less' if less > margin else 'forgets more' if less < -margin else 'shows no difference in forgetting'}"
      f" at the noise margin (BWT {less:+.3f} against ±{margin:.3f}), learning accuracy "
      f"{naive2.learning_accuracy - naive.learning_accuracy:+.3f}")

# %% [markdown] solution
# **3.** One anchor holds two float32 copies of every weight; per-task EWC needs one anchor per
# task, online EWC one in all.

# %% solution
anchor_bytes = chosen["online_ewc"].memory["bytes"]
print(f"one anchor: {anchor_bytes / 1e6:.2f} MB; per-task EWC fits {int(100e6 // anchor_bytes)} tasks in 100 MB; "
      "online EWC fits any number")

# %% [markdown] solution
# **4.** Online EWC's update is one line per variable, and its published penalty is the quadratic
# penalty of lesson 05 with $\gamma F^*$ in place of $F$. The last line applies it to this run's
# running anchor: at $\gamma = 0.9$ the published penalty is exactly 0.9 times the library's at the
# same `lam`, which is why a `lam` chosen on validation absorbs the difference.

# %% solution
def online_update(fisher_old, fisher_new, gamma):
    if fisher_old is None:
        return [np.asarray(f) for f in fisher_new]
    return [gamma * old + new for old, new in zip(fisher_old, fisher_new)]

def published_penalty(variables, theta_star, fisher_star, lam, gamma):
    return lam / 2 * tf.add_n([tf.reduce_sum(gamma * f * (v - t) ** 2)
                               for v, t, f in zip(variables, theta_star, fisher_star)])

check = exercises.check_online_ewc(online_update, published_penalty)
probe.set_weights(pulled)
ours = float(per_task_ewc.summed_penalty(probe, [online_anchor], lam))
theirs = float(published_penalty(probe.trainable_variables, online_anchor.theta, online_anchor.fisher, lam, 0.9))
print(f"at the weights the per-task pull reached: published penalty {theirs:.3f}, ours {ours:.3f}, ratio {theirs / ours:.3f}")
