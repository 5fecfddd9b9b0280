"""Protocol presets for the scenario map, and one unit of work: setting x method x lam x seed.

A :class:`Protocol` fixes what a published benchmark's own scripts fix: the network, the
optimizer, learning rate and batch size, epochs or iterations per task, whether Adam's state
carries over between tasks, the replay buffer and how replayed examples are mixed in, the
class-incremental output layer, the examples the Fisher is computed from, the SI damping and MAS
batches, and ``lam`` (the published value, and a grid to search from). :data:`PROTOCOLS`:

``short``         the lessons' protocol (lesson 11): a 784-128-10 network, 4 epochs per split
                  task on 90 % of its digits, a fresh Adam per task, 20 stored digits per class.
``hsu2018``       Hsu et al. 2018, from the scripts of GT-RIPL/Continual-Learning-Benchmark.
``vandeven2019``  van de Ven and Tolias 2019, from the defaults of GMvandeVen/continual-learning.

Every setting of every preset, with the file it comes from, is in :data:`SOURCES` and in
``docs/protocols.md``. Our penalty is ``(lam / 2) * sum Omega (theta - theta*)**2``; Hsu et al.
(and van de Ven's SI) add ``c * sum Omega (theta - theta*)**2``, so their ``c`` is our ``lam / 2``:
the published lams below are already doubled.

:func:`run_unit` trains one method on one setting with one lam and seed and returns a JSON-able
record: the test and validation accuracy matrices, average accuracy, learning accuracy (the mean
of the matrix diagonal) and BWT, bytes held and seconds. The same unit gives the same numbers on
any backend (:mod:`ewc_helpers.runner`).

The permuted suite (``reproduce --suite permuted --protocol KEY``) runs under the same presets:
:func:`permuted_preset` gives a protocol's permuted-MNIST setup (network, optimizer, training per
task, tasks, Fisher examples and the lam grids to start from, each with its source file) or names
what a protocol lacks for it; :func:`run_permuted_preset` runs naive, L2, EWC and online EWC as
``permuted`` units with lam chosen on validation.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..anchors import Anchor
from ..evaluation import AccuracyMatrix, accuracies
from ..fisher import compute_fisher
from ..heads import build_scenario_mlp, compile_scenario_model, head_offsets, seen_classes
from ..importance import PathIntegral, mas_importance, si_omega
from ..penalties import OnlineEWC, QuadraticPenalty, memory_footprint
from ..replay import ReplayBuffer, SharedBudgetBuffer
from ..reproducibility import set_seed
from ..split_mnist import make_split_tasks
from ..tasks import make_permuted_tasks, scale_images
from ..training import StopOnNonFinite

__all__ = ["Protocol", "PROTOCOLS", "METHODS", "PENALISED", "SETTINGS", "SOURCES", "run_unit", "make_tasks",
           "protocol_for", "permuted_preset", "run_permuted_preset"]

METHODS = ("naive", "l2", "ewc", "online_ewc", "si", "mas", "replay", "joint")
PENALISED = ("l2", "ewc", "online_ewc", "si", "mas")
SETTINGS = ("task", "domain", "class", "permuted")
HSU = "GT-RIPL/Continual-Learning-Benchmark"
VDV = "GMvandeVen/continual-learning"


@dataclass(frozen=True)
class Protocol:
    """Every choice a scenario run makes; ``per_setting`` overrides fields for one setting."""

    key: str
    title: str
    hidden: tuple = (128,)
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int | None = 4            # per task (None: use ``iterations``)
    iterations: int | None = None     # optimizer steps per task
    reset_optimizer: bool = True      # a fresh Adam for every task
    replay: str = "per_class"         # "per_class" (ReplayBuffer) or "shared" (SharedBudgetBuffer)
    replay_size: int = 20             # per class, or in all
    replay_mix: str = "ratio"         # "ratio" (1:1 repeats), "concat" (Hsu), "weighted" (van de Ven)
    class_mask: str = "all"           # class-incremental training loss: "all" units or "seen" ones
    fisher: str = "exact"
    fisher_examples: int | None = None
    si_damping: float = 0.1
    mas_batch: int = 128
    val_fraction: float = 0.1
    num_permuted_tasks: int = 5
    lam_mode: str = "search"          # "search" on validation, or "published"
    lams: dict = field(default_factory=dict)    # {setting: {method: lam}}, our convention
    grids: dict = field(default_factory=dict)   # {setting: {method: starting grid}}
    per_setting: dict = field(default_factory=dict)

    def for_setting(self, setting: str) -> "Protocol":
        return replace(self, per_setting={}, **self.per_setting.get(setting, {}))

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def fingerprint(self) -> str:
        """A short hash of every field: units of a changed protocol are never reused."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def _grid(mid):
    return (mid / 10, mid, mid * 10)


