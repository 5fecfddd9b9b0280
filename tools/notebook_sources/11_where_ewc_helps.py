# %% [markdown]
# # 11 · Where EWC helps, and where it cannot
#
# EWC protects the weights an old task needs. Whether that is enough depends on what the network
# is asked at test time. Split MNIST asks it in three ways (van de Ven and Tolias 2019; Hsu et al.
# 2018): five tasks of two digits each, (0, 1), (2, 3), ..., (8, 9), and
#
# * **[task-incremental](GLOSSARY.md#task-incremental)**: the task is known at test time, so each task has its own head ("is it
#   the 2 or the 3?");
# * **[domain-incremental](GLOSSARY.md#domain-incremental)**: one shared 2-way head, "is the digit even or odd?", whatever the task;
# * **[class-incremental](GLOSSARY.md#class-incremental)**: one shared 10-way head, "which digit is it?", without being told the
#   pair.
#
# Permuted MNIST (lesson 10) is a fourth setting. The published record is clear: regularisers such
# as EWC do well with a head per task and on permuted MNIST, barely help in the domain setting and
# do nothing in the class setting, where a small [replay](GLOSSARY.md#replay) buffer of old examples wins.
#
# **What you will learn**
#
# 1. how the three scenarios label the same digits, and how one output layer gives a head per task;
# 2. naive fine-tuning, L2, EWC, online EWC, a replay buffer and joint training, measured in all
#    four settings over 3 seeds, beside the published figures;
# 3. which published orderings our small data reproduces, which it does not, and why;
# 4. how many bytes a replay buffer holds beside EWC's anchors.
#
# **Prerequisites:** lessons 05 (EWC) and 10 (task sequences, online EWC, choosing `lam`).
#
# **Run time.** The full table takes far too long for a lesson: it comes from
# `python -m ewc_helpers reproduce --suite scenarios --seeds 3` and is pasted below. The lesson
# re-runs one setting live with one seed, and one diagnostic.

# %% [markdown]
# ## Setup

# %%
import numpy as np
from ewc_helpers import load_mnist, make_split_tasks, noise_margin, plots
from ewc_helpers.studies import scenarios, sequences

mnist = load_mnist()
split = {s: make_split_tasks(mnist, s) for s in ("task", "domain", "class")}
margin = noise_margin(len(mnist.test))  # 3 binomial standard errors on the test digits (lesson 01)
print("tasks:", [t.name for t in split["task"]], "| examples per task:", split["task"][0].counts())

# %% [markdown]
# ## Three ways to label the same digit
#
# `make_split_tasks(mnist, scenario)` builds the five tasks of a scenario. The images are the
# same in all three; the labels and the output units differ. In the task-incremental scenario the
# network has one 10-unit output layer, and `Task.classes` names the two units that form a task's
# own head: training masks the other eight out of the loss, and testing picks the larger of the
# two.

# %%
for s, tasks in split.items():
    t = tasks[1]  # the digits 2 and 3
    print(f"{s:>6}: output units {t.num_classes:>2}, head {t.classes}, "
          f"labels of the digits 2 and 3: {sorted(set(t.test.labels.tolist()))}")

# %%
# NBVAL_CHECK_OUTPUT
t_task, t_domain, t_class = (split[s][1] for s in ("task", "domain", "class"))
print("every scenario holds the same test images of one pair:",
      all(np.array_equal(t_task.test.images, t.test.images) for t in (t_domain, t_class)))
print("task- and class-incremental labels are the digits:",
      np.array_equal(t_task.test.labels, t_task.test.digits) and np.array_equal(t_class.test.labels, t_class.test.digits))
print("domain-incremental labels are even (0) or odd (1):", np.array_equal(t_domain.test.labels, t_domain.test.digits % 2))
print("only the task-incremental tasks have their own head:", t_task.classes == (2, 3) and t_class.classes is None)

# %% [markdown]
# ## One setting live: class-incremental, one seed
#
# The methods are those of lesson 10, plus two references. **Replay** stores 20 training examples
# per class of every finished task and mixes them into the next tasks' batches
# (`replay.ReplayBuffer`). **Joint** training sees every task at once: the upper bound. The first
# task is trained once and shared (`train_first_task`), each later task gets 4 epochs and a fresh
# optimizer. EWC's `lam` is the one the suite chose on validation data (pasted below).

