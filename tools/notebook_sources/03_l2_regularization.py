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
from ewc_helpers import (TrainingError, accuracies, build_mlp, compare_on_test_set, correct_answers, fit_task,
                         l2_penalty, load_mnist, make_tasks, noise_margin, plots, set_seed)
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
# One NaN gradient is enough: the first step writes NaN into every weight. A training loop that
# does not look would carry on with NaN weights, and every later prediction would be meaningless.
# `fit_task` checks after every batch that the loss *and the weights* are finite, and stops at
# the first batch that breaks either, with an error that names the likely causes. Read the
# message below: the loss it reports is finite, because a batch's loss is computed *before* its
# step; the step itself is what wrote NaN into the weights.

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
# `l2_penalty(model_a, lam)` is the squared distance above, scaled by `lam / 2`. Training task B
# with it, written out: a fresh copy of the task-A model, then `fit_task` with the penalty, on the
# same batches as the naive run. `fit_task` hands the penalty to the model, whose `compute_loss`
# adds it to the cross-entropy at every step (lesson 04 shows how).
#
# > **Think!** With `lam = 1`, will task A end nearer its 0.95 after task A, or nearer naive
# > training's level? And task B?

# %%
set_seed(setup.seed + 1)
one_model = build_mlp(hidden_units=setup.hidden_units, optimizer=setup.optimizer, learning_rate=setup.learning_rate)
one_model.set_weights(a.model.get_weights())  # start from the task-A weights, with a fresh optimizer
fit_task(one_model, tasks["B"], epochs=setup.epochs_b, batch_size=setup.batch_size, seed=setup.seed + 1,
         penalties=[l2_penalty(a.model, lam=1.0)])
one = accuracies(one_model, [tasks["A"], tasks["B"]])
print(f"L2 with lam=1: task A test {one['A']:.3f}, task B test {one['B']:.3f}")

# %% [markdown]
# `two_tasks.train_task_b(a.model, tasks, setup, "l2", lam)` does exactly this; the sweep below
# uses a faster equivalent.

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
multi = two_tasks.train_multitask(tasks, setup)  # lesson 01's joint model, for reference
refs = {name: (r.val["A"], r.val["B"]) for name, r in (("naive", naive), ("A only", a), ("joint", multi))}
fig = plots.tradeoff({"L2": search.results}, chosen={"L2": best}, references=refs,
                     title="L2: task A versus task B on validation")

# %% [markdown]
# Each point is one `lam` (the labelled ones are the ends of the grid and the chosen value). Small
# values learn B and forget A; large values keep A and learn little of B (the sweep printed both).
# A single `lam` pulls every weight equally hard, whether task A depended on it or not; lesson 05
# weighs each weight by how much task A needs it.
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
val_margin = noise_margin(len(tasks["A"].val))  # the validation split is smaller than the test split
print("L2 at the chosen lam keeps more of task A than naive training:", best.test["A"] - naive.test["A"] > margin)
print("and still learns task B far above chance (0.2):", best.test["B"] > 0.2 + margin)
print("the largest lam keeps more of A than the smallest (validation):", high.val["A"] > low.val["A"] + val_margin)
print("and learns less of B:", high.val["B"] < low.val["B"] - val_margin)

# %% [markdown]
# ## What we measured
#
# * The article's norm penalty has a NaN gradient at the anchor: its first step fills the weights
#   with NaN, and `fit_task` stops after that batch, naming the cause.
# * With the squared distance, `lam` traces a trade-off between the tasks: the largest `lam` keeps
#   more of task A and learns less of task B than the smallest, beyond the noise margin.
# * The `lam` chosen on validation, against naive training, digit by digit on the same test
#   digits (a paired test):

# %%
l2_model = two_tasks.train_task_b(a.model, tasks, setup, "l2", best.lam).model
for t in ("A", "B"):
    v = compare_on_test_set(correct_answers(l2_model, tasks[t]), correct_answers(naive.model, tasks[t]), margin,
                            names=(f"L2 (lam {best.lam:g})", "naive training"))
    print(f"task {t}: {v.words}")

