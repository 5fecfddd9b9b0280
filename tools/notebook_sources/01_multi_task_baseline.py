# %% [markdown]
# # 01 · The multi-task baseline: learning A and B together
#
# Before we study forgetting we need a ceiling: how well can this small network do on both tasks
# when it sees them *at the same time*? This is the joint, or multi-task, baseline. Whatever a
# continual-learning method achieves later, it starts from a model that only ever saw task A and
# then only task B, so this number is the best we can hope to approach.
#
# **What you will learn**
#
# 1. the article's network: 784 inputs, 128 ReLU units, 5 output logits;
# 2. how to train it on tasks A and B interleaved with the ordinary `model.fit`;
# 3. how to read its accuracy on each task and its training curves.
#
# **Prerequisites:** lesson 00 (the tasks); what a dense layer and a softmax are.

# %% [markdown]
# ## Setup

# %%
from ewc_helpers import (accuracies, build_mlp, compare_on_test_set, correct_answers, fit_task, load_mnist,
                         make_tasks, noise_margin, plots, set_seed)
from ewc_helpers.studies.common import lesson_setup

tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
print(setup)

# %% [markdown]
# `Setup` holds the one architecture, optimizer and epoch budget that every method in this course
# shares: Adam with learning rate 0.001 and batches of 128. The article trains 6 epochs per phase;
# `lesson_setup` keeps that on the embedded digits and, on larger data, lowers the epochs so that a
# phase takes about as many optimizer steps (one epoch of full MNIST already holds more steps than
# six of the embedded digits). `set_seed` seeds Python, NumPy and TensorFlow and turns on
# deterministic ops, so re-running gives the same numbers on the same machine.

# %% [markdown]
# ## The model
#
# `build_mlp()` returns the article's multilayer perceptron, compiled with sparse cross-entropy on
# logits. It is a `keras.Sequential` with one extra ability we will need from lesson 03 on: extra
# penalty terms can be added to its training loss.

# %%
set_seed(setup.seed)
model = build_mlp()
model.summary()

# %% [markdown]
# ## Joint training
#
# The `multi` task holds both parities, shuffled together, so every batch mixes even and odd
# digits. `fit_task` calls the ordinary `model.fit` and can watch the validation split.
#
# > **Think!** The network sees twice as many training digits as it will see for one task alone.
# > Before running: will it reach the same accuracy on the even digits (task A) as on the odd
# > ones (task B)? Which odd digit would you expect to be hardest?

# %%
# NBVAL_IGNORE_OUTPUT
history = fit_task(model, tasks["multi"], epochs=setup.epochs_multi, seed=setup.seed,
                   validation=True, verbose=2)

# %% [markdown]
# ## Accuracy on each task
#
# We evaluate the same model separately on the test digits of task A and of task B.

# %%
test = accuracies(model, [tasks["A"], tasks["B"]])
for name, acc in test.items():
    print(f"task {name} test accuracy: {acc:.3f}")
print("article (full MNIST): task A 0.9724, task B 0.9742")

# %% [markdown]
# How far apart may two accuracies be before the difference means something? Each is measured on a
# few hundred test digits (the embedded data) or a few thousand (full MNIST), so each carries
# sampling noise: a binomial standard error of at most `0.5 / sqrt(n)`. Throughout the course a
# finding counts only when it exceeds three such standard errors, `noise_margin(n)` (the
# [noise margin](GLOSSARY.md#noise-margin)).

# %%
margin = noise_margin(len(tasks["A"].test))
print(f"noise margin on {len(tasks['A'].test)} test digits: {margin:.3f}")

# %%
# NBVAL_CHECK_OUTPUT
print("joint training learns task A far above chance (0.2):", test["A"] > 0.2 + margin)
print("joint training learns task B far above chance (0.2):", test["B"] > 0.2 + margin)

# %% [markdown]
# Do the two tasks end level? That is an outcome of this run, not a property of the method: the
# two tasks hold different digits, some harder than others, and a training seed moves each
# accuracy by a point or two. Tasks A and B are scored on *different* test digits, so each
# difference carries the noise of both splits, about `sqrt(2)` noise margins. The cell says which
# way it went, and which digit was hardest:

# %%
gap, gap_margin = test["A"] - test["B"], 2 ** 0.5 * margin
wrong_by_digit = {d: 1 - float(correct_answers(model, tasks["multi"])[tasks["multi"].test.digits == d].mean())
                  for d in range(10)}
hardest = max(wrong_by_digit, key=wrong_by_digit.get)
print(f"task A {'above' if gap > 0 else 'below'} task B by {abs(gap):.3f}:",
      "a difference beyond" if abs(gap) > gap_margin else "no difference detected at",
      f"the noise of the difference ({gap_margin:.3f})")
print(f"the hardest digit was {hardest} (task {'A' if hardest % 2 == 0 else 'B'}), wrong {wrong_by_digit[hardest]:.0%} of the time")

# %% [markdown]
# ## Training curves

# %%
fig = plots.training_curves(history.history, title="multi-task training (A and B interleaved)")

# %% [markdown]
# What the curves did on this run, read from the history `fit_task` returned:

