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
# 3. how the strength [`lam`](GLOSSARY.md#lam) trades task A against task B, and how to choose it on validation data.
#
# **Prerequisites:** lessons 00-02; what a gradient is.

# %% [markdown]
# ## Setup

# %%
import numpy as np
import tensorflow as tf
from ewc_helpers import (TrainingError, accuracies, fit_task, l2_penalty, load_mnist, make_tasks,
                         noise_margin, plots)
from ewc_helpers.penalties import article_l2_penalty
from ewc_helpers.studies import two_tasks
from ewc_helpers.studies.common import lesson_setup, new_model, search_lam

tasks = make_tasks(load_mnist())
setup = lesson_setup(tasks["A"])
margin = noise_margin(len(tasks["A"].test))
a = two_tasks.train_task_a(tasks, setup)
naive = two_tasks.train_task_b(a.model, tasks, setup, "naive")
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
# One NaN gradient is enough: the first step writes NaN into every weight. Run in TensorFlow 2.21,
# the article's own loop carries on regardless and both tasks fall to chance (its published L2
# figures must come from an older TensorFlow). `fit_task` watches the loss and stops at the first
# batch whose loss is not a number, with an error that names the likely causes:

# %%
broken = new_model(setup, weights=a.model.get_weights())
try:
    fit_task(broken, tasks["B"], epochs=1, penalties=[article_l2_penalty(a.model)])
    stopped = None
except TrainingError as err:
    stopped = str(err)
print(stopped)
nan_weights = any(np.isnan(w).any() for w in broken.get_weights())
print("weights contain NaN after that batch:", nan_weights)

# %% [markdown]
# (Even away from the anchor, a norm's gradient has the same size however close the weights are,
# which is not the spring-like pull the article describes.) The squared distance has gradient
# `lam * (theta - theta_A)`, which is zero at the anchor and grows with the distance:

# %%
with tf.GradientTape() as tape:
    square_penalty = 0.5 * tf.reduce_sum(tf.square(theta - theta_a))
print("gradient of the squared distance at the anchor:", tape.gradient(square_penalty, theta).numpy())

# %%
# NBVAL_CHECK_OUTPUT
print("the article's norm penalty has a NaN gradient at the anchor:", bool(np.isnan(norm_grad).all()))
print("training with it stops in the first epoch, naming the cause:", stopped is not None and "not finite" in stopped)
print("by then the weights hold NaN:", nan_weights)

# %% [markdown]
# ## L2 done right
#
# `l2_penalty(model_a, lam)` is the squared distance above, scaled by `lam / 2`.
# `two_tasks.train_task_b(..., "l2", lam)` trains task B with it, starting from the same task-A
# weights and the same batch order as the naive run. One example:

# %%
one = two_tasks.train_task_b(a.model, tasks, setup, "l2", lam=1.0)
print(f"L2 with lam=1: task A test {one.test['A']:.3f}, task B test {one.test['B']:.3f}")

# %% [markdown]
# ## Choosing `lam` on validation data
#
# `lam` is a dial: 0 is naive training, a huge value freezes the weights at `theta_A`. We try a
# half-decade grid and score each run by its mean *validation* accuracy over A and B; the test
# split plays no part. If the best value sits at an end of the grid, `search_lam` adds a value a
# decade further out, and says so. A `LamSweeper` runs the same training as `train_task_b`,
# faster, because it compiles the model once.

# %%
sweeper = two_tasks.LamSweeper(a.model, tasks, setup)
search = search_lam(sweeper.runner("l2"), two_tasks.L2_LAMS, progress=print)
for r in search.results:
    print(f"lam {r.lam:>6g}: val A {r.val['A']:.3f}, val B {r.val['B']:.3f}, mean {r.val_score:.3f}")

# %%
best = search.best
fig = plots.tradeoff({"L2": search.results}, chosen={"L2": best},
                     title="L2: task A versus task B on validation")

# %% [markdown]
# Each point is one `lam` (the labelled ones are the ends of the grid and the chosen value). Small
# values learn B and forget A; large values keep A and cannot learn B. No value keeps both near
# their single-task levels, because the penalty treats every weight the same, whether task A
# depended on it or not.
#
# ## Test accuracy at the chosen `lam`

# %%
print(f"chosen on validation: lam = {best.lam:g}")
print(f"test: task A {best.test['A']:.3f}, task B {best.test['B']:.3f}")
print(f"naive: task A {naive.test['A']:.3f}, task B {naive.test['B']:.3f}")
print("article (full MNIST, its own penalty): task A 0.9038, task B 0.5978")

# %%
# NBVAL_CHECK_OUTPUT
low, high = search.results[0], search.results[-1]
print("L2 at the chosen lam keeps more of task A than naive training:", best.test["A"] - naive.test["A"] > margin)
print("and still learns task B far above chance (0.2):", best.test["B"] > 0.2 + margin)
print("the largest lam keeps more of A than the smallest:", high.val["A"] > low.val["A"] + margin)
print("and learns less of B:", high.val["B"] < low.val["B"] - margin)

# %% [markdown]
# ## What we measured
#
# * The article's norm penalty has a NaN gradient at the anchor: the first step fills the weights
#   with NaN, and training with it stops at the first batch whose loss is NaN.
# * With the squared distance, `lam` traces a trade-off between the tasks: the largest `lam` keeps
#   more of task A and learns less of task B than the smallest, beyond the noise margin.
# * The `lam` chosen on validation keeps more of task A than naive training while still learning
#   task B; the numbers are printed above.
#
# ## Exercises
#
# 1. The article's norm has a gradient of size one whatever the distance. Add a small `eps` inside
#    the square root (`sqrt(sum d^2 + eps)`) and train one epoch: does training now run?
# 2. Sweep a finer grid between the two best `lam` values. How flat is the validation score near
#    its maximum?
# 3. Train with half and with twice the chosen `lam` (`sweeper.run("l2", lam)`). How do task A and
#    task B move?

# %% [markdown] solution
# ## Solutions
#
# **1.** With `eps > 0` the norm is differentiable at the anchor, so training runs; but its
# gradient still has nearly the same size far from and near to the anchor.

# %% solution
consts = [tf.constant(v.numpy()) for v in a.model.trainable_variables]
smooth_norm = lambda vs: 0.5 * tf.add_n([tf.sqrt(tf.reduce_sum(tf.square(v - c)) + 1e-8) for v, c in zip(vs, consts)])
smooth = new_model(setup, weights=a.model.get_weights())
fit_task(smooth, tasks["B"], epochs=1, penalties=[smooth_norm])
print({k: round(v, 3) for k, v in accuracies(smooth, [tasks["A"], tasks["B"]]).items()})

# %% [markdown] solution
# **2.** A finer grid around the best value changes the score by little: the maximum is flat,
# which is why a half-decade grid suffices.

# %% solution
fine = [best.lam * f for f in (0.5, 0.7, 1.0, 1.4, 2.0)]
for r in [sweeper.run("l2", lam) for lam in fine]:
    print(f"lam {r.lam:8.3g}: mean validation {r.val_score:.3f}")

# %% [markdown] solution
# **3.** A larger `lam` keeps more of A and learns less of B; a smaller one the reverse. Near the
# chosen value both changes are small: the validation score is flat around its maximum.

# %% solution
for f in (0.5, 1.0, 2.0):
    r = sweeper.run("l2", best.lam * f)
    print(f"lam {r.lam:8.3g}: val A {r.val['A']:.3f}, val B {r.val['B']:.3f}")
