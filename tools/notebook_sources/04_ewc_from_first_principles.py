# %% [markdown]
# # 04 · EWC from first principles: where the penalty comes from
#
# Lesson 03 pulled every weight back towards `theta_A` equally hard, and lesson 05 will use EWC's
# penalty, which pulls each weight in proportion to a [Fisher information](GLOSSARY.md#fisher-information). This lesson shows where
# that penalty comes from: a few lines of Bayes' rule, a picture in two dimensions, and the
# penalty written from scratch in TensorFlow and checked against `ewc_helpers`.
#
# **What you will learn**
#
# 1. how Bayes' rule and a Laplace approximation turn "remember task A" into a quadratic penalty,
#    and what `lam` stands for;
# 2. what the Fisher is (and what the *empirical* Fisher is not);
# 3. on a two-weight toy you can see, why EWC can move along directions task A does not care
#    about while L2 cannot tell the directions apart;
# 4. how to compute a diagonal Fisher and the EWC penalty with `tf.GradientTape`, and how
#    `ewc_helpers` makes the ordinary `model.fit` train with it.
#
# **Prerequisites:** lessons 02 (forgetting) and 03 (L2); Bayes' rule; what a gradient is.

# %% [markdown]
# ## Setup

# %%
import inspect
import numpy as np
from ewc_helpers import (Anchor, PenalizedSequential, accuracy, build_mlp, compare_on_test_set, compute_fisher,
                         correct_answers, ewc_penalty, fisher_data, fit_task, load_mnist, make_tasks, noise_margin,
                         set_seed)
from ewc_helpers import plots
from ewc_helpers.studies import toy
from ewc_helpers.studies.common import lesson_seed
import tensorflow as tf  # after ewc_helpers, which keeps TensorFlow's start-up notices quiet

seed = lesson_seed(0)  # 0, unless EWC_SEED shifts every seed of the course
set_seed(seed)

# %% [markdown]
# ## From Bayes' rule to a penalty
#
# Train on task A, then on task B. What we would like is the most probable weights given *both*
# data sets. Two assumptions make Bayes' rule usable (Kirkpatrick et al. 2017, equations 1-2):
#
# * a **flat prior** $p(\theta)$, so that the peak of $p(\theta \mid A)$ is a maximum-likelihood
#   point of task A, the weights training on A found;
# * A and B are **independent given $\theta$**: $p(B \mid \theta, A) = p(B \mid \theta)$.
#
# Then Bayes' rule, applied to B with A's posterior as the prior, gives
#
# $$\log p(\theta \mid A, B) = \log p(B \mid \theta) + \log p(\theta \mid A) - \log p(B \mid A).$$
#
# We *maximise* this log posterior; training *minimises* a loss, so the loss is its negative (the
# sign flips). The first term is then task B's cross-entropy summed over its $N_B$ examples. The
# last does not depend on $\theta$. Everything task A taught us is in the middle term, and we
# cannot compute it exactly.
#
# **[Laplace approximation](GLOSSARY.md#laplace-approximation).** Expand $\log p(\theta \mid A)$ to second order around its peak
# $\theta_A$, the weights after task A. The gradient vanishes there, so what remains is a
# Gaussian centred on $\theta_A$. Its precision is the Hessian $H_A$ of task A's summed negative
# log-likelihood.
#
# **The Gauss-Newton step.** The Hessian of a cross-entropy has two parts: the Gauss-Newton part,
# whose expectation over the model's labels is $N_A F$, and a part weighted by the residuals
# (label minus prediction) times the network's second derivatives. Near a minimum of a
# well-specified model the residual part averages out, so $H_A \approx N_A F$, where $F$ is the
# **mean per-example Fisher over task A's inputs**:
#
# $$\log p(\theta \mid A) \approx -\frac{N_A}{2} (\theta - \theta_A)^\top F\, (\theta - \theta_A) + \text{const}.$$
#
# For logistic regression (the toy below) the second part is zero and $H_A = N_A F$ *exactly*,
# so the toy cannot show this approximation failing. In an MLP the ReLU network's second
# derivatives make the residual part non-zero wherever task A is not fitted perfectly.
#
# **Keep the diagonal.** A full $F$ has one entry per *pair* of weights, about $10^{10}$ for the
# 784-128-5 network, so EWC keeps only its diagonal $F_i$. Dividing by $N_B$ (Keras averages the
# loss over examples) gives the loss we train on task B:
#
# $$L(\theta) = L_B(\theta) + \frac{\lambda}{2} \sum_i F_i\, (\theta_i - \theta_{A,i})^2 .$$