# %%
# NBVAL_IGNORE_OUTPUT
setup = scenarios.SETTINGS["class"].setup
tasks = split["class"]
steps = setup.epochs_per_task * int(np.ceil(len(tasks[1].train) / setup.batch_size))
print(f"{setup.epochs_per_task} epochs of {len(tasks[1].train)} digits, batches of {setup.batch_size}: {steps} steps per task")
first = sequences.train_first_task(tasks, setup)
live = {"naive": sequences.run_sequence(tasks, setup, "naive", first=first),
        "EWC": sequences.run_sequence(tasks, setup, "ewc", lam=1e4, first=first),
        "replay": scenarios.run_replay(tasks, setup, first)}
for name, r in live.items():
    print(f"{name:>6}: average accuracy {r.average_accuracy:.3f}, backward transfer {r.backward_transfer:+.3f}")

# %%
fig = plots.accuracy_heatmaps(live, title="class-incremental split MNIST, seed 0 (row: after training task i)")

# %% [markdown]
# Naive fine-tuning ends knowing only the last pair: with one 10-way head, training on the 8s and
# 9s teaches the network that the answer is always 8 or 9. EWC holds on to part of the old tasks;
# replay holds on to much more.
#
# ## What each method keeps
#
# EWC keeps one anchor per task: a copy of the weights and a Fisher, both float32. The replay
# buffer keeps raw pixels: 784 bytes per digit, plus its label.

# %%
for name, r in live.items():
    print(f"{name:>6} holds {r.memory['bytes']:>9,} bytes after the last task")
one_anchor = live["EWC"].memory["bytes"] // len(tasks)
print(f"one EWC anchor (theta* and F of a 784-128-10 network): {one_anchor:,} bytes")

# %%
# NBVAL_CHECK_OUTPUT
print("the replay buffer of 200 digits holds fewer bytes than one EWC anchor:",
      live["replay"].memory["bytes"] < one_anchor)

# %% [markdown]
# ## The measured table: four settings, six methods, 3 seeds
#
# `python -m ewc_helpers reproduce --suite scenarios --seeds 3` runs every method in every setting
# on the embedded digits. Each penalised method's `lam` is chosen on seed 0's validation data by
# `search_lam`, whose grid grows by a decade while the best value sits at an end (the suite prints
# every extension); seeds 1 and 2 reuse it. Its numbers, pasted here as
# `(average, std, BWT, BWT std, lam, bytes)`:

# %%
SUITE = {  # setting: {method: (average, std, BWT, BWT std, lam, bytes held)}
    "task": {"naive": (0.979, 0.004, -0.007, 0.004, None, 0), "l2": (0.981, 0.003, -0.006, 0.005, 0.010, 407080),
             "ewc": (0.979, 0.002, -0.002, 0.001, 1000, 4070800), "online_ewc": (0.979, 0.001, -0.002, 0.001, 1000, 814160),
             "replay": (0.977, 0.003, -0.005, 0.004, None, 158400), "joint": (0.984, 0.000, None, None, None, 2851200)},
    "domain": {"naive": (0.669, 0.004, -0.371, 0.004, None, 0), "l2": (0.809, 0.004, -0.119, 0.010, 1.000, 402952),
               "ewc": (0.823, 0.003, -0.146, 0.004, 1000, 4029520), "online_ewc": (0.812, 0.002, -0.157, 0.006, 1000, 805904),
               "replay": (0.876, 0.016, -0.110, 0.022, None, 158400), "joint": (0.942, 0.002, None, None, None, 2851200)},
    "class": {"naive": (0.191, 0.002, -0.962, 0.005, None, 0), "l2": (0.376, 0.025, -0.070, 0.030, 10, 407080),
              "ewc": (0.536, 0.007, -0.168, 0.027, 10000, 4070800), "online_ewc": (0.567, 0.024, -0.095, 0.015, 10000, 814160),
              "replay": (0.803, 0.010, -0.193, 0.019, None, 158400), "joint": (0.904, 0.003, None, None, None, 2851200)},
    "permuted": {"naive": (0.803, 0.006, -0.080, 0.006, None, 0), "l2": (0.809, 0.010, -0.056, 0.013, 0.100, 407080),
                 "ewc": (0.809, 0.006, -0.043, 0.007, 100, 4070800), "online_ewc": (0.823, 0.003, -0.025, 0.003, 100, 814160),
                 "replay": (0.848, 0.005, -0.035, 0.004, None, 792000), "joint": (0.889, 0.001, None, None, None, 14256000)},
}