_SHORT_GRIDS = {
    "task": {"l2": (0.001, 0.01, 0.1), "ewc": (1e2, 1e3, 1e4), "online_ewc": (1e2, 1e3, 1e4)},
    "domain": {"l2": (0.1, 1.0, 10.0), "ewc": (1e2, 1e3, 1e4), "online_ewc": (1e2, 1e3, 1e4)},
    "class": {"l2": (1.0, 10.0, 100.0), "ewc": (1e3, 1e4, 1e5), "online_ewc": (1e3, 1e4, 1e5)},
    "permuted": {"l2": (0.01, 0.1, 1.0), "ewc": (10.0, 100.0, 1000.0), "online_ewc": (10.0, 100.0, 1000.0)},
}
for _g in _SHORT_GRIDS.values():
    _g.update(si=(1.0, 10.0, 100.0), mas=(0.1, 1.0, 10.0))

#: Hsu et al.'s ``--reg_coef`` per script, doubled into our lam (see the module docstring).
_HSU_C = {
    "task": {"l2": 0.01, "ewc": 100, "online_ewc": 400, "si": 300, "mas": 1},
    "domain": {"l2": 0.5, "ewc": 100, "online_ewc": 700, "si": 3000, "mas": 10000},
    "class": {"l2": 100, "ewc": 600, "online_ewc": 100, "si": 600, "mas": 1},
    "permuted": {"l2": 0.02, "ewc": 150, "online_ewc": 250, "si": 10, "mas": 0.1},
}
_HSU_LAMS = {s: {m: 2.0 * c for m, c in cs.items()} for s, cs in _HSU_C.items()}
#: van de Ven's EWC lambda (already ours: 0.5 * lambda * sum F d^2) and SI c (doubled).
_VDV_LAMS = {
    "task": {"ewc": 1e5, "online_ewc": 1e5, "si": 2 * 10.0},
    "domain": {"ewc": 1e10, "online_ewc": 1e10, "si": 2 * 50000.0},
    "class": {"ewc": 1e9, "online_ewc": 1e9, "si": 2 * 5000.0},
}