# %% [markdown]
# **What `lam` stands for.** In this derivation $\lambda$ takes the place of $N_A$ (Huszár 2018). It
# is $N_A$ when task B's loss is a sum, and $N_A / N_B$ when it is a mean. In practice `lam` is
# tuned on validation data, because the Laplace step, the diagonal and the estimate of $F$ are
# all approximations.
#
# **Which Fisher.** $F_i$ is the mean over task-A inputs of $(\partial_i \log p(y \mid x, \theta_A))^2$,
# with $y$ drawn from the *model's* prediction ("exact" takes the expectation over every label,
# "sampled" draws one; see [exact](GLOSSARY.md#exact-fisher) and [sampled](GLOSSARY.md#sampled-fisher) Fisher). The [*empirical* Fisher](GLOSSARY.md#empirical-fisher) uses the data's own label instead. It is cheaper,
# but it is not in general a curvature estimate. It approaches the true Fisher only at a minimum of
# a well-specified model, with many examples (Kunstner et al. 2019). The scale of $F$ depends on
# how it is computed. Squaring the gradient of a batch **mean** gives a much *smaller* number than
# the mean of per-example squares (the examples' gradients partly cancel, and the mean divides by
# the batch size before squaring): van de Ven (2025) found that such a "batched" Fisher needs a
# `lam` orders of magnitude larger than the exact one. Squaring the gradient of a batch **sum**
# gives a much *larger* one (lesson 05 meets the article's version of it). So a `lam` never
# carries over from one implementation to another.

# %% [markdown]
# ## A toy you can see: two weights, two tasks
#
# Logistic regression with two weights and no bias, $p(y{=}1 \mid x) = \sigma(w_1 x_1 + w_2 x_2)$,
# so that the weights are the two axes of a picture. (Without a bias, each task's boundary passes
# through the origin; both tasks are built that way.) Task A's inputs spread far along $x_1$ and
# barely along $x_2$, so task A's loss is steep along $w_1$ and nearly flat along $w_2$. Task B's
# inputs are round, and its best weights lie away from task A's along both axes. Each task has 200
# points, so the Bayesian `lam` is $N_A / N_B = 1$.
#
# For logistic regression the exact Fisher, $\text{mean}\; p(1-p)\, x x^\top$, *is* the Hessian of the
# mean loss. Here the Laplace approximation is the quadratic bowl that fits task A's loss at
# $\theta_A$.

# %%
run = toy.run(seed=seed)
task_a = run.tasks["A"]
print("task A inputs, standard deviation of x1 and x2:", task_a.x.std(axis=0).round(2))
print("theta_A =", run.theta_a.round(2), "   task B's optimum =", run.theta_b.round(2))
print("task A's exact Fisher at theta_A:\n", run.fisher_full.round(4))
print("its empirical Fisher (the data's labels):\n", toy.fisher(run.theta_a, task_a, "empirical").round(4))
values, _ = toy.principal_axes(run.fisher_full)
print(f"largest / smallest eigenvalue of the Fisher: {values[0] / values[1]:.0f}")

# %% [markdown]
# The two Fishers are close but not equal, as Kunstner et al. lead us to expect at the minimum of a
# model whose labels were drawn from the model itself. We check the toy's gradient and Fisher
# against finite differences of its loss:

# %%
# NBVAL_CHECK_OUTPUT
eps, basis = 1e-5, np.eye(2)
numeric_grad = [(toy.loss(run.theta_a + eps * e, task_a) - toy.loss(run.theta_a - eps * e, task_a)) / (2 * eps)
                for e in basis]
hessian = np.stack([(toy.grad(run.theta_a + eps * e, task_a) - toy.grad(run.theta_a - eps * e, task_a)) / (2 * eps)
                    for e in basis])
print("the toy's gradient agrees with finite differences:",
      bool(np.allclose(numeric_grad, toy.grad(run.theta_a, task_a), atol=1e-8)))
print("theta_A is task A's minimum (gradient zero):",
      bool(np.allclose(toy.grad(run.theta_a, task_a), 0, atol=1e-8)))
print("task A's exact Fisher is the Hessian of its loss:", bool(np.allclose(hessian, run.fisher_full, rtol=1e-5)))

# %% [markdown]
# ## Three ways to train task B
#
# > **Think!** L2 and EWC will be tuned to end at the *same* task-B loss. Before you run the next
# > two cells, predict: which of the two moves mostly along $w_2$, and which pays more on task A?
# > Where will naive training end?
#
# Starting from $\theta_A$, `toy.run` descends task B's loss with the same learning rate three ways:
# **naive** (no penalty), **L2** ($F$ replaced by 1 for both weights) and **EWC** (the diagonal
# Fisher, `lam = 1`). To compare L2 and EWC fairly, L2's `lam` is chosen so that L2 ends at the
# same task-B loss as EWC. The question is then which of the two paid less on task A for it.

# %%
loss_a_start = toy.loss(run.theta_a, task_a)
print(f"at theta_A: task A loss {loss_a_start:.3f}, task B loss {toy.loss(run.theta_a, run.tasks['B']):.3f}")
for name, s in run.summary.items():
    print(f"{name:>5}: ends at {s.end.round(2)}, task A loss {s.loss_A:.3f}, "
          f"task B loss {s.loss_B:.3f}, {s.angle_to_stiff_axis:.0f} degrees from A's stiff axis")

# %%
fig = plots.toy_paths(run, title=r"training on task B from $\theta_A$: naive, L2 and EWC")

# %% [markdown]
# How to read it. Blue lines are task A's loss, dashed orange task B's. Task A's valley runs almost
# straight up: along $w_2$ its loss hardly changes. The black ellipse is the Laplace approximation,
# the set where $\frac12 \Delta^\top F \Delta$ equals the rise of the thick blue contour. Near
# $\theta_A$ it follows that contour.
#
# * **Naive** training (red) walks straight to task B's optimum, across task A's valley walls.
# * **L2** (purple) pays the same price for a step in any direction: its pull,
#   $\lambda(\theta - \theta_A)$, points back at $\theta_A$ whatever the direction. It stops part
#   way along naive's road, having changed $w_1$, the weight task A needs.
# * **EWC** (green) starts the same way, because every penalty's gradient is zero at $\theta_A$.
#   Then the stiff Fisher along $w_1$ pushes it back, and it slides up the valley along $w_2$. It
#   ends near the weights that training on A and B *together* would find (the hollow star),
#   which is what the Bayesian derivation promised.

# %%
# NBVAL_CHECK_OUTPUT
s = run.summary
near_joint = {m: np.linalg.norm(s[m].end - run.joint) for m in s}
print("naive training ends at task B's optimum:", bool(np.allclose(s["naive"].end, run.theta_b, atol=1e-3)))
print("and leaves task A's loss higher than L2 or EWC do:",
      s["naive"].loss_A > max(s["L2"].loss_A, s["EWC"].loss_A))
print("L2 and EWC end at the same task-B loss:",
      bool(np.isclose(s["L2"].loss_B, s["EWC"].loss_B, atol=1e-6)))
