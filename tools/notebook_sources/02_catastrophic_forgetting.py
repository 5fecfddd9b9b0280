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
import numpy as np
import keras
from ewc_helpers import (AccuracyMatrix, accuracies, build_mlp, fit_task, load_mnist, make_tasks, noise_margin,
                         plots, set_seed)
from ewc_helpers.evaluation import predict_logits
from ewc_helpers.studies import two_tasks
from ewc_helpers.studies.common import lesson_setup

tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
margin = noise_margin(len(tasks["A"].test))  # 3 binomial standard errors (lesson 01)

# %% [markdown]
# ## Phase 1: task A only
#
# `two_tasks.train_task_a` seeds everything, builds a fresh MLP and trains it on task A with
# `fit_task`, as lesson 01 trained the joint model. Every sequential method in this course starts
# from this same model (it is kept in a cache folder, so later lessons reuse it instead of
# training it again).

# %%
a = two_tasks.train_task_a(tasks, setup)
print(f"after task A: task A test {a.test['A']:.3f}, task B test {a.test['B']:.3f}")
print("article (full MNIST): task A 0.9850")

# %% [markdown]
# Task B's accuracy is low: the model has never seen an odd digit. It can even fall *below* chance
# (0.2). The model is not guessing at random: it gives each odd digit the label of the even digit
# it resembles, and that label is usually not the odd digit's own. The cell below shows, for each
# odd digit, the label the task-A model gives it most often, and whether task B ended below
# chance on this run:

# %%
x_b, y_b = tasks["B"].arrays("test")
predicted = predict_logits(a.model, x_b).argmax(1)
for digit in (1, 3, 5, 7, 9):
    mine = predicted[tasks["B"].test.digits == digit]
    label = int(np.bincount(mine, minlength=5).argmax())
    print(f"odd digit {digit} (its label {digit // 2}): most often given label {label}, the label of "
          f"{2 * label}, in {np.mean(mine == label):.0%} of cases; right {np.mean(mine == digit // 2):.0%}")
below = 0.2 - a.test["B"]
print(f"task B {a.test['B']:.3f}, chance 0.2:", "below chance by more than the noise margin" if below > margin else
      "below chance, but by less than the noise margin" if below > 0 else "not below chance", f"({margin:.3f})")

# %% [markdown]
# ## Phase 2: task B, naively
#
# We keep training the same weights, on task B only, with nothing to remind the network of A.
# To watch forgetting as it happens we write a Keras **callback**: `model.fit` calls its
# `on_train_begin` once and its `on_train_batch_end` after every batch, and `self.model` is the
# model being trained. Ours measures test accuracy on both tasks every `every` batches:

# %%
class ForgettingCurve(keras.callbacks.Callback):
    """Test accuracy on each task, before training and every `every` batches."""
    def __init__(self, tasks, every=3):
        super().__init__()
        self.tasks, self.every, self.records = tasks, every, []

    def record(self):
        self.records.append({"batch": self.batches, **accuracies(self.model, self.tasks)})

    def on_train_begin(self, logs=None):
        self.batches = 0
        self.record()
    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches % self.every == 0:
            self.record()

# %% [markdown]
# The second phase, written out: a fresh copy of the task-A model (same architecture, a new
# optimizer), then the ordinary `model.fit` on task B through `fit_task`, with the callback.
# (`two_tasks.train_task_b` does exactly this; later lessons call it.)

# %%
set_seed(setup.seed + 1)
model = build_mlp(hidden_units=setup.hidden_units, optimizer=setup.optimizer, learning_rate=setup.learning_rate)
model.set_weights(a.model.get_weights())  # start from the task-A weights, with a fresh optimizer
curve = ForgettingCurve([tasks["A"], tasks["B"]], every=3)
fit_task(model, tasks["B"], epochs=setup.epochs_b, batch_size=setup.batch_size, seed=setup.seed + 1,
         callbacks=[curve])
after_b = accuracies(model, [tasks["A"], tasks["B"]])
print(f"after task B: task A test {after_b['A']:.3f}, task B test {after_b['B']:.3f}")
print("article (full MNIST): task A 0.2663, task B 0.9831")

# %% [markdown]
# ## The forgetting curve
#
# > **Think!** Before you run the next cell, sketch what you expect: how fast does task A fall,
# > and does it fall all the way to chance?

# %%
batches_per_epoch = int(np.ceil(len(tasks["B"].train) / setup.batch_size))
records = [{"epoch": r["batch"] / batches_per_epoch, "step": r["batch"], "A": r["A"], "B": r["B"]}
           for r in curve.records]
fig = plots.forgetting_curves({"naive": records}, title="naive sequential training: A is overwritten")

# %% [markdown]
# The cell below finds where the two curves cross and how much of A is left at the end.

# %%
crossing = next((r for r in records if r["B"] > r["A"]), None)
print(f"task A: {records[0]['A']:.3f} before task B, {records[-1]['A']:.3f} at the end")
if crossing is not None:
    print(f"the curves cross after {crossing['epoch']:.2f} epochs of B, at task A {crossing['A']:.3f}")

# %%
# NBVAL_CHECK_OUTPUT
print("naive training loses task A by more than the noise margin:", a.test["A"] - after_b["A"] > margin)
print("task B ends above task A:", after_b["B"] > after_b["A"] + margin)
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
matrix = AccuracyMatrix(["A", "B"], [a.test, after_b])
print(matrix.to_text(digits=3))

# %%
fig = plots.matrix_with_colorbar(matrix, title="naive training: accuracy matrix")

# %%
# NBVAL_CHECK_OUTPUT
print("backward transfer is negative by more than the noise margin:", matrix.backward_transfer < -margin)