# %%
train_acc, val_acc = history.history["accuracy"], history.history["val_accuracy"]
print(f"training accuracy: {train_acc[0]:.3f} after epoch 1, {train_acc[-1]:.3f} at the end")
print(f"validation accuracy: {val_acc[0]:.3f} after epoch 1, {max(val_acc):.3f} at best, {val_acc[-1]:.3f} at the end")
half = len(train_acc) // 2
rise_train, rise_val = train_acc[-1] - train_acc[half], val_acc[-1] - val_acc[half]
val_noise = noise_margin(len(tasks["multi"].val))
print(f"over the second half of training, training accuracy rose by {rise_train:+.3f}, validation accuracy by {rise_val:+.3f}:")
print("training accuracy", "kept rising;" if rise_train > 0 else "stopped rising;", "validation accuracy",
      "kept rising beyond its noise margin" if rise_val > val_noise else "levelled off: no rise beyond its noise margin",
      f"(±{val_noise:.3f})")

# %% [markdown]
# Validation accuracy is measured on digits the network never trains on. When training accuracy
# keeps rising and validation does not, the network is fitting its training digits more than the
# task. On the embedded digits (a few thousand training examples) the network also ends lower
# than the article's figures on 60,000 MNIST digits: less data, same method.

# %% [markdown]
# ## What we measured
#
# * Joint training learns both tasks far above chance: the reference point for every sequential
#   learner. One that ends near these numbers on both tasks has not forgotten anything.
# * Whether the two tasks end level depends on the run (which digits, which seed). On this run:

# %%
print(f"task A {test['A']:.3f}, task B {test['B']:.3f} (the article, on full MNIST: 0.9724 and 0.9742);",
      f"A {'above' if gap > 0 else 'below'} B by {abs(gap):.3f},",
      "a difference beyond" if abs(gap) > gap_margin else "no difference detected at",
      f"the noise of the difference ({gap_margin:.3f})")

# %% [markdown]
# ## Check your understanding
#
# 1. Why is joint training a ceiling for a learner that sees task A and then task B?
# 2. Task A's accuracy is measured on 500 test digits. What does `noise_margin(500)` stand for,
#    and why does a difference between task A and task B need about `sqrt(2)` times more?
#
#
# ## Exercises
#
# 1. Train a *fresh* model for twice as many epochs. Does validation accuracy keep rising?
# 2. Replace the 128 hidden units with 32 (`build_mlp(hidden_units=32)`). Does the joint accuracy
#    drop?
# 3. Which digits does the (6-epoch) model get wrong most often? Is the ranking reliable?

# %% [markdown] solution
# ## Solutions
#
# **1.** A fresh model with the same seed, trained for twice the epochs (the lesson's `model` stays
# as it is for exercise 3). Compare the best validation accuracy of each half of training:

# %% solution
set_seed(setup.seed)
longer = build_mlp()
more = fit_task(longer, tasks["multi"], epochs=2 * setup.epochs_multi, seed=setup.seed, validation=True)
val = more.history["val_accuracy"]
first, second = max(val[:setup.epochs_multi]), max(val[setup.epochs_multi:])
val_noise = noise_margin(len(tasks["multi"].val))
print("validation accuracy per epoch:", [round(v, 3) for v in val])
print(f"best of the first {setup.epochs_multi} epochs {first:.3f}, of the next {setup.epochs_multi} {second:.3f}:",
      "it kept rising" if second - first > val_noise else "no further rise detected at the validation noise margin",
      f"(±{val_noise:.3f})")

# %% [markdown] solution
# **2.** Both models answer the same test digits, so compare them digit by digit (a paired test)
# with an equivalence margin of one noise margin:

# %% solution
set_seed(setup.seed)
small = build_mlp(hidden_units=32)
fit_task(small, tasks["multi"], epochs=setup.epochs_multi, seed=setup.seed)
test_small = accuracies(small, [tasks["A"], tasks["B"]])
print({k: round(v, 3) for k, v in test_small.items()}, "with 32 units against", {k: round(v, 3) for k, v in test.items()})
delta = noise_margin(len(tasks["multi"].test))
print(compare_on_test_set(correct_answers(small, tasks["multi"]), correct_answers(model, tasks["multi"]), delta,
                          names=("32 hidden units", "128 hidden units")).words)

# %% [markdown] solution
# **3.** Count, per digit, how often the predicted label is wrong. Each digit has only about a
# tenth of the test digits, so each rate carries a large noise margin of its own; a ranking counts
# only where two rates differ by more than that.

# %% solution
import numpy as np

digits = tasks["multi"].test.digits
n_per_digit = int(np.min(np.bincount(digits)))
rates = sorted(wrong_by_digit.items(), key=lambda kv: -kv[1])
print("wrong rate per digit, worst first:", {d: round(r, 3) for d, r in rates})
per_digit_margin = 2 ** 0.5 * noise_margin(n_per_digit)
print(f"worst digit {rates[0][0]}, best digit {rates[-1][0]}:",
      "the worst is clearly worse than the best" if rates[0][1] - rates[-1][1] > per_digit_margin
      else "no difference detected even between the worst and the best",
      f"(noise of a difference between two digits: {per_digit_margin:.3f})")
second_gap = rates[0][1] - rates[1][1]
print(f"worst against second worst: {second_gap:.3f},", "a clear gap" if second_gap > per_digit_margin else "inside the noise")

# %% [markdown] solution
# **Check your understanding.** (1) It sees both tasks at every step, so nothing it learns for
# one task is ever left unrehearsed; a sequential learner can at best approach it. (2) Three
# binomial standard errors of an accuracy measured on 500 digits; a difference between two
# accuracies on separate test splits carries the noise of both, so its standard error is about
# `sqrt(2)` times larger.