print("there, EWC ends with a lower task-A loss than L2:", s["EWC"].loss_A < s["L2"].loss_A)
print("EWC's move is mostly along A's low-Fisher direction (over 45 degrees from the stiff one):",
      s["EWC"].angle_to_stiff_axis > 45)
print("L2's move lies closer to A's stiff direction than EWC's:",
      s["L2"].angle_to_stiff_axis < s["EWC"].angle_to_stiff_axis)
print("EWC ends nearer the optimum of A and B trained together than L2 or naive:",
      near_joint["EWC"] < min(near_joint["L2"], near_joint["naive"]))

# %% [markdown]
# These are properties of the methods, not of this draw of the data: `tests/test_toy.py` checks
# them on other seeds. They are also the setting where Fisher weighting beats L2 by construction:
# task A cares about one direction and not the other, and the two directions are the axes.
# Whether a network shows the same advantage is a measurement, not a promise: on the article's
# split of MNIST (lessons 05-07) L2 and EWC land on one trade-off curve between the tasks, and
# lesson 10 measures it again over sequences of many tasks.
#
# ## The Fisher and the penalty from scratch, in TensorFlow
#
# Now the same recipe on a real network, kept tiny so that a plain Python loop is fast enough: the
# 784-8-5 version of the lesson's MLP, trained briefly on task A with plain SGD.

# %%
tasks = make_tasks(load_mnist())
model = build_mlp(hidden_units=8, optimizer="sgd", learning_rate=0.1)
fit_task(model, tasks["A"], epochs=3, seed=seed)
print(f"tiny model after task A: test accuracy on A {accuracy(model, tasks['A']):.3f}")
x, y = fisher_data(tasks["A"], "empirical", max_examples=300, seed=seed)  # 300 task-A examples, chosen at random
print("Fisher examples:", x.shape, y.shape)

# %% [markdown]
# The empirical diagonal Fisher: for each example, the gradient of $\log p(y_n \mid x_n)$ with
# respect to every weight, squared, then averaged over the examples. The gradient must be taken
# *per example*. Squaring the gradient of a whole batch's *sum* of log-likelihoods gives a much
# larger number (up to the batch size times larger); squaring that of the batch's *mean* gives a
# much smaller one. Neither is the per-example Fisher.

# %%
def hand_fisher(model, x, y):
    """Mean over examples of the squared gradient of log p(y_n | x_n), per weight."""
    variables = model.trainable_variables
    sums = [tf.zeros_like(v) for v in variables]
    for x_n, y_n in zip(x, y):
        with tf.GradientTape() as tape:
            log_probs = tf.nn.log_softmax(model(x_n[None], training=False))
            log_lik = log_probs[0, y_n]
        grads = tape.gradient(log_lik, variables)
        sums = [s + tf.square(g) for s, g in zip(sums, grads)]
    return [(s / len(y)).numpy() for s in sums]

# %%
fisher_by_hand = hand_fisher(model, x, y)
fisher_lib = compute_fisher(model, (x, y), "empirical")
scale = max(float(np.max(f)) for f in fisher_lib)
fisher_agree = all(np.allclose(h, f, rtol=0, atol=1e-5 * scale) for h, f in zip(fisher_by_hand, fisher_lib))
for v, f in zip(model.trainable_variables, fisher_by_hand):
    print(f"{v.path:<22} shape {str(tuple(v.shape)):<10} largest F {f.max():.3g}")

# %% [markdown]
# **Choosing `lam` from what we measured.** With plain SGD at learning rate `lr`, the penalty
# alone is a bowl whose curvature along weight $i$ is `lam * F_i`. A gradient step on such a bowl
# overshoots, and the overshoot grows step after step, once `lr * lam * F_i` exceeds 2 (lesson 09
# derives this stability limit and what it means for Adam). So `lam` must keep
# `lr * lam * max(F)` below 2, and `max(F)` depends on the data and the model. We set it from the
# largest Fisher entry just measured, with a safety factor of 2 (task B's own loss adds curvature
# of its own): `lr * lam * max(F) = 1`.

