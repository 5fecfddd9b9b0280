"""A small replay buffer: a few stored examples of every finished task, mixed into later training.

Replay is the reference the regularisers are measured against (Hsu et al. 2018; van de Ven et al.
2022): where one head must serve every task (domain- and class-incremental learning), keeping a
handful of old examples works where a penalty on the weights cannot.

:class:`ReplayBuffer` stores ``per_class`` training examples of each class (label) of every task
added to it, chosen at random by ``seed``, as uint8 pixels with their labels: the bytes it holds
are reported by :meth:`ReplayBuffer.memory` beside a Fisher's. :meth:`ReplayBuffer.mix` returns the
next task with the stored examples mixed into its training split, so that the ordinary
:func:`~ewc_helpers.training.fit_task` trains on both; its shuffled batches then hold new and
replayed examples in the proportion ``ratio``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .sources import DataError
from .tasks import Task, TaskSplit

__all__ = ["ReplayBuffer", "SharedBudgetBuffer", "merge_tasks", "DEFAULT_PER_CLASS"]

#: Stored examples per class of each finished task (10 digits x 20 = 200 examples for split MNIST).
DEFAULT_PER_CLASS = 20


def _pixels_in_order(images: np.ndarray, permutation) -> np.ndarray:
    """uint8 images with a task's pixel permutation applied (as :func:`tasks.scale_images` does)."""
    if permutation is None:
        return images
    flat = images.reshape(len(images), -1)[:, np.asarray(permutation)]
    return flat.reshape(images.shape)


def _plain(split: TaskSplit, permutation) -> TaskSplit:
    if permutation is None:
        return split
    return TaskSplit(_pixels_in_order(split.images, permutation), split.labels, split.digits)


class ReplayBuffer:
    """``per_class`` stored training examples per class of each task added, chosen by ``seed``."""

    def __init__(self, per_class: int = DEFAULT_PER_CLASS, seed: int = 0):
        if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
            raise ValueError(f"per_class must be a positive integer; got {per_class!r}")
        self.per_class, self.seed = int(per_class), int(seed)
        self.tasks: list = []  # names of the tasks stored, in order
        self.classes: set = set()  # output units of the tasks stored (for per-task heads)
        self.num_classes: int | None = None
        self._parts: list = []  # one TaskSplit per task added

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)

    def __repr__(self):
        return f"ReplayBuffer(per_class={self.per_class}, tasks={self.tasks}, examples={len(self)})"

    def add(self, task: Task) -> TaskSplit:
        """Store ``per_class`` random training examples of each of ``task``'s labels (all of them
        when a label has fewer); return what was stored."""
        if not isinstance(task, Task):
            raise TypeError(f"a replay buffer stores examples of a Task; got {type(task).__name__}")
        if self.num_classes is not None and task.num_classes != self.num_classes:
            raise DataError(f"task {task.name} has {task.num_classes} output units but the buffer holds "
                            f"tasks with {self.num_classes}: one buffer serves one network")
        rng = np.random.default_rng([self.seed, len(self.tasks)])
        train = task.train
        chosen = [rng.permutation(np.flatnonzero(train.labels == c))[: self.per_class]
                  for c in np.unique(train.labels)]
        idx = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)
        return self._keep(task, idx)

    def _keep(self, task: Task, idx) -> TaskSplit:
        """Store ``task``'s training examples ``idx`` (in its pixel order) and note the task."""
        train = task.train
        part = TaskSplit(_pixels_in_order(train.images[idx], task.permutation), train.labels[idx].copy(),
                         train.digits[idx].copy())
        self._parts.append(part)
        self.tasks.append(task.name)
        self.num_classes = task.num_classes
        self.classes |= set(task.classes if task.classes is not None else np.unique(train.labels).tolist())
        return part

    @property
    def stored(self) -> TaskSplit:
        """Everything stored, as one TaskSplit (images with their task's pixel order applied)."""
        if not self._parts:
            return TaskSplit(np.zeros((0, 28, 28, 1), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64))
        return TaskSplit(*(np.concatenate([getattr(p, k) for p in self._parts])
                           for k in ("images", "labels", "digits")))

    def memory(self) -> dict:
        """What the buffer holds: ``{"examples", "arrays", "bytes"}`` (uint8 pixels and int64
        labels; the digits kept for analysis are not needed for training and not counted)."""
        s = self.stored
        return {"examples": len(s), "arrays": 2 if len(s) else 0,
                "bytes": int(s.images.nbytes + s.labels.nbytes)}

    def mix(self, task: Task, ratio: float | None = 1.0, seed: int = 0) -> Task:
        """``task`` with the stored examples added to its training split.

        With ``ratio`` r the stored examples are repeated (each as evenly as possible, the rest
        drawn by ``seed``) to make ``round(r * len(task.train))`` replayed examples, so about a
        fraction r / (1 + r) of every shuffled batch is replay; ``ratio=None`` adds each stored
        example once. Validation and test splits are ``task``'s own. A task with its own head
        (``classes``) trains on the output units of every task stored and its own, since the
        replayed examples need theirs. An empty buffer returns ``task`` unchanged.
        """
        if not len(self):
            return task
        if not isinstance(task, Task):
            raise TypeError(f"mix needs a Task; got {type(task).__name__}")
        if task.num_classes != self.num_classes:
            raise DataError(f"task {task.name} has {task.num_classes} output units but the buffer's "
                            f"tasks have {self.num_classes}")
        stored = self.stored
        if ratio is None:
            idx = np.arange(len(stored))
        else:
            if not (isinstance(ratio, (int, float)) and ratio > 0):
                raise ValueError(f"ratio must be a positive number or None; got {ratio!r}")
            n = max(1, int(round(ratio * len(task.train))))
            reps, rest = divmod(n, len(stored))
            extra = np.random.default_rng([self.seed, 10_000 + int(seed)]).permutation(len(stored))[:rest]
            idx = np.concatenate([np.tile(np.arange(len(stored)), reps), np.sort(extra)])
        new = _plain(task.train, task.permutation)
        train = TaskSplit(np.concatenate([new.images, stored.images[idx]]),
                          np.concatenate([new.labels, stored.labels[idx]]),
                          np.concatenate([new.digits, stored.digits[idx]]))
        classes = None if task.classes is None else tuple(sorted(self.classes | set(task.classes)))
        return replace(task, train=train, val=_plain(task.val, task.permutation),
                       test=_plain(task.test, task.permutation), permutation=None, classes=classes)