PROTOCOLS = {
    "short": Protocol(
        "short", "the lessons' short protocol (784-128-10, 4 epochs per split task)",
        grids=_SHORT_GRIDS, per_setting={"permuted": {"epochs": 2, "fisher_examples": 1000}}),
    "hsu2018": Protocol(
        "hsu2018", "Hsu et al. 2018 (784-400-400-10, Adam 1e-3 not reset, 4 epochs, batch 128, 1,100 stored)",
        hidden=(400, 400), epochs=4, reset_optimizer=False, replay="shared", replay_size=1100,
        replay_mix="concat", class_mask="seen", fisher="exact", fisher_examples=None, si_damping=0.1,
        mas_batch=128, lam_mode="published", lams=_HSU_LAMS,
        grids={s: {m: _grid(v) for m, v in ls.items()} for s, ls in _HSU_LAMS.items()},
        num_permuted_tasks=10,
        per_setting={"permuted": {"hidden": (1000, 1000), "learning_rate": 1e-4, "epochs": 10,
                                  "replay_size": 4000}}),
    "vandeven2019": Protocol(
        "vandeven2019", "van de Ven and Tolias 2019 (784-400-400-10, Adam 1e-3, 2,000 iterations, batch 128)",
        hidden=(400, 400), epochs=None, iterations=2000, reset_optimizer=False, replay="per_class",
        replay_size=100, replay_mix="weighted", class_mask="all", fisher="exact", fisher_examples=None,
        si_damping=0.1, mas_batch=128, lam_mode="published", lams=_VDV_LAMS,
        grids={s: {m: _grid(v) for m, v in ls.items()} for s, ls in _VDV_LAMS.items()}, num_permuted_tasks=10,
        per_setting={"permuted": {"hidden": (1000, 1000), "iterations": 5000, "learning_rate": 1e-4,
                                  "replay_size": 10}}),
}

#: Where each preset setting comes from (file in the source repository).
SOURCES = {
    "hsu2018": [
        ("network 784-400-400 (input padded to 32x32 there: 1024-400-400)", HSU, "models/mlp.py (MLP400), dataloaders/base.py"),
        ("Adam, lr 0.001, batch 128, 4 epochs per task (--schedule 4)", HSU, "scripts/split_MNIST_incremental_{task,domain,class}.sh"),
        ("optimizer not reset between tasks (reset_optimizer=False)", HSU, "agents/default.py"),
        ("task: one 2-unit head per task (--force_out_dim 0); domain: one 2-unit head; class: 10 units", HSU, "scripts/*.sh, agents/default.py (criterion)"),
        ("class: only units of classes seen so far in the loss (valid_out_dim)", HSU, "iBatchLearn.py (add_valid_output_dim), agents/default.py"),
        ("replay: 1,100 stored in all, total // tasks each, memory repeated to about 1:1", HSU, "agents/customization.py (Naive_Rehearsal_1100), agents/exp_replay.py"),
        ("EWC Fisher on every training example of the task, batch 1 (n_fisher_sample=60000)", HSU, "agents/customization.py (EWC_mnist), agents/regularization.py"),
        ("per-task EWC anchors; online EWC, L2, SI, MAS: one running anchor", HSU, "agents/regularization.py (online_reg)"),
        ("SI: damping 0.1, unregularised gradient, path integral summed over tasks", HSU, "agents/regularization.py (SI)"),
        ("MAS: |grad of mean(output**2)| over training batches", HSU, "agents/regularization.py (MAS)"),
        ("reg_coef (x2 for our lam/2): see _HSU_C", HSU, "scripts/split_MNIST_incremental_*.sh, scripts/permuted_MNIST_incremental_*.sh"),
        ("joint: --offline_training, same epochs on all tasks at once", HSU, "iBatchLearn.py"),
        ("permuted: 10 tasks, 784-1000-1000, lr 1e-4, 10 epochs, 4,000 stored", HSU, "scripts/permuted_MNIST_incremental_*.sh"),
    ],
    "vandeven2019": [
        ("network: 2 hidden layers (fc_lay 3) of 400 units", VDV, "params/param_values.py (set_default_values)"),
        ("Adam (not reset: optimizer 'adam'), lr 0.001, batch 128, 2,000 iterations per task", VDV, "params/param_values.py, params/options.py, train/train_task_based.py"),
        ("task: active classes of each context; class: all units active (--active-classes all)", VDV, "train/train_task_based.py, params/options.py"),
        ("replay: budget 100 per class; loss = 1/t current + (1 - 1/t) replay", VDV, "params/param_values.py (budget), models/classifier.py (rnt)"),
        ("EWC Fisher: all labels weighted by the model (fisher_labels 'all'), every example", VDV, "params/options.py, models/cl/continual_learner.py"),
        ("EWC 0.5 * lambda * sum F d^2; lambda 1e5 / 1e10 / 1e9", VDV, "models/cl/continual_learner.py (ewc_loss), params/param_values.py"),
        ("SI: epsilon 0.1; c 10 / 50000 / 5000 (x2 for our lam/2)", VDV, "params/options.py, params/param_values.py"),
    ],
}