# %%
lr = float(model.optimizer.learning_rate)
max_f = max(float(np.max(f)) for f in fisher_lib)
lam = 1.0 / (lr * max_f)  # half the stability limit lr * lam * max(F) < 2
print(f"largest Fisher entry {max_f:.3g}, lr {lr:g}: lam = {lam:.3g}, lr * lam * max(F) = {lr * lam * max_f:.2f}")

# %% [markdown]
# Anchor the penalty at the task-A weights, then train one epoch of task B *without* it, so
# that the weights have moved away from $\theta_A$ and the penalty is no longer zero.

# %%
theta_a = [v.numpy() for v in model.trainable_variables]
anchor = Anchor.from_model(model, fisher_lib, task="A")

def hand_penalty(variables):
    """(lam / 2) * sum_i F_i (theta_i - theta_A,i)^2"""
    return lam / 2 * tf.add_n([tf.reduce_sum(f * tf.square(v - t))
                               for v, t, f in zip(variables, theta_a, fisher_by_hand)])

fit_task(model, tasks["B"], epochs=1, seed=seed + 1)
naive_right = correct_answers(model, tasks["A"])  # per test digit of task A: right or wrong
print(f"after one naive epoch on B: test accuracy on A {accuracy(model, tasks['A']):.3f}, "
      f"on B {accuracy(model, tasks['B']):.3f}")
penalty_by_hand = float(hand_penalty(model.trainable_variables))
penalty_lib = float(ewc_penalty(anchor, lam)(model.trainable_variables))
print(f"penalty by hand {penalty_by_hand:.6g}, ewc_penalty {penalty_lib:.6g}")

# %% [markdown]
# One SGD step on a batch of task B, by hand: the loss is the mean cross-entropy plus the
# penalty, and the step is `theta - lr * gradient`. Then the same step the Keras way,
# `train_on_batch` on a model whose penalties are set.

# %%
x_b, y_b = next(iter(tasks["B"].dataset("train", batch_size=64)))
variables = model.trainable_variables
with tf.GradientTape() as tape:
    logits = model(x_b, training=True)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y_b, logits)) + hand_penalty(variables)
grads = tape.gradient(loss, variables)
expected = [v.numpy() - lr * g.numpy() for v, g in zip(variables, grads)]
penalty_grads = [lam * f * (v.numpy() - t) for v, t, f in zip(variables, theta_a, fisher_by_hand)]

model.set_penalties([ewc_penalty(anchor, lam)])
model.train_on_batch(x_b, y_b)
stepped_alike = all(np.allclose(v.numpy(), e, rtol=0, atol=1e-6) for v, e in zip(variables, expected))

# %%
# NBVAL_CHECK_OUTPUT
print("hand-written Fisher equals compute_fisher to 1e-5 of its largest entry:", fisher_agree)
print("hand-written penalty equals ewc_penalty:", bool(np.isclose(penalty_by_hand, penalty_lib, rtol=1e-5)))
print("the penalty's pull was part of the step (its gradient is not zero):",
      max(float(np.abs(lr * g).max()) for g in penalty_grads) > 1e-4)
print("one step with the penalty moved weights as the hand-written step did:", stepped_alike)

# %% [markdown]
# ## The Keras-native form
#
# `ewc_helpers` does not write a training loop. Its model class, `PenalizedSequential`, overrides
# one method, `compute_loss`, which Keras calls inside every training step:

# %%
print(inspect.getsource(PenalizedSequential.compute_loss))

# %% [markdown]
# (Lines about a logit offset serve the per-task output heads of a later lesson; they are off
# here.) Because the penalty joins the loss *inside* `compute_loss`, the ordinary `model.fit`
# trains with it. The optimizer, the progress bar, callbacks, `History` and `validation_data` all work
# unchanged. The `training` flag keeps the penalty out of `evaluate` and validation losses.
# `fit_task(..., penalties=[...])` sets the penalties and calls `model.fit`. We go back to the
# task-A weights and train the same one epoch of task B as the naive epoch above, now with EWC:

# %%
for v, t in zip(model.trainable_variables, theta_a):
    v.assign(t)  # back to theta_A
history = fit_task(model, tasks["B"], epochs=1, seed=seed + 1, penalties=[ewc_penalty(anchor, lam)])
print("History keys:", sorted(history.history))
print(f"after one EWC epoch on B: test accuracy on A {accuracy(model, tasks['A']):.3f}, "
      f"on B {accuracy(model, tasks['B']):.3f}")

# %% [markdown]
# Did the penalty keep more of task A than the naive epoch? Both models are scored on the same
# test digits of task A, so we compare them digit by digit (a paired test, `compare_on_test_set`:
# McNemar's test and a bootstrap interval over the test digits), with an equivalence margin of
# one noise margin. This `lam` was set for a stable SGD step, not tuned, so either outcome is
# possible: lesson 05 chooses `lam` on validation data and measures EWC properly.

# %%
delta = noise_margin(len(tasks["A"].test))
one_epoch = compare_on_test_set(correct_answers(model, tasks["A"]), naive_right, delta,
                                names=("the EWC epoch", "the naive epoch"))
print("task A:", one_epoch.words)

# %% [markdown]
# ## What we measured
#
# * Bayes' rule (flat prior, tasks independent given $\theta$) plus a Laplace approximation of
#   task A's posterior and the Gauss-Newton step gives a quadratic penalty around $\theta_A$ whose
#   stiffness is $N_A$ times the mean per-example Fisher. EWC keeps the Fisher's diagonal and
#   replaces $N_A$ by a tuned `lam`.
# * In the two-weight toy (logistic regression), task A's Fisher is exactly the Hessian of its
#   loss, and its ellipse follows task A's loss contour near $\theta_A$. In an MLP that equality
#   is only approximate.
# * Naive training reached task B's optimum and paid the most on task A. At the same task-B loss,
#   EWC kept task A's loss lower than L2 did. EWC moved mostly along the direction task A does
#   not care about, and L2 could not tell the two directions apart. EWC ended nearest the
#   weights that training on both tasks together finds.
# * Written from scratch with `tf.GradientTape`, the per-example Fisher, the penalty and one
#   training step agreed with `compute_fisher`, `ewc_penalty` and `model.fit`'s own step.
# * `lam` for the tiny network came from the largest Fisher entry this run measured, so that
#   SGD stays stable on any data. What one epoch with it did to task A, this run:

# %%
print(f"lam = 1 / (lr * max F) = {lam:.3g} (largest Fisher entry {max_f:.3g}); after one epoch of task B,")
print("on task A's test digits:", one_epoch.words)

# %% [markdown]
# ## Check your understanding
#
# 1. Which two assumptions let Bayes' rule split $\log p(\theta \mid A, B)$ into a task-B term and
#    a task-A term? Why does the loss carry a minus sign?
# 2. Why does the toy's Fisher equal its Hessian exactly, and why would an MLP's not?
# 3. A colleague squares the gradient of the mean loss over each mini-batch of 128 and calls it
#    the Fisher. Will her `lam` be larger or smaller than yours, for the same pull?
#
# ## Exercises
#
# 1. **A tilted task.** Run `toy.run(seed=0, angle=45)`, which turns task A's inputs (and its
#    valley) by 45 degrees, and draw it with `plots.toy_paths`. Compare its diagonal Fisher with
#    the full one, and EWC's end with L2's. Then try `use_diagonal=False`. What does the diagonal
#    lose?
# 2. **Turning `lam`.** Run the toy with `lam` = 0.1, 1, 10 and 100. Where does EWC end each
#    time, and what happens to task A's and task B's losses? Which value does the Bayesian
#    derivation pick, and why?
# 3. **The exact Fisher by hand.** Change `hand_fisher` so that it averages over *every* label,
#    weighted by the model's probability $p(c \mid x_n)$, instead of using the data's label.
#    Check it against `compute_fisher(model, (x, y), "exact")` on 100 examples.