# %%
rows = scenarios.expand(SUITE, n=3)
for setting in rows:
    print(scenarios.scenario_table(rows[setting], setting), end="\n\n")

# %% [markdown]
# The published columns (Hsu et al. 2018, Table 2; van de Ven et al. 2022, read off a figure) come
# from full MNIST, wider networks (2 x 400 units) and far longer training (about 2,000 iterations
# per task, where ours has the few printed above). Compare orderings, not decimals.

# %%
fig = plots.scenario_bars(rows, published=scenarios.PUBLISHED,
                          chance={"task": 0.5, "domain": 0.5, "class": 0.1, "permuted": 0.1},
                          titles={"task": "task-incremental", "domain": "domain-incremental",
                                  "class": "class-incremental", "permuted": "permuted MNIST, 5 tasks"})

# %% [markdown]
# ## Checked findings
#
# A method beats another when its mean average accuracy is higher by more than a **margin**: the
# larger of twice the larger std over seeds and 3 binomial standard errors of the 1,000 test digits
# (`noise_margin`). Both quantities are measured in the same runs; no threshold is fitted.

# %%
for f in scenarios.findings(rows, len(mnist.test)):
    print(f"{'reproduced' if f['holds'] else 'NOT reproduced'}: {f['claim']}\n    {f['detail']}")

# %%
# NBVAL_CHECK_OUTPUT
def beats(setting, a, b):
    return scenarios.compare(rows[setting], a, b, len(mnist.test))["beats"]
reg = scenarios.REGULARISERS
print("domain-incremental: replay beats every regulariser:", all(beats("domain", "replay", m) for m in reg))
print("class-incremental: replay beats every regulariser:", all(beats("class", "replay", m) for m in reg))
print("no method beats joint training in any setting:",
      not any(beats(s, m, "joint") for s in rows for m in scenarios.METHODS if m != "joint"))

# %% [markdown]
# ## Where our data disagrees with the literature, and why
#
# Two published orderings do not hold on our runs, and the lesson keeps them in view.
#
# **Class-incremental: EWC beats naive fine-tuning here**, where every published run finds it no
# better than naive. One difference stands out: we train each task for a few dozen steps, the
# published runs for about 2,000. A one-headed network learning only the digits 8 and 9 is pushed,
# step after step, to lower the old digits' outputs; a quadratic penalty only slows that push down.
# If this is the reason, training longer should shrink EWC's lead. We train the same sequence with
# 20 epochs per task instead of 4, at the same `lam`:

# %%
# NBVAL_IGNORE_OUTPUT
longer = setup.with_epochs(20)
first20 = sequences.train_first_task(tasks, longer)
diag = {"naive": sequences.run_sequence(tasks, longer, "naive", first=first20),
        "EWC": sequences.run_sequence(tasks, longer, "ewc", lam=1e4, first=first20)}
for name, r in diag.items():
    print(f"20 epochs per task, {name:>5}: average accuracy {r.average_accuracy:.3f}")
lead4 = live["EWC"].average_accuracy - live["naive"].average_accuracy
lead20 = diag["EWC"].average_accuracy - diag["naive"].average_accuracy
print(f"EWC's lead over naive: {lead4:+.3f} at 4 epochs, {lead20:+.3f} at 20 epochs")

# %%
# NBVAL_CHECK_OUTPUT
print("five times longer training does not widen EWC's class-incremental lead beyond the margin:",
      lead20 < lead4 + margin)

# %% [markdown]
# EWC's lead melts as training grows, towards the published picture.
#
# **Task-incremental: EWC cannot beat naive fine-tuning here, because naive fine-tuning does not
# forget.** With a head per task, naive training keeps every pair within the margin of joint
# training (the table above). Telling two digits apart is easy, and a pair's own two output units
# are never trained again once its task is over. There is nothing left for EWC to keep. The
# published naive runs lose 6 to 15 points in this setting; exercise 3 tries longer training.

# %% [markdown]
# ## One setting where EWC clearly wins
#
# The brief for this lesson: find a setting, on our data, where EWC beats both naive fine-tuning
# and L2 by more than the margin. We tried the four settings of the table; `ewc_wins` lists those
# where it holds.

