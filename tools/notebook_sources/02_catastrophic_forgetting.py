# %% [markdown]
# # 02 · Catastrophic forgetting: A, then B
#
# Now the network meets the tasks one after the other: task A (even digits), then task B (odd
# digits), with nothing to remind it of A. Both tasks use the same five outputs, so learning B
# means re-purposing the very weights that solved A.
#
# **What you will learn**
#
# 1. how quickly task A is [forgotten](GLOSSARY.md#forgetting) once training moves to task B;
# 2. how to draw a forgetting curve with a Keras callback;
# 3. the accuracy matrix of a task sequence, with its average accuracy and backward transfer.
#
# **Prerequisites:** lessons 00 and 01.

# %% [markdown]
# ## Setup

# %%
from ewc_helpers import AccuracyHistory, AccuracyMatrix, load_mnist, make_tasks, noise_margin, plots
from ewc_helpers.studies import two_tasks
from ewc_helpers.studies.common import lesson_setup

tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
margin = noise_margin(len(tasks["A"].test))  # 3 binomial standard errors (lesson 01)

# %% [markdown]
# ## Phase 1: task A only
#
# `two_tasks.train_task_a` seeds everything, builds a fresh MLP and trains it on task A. Every
# sequential method in this course starts from this same model (it is kept in a cache folder, so
# later lessons reuse it instead of training it again).

# %%
a = two_tasks.train_task_a(tasks, setup)
print(f"after task A: task A test {a.test['A']:.3f}, task B test {a.test['B']:.3f}")
print("article (full MNIST): task A 0.9850")

# %% [markdown]
# Task B accuracy is low, as it should be: the model has never seen an odd digit, and whatever it
# predicts for one is a guess shaped by the even digits.

# %% [markdown]
# ## Phase 2: task B, naively
#
# We keep training the same weights, on task B only. An `AccuracyHistory` callback measures test
# accuracy on both tasks every 3 batches while `model.fit` runs.

# %%
curve = AccuracyHistory([tasks["A"], tasks["B"]], every_n_batches=3)
naive = two_tasks.train_task_b(a.model, tasks, setup, "naive", callbacks=[curve])
print(f"after task B: task A test {naive.test['A']:.3f}, task B test {naive.test['B']:.3f}")
print("article (full MNIST): task A 0.2663, task B 0.9831")

# %% [markdown]
# ## The forgetting curve

# %%
fig = plots.forgetting_curves({"naive": curve}, title="naive sequential training: A is overwritten")

# %% [markdown]
# Task B's accuracy climbs from the first batches, and task A falls as soon as B is being learned.
# The cell below finds where the two curves cross and how much of A is left at the end.

# %%
crossing = next((r for r in curve.records if r["B"] > r["A"]), None)
print(f"task A: {curve.records[0]['A']:.3f} before task B, {curve.records[-1]['A']:.3f} at the end")
if crossing is not None:
    print(f"the curves cross after {crossing['epoch']:.2f} epochs of B, at task A {crossing['A']:.3f}")

# %%
# NBVAL_CHECK_OUTPUT
print("naive training loses task A by more than the noise margin:", a.test["A"] - naive.test["A"] > margin)
print("task B ends above task A:", naive.test["B"] > naive.test["A"] + margin)
print("the curves cross while task B is trained:", crossing is not None)

# %% [markdown]
# ## The accuracy matrix
#
# For a sequence of tasks, row *i* of the accuracy matrix holds the test accuracy on every task
# after training on task *i*. Two summaries come from it (Lopez-Paz and Ranzato, 2017):
#
# * **[average accuracy](GLOSSARY.md#average-accuracy)**: the mean of the last row, how good the final model is on all tasks;
# * **[backward transfer](GLOSSARY.md#backward-transfer) (BWT)**: the mean change on each earlier task between just after learning
#   it and the end. Negative BWT is forgetting.

# %%
matrix = AccuracyMatrix(["A", "B"], [a.test, naive.test])
print(matrix.to_text(digits=3))

# %%
fig = plots.accuracy_heatmap(matrix, title="naive: accuracy matrix")

# %%
# NBVAL_CHECK_OUTPUT
print("backward transfer is negative by more than the noise margin:", matrix.backward_transfer < -margin)

# %% [markdown]
# ## What we measured
#
# * After task A the model solves task A (the article: 0.985); after task B it has lost much of
#   it, by far more than the noise margin, while task B ends high (the article: A fell to 0.266).
# * The two forgetting curves cross while task B is trained, and task A keeps falling after that.
# * The accuracy matrix sums it up in one number: backward transfer is clearly negative.
#
# Task A need not fall all the way to chance (0.2): the two tasks share some structure. But
# nothing in plain gradient descent protects what task A needed.
#
# ## Exercises
#
# 1. Train on B for a single epoch (`two_tasks.train_task_b(..., epochs=1)`). Is the trade-off
#    between A and B better or worse than after the full budget?
# 2. Is forgetting symmetric? Train B first, then A, and compare the backward transfer.
# 3. Record the curve every batch (`every_n_batches=1`) and find the first batch at which task A
#    falls below task B.

# %% [markdown] solution
# ## Solutions
#
# **1.** Fewer steps on B forget less of A and learn less of B: the same trade-off, at another
# point.

# %% solution
short = two_tasks.train_task_b(a.model, tasks, setup, "naive", epochs=1)
print(f"1 epoch of B: A {short.test['A']:.3f}, B {short.test['B']:.3f} | "
      f"full budget: A {naive.test['A']:.3f}, B {naive.test['B']:.3f}")

# %% [markdown] solution
# **2.** Swap the roles of the two tasks: task B trains first, then task A. The backward transfer
# is negative again; compare the two sizes against the noise margin before calling them different.

# %% solution
swapped = {"A": tasks["B"], "B": tasks["A"], "multi": tasks["multi"]}
b_first = two_tasks.train_task_a(swapped, setup, cache=False)
a_second = two_tasks.train_task_b(b_first.model, swapped, setup, "naive")
flipped = AccuracyMatrix(["B", "A"], [b_first.test, a_second.test])  # rows keyed by task name
print(f"B then A: backward transfer {flipped.backward_transfer:+.3f} | A then B: {matrix.backward_transfer:+.3f}")

# %% [markdown] solution
# **3.** With a record after every batch, the crossing is the first record where B is above A.

# %% solution
fine = AccuracyHistory([tasks["A"], tasks["B"]], every_n_batches=1)
two_tasks.train_task_b(a.model, tasks, setup, "naive", callbacks=[fine])
first = next((r["step"] for r in fine.records if r["B"] > r["A"]), None)
print("first batch with task B above task A:", first)