# %% [markdown]
# ## Check your understanding
#
# 1. Why is the gradient of `tf.norm(theta - theta_A)` not a number at `theta = theta_A`, while
#    that of its square is zero?
# 2. Why is `lam` chosen on the validation split, not on the test split?
# 3. What does L2 do to a weight that task A never used?
#
# ## Exercises
#
# 1. The article's norm has a gradient of size one whatever the distance. Add a small `eps` inside
#    the square root (`sqrt(sum d^2 + eps)`) and train one epoch: does training now run?
# 2. **Write the L2 penalty.** Fill in `my_l2_penalty(variables, theta_a, lam)`: it gets the
#    model's trainable variables and the task-A weights (one array per variable) and returns the
#    scalar `lam / 2 * sum (theta - theta_A)^2` over every weight. `check_l2_penalty` compares its
#    value and its gradient with the expected ones and tells you what differs. Then train task B
#    with it: `fit_task` accepts any function of the variables as a penalty.
# 3. Train with half and with twice the chosen `lam` (`sweeper.run("l2", lam)`). How do task A and
#    task B move?

# %%
from ewc_helpers import exercises

def my_l2_penalty(variables, theta_a, lam):
    """lam / 2 * sum over every weight of (theta - theta_A)^2, as a scalar tensor."""
    raise NotImplementedError  # your code here

check = exercises.check_l2_penalty(my_l2_penalty)

# %% [markdown] solution
# ## Solutions
#
# **1.** With `eps > 0` the norm is differentiable at the anchor, so training runs; but its
# gradient still has about the same size far from and near to the anchor (printed below for one
# two-weight difference at three distances).

# %% solution
consts = [tf.constant(v.numpy()) for v in a.model.trainable_variables]
smooth_norm = lambda vs: 0.5 * tf.add_n([tf.sqrt(tf.reduce_sum(tf.square(v - c)) + 1e-8) for v, c in zip(vs, consts)])
smooth = new_model(setup, weights=a.model.get_weights())
fit_task(smooth, tasks["B"], epochs=1, penalties=[smooth_norm])
ran = accuracies(smooth, [tasks["A"], tasks["B"]])
finite = all(np.isfinite(w).all() for w in smooth.get_weights())
print({k: round(v, 3) for k, v in ran.items()}, "| training ran to the end with finite weights:", finite)
for dist in (1e-3, 1e-1, 10.0):
    d = tf.Variable([dist, 0.0])
    with tf.GradientTape() as tape:
        smoothed = tf.sqrt(tf.reduce_sum(tf.square(d)) + 1e-8)
    print(f"distance {dist:g} from the anchor: gradient size {float(tf.norm(tape.gradient(smoothed, d))):.3f}")

# %% [markdown] solution
# **2.** One line of TensorFlow; the penalty works in `fit_task` like the library's:

# %% solution
def my_l2_penalty(variables, theta_a, lam):
    return lam / 2 * tf.add_n([tf.reduce_sum(tf.square(v - t)) for v, t in zip(variables, theta_a)])

check = exercises.check_l2_penalty(my_l2_penalty)
theta_a = [v.numpy() for v in a.model.trainable_variables]
set_seed(setup.seed + 1)
mine = new_model(setup, weights=a.model.get_weights())
fit_task(mine, tasks["B"], epochs=setup.epochs_b, batch_size=setup.batch_size, seed=setup.seed + 1,
         penalties=[lambda vs: my_l2_penalty(vs, theta_a, best.lam)])
ours, lib = accuracies(mine, [tasks["A"], tasks["B"]]), accuracies(l2_model, [tasks["A"], tasks["B"]])
print(f"my penalty: A {ours['A']:.3f}, B {ours['B']:.3f} | l2_penalty: A {lib['A']:.3f}, B {lib['B']:.3f}")

# %% [markdown] solution
# **3.** Half and twice the chosen `lam`, on validation, against the validation noise margin:

# %% solution
runs = {f: sweeper.run("l2", best.lam * f) for f in (0.5, 1.0, 2.0)}
for f, r in runs.items():
    print(f"lam {r.lam:8.3g}: val A {r.val['A']:.3f}, val B {r.val['B']:.3f}")
for task, word in (("A", "keeps"), ("B", "learns")):
    change = runs[2.0].val[task] - runs[0.5].val[task]
    print(f"from half to twice the lam, task {task} moves {change:+.3f}:",
          "beyond" if abs(change) > val_margin else "within", f"the validation noise margin (±{val_margin:.3f})")

# %% [markdown] solution
# **Check your understanding.** (1) The norm's derivative is `d / ||d||`, which is 0/0 at `d = 0`;
# the square's is `2 d`, zero there. (2) Any decision taken on the test split makes the test
# score optimistic: it is then no longer an unseen sample. (3) It holds it at its task-A value as
# hard as any other, though task A would not miss it: that is the freedom L2 gives away.
