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
from ewc_helpers import accuracies, build_mlp, fit_task, load_mnist, make_tasks, noise_margin, plots, set_seed
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
print("the two tasks end within twice the noise margin of each other:", abs(test["A"] - test["B"]) < 2 * margin)

# %% [markdown]
# ## Training curves

# %%
fig = plots.training_curves(history.history, title="multi-task training (A and B interleaved)")

# %% [markdown]
# Training and validation accuracy rise together and level off. On the embedded digits (a few
# thousand training examples) the network ends lower than the article's figures on 60,000 MNIST
# digits: less data, same method.

# %% [markdown]
# ## What we measured
#
# * Joint training learns both tasks, far above chance, and treats them alike: the accuracies
#   printed above differ by less than twice the noise margin.
# * The article reports 0.9724 (A) and 0.9742 (B) on full MNIST.
# * This is the reference point: a sequential learner that ends near these numbers on both tasks
#   has not forgotten anything.
#
# ## Exercises
#
# 1. Train for twice as many epochs. Does validation accuracy keep rising?
# 2. Replace the 128 hidden units with 32 (`build_mlp(hidden_units=32)`). How much does the joint
#    accuracy drop?
# 3. Which digits does the model get wrong most often?

# %% [markdown] solution
# ## Solutions
#
# **1.** Continue training the same model for the same number of epochs again and compare the
# validation accuracy of the last epochs: compare how much each further epoch still adds.

# %% solution
more = fit_task(model, tasks["multi"], epochs=setup.epochs_multi, seed=setup.seed + 1, validation=True)
print("validation accuracy, first run:", [round(v, 3) for v in history.history["val_accuracy"]])
print("validation accuracy, continued:", [round(v, 3) for v in more.history["val_accuracy"]])

# %% [markdown] solution
# **2.** A quarter of the hidden units costs a few points on each task.

# %% solution
set_seed(setup.seed)
small = build_mlp(hidden_units=32)
fit_task(small, tasks["multi"], epochs=setup.epochs_multi, seed=setup.seed)
print({k: round(v, 3) for k, v in accuracies(small, [tasks["A"], tasks["B"]]).items()})

# %% [markdown] solution
# **3.** Count, per digit, how often the predicted label is wrong, and name the worst digit.

# %% solution
import numpy as np
from ewc_helpers.evaluation import predict_logits

x, y = tasks["multi"].arrays("test")
wrong = predict_logits(model, x).argmax(1) != y
digits = tasks["multi"].test.digits
errors = {int(d): round(float(wrong[digits == d].mean()), 3) for d in np.unique(digits)}
print(errors, "| most often wrong:", max(errors, key=errors.get))