class SharedBudgetBuffer(ReplayBuffer):
    """A buffer of ``total`` examples shared by every task added so far (Hsu et al. 2018,
    ``Naive_Rehearsal`` in ``agents/exp_replay.py`` of GT-RIPL/Continual-Learning-Benchmark).

    After the t-th task is added each task keeps ``total // t`` examples: the ones stored earlier
    are cut to their first ``total // t`` (they were drawn at random), and ``total // t`` random
    training examples of the new task are stored (not stratified by class)."""

    def __init__(self, total: int, seed: int = 0):
        if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 1:
            raise ValueError(f"total must be a positive integer; got {total!r}")
        super().__init__(1, seed)
        self.total = int(total)
        self.per_class = None

    def __repr__(self):
        return f"SharedBudgetBuffer(total={self.total}, tasks={self.tasks}, examples={len(self)})"

    def add(self, task: Task) -> TaskSplit:
        if not isinstance(task, Task):
            raise TypeError(f"a replay buffer stores examples of a Task; got {type(task).__name__}")
        if self.num_classes is not None and task.num_classes != self.num_classes:
            raise DataError(f"task {task.name} has {task.num_classes} output units but the buffer holds "
                            f"tasks with {self.num_classes}: one buffer serves one network")
        quota = min(self.total // (len(self.tasks) + 1), len(task.train))
        self._parts = [TaskSplit(p.images[:quota], p.labels[:quota], p.digits[:quota]) for p in self._parts]
        rng = np.random.default_rng([self.seed, len(self.tasks)])
        idx = rng.permutation(len(task.train))[:quota]
        return self._keep(task, idx)


def merge_tasks(tasks, name: str = "joint") -> Task:
    """One task whose every split is the union of ``tasks``' (each with its pixel order applied):
    what joint training, the upper bound, trains on. Tasks with their own heads merge into one
    head over all their output units."""
    tasks = list(tasks)
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        raise TypeError("merge_tasks needs a non-empty list of Tasks")
    if len({t.num_classes for t in tasks}) != 1:
        raise DataError(f"tasks to merge must share one output layer; got {sorted({t.num_classes for t in tasks})} units")
    parts = {}
    for split in ("train", "val", "test"):
        plain = [_plain(t.split(split), t.permutation) for t in tasks]
        parts[split] = TaskSplit(*(np.concatenate([getattr(p, k) for p in plain])
                                   for k in ("images", "labels", "digits")))
    heads = [t.classes for t in tasks]
    classes = None if any(h is None for h in heads) else tuple(sorted(set().union(*heads)))
    digits = tuple(sorted(set().union(*(t.digits for t in tasks))))
    return Task(name=name, num_classes=tasks[0].num_classes, digits=digits, classes=classes, **parts)
