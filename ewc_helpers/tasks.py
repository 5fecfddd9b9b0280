"""Tasks built on MNIST, and the input pipeline that feeds them to ``model.fit``.

Task A is the even digits, task B the odd digits and ``multi`` both, each labelled ``digit // 2``
so that one 5-way head serves every task (the article's split). :func:`make_permuted_tasks` makes
permuted MNIST (all ten digits under a fixed pixel permutation per task). Every task has train,
validation (held out from the training split, stratified by digit) and test splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .sources import MNIST, DataError, Split, _pick

TASK_DIGITS = {"A": (0, 2, 4, 6, 8), "B": (1, 3, 5, 7, 9), "multi": tuple(range(10))}


# --------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class TaskSplit:
    """Images (uint8), task labels (int64, ``digit // 2`` unless permuted) and the original digits."""

    images: np.ndarray
    labels: np.ndarray
    digits: np.ndarray

    def __post_init__(self):
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.dtype != np.uint8:
            raise DataError(f"task images must be uint8 pixels 0-255 (they are scaled when fed to a model); "
                            f"got dtype {images.dtype}")
        if images.ndim != 4:
            raise DataError(f"task images must have shape (N, height, width, channels); got {images.shape}")
        if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
            raise DataError(f"task labels must be a 1-D integer array; got {labels.dtype} of shape {labels.shape}")
        if not (len(images) == len(labels) == len(self.digits)):
            raise DataError(f"a task split needs as many images as labels and digits; got {len(images)}, "
                            f"{len(labels)} and {len(self.digits)}")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Task:
    """One continual-learning task with train, validation and test splits."""

    name: str
    train: TaskSplit
    val: TaskSplit
    test: TaskSplit
    num_classes: int = 5
    digits: tuple = field(default=tuple(range(10)))
    permutation: np.ndarray | None = None
    #: The output units this task may use (its own head, known at test time), or None for all
    #: of them (one shared head). Labels are always indices of output units.
    classes: tuple | None = None

    def split(self, split: str) -> TaskSplit:
        return _pick(self, split)

    def arrays(self, split: str = "test"):
        """(x, y): images scaled to float32 [0, 1] (permuted if the task is) and labels."""
        part = self.split(split)
        return scale_images(part.images, self.permutation), part.labels

    def dataset(self, split: str = "train", batch_size: int = 128, shuffle: bool | None = None, seed: int = 0):
        """The split through :func:`make_pipeline` (shuffled by default for ``train`` only)."""
        part = self.split(split)
        if shuffle is None:
            shuffle = split == "train"
        return make_pipeline(
            part.images, part.labels, batch_size=batch_size, shuffle=shuffle, seed=seed,
            permutation=self.permutation,
        )

    def counts(self) -> dict:
        return {s: len(self.split(s)) for s in ("train", "val", "test")}


class ModelTaskMismatch(ValueError):
    """A model whose output layer cannot answer a task: fewer output units than the task's classes."""


def check_outputs(model, units: int, task: Task, labels=None) -> None:
    """Refuse a model with ``units`` output units for ``task`` (whose labels, when given, are
    ``labels``; else its training labels), naming both: training and evaluation both call it."""
    y = task.train.labels if labels is None else labels
    needed = (max(task.classes) + 1) if task.classes is not None else (int(np.max(y)) + 1 if len(y) else 0)
    if needed > units:
        what = f"output units {tuple(task.classes)}" if task.classes is not None else f"labels up to {needed - 1}"
        raise ModelTaskMismatch(
            f"model {getattr(model, 'name', type(model).__name__)!r} has {units} output units but task "
            f"{task.name} needs {what}; build the model with at least {needed} outputs (build_mlp(num_classes=...))")


def validation_split(split: Split, fraction: float = 0.1, seed: int = 0):
    """Hold out ``fraction`` of each digit's examples, chosen by ``seed``: (train, val)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive); got {fraction}")
    if len(split) == 0:
        raise DataError("the training split holds no images, so no validation split can be held out")
    rng = np.random.default_rng(seed)
    val_idx = []
    for digit in np.unique(split.labels):
        members = rng.permutation(np.flatnonzero(split.labels == digit))
        val_idx.append(members[: int(round(fraction * len(members)))])
    val_mask = np.zeros(len(split), bool)
    val_mask[np.concatenate(val_idx)] = True
    return split.take(~val_mask), split.take(val_mask)


def _task_split(split: Split, digits) -> TaskSplit:
    keep = np.isin(split.labels, digits)
    d = split.labels[keep]
    return TaskSplit(images=split.images[keep], labels=d // 2, digits=d)


def make_task(mnist: MNIST, name: str, val_fraction: float = 0.1, seed: int = 0) -> Task:
    """Task "A" (even digits), "B" (odd digits) or "multi" (all), labels ``digit // 2``."""
    if name not in TASK_DIGITS:
        raise DataError(f"unknown task {name!r}; choose 'A' (even digits), 'B' (odd digits) or 'multi'")
    train, val = validation_split(mnist.train, val_fraction, seed)
    digits = TASK_DIGITS[name]
    return Task(
        name=name,
        train=_task_split(train, digits),
        val=_task_split(val, digits),
        test=_task_split(mnist.test, digits),
        num_classes=5,
        digits=digits,
    )


def make_tasks(mnist: MNIST, val_fraction: float = 0.1, seed: int = 0) -> dict:
    """``{"A": ..., "B": ..., "multi": ...}`` sharing one validation hold-out."""
    return {name: make_task(mnist, name, val_fraction, seed) for name in TASK_DIGITS}


def make_permuted_tasks(mnist: MNIST, num_tasks: int, seed: int = 0, val_fraction: float = 0.1,
                        first_identity: bool = False) -> list:
    """Permuted MNIST: task t is all ten digits under a fixed pixel permutation (10-way labels).

    Permutation t is drawn from ``numpy.random.default_rng([seed, t])``, so it is fixed for a given
    ``seed`` and task index (and task t is the same whatever ``num_tasks`` is). With
    ``first_identity`` the first task keeps the original pixel order. Every task shares one
    validation hold-out (seed 0, as for tasks A and B) and the images themselves: only the
    permutation, applied when the task's arrays or dataset are made, differs.
    """
    if not _is_whole(num_tasks) or num_tasks < 1:
        raise DataError(f"num_tasks must be a positive integer; got {num_tasks!r}")
    if not _is_whole(seed) or seed < 0:
        raise DataError(f"seed must be a non-negative integer; got {seed!r}")
    train, val = validation_split(mnist.train, val_fraction, seed=0)
    tasks = []
    for t in range(int(num_tasks)):
        if first_identity and t == 0:
            perm = np.arange(784)
        else:
            perm = np.random.default_rng([int(seed), t]).permutation(784)
        perm.setflags(write=False)
        parts = {
            name: TaskSplit(images=s.images, labels=s.labels.copy(), digits=s.labels)
            for name, s in (("train", train), ("val", val), ("test", mnist.test))
        }
        tasks.append(Task(name=f"P{t + 1}", num_classes=10, permutation=perm, **parts))
    return tasks


def _is_whole(value) -> bool:
    """True for an integer (or an integral float), False for bools, strings, None and fractions."""
    if isinstance(value, bool):
        return False
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


# --------------------------------------------------------------------------- pipeline
def scale_images(images: np.ndarray, permutation: np.ndarray | None = None) -> np.ndarray:
    """uint8 images to float32 in [0, 1], optionally with their pixels permuted.

    ``permutation`` reorders the flattened pixels of every image: pixel ``k`` of the result is
    pixel ``permutation[k]`` of the original.
    """
    x = images.astype(np.float32) / 255.0
    if permutation is not None:
        pixels = int(np.prod(images.shape[1:]))
        permutation = np.asarray(permutation)
        if permutation.shape != (pixels,) or not np.array_equal(np.sort(permutation), np.arange(pixels)):
            raise DataError(f"permutation must reorder the {pixels} pixels of an image; "
                            f"got an array of shape {permutation.shape} that is not a permutation of 0..{pixels - 1}")
        x = x.reshape(len(x), pixels)[:, permutation].reshape(images.shape)
    return x


def make_pipeline(images, labels, batch_size: int = 128, shuffle: bool = True, seed: int = 0,
                  permutation=None):
    """tf.data pipeline: scale to [0, 1] once, cache, then reshuffle every epoch, batch, prefetch.

    Shuffling comes *after* the cache. The article's order (shuffle, then cache) freezes the first
    epoch's order and replays it in every later epoch.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1; got {batch_size}")
    x = scale_images(np.asarray(images), permutation)
    ds = tf.data.Dataset.from_tensor_slices((x, np.asarray(labels))).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def article_pipeline(images, labels, batch_size: int = 128, seed: int = 0):
    """The article's order, shuffle *then* cache, kept only to show its flaw.

    The cache stores the first epoch's shuffled order, so every later epoch replays it.
    """
    import tensorflow as tf

    x = scale_images(np.asarray(images))
    ds = tf.data.Dataset.from_tensor_slices((x, np.asarray(labels)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).cache()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def epoch_orders(dataset, epochs: int = 3, n: int = 12) -> list:
    """The first ``n`` labels of each of ``epochs`` full passes over a batched dataset.

    Each pass runs to the end, as a training epoch does: a cache is only complete (and replayed)
    after one full pass.
    """
    orders = []
    for _ in range(epochs):
        labels = np.concatenate([np.asarray(y) for _, y in dataset])
        orders.append(labels[:n].tolist())
    return orders


def summarize_tasks(tasks: dict) -> str:
    """A small table of per-task counts and digits."""
    lines = [f"{'task':<6}{'digits':<16}{'train':>8}{'val':>8}{'test':>8}"]
    for name, task in tasks.items():
        c = task.counts()
        digits = ",".join(map(str, task.digits))
        lines.append(f"{name:<6}{digits:<16}{c['train']:>8,}{c['val']:>8,}{c['test']:>8,}")
    return "\n".join(lines)


def with_train_subset(task: Task, max_examples: int, seed: int = 0) -> Task:
    """``task`` with at most ``max_examples`` training examples, chosen at random by ``seed`` and
    stratified by label; validation and test splits unchanged. The task itself when it holds no
    more than that. Lessons use it to choose ``lam`` on a subsample of a large data set and then
    train once on all of it."""
    if isinstance(max_examples, bool) or int(max_examples) != max_examples or max_examples < 1:
        raise DataError(f"max_examples must be a positive integer; got {max_examples!r}")
    train = task.split("train")
    if len(train) <= max_examples:
        return task
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(train.labels):
        members = np.flatnonzero(train.labels == label)
        share = int(round(max_examples * len(members) / len(train)))
        keep.append(rng.choice(members, min(share, len(members)), replace=False))
    index = np.sort(np.concatenate(keep))
    subset = TaskSplit(images=train.images[index], labels=train.labels[index], digits=train.digits[index])
    return replace(task, train=subset)