def protocol_for(key_or_protocol) -> Protocol:
    if isinstance(key_or_protocol, Protocol):
        return key_or_protocol
    if key_or_protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {key_or_protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[key_or_protocol]


def make_tasks(setting: str, mnist, protocol: Protocol, seed: int = 0) -> list:
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if setting == "permuted":
        return make_permuted_tasks(mnist, protocol.num_permuted_tasks, seed=seed, val_fraction=protocol.val_fraction)
    return make_split_tasks(mnist, setting, val_fraction=protocol.val_fraction)


# --------------------------------------------------------------------------- batches
def _epoch_batches(n, p: Protocol, rng, epochs=None, iterations=None):
    """Index arrays of every optimizer step over ``n`` pooled examples."""
    out = []
    if iterations:
        order = np.zeros(0, np.int64)
        for _ in range(int(iterations)):
            if len(order) < p.batch_size:
                order = np.concatenate([order, rng.permutation(n)])
            out.append(order[: p.batch_size])
            order = order[p.batch_size:]
        return out
    for _ in range(int(epochs)):
        perm = rng.permutation(n)
        out += [perm[i: i + p.batch_size] for i in range(0, n, p.batch_size)]
    return out


def _dataset(x, y, offsets, weights, batches):
    import tensorflow as tf

    flat = np.concatenate(batches).astype(np.int64)
    ends = np.cumsum([len(b) for b in batches]).astype(np.int64)
    starts = (ends - np.array([len(b) for b in batches])).astype(np.int64)
    X, Y, O, W = (tf.constant(a) for a in (x, y, offsets, weights))
    F, S, E = tf.constant(flat), tf.constant(starts), tf.constant(ends)

    def take(step):
        idx = F[S[step]: E[step]]
        return tf.gather(X, idx), (tf.gather(Y, idx), tf.gather(O, idx)), tf.gather(W, idx)

    return tf.data.Dataset.range(len(batches)).map(take).prefetch(2)


def _offsets(setting, p, tasks, i, digits, labels, num_outputs):
    if setting == "task":
        heads = {d: t.classes for t in tasks for d in t.digits}
        return head_offsets(digits, heads, num_outputs)
    off = np.zeros((len(labels), num_outputs), np.float32)
    if setting == "class" and p.class_mask == "seen":
        from ..models import logit_offset
        off[:] = logit_offset(seen_classes(tasks, i), num_outputs)
    return off


def _pixels(split, permutation):
    return scale_images(split.images, permutation)


# --------------------------------------------------------------------------- one unit
def run_unit(setting: str, method: str, lam, seed: int, mnist, protocol="short") -> dict:
    """Train ``method`` on ``setting`` with ``lam`` (None for naive, replay and joint) and seed."""
    p = protocol_for(protocol).for_setting(setting)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if (method in PENALISED) != (lam is not None):
        raise ValueError(f"{method} {'needs' if method in PENALISED else 'takes no'} lam; got lam={lam!r}")
    started = time.perf_counter()
    tasks = make_tasks(setting, mnist, p, seed)
    num_outputs = max([tasks[0].num_classes] + [max(t.classes) + 1 for t in tasks if t.classes])
    set_seed(int(seed))
    model = build_scenario_mlp(num_outputs, p.hidden)
    compile_scenario_model(model, p.optimizer, p.learning_rate)
    names = [t.name for t in tasks]
    if method == "joint":
        return _joint(setting, tasks, model, p, seed, started, num_outputs)
    test, val = AccuracyMatrix(names), AccuracyMatrix(names)
    held, online, buffer, omega, clipped = [], OnlineEWC(1.0), None, None, 0
    path = PathIntegral(model) if method == "si" else None
    if method == "replay":
        buffer = SharedBudgetBuffer(p.replay_size, seed) if p.replay == "shared" else ReplayBuffer(p.replay_size, seed)
    for i, task in enumerate(tasks):
        if i and p.reset_optimizer:
            compile_scenario_model(model, p.optimizer, p.learning_rate)
        rng = np.random.default_rng([int(seed), i, 7])
        x, y, d = _pixels(task.train, task.permutation), task.train.labels, task.train.digits
        w = np.ones(len(y), np.float32)
        batches = _epoch_batches(len(y), p, rng, p.epochs, p.iterations)
        if buffer is not None and len(buffer):
            mem = buffer.stored
            mx, my, md = scale_images(mem.images), mem.labels, mem.digits
            if p.replay_mix == "weighted":
                t = i + 1
                n_new = len(y)
                batches = [np.concatenate([b, n_new + rng.integers(len(my), size=p.batch_size)]) for b in batches]
                w = np.concatenate([np.full(n_new, 2.0 / t, np.float32), np.full(len(my), 2.0 * (1 - 1.0 / t), np.float32)])
                x, y, d = np.concatenate([x, mx]), np.concatenate([y, my]), np.concatenate([d, md])
            else:
                if p.replay_mix == "concat":
                    reps = max(len(y) // p.replay_size, 1)
                    idx = np.tile(np.arange(len(my)), reps)
                else:  # "ratio": as many replayed as new examples
                    reps, rest = divmod(len(y), len(my))
                    idx = np.concatenate([np.tile(np.arange(len(my)), reps), np.sort(rng.permutation(len(my))[:rest])])
                x, y, d = np.concatenate([x, mx[idx]]), np.concatenate([y, my[idx]]), np.concatenate([d, md[idx]])
                w = np.ones(len(y), np.float32)
                batches = _epoch_batches(len(y), p, rng, p.epochs, p.iterations)
        offsets = _offsets(setting, p, tasks, i, d, y, num_outputs)
        penalties = [QuadraticPenalty(a, lam) for a in held]
        model.set_penalties(penalties)
        model.set_path_integral(path)
        model.fit(_dataset(x, y.astype(np.int64), offsets, w, batches), epochs=1, verbose=0, shuffle=False,
                  callbacks=[StopOnNonFinite(task.name, penalties)])
        test.add_row(accuracies(model, tasks, "test"))
        val.add_row(accuracies(model, tasks, "val"))
        if buffer is not None:
            buffer.add(task)
        if method in PENALISED:
            held, omega, clipped = _consolidate(method, model, task, tasks, i, setting, p, held, online, path,
                                                omega, clipped, seed)
    model.set_penalties(())
    memory = buffer.memory() if buffer is not None else memory_footprint(held) if held else None
    return _record(setting, method, lam, seed, test, val, memory, started,
                   {"si_clipped": clipped} if method == "si" else {})


def _consolidate(method, model, task, tasks, i, setting, p, held, online, path, omega, clipped, seed):
    weights = [v.numpy() for v in model.trainable_variables]
    classes = task.classes if setting == "task" else (
        seen_classes(tasks, i) if setting == "class" and p.class_mask == "seen" else None)
    if method == "l2":
        return [Anchor.from_model(model, None, task=task.name)], omega, clipped
    if method in ("ewc", "online_ewc"):
        x, y = task.arrays("train")
        fisher = compute_fisher(model, (x, y), p.fisher, max_examples=p.fisher_examples, seed=int(seed) + i,
                                classes=classes)
        if method == "ewc":
            return held + [Anchor.from_model(model, fisher, task=task.name)], omega, clipped
        return [online.consolidate(model, list(fisher), task=task.name)], omega, clipped
    if method == "si":
        omega, n = si_omega(path.values(), path.start, weights, p.si_damping, previous=omega)
        path.restart(model)
        return [Anchor(weights, omega, task=task.name, method="si")], omega, n
    x, _ = task.arrays("train")
    order = np.random.default_rng([int(seed), i, 11]).permutation(len(x))
    omega = mas_importance(model, x[order], classes=classes, batch_size=p.mas_batch, previous=omega)
    return [Anchor(weights, omega, task=task.name, method="mas")], omega, clipped


def _joint(setting, tasks, model, p, seed, started, num_outputs):
    xs = [_pixels(t.train, t.permutation) for t in tasks]
    x = np.concatenate(xs)
    y = np.concatenate([t.train.labels for t in tasks]).astype(np.int64)
    d = np.concatenate([t.train.digits for t in tasks])
    offsets = _offsets(setting, p, tasks, len(tasks) - 1, d, y, num_outputs)
    rng = np.random.default_rng([int(seed), 0, 7])
    batches = _epoch_batches(len(y), p, rng, p.epochs, None if p.iterations is None else p.iterations * len(tasks))
    model.fit(_dataset(x, y, offsets, np.ones(len(y), np.float32), batches), epochs=1, verbose=0, shuffle=False,
              callbacks=[StopOnNonFinite("joint")])
    names = [t.name for t in tasks]
    test, val = AccuracyMatrix(names), AccuracyMatrix(names)
    test.add_row(accuracies(model, tasks, "test"))
    val.add_row(accuracies(model, tasks, "val"))
    memory = {"examples": len(y), "arrays": 2, "bytes": int(sum(t.train.images.nbytes + t.train.labels.nbytes for t in tasks))}
    return _record(setting, "joint", None, seed, test, val, memory, started, {})


def _record(setting, method, lam, seed, test, val, memory, started, info) -> dict:
    rows = np.asarray(test.rows, float)
    complete = rows.shape[0] == rows.shape[1]
    return {
        "setting": setting, "method": method, "lam": None if lam is None else float(lam), "seed": int(seed),
        "tasks": list(test.task_names) if hasattr(test, "task_names") else None,
        "test_matrix": rows.tolist(), "val_matrix": np.asarray(val.rows, float).tolist(),
        "test": rows[-1].tolist(), "val": np.asarray(val.rows[-1], float).tolist(),
        "average": float(rows[-1].mean()), "val_score": float(np.mean(val.rows[-1])),
        "learning": float(np.mean(np.diag(rows))) if complete else None,
        "bwt": float(np.mean(rows[-1, :-1] - np.diag(rows)[:-1])) if complete and len(rows) > 1 else None,
        "memory": None if memory is None else memory.get("bytes"),
        "seconds": time.perf_counter() - started, "info": info,
    }


# --------------------------------------------------------------------------- the permuted suite
#: ``reproduce --suite permuted`` (naive, L2, per-task EWC and online EWC on a sequence of permuted
#: MNIST tasks, lam chosen on validation) under a published protocol: the protocol's
#: ``per_setting["permuted"]`` fixes the network, optimizer, learning rate, batch, training per
#: task, whether Adam is reset, the number of tasks and the Fisher's examples; the lam grids below
#: are where the search starts (a decade either side of the source's value, in our lam). Our
#: permuted suite keeps one 10-unit output layer for every task, the sources' domain-incremental
#: permuted MNIST, so the values come from those scripts.
PERMUTED_SUITE_METHODS = ("naive", "l2", "ewc", "online_ewc")
PERMUTED_SUITE_GRIDS = {
    # Hsu: scripts/permuted_MNIST_incremental_domain.sh --reg_coef L2 0.02, EWC 150, EWC_online 250.
    "hsu2018": {m: _grid(2.0 * _HSU_C["permuted"][m]) for m in ("l2", "ewc", "online_ewc")},
    # van de Ven (params/param_values.py, experiment permMNIST, scenario domain): ewc_lambda 100,
    # already ours (0.5 * lambda * sum F d^2); online EWC uses the same lambda with --gamma 1.
    # No L2 strength is published there: the search starts from the short protocol's L2 grid.
    "vandeven2019": {"ewc": _grid(100.0), "online_ewc": _grid(100.0)},
}
#: Where each lam grid of the permuted suite starts from, when it is not the source's own value.
PERMUTED_SUITE_GRID_NOTES = {
    "vandeven2019": {"l2": "GMvandeVen/continual-learning publishes no L2 strength; the search starts "
                           "from the short protocol's L2 grid (ewc_helpers.studies.sequences.SEQUENCE_LAMS)"},
}
#: The source file of each published protocol's permuted-MNIST setup.
PERMUTED_SUITE_SOURCES = {
    "hsu2018": (HSU, "scripts/permuted_MNIST_incremental_domain.sh (--n_permutation 10 --force_out_dim 10 "
                     "--schedule 10 --batch_size 128 --model_name MLP1000 --lr 0.0001; agents EWC, "
                     "EWC_online, L2), models/mlp.py (MLP1000), agents/default.py (reset_optimizer False), "
                     "agents/regularization.py (EWC: n_fisher_sample None, every training example)"),
    "vandeven2019": (VDV, "params/param_values.py (permMNIST: contexts 10, iters 5000, lr 0.0001, batch 128, "
                          "fc_units 1000, fc_lay 3; scenario domain: ewc_lambda 100), params/options.py "
                          "(optimizer adam, fisher-n all, gamma 1)"),
}


def permuted_preset(protocol) -> dict:
    """The permuted suite's settings under ``protocol`` (a key of :data:`PROTOCOLS` or a
    :class:`Protocol`), JSON-able: what ``reproduce --suite permuted --protocol KEY --json``
    records. Raises ``ValueError`` naming what is missing when the protocol has no permuted-MNIST
    setup (``per_setting["permuted"]``) or no lam grid to start from for a method."""
    p = protocol_for(protocol)
    missing = []
    if "permuted" not in p.per_setting:
        missing.append("permuted-MNIST setup (per_setting['permuted']: network, training per task)")
    grids = {**p.grids.get("permuted", {}), **PERMUTED_SUITE_GRIDS.get(p.key, {})}
    notes = dict(PERMUTED_SUITE_GRID_NOTES.get(p.key, {}))
    if "l2" in notes and "l2" not in grids:
        from .sequences import SEQUENCE_LAMS

        grids["l2"] = SEQUENCE_LAMS["l2"]
    lacking = [m for m in PERMUTED_SUITE_METHODS[1:] if m not in grids]
    if lacking:
        missing.append(f"lam grid to start from for {', '.join(lacking)}")
    if missing:
        raise ValueError(f"the {p.key} protocol has no {' and no '.join(missing)}, so the permuted suite "
                         "cannot run under it; see docs/protocols.md")
    q = p.for_setting("permuted")
    repo, files = PERMUTED_SUITE_SOURCES.get(p.key, ("", ""))
    return {
        "protocol": p.key, "title": p.title, "fingerprint": q.fingerprint(),
        "hidden": list(q.hidden), "optimizer": q.optimizer, "learning_rate": q.learning_rate,
        "batch_size": q.batch_size, "epochs": q.epochs, "iterations": q.iterations,
        "reset_optimizer": q.reset_optimizer, "num_tasks": q.num_permuted_tasks, "fisher": q.fisher,
        "fisher_examples": q.fisher_examples, "val_fraction": q.val_fraction, "gamma": 1.0,
        "lams": {m: [float(v) for v in grids[m]] for m in PERMUTED_SUITE_METHODS[1:]},
        "lam_notes": notes, "source": {"repository": repo, "files": files},
    }


def short_permuted_preset(setup, num_tasks: int, gamma: float, lams: dict) -> dict:
    """The same record as :func:`permuted_preset` for today's permuted suite (``--protocol short``,
    the default): ``setup`` is the :class:`~.common.Setup` it ran with, ``lams`` its starting grids."""
    return {
        "protocol": "short", "title": "the lessons' permuted suite (784-128-10, a fresh Adam per task)",
        "fingerprint": None, "hidden": [setup.hidden_units], "optimizer": setup.optimizer,
        "learning_rate": setup.learning_rate, "batch_size": setup.batch_size, "epochs": setup.epochs_per_task,
        "iterations": None, "reset_optimizer": True, "num_tasks": int(num_tasks), "fisher": setup.fisher,
        "fisher_examples": setup.fisher_examples, "val_fraction": 0.1, "gamma": float(gamma),
        "lams": {m: [float(v) for v in g] for m, g in lams.items()}, "lam_notes": {},
        "source": {"repository": "", "files": "ewc_helpers/studies/sequences.py (PERMUTED_SETUP, SEQUENCE_LAMS)"},
    }


def _as_result(record: dict):
    """A :func:`run_unit` record as a :class:`~.common.Result` (for search_lam and summarize)."""
    from .common import Result

    names = record["tasks"]
    test, val = AccuracyMatrix(names, record["test_matrix"]), AccuracyMatrix(names, record["val_matrix"])
    memory = None if record["method"] == "naive" else {"bytes": record["memory"] or 0}
    return Result(record["method"], record["lam"], val=dict(zip(names, record["val"])),
                  test=dict(zip(names, record["test"])), matrix=test, val_matrix=val, memory=memory,
                  seconds=record["seconds"], info={"unit": record})


def run_permuted_preset(mnist, protocol, seeds: int = 1, progress=print) -> dict:
    """``reproduce --suite permuted`` under a published protocol (see :func:`permuted_preset`).

    For every seed, naive training and, for L2, EWC and online EWC (gamma 1), a lam search on
    validation (:func:`~.common.search_lam`, from the preset's grid) over :func:`run_unit` runs
    of the ``permuted`` setting. Returns the permuted suite's report (``table``, ``rows``,
    ``comparisons``, ``runs``...) with ``protocol`` (the preset) added.
    """
    from .common import SeedClock, search_lam
    from .sequences import EQUIVALENCE_DELTA, seed_done, suite_table

    preset = permuted_preset(protocol)
    p = protocol_for(protocol)
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer; got {seeds!r}")
    say = progress or (lambda *_: None)
    runs, records, extended = [], [], []
    clock = SeedClock(int(seeds), say)
    train = (f"{preset['epochs']} epochs" if preset["epochs"] else f"{preset['iterations']} iterations")
    for seed in range(int(seeds)):
        say(f"[seed {seed}] {preset['num_tasks']} permuted tasks, {train} each ({p.key} protocol)")

        def unit(method, seed=seed):
            return lambda lam: _as_result(run_unit("permuted", method, lam, seed, mnist, p))

        chosen, searches = [unit("naive")(None)], {}
        for method in PERMUTED_SUITE_METHODS[1:]:
            search = search_lam(unit(method), preset["lams"][method],
                                progress=lambda m, method=method: say(f"  [seed {seed}] {method}: {m}"))
            searches[method] = search
            extended += [f"seed {seed}, {method}: {m}" for m in search.extended]
            chosen.append(search.best)
        seed_done(seed, chosen, searches, runs, records, say)
        clock.finished(seed)
    rows, comparisons, table = suite_table(runs)
    return {"suite": "permuted", "protocol": preset, "table": table, "rows": rows, "comparisons": comparisons,
            "equivalence_delta": EQUIVALENCE_DELTA, "num_tasks": preset["num_tasks"], "gamma": preset["gamma"],
            "epochs_per_task": preset["epochs"], "iterations_per_task": preset["iterations"],
            "fisher_examples": preset["fisher_examples"], "lams": preset["lams"], "extended": extended,
            "runs": records}