# %% [markdown] solution
# ## Solutions
#
# **Check your understanding.** (1) A flat prior, so that $\theta_A$ is a maximum-likelihood point,
# and task B independent of task A given $\theta$, so that $p(B \mid \theta, A) = p(B \mid \theta)$.
# Training minimises, and the loss is the *negative* log posterior. (2) For logistic regression the
# model's output is linear in $\theta$ before the sigmoid, so the residual part of the Hessian is
# zero and the Gauss-Newton part, $N_A F$, is all of it; an MLP's hidden layers add second
# derivatives weighted by the residuals. (3) Larger: the squared gradient of a batch mean is far
# smaller than the mean of per-example squares, so the same pull needs a larger `lam`.

# %% solution
tilted = toy.run(seed=0, angle=45)
tilted_full = toy.run(seed=0, angle=45, use_diagonal=False)
print("full Fisher:\n", tilted.fisher_full.round(3), "\ndiagonal:", np.diag(tilted.fisher_diag).round(3))
for label, r in (("diagonal F", tilted), ("full F", tilted_full)):
    for m in ("L2", "EWC"):
        e = r.summary[m]
        print(f"{label:>10}, {m:>3}: task A loss {e.loss_A:.3f}, task B loss {e.loss_B:.3f}")
fig = plots.toy_paths(tilted, title="task A turned by 45 degrees: EWC with the diagonal Fisher")

# %% [markdown] solution
# Turned by 45 degrees, task A's valley runs diagonally, and its stiff direction mixes $w_1$ and
# $w_2$. The diagonal of its Fisher holds two nearly equal numbers. It sees a round bowl, so
# diagonal EWC behaves like L2 and ends where L2 ends. With the full Fisher, EWC follows the tilted
# valley and reaches a lower task-B loss for about the same task-A loss. In a network the
# diagonal discards every such correlation between weights.

# %% solution
for lam_toy in (0.1, 1, 10, 100):
    e = toy.run(seed=0, lam=lam_toy).summary["EWC"]
    print(f"lam {lam_toy:>5g}: EWC ends at {e.end.round(2)}, task A loss {e.loss_A:.3f}, "
          f"task B loss {e.loss_B:.3f}")

# %% [markdown] solution
# Small `lam` behaves like naive training: EWC ends near task B's optimum and forgets A. Large
# `lam` freezes the weight task A needs *and* the one it does not, so task B's loss stays high.
# The derivation picks $\lambda = N_A / N_B = 1$ here, because both losses are means over 200
# points. At that value EWC ends near the optimum of both tasks trained together.

# %% solution
def hand_exact_fisher(model, x):
    variables = model.trainable_variables
    sums = [tf.zeros_like(v) for v in variables]
    for x_n in x:
        with tf.GradientTape(persistent=True) as tape:
            log_probs = tf.nn.log_softmax(model(x_n[None], training=False))[0]
            per_class = [log_probs[c] for c in range(log_probs.shape[0])]
        probs = tf.exp(log_probs)
        for c, log_p in enumerate(per_class):
            sums = [s + probs[c] * tf.square(g) for s, g in zip(sums, tape.gradient(log_p, variables))]
        del tape
    return [(s / len(x)).numpy() for s in sums]

# %% solution
exact_by_hand = hand_exact_fisher(model, x[:100])
exact_lib = compute_fisher(model, (x[:100], y[:100]), "exact")
top = max(float(np.max(f)) for f in exact_lib)
print("hand-written exact Fisher equals compute_fisher(..., 'exact'):",
      all(np.allclose(h, f, rtol=0, atol=1e-5 * top) for h, f in zip(exact_by_hand, exact_lib)))