# %% [markdown]
# ## What we measured
#
# * After task A the model solves task A (the article: 0.985); after task B it has lost much of
#   it, by more than the noise margin, while task B ends high (the article: A fell to 0.266).
# * The two forgetting curves cross while task B is trained, and the accuracy matrix sums it up in
#   one number: backward transfer is negative. On this run:

# %%
print(f"task A fell from {a.test['A']:.3f} to {after_b['A']:.3f} while task B rose from {a.test['B']:.3f} "
      f"to {after_b['B']:.3f}; backward transfer {matrix.backward_transfer:+.3f}.")
print(f"task A ended {after_b['A'] - 0.2:+.3f} from chance (0.2):",
      "above chance by more than the noise margin" if after_b["A"] > 0.2 + margin else "not above chance beyond the noise margin")

# %% [markdown]
# Task A need not fall all the way to chance, and the last line says where it ended on this run.
# Forgetting is the drop from what was learnt, whatever floor it stops at: nothing in plain
# gradient descent protects what task A needed.
#
# ## Check your understanding
#
# 1. Which two methods of a Keras callback does `ForgettingCurve` use, and when does `model.fit`
#    call them?
# 2. Why can a model score *below* chance on a task it has never seen?
# 3. What does a backward transfer of -0.5 mean, in words?
#
# ## Exercises
#
# 1. Train on B for a single epoch (`two_tasks.train_task_b(..., epochs=1)`). Is the mean of the
#    A and B accuracies better or worse than after the full budget?
# 2. Is forgetting symmetric? Train B first, then A, and compare the backward transfer.
# 3. **Write a forgetting curve in the loss.** Accuracy hides how *confident* the network is.
#    Fill in `LossCurve`, a callback like `ForgettingCurve` that records each task's mean test
#    *loss* (`exercises.task_loss(self.model, task)`) before training and every `every` batches,
#    as dicts `{"step": batches seen, "A": loss, "B": loss}`. `check_loss_curve` trains a small
#    model with your callback and tells you what differs.

# %%
from ewc_helpers import exercises

class LossCurve(keras.callbacks.Callback):
    def __init__(self, tasks, every=3):
        super().__init__()
        self.tasks, self.every, self.records = tasks, every, []  # tasks: {"A": task, "B": task}

    def on_train_begin(self, logs=None):
        ...  # your code here: start counting batches, record once

    def on_train_batch_end(self, batch, logs=None):
        ...  # your code here: count the batch; every `every` batches, record

check = exercises.check_loss_curve(LossCurve, tasks)

# %% [markdown] solution
# ## Solutions
#
# **1.** Fewer steps on B forget less of A and learn less of B: the same trade-off, at another
# point. Both models answer the same test digits of A and B, so compare them digit by digit:

# %% solution
from ewc_helpers import compare_on_test_set, correct_answers

short = two_tasks.train_task_b(a.model, tasks, setup, "naive", epochs=1)
print(f"1 epoch of B: A {short.test['A']:.3f}, B {short.test['B']:.3f} | "
      f"full budget: A {after_b['A']:.3f}, B {after_b['B']:.3f}")
both = tasks["multi"]  # A's and B's test digits together: its accuracy is the mean over both
one_epoch = compare_on_test_set(correct_answers(short.model, both), correct_answers(model, both),
                                noise_margin(len(both.test)), names=("one epoch of B", "the full budget"))
print("A and B together:", one_epoch.words)

# %% [markdown] solution
# **2.** Swap the roles of the two tasks: task B trains first, then task A. Each backward
# transfer is measured on a different test split, so their difference carries the noise of both:

# %% solution
swapped = {"A": tasks["B"], "B": tasks["A"], "multi": tasks["multi"]}
b_first = two_tasks.train_task_a(swapped, setup, cache=False)
a_second = two_tasks.train_task_b(b_first.model, swapped, setup, "naive")
flipped = AccuracyMatrix(["B", "A"], [b_first.test, a_second.test])  # rows keyed by task name
gap = flipped.backward_transfer - matrix.backward_transfer
print(f"B then A: backward transfer {flipped.backward_transfer:+.3f} | A then B: {matrix.backward_transfer:+.3f}")
print("symmetric?", f"no: {'B then A' if gap < 0 else 'A then B'} forgets more" if abs(gap) > 2 ** 0.5 * margin
      else "no asymmetry detected at this margin", f"({gap:+.3f} against ±{2 ** 0.5 * margin:.3f})")

# %% [markdown] solution
# **3.** Count batches in `on_train_begin` and `on_train_batch_end`, exactly as `ForgettingCurve`
# does, and record losses instead of accuracies:

# %% solution
class LossCurve(keras.callbacks.Callback):
    def __init__(self, tasks, every=3):
        super().__init__()
        self.tasks, self.every, self.records = tasks, every, []
    def record(self):
        self.records.append({"step": self.seen, **{name: exercises.task_loss(self.model, t)
                                                   for name, t in self.tasks.items()}})
    def on_train_begin(self, logs=None):
        self.seen = 0
        self.record()
    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen % self.every == 0:
            self.record()

# %% solution
check = exercises.check_loss_curve(LossCurve, tasks)

# %% [markdown] solution
# **Check your understanding.** (1) `on_train_begin`, once before the first batch, and
# `on_train_batch_end`, after every batch. (2) It is not guessing: it maps each odd digit to the
# label of a similar even digit, which is systematically the wrong label. (3) On average, each
# earlier task's accuracy fell by 0.5 (50 percentage points) between just after it was learned and
# the end: from 0.95 to 0.45, say.