# %%
wins = scenarios.ewc_wins(rows, len(mnist.test))
for s in wins:
    by = scenarios.rows_by_method(rows[s])
    print(s, " ".join(f"{by[m]['label']} {by[m]['average']:.3f} ± {by[m]['average_std']:.3f}" for m in ("naive", "l2", "ewc")))

# %%
# NBVAL_CHECK_OUTPUT
print("EWC beats naive fine-tuning and L2 by the margin in the class-incremental setting:", "class" in wins)

# %% [markdown]
# It is the class-incremental setting, with our short training: the very setting the literature
# says EWC cannot handle, and the diagnostic above shows the win fading as training grows. In
# the task-incremental setting naive training does not forget; in the domain setting EWC and L2
# end level; on permuted MNIST with 2 epochs per task the regularisers stay within the margin of
# naive training.

# %% [markdown]
# ## What we measured
#
# * The same digits make three different problems. With a head per task, naive fine-tuning on
#   our data hardly forgets, and no method has anything to add.
# * With one shared head, forgetting is severe. A replay buffer of 20 digits per class beats every
#   regulariser in the domain and class settings, as published, while holding fewer bytes than a
#   single EWC anchor.
# * In the class setting EWC beats naive fine-tuning on our short runs, unlike every published
#   run. How much of that lead survives longer training depends on the data: on the embedded
#   digits, with few steps per task, five times longer training shrank it (printed above); on a
#   larger source each task already has many more steps. It never grew.
# * No method beats joint training anywhere.
#
# ## Exercises
#
# 1. **How big a buffer?** Run `scenarios.run_replay(tasks, setup, first, per_class=k)` in the
#    class-incremental setting for k = 5 and 50. How do the average accuracy and the bytes held
#    change? How many digits would fit in the bytes of one EWC anchor?
# 2. **Copying `lam` from a paper.** van de Ven et al. use `lam = 1e10` for EWC in the
#    domain-incremental setting. Try it with `sequences.run_sequence(split["domain"], setup, "ewc", lam=1e10)`.
#    What happens, and why can a `lam` not be copied between implementations (lesson 06)?
# 3. **More training, more forgetting?** Train the task-incremental sequence naively with 20
#    epochs per task instead of 4. Does naive fine-tuning start to forget, as in the published runs?

# %% [markdown]
# ## Solutions

# %% solution
for k in (5, 50):
    r = scenarios.run_replay(tasks, setup, first, per_class=k)
    print(f"{k:>2} per class: average accuracy {r.average_accuracy:.3f}, {r.memory['bytes']:,} bytes")
print(f"one EWC anchor holds the bytes of {one_anchor // (28 * 28 + 8):,} stored digits")

# %% [markdown] solution
# More stored digits keep more of the old classes, with diminishing returns, and even 50 per
# class (1,000 digits) hold fewer bytes than one EWC anchor.

# %% solution
from ewc_helpers import PenaltyError, TrainingError

try:
    r = sequences.run_sequence(split["domain"], setup, "ewc", lam=1e10)
    print("each task right after learning it:", np.diag(r.matrix.values).round(2), f"| average {r.average_accuracy:.3f}")
except (PenaltyError, TrainingError) as err:
    print("refused:", err)

# %% [markdown] solution
# The penalty is accepted (`lam` times the largest Fisher entry stays below the float32 limit),
# but it freezes the network: every later task stays near chance, 0.5 for even or odd, right
# after it is learnt (printed above). Their Fisher is measured on a network trained about 100
# times longer, far more confident, so its entries are far smaller. A `lam` only means something
# together with the Fisher it multiplies: choose it on your own validation data.

# %% solution
r = sequences.run_sequence(split["task"], setup.with_epochs(20), "naive")
print(f"naive, 20 epochs per task: average {r.average_accuracy:.3f}, backward transfer {r.backward_transfer:+.3f}")

# %% [markdown] solution
# No: with five times more training per task, naive fine-tuning still keeps every pair (printed
# above), so the number of epochs alone does not explain the published forgetting in this
# setting. Full MNIST, two hidden layers of 400 units and about 2,000 steps per task all differ
# from our runs; finding out which one matters would take runs longer than a lesson.
