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

# %% [markdown]
# ## Setup

# %%
import ewc_helpers
from ewc_helpers import data, evaluation, experiments, models, plots, training
from ewc_helpers.reproducibility import set_seed

tasks = data.make_tasks(data.load_mnist())
setup = experiments.Setup()
print(setup)

# %% [markdown]
# `Setup` holds the one architecture, optimizer and epoch budget that every method in this series
# shares: Adam with learning rate 0.001, batches of 128, six epochs per phase. `set_seed` seeds
# Python, NumPy and TensorFlow and turns on deterministic ops, so re-running gives the same
# numbers on the same machine.

# %% [markdown]
# ## The model
#
# `models.build_mlp()` returns the article's multilayer perceptron, compiled with sparse
# cross-entropy on logits. It is a `keras.Sequential` with one extra ability we will need from
# notebook 03 on: extra penalty terms can be added to its training loss.

# %%
set_seed(setup.seed)
model = models.build_mlp()
model.summary()

# %% [markdown]
# ## Joint training
#
# The `multi` task holds both parities, shuffled together, so every batch mixes even and odd
# digits. We train with `model.fit` (through `training.fit_task`) and watch the validation split.

# %%
# NBVAL_IGNORE_OUTPUT
history = training.fit_task(model, tasks["multi"], epochs=setup.epochs_multi, seed=setup.seed,
                            validation=True, verbose=2)

# %% [markdown]
# ## Accuracy on each task
#
# We evaluate the same model separately on the test digits of task A and of task B.

# %%
test = evaluation.accuracies(model, [tasks["A"], tasks["B"]])
for name, acc in test.items():
    print(f"task {name} test accuracy: {acc:.3f}")
print("article (full MNIST): task A 0.9724, task B 0.9742")

# %%
# NBVAL_CHECK_OUTPUT
print("multi-task test accuracy is at least 0.85 on both tasks:", min(test.values()) >= 0.85)
print("the two tasks are within 10 points of each other:", abs(test["A"] - test["B"]) < 0.10)

# %% [markdown]
# ## Training curves

# %%
fig = plots.training_curves(history.history, title="multi-task training (A and B interleaved)")

# %% [markdown]
# Training and validation accuracy rise together and level off: with this much data and six
# epochs the network is not overfitting badly. On the embedded digits (3,600 training examples)
# it ends lower than the article's figures on 60,000 MNIST digits; the gap is data, not method.

# %% [markdown]
# ## What we measured
#
# * Joint training on A and B gives the test accuracies printed above for each task, on the data
#   source named at the top; both are at least 0.85, and within 10 points of each other.
# * The article reports 0.9724 (A) and 0.9742 (B) on full MNIST.
# * This is the reference point: a sequential learner that ends near these numbers on both tasks
#   has not forgotten anything.
#
# ## Exercises
#
# 1. Train for 12 epochs instead of 6 (`epochs=12`). Does validation accuracy keep rising?
# 2. Replace the 128 hidden units with 32 (`models.build_mlp(hidden_units=32)`). How much does the
#    joint accuracy drop?
# 3. Which digit pairs sharing a label (0/1, 2/3, ...) does the model confuse most? Hint: compare
#    `evaluation.predict_logits(model, x).argmax(1)` with the labels per digit.
