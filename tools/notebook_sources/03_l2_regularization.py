# %% [markdown]
# # 03 · Holding on with L2: a pull towards the task-A weights
#
# The simplest defence against forgetting: while training on task B, add a term to the loss that
# pulls every weight back towards where it was after task A, `theta_A`:
#
# $$L(\theta) = L_B(\theta) + \frac{\lambda}{2} \sum_i (\theta_i - \theta_{A,i})^2 .$$
#
# **What you will learn**
#
# 1. why the article's version of this penalty breaks training at the very first step;
# 2. how to add a penalty to `model.fit` with `ewc_helpers`;
# 3. how the strength `lam` trades task A against task B, and how to choose it on validation data.

# %% [markdown]
# ## Setup

# %%
import numpy as np
import ewc_helpers
import tensorflow as tf
from ewc_helpers import data, evaluation, experiments, penalties, plots, training

tasks = data.make_tasks(data.load_mnist())
setup = experiments.Setup()
a = experiments.train_task_a(tasks, setup)
naive = experiments.train_task_b(a.model, tasks, setup, "naive")
print(f"after A: A {a.test['A']:.3f} | naive after B: A {naive.test['A']:.3f}, B {naive.test['B']:.3f}")

# %% [markdown]
# ## The article's penalty is a norm, and its gradient at the anchor is NaN
#
# The article adds `0.5 * tf.norm(theta - theta_A)` per variable: the Euclidean *norm*, not its
# square. When task B starts, `theta == theta_A`, and the derivative of a norm at zero is 0/0:

# %%
theta = tf.Variable([0.5, -1.0]); theta_a = tf.constant([0.5, -1.0])
with tf.GradientTape() as tape:
    norm_penalty = tf.norm(theta - theta_a)
norm_grad = tape.gradient(norm_penalty, theta).numpy()
print("gradient of the norm at the anchor:", norm_grad)

# %% [markdown]
# One NaN gradient is enough: the optimizer writes NaN into every weight, and the network's
# predictions become meaningless. Here is one epoch of task B with the article's penalty, through
# the same `model.fit` as everything else:

# %%
broken = experiments.new_model(setup, weights=a.model.get_weights())
training.fit_task(broken, tasks["B"], epochs=1, penalties=[penalties.article_l2_penalty(a.model)])
nan_weights = any(np.isnan(w).any() for w in broken.get_weights())
broken_acc = evaluation.accuracies(broken, [tasks["A"], tasks["B"]])
print("weights contain NaN:", nan_weights)
print("accuracy with NaN weights:", {k: round(v, 2) for k, v in broken_acc.items()})

# %% [markdown]
# With NaN logits every prediction falls to class 0, so accuracy drops to the share of label 0,
# about 0.2: chance for five classes. (Even away from the anchor, a norm's gradient has the same
# size however close the weights are, which is not the spring-like pull the article describes.)
# The squared distance has gradient `lam * (theta - theta_A)`, which is zero at the anchor and
# grows with the distance:

# %%
with tf.GradientTape() as tape:
    square_penalty = 0.5 * tf.reduce_sum(tf.square(theta - theta_a))
print("gradient of the squared distance at the anchor:", tape.gradient(square_penalty, theta).numpy())

# %%
# NBVAL_CHECK_OUTPUT
print("the article's norm penalty has a NaN gradient at the anchor:", bool(np.isnan(norm_grad).all()))
print("one epoch with it fills the weights with NaN:", nan_weights)
print("and leaves both tasks at chance (below 0.3):", max(broken_acc.values()) < 0.3)

# %% [markdown]
# ## L2 done right
#
# `penalties.l2_penalty(model_a, lam)` is the squared distance above, scaled by `lam / 2`.
# `experiments.train_task_b(..., "l2", lam)` trains task B with it, starting from the same task-A
# weights and the same batch order as the naive run. One example:

# %%
one = experiments.train_task_b(a.model, tasks, setup, "l2", lam=1.0)
print(f"L2 with lam=1: task A test {one.test['A']:.3f}, task B test {one.test['B']:.3f}")

# %% [markdown]
# ## Choosing `lam` on validation data
#
# `lam` is a dial: 0 is naive training, a huge value freezes the weights at `theta_A`. We sweep a
# half-decade grid and score each run by its mean *validation* accuracy over A and B. The test
# split plays no part in the choice.

# %%
sweep = experiments.sweep_lam(a.model, tasks, setup, "l2", experiments.L2_LAMS)
for r in sweep:
    print(f"lam {r.lam:>6g}: val A {r.val['A']:.3f}, val B {r.val['B']:.3f}, mean {r.val_score:.3f}")

# %%
best = experiments.choose_lam(sweep)
fig = plots.tradeoff({"L2": sweep}, chosen={"L2": best},
                     title="L2: task A versus task B on validation (labels: lam)")

# %% [markdown]
# Each point is one `lam`. Small values learn B and forget A; large values keep A and cannot learn
# B. No value keeps both near their single-task levels, because the penalty treats every weight
# the same, whether task A depended on it or not.
#
# ## Test accuracy at the chosen `lam`

# %%
print(f"chosen on validation: lam = {best.lam:g}")
print(f"test: task A {best.test['A']:.3f}, task B {best.test['B']:.3f}")
print(f"naive: task A {naive.test['A']:.3f}, task B {naive.test['B']:.3f}")
print("article (full MNIST, its own penalty): task A 0.9038, task B 0.5978")

# %%
# NBVAL_CHECK_OUTPUT
print("L2 at the chosen lam keeps task A at least 20 points above naive:", best.test["A"] - naive.test["A"] >= 0.20)
print("and still learns task B above 0.6:", best.test["B"] > 0.6)
print("the largest lam in the grid keeps A but fails B (below 0.5):", sweep[-1].val["B"] < 0.5 <= sweep[-1].val["A"])

# %% [markdown]
# ## What we measured
#
# * The article's norm penalty has a NaN gradient at the anchor; one epoch with it turned every
#   weight into NaN and left both tasks at chance.
# * With the squared distance, `lam` traces a smooth trade-off curve between the tasks. The `lam`
#   chosen on validation, printed above, keeps task A at least 20 points above naive training
#   while still learning task B above 0.6.
# * The extremes of the grid show the dilemma: the largest `lam` keeps task A but cannot learn B.
#
# ## Exercises
#
# 1. Why might the article's published L2 result (0.90 / 0.60) still have been possible in an
#    older TensorFlow? Look up what `tf.norm`'s gradient at zero returned there, or try adding a
#    tiny epsilon inside the square root.
# 2. Sweep a finer grid between the two best `lam` values. How flat is the validation score near
#    its maximum?
# 3. Penalise only the output layer (build your own `penalties.QuadraticPenalty` with a Fisher of
#    ones for the last two variables and zeros elsewhere). Which layer matters more for task A?
