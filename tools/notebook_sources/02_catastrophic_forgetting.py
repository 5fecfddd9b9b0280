# %% [markdown]
# # 02 · Catastrophic forgetting: A, then B
#
# Now the network meets the tasks one after the other: six epochs on task A (even digits), then
# six epochs on task B (odd digits), with nothing to remind it of A. Both tasks use the same five
# outputs, so learning B means re-purposing the very weights that solved A.
#
# **What you will learn**
#
# 1. how quickly task A is forgotten once training moves to task B;
# 2. how to draw a forgetting curve with a Keras callback;
# 3. the accuracy matrix of a task sequence, with its average accuracy and backward transfer.

# %% [markdown]
# ## Setup

# %%
import ewc_helpers
from ewc_helpers import data, evaluation, experiments, plots

tasks = data.make_tasks(data.load_mnist())
setup = experiments.Setup()

# %% [markdown]
# ## Phase 1: task A only
#
# `experiments.train_task_a` seeds everything, builds a fresh MLP and trains it on task A. Every
# sequential method in this series starts from this same model.

# %%
a = experiments.train_task_a(tasks, setup)
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
curve = evaluation.AccuracyHistory([tasks["A"], tasks["B"]], every_n_batches=3)
naive = experiments.train_task_b(a.model, tasks, setup, "naive", callbacks=[curve])
print(f"after task B: task A test {naive.test['A']:.3f}, task B test {naive.test['B']:.3f}")
print("article (full MNIST): task A 0.2663, task B 0.9831")

# %% [markdown]
# ## The forgetting curve

# %%
fig = plots.forgetting_curves({"naive": curve}, title="naive sequential training: A is overwritten")

# %% [markdown]
# Task B's accuracy climbs first; task A holds for a while and then falls steeply once B is being
# learned. The cell below finds where the two curves cross and how much of A is left at the end.

# %%
crossing = next(r for r in curve.records if r["B"] > r["A"])
print(f"task A: {curve.records[0]['A']:.3f} before task B, {crossing['A']:.3f} when the curves cross "
      f"(after {crossing['epoch']:.2f} epochs of B), {curve.records[-1]['A']:.3f} at the end")

# %%
# NBVAL_CHECK_OUTPUT
drop = a.test["A"] - naive.test["A"]
print("naive training loses more than 40 points on task A:", drop > 0.40)
print("task A ends below 0.5 while task B ends at 0.85 or more:", naive.test["A"] < 0.5 <= 0.85 <= naive.test["B"])
print("the curves cross within the first three epochs of B:", crossing["epoch"] <= 3.0)

# %% [markdown]
# ## The accuracy matrix
#
# For a sequence of tasks, row *i* of the accuracy matrix holds the test accuracy on every task
# after training on task *i*. Two summaries come from it (Lopez-Paz and Ranzato, 2017):
#
# * **average accuracy**: the mean of the last row, how good the final model is on all tasks;
# * **backward transfer (BWT)**: the mean change on each earlier task between just after learning
#   it and the end. Negative BWT is forgetting.

# %%
matrix = evaluation.AccuracyMatrix(["A", "B"], [a.test, naive.test])
print(matrix.to_text(digits=3))

# %%
fig = plots.accuracy_heatmap(matrix, title="naive: accuracy matrix")

# %%
# NBVAL_CHECK_OUTPUT
print("backward transfer is below -0.40:", matrix.backward_transfer < -0.40)
print("average accuracy is below the multi-task level of 0.85:", matrix.average_accuracy < 0.85)

# %% [markdown]
# ## What we measured
#
# * After task A the model scores the task-A accuracy printed in phase 1 (the article: 0.985).
# * Six epochs of task B cost task A more than 40 points while task B reached 0.85 or more (the
#   article: A fell to 0.266). The two curves crossed within the first three epochs of task B, at
#   the point printed above, and task A kept falling after that.
# * The accuracy matrix sums it up: backward transfer below -0.40, and an average accuracy below
#   what joint training gets.
#
# Task A is not fully at chance (0.2): the two tasks share some structure, and B's features still
# separate a few even digits. But nothing in plain gradient descent protects what A needed.
#
# ## Exercises
#
# 1. Train on B for a single epoch (`experiments.train_task_b(..., epochs=1)`). Is the trade-off
#    between A and B better or worse than after six epochs?
# 2. Swap the order (train B first, then A) by building the tasks yourself. Is forgetting
#    symmetric?
# 3. Record the curve every batch (`every_n_batches=1`) and find the batch at which task A falls
#    below 0.5.
