"""How long the Fisher and penalised training take, as ratios to one epoch of plain ``model.fit``.

Run: ``python benchmarks/bench_fisher.py [--rounds N] [--examples N]`` (about 3 minutes on 2 quiet
CPU cores with the defaults, 7 rounds and 30,000 examples; offline; ``--examples 3000 --rounds 1``
is a quick smoke run whose ratios mean little).

Data: the 5,000 embedded MNIST digits (``sources.load_mnist("embedded")``), labels ``digit // 2``,
tiled to 30,000 examples; every copy after the first is shifted by a random whole-pixel offset
of -2..2 in each direction, so the set is MNIST-sized without being 6 exact repeats. Model: the
article's 784-128-5 MLP, trained for 4 short epochs (the first also warms up).

Everything is timed after a warm-up (tracing, the pipeline's cache). In each of 7 back-to-back
rounds: a plain ``model.fit`` epoch (batch 128, through ``task_lib.make_pipeline``; the unit), the
same without the train step's in-graph weight check, ``fit_task`` without a penalty (the guard's
share), ``model.fit`` with the EWC penalty and no guard (the penalty's share), ``fit_task`` with the
EWC penalty (the ratio a user pays), and each Fisher method. Each ratio is the median of
per-round ratios, so that the slow drifts of a shared machine cancel. The article's loops and
Fisher are timed once each (they are slow), paired with a reference run taken just before.
Then, as minimums that a loaded machine disturbs far less: the penalty's value and gradient and the
weight check alone, and the compiled train step alone (plain, without the weight check, with the
penalty), which splits a ``fit`` step into the compiled step and ``fit``'s Python loop around it.
Targets are checked as PASS/MISS; nothing is asserted, and the load average is printed alongside.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ewc_helpers  # noqa: E402,F401  (quiet TensorFlow start-up)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import article_baseline  # noqa: E402
from ewc_helpers import sources, tasks as task_lib, fisher, models, penalties, reproducibility, training  # noqa: E402

N_EXAMPLES = 30_000
BATCH = 128
ROUNDS = 7
JACOBIAN_SUBSET = 3_000
JACOBIAN_BATCH = 100


# --------------------------------------------------------------------------- data
def build_data(n=N_EXAMPLES, seed=0):
    """Embedded digits tiled to ``n``: copy 0 as is, later copies shifted by -2..2 pixels."""
    mnist = sources.load_mnist("embedded", verbose=False)
    images = np.concatenate([mnist.train.images, mnist.test.images])
    digits = np.concatenate([mnist.train.labels, mnist.test.labels])
    rng = np.random.default_rng(seed)
    reps = -(-n // len(images))
    out = []
    for r in range(reps):
        block = images.copy()
        if r:
            shifts = rng.integers(-2, 3, size=(len(block), 2))
            for i, (dy, dx) in enumerate(shifts):
                block[i] = np.roll(block[i], (dy, dx), axis=(0, 1))
        out.append(block)
    x = np.concatenate(out)[:n]
    y = np.tile(digits, reps)[:n] // 2
    order = rng.permutation(n)
    return x[order], y[order].astype(np.int64), len(images)


# --------------------------------------------------------------------------- timing helpers
class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def fit_epoch_times(model, ds, epochs):
    timer = EpochTimer()
    model.fit(ds, epochs=epochs, verbose=0, callbacks=[timer])
    return timer.times


class NoWeightCheck(models.PenalizedSequential):
    """build_mlp's model with Keras's own train step: no in-graph check of the weights."""

    def train_step(self, data):
        return keras.Sequential.train_step(self, data)


def make_task(x_u8, y):
    """The benchmark's data as a Task (for fit_task); its val and test splits are a token 100."""
    digits = (y * 2).astype(np.int64)
    part = task_lib.TaskSplit(images=x_u8, labels=y, digits=digits)
    small = task_lib.TaskSplit(images=x_u8[:100], labels=y[:100], digits=digits[:100])
    return task_lib.Task("bench", part, small, small)


def fit_task_epoch(model, task, pens, seed):
    """The second epoch's time of ``fit_task(model, task, epochs=2, penalties=pens)``."""
    timer = EpochTimer()
    training.fit_task(model, task, epochs=2, penalties=pens, seed=seed, callbacks=[timer])
    return timer.times[1]


def per_call_min(body, calls=200, repeats=15):
    """Seconds per call of ``body`` (no arguments, returns tensors), run ``calls`` times inside one
    compiled loop; the fastest of ``repeats`` runs, less an empty loop's time. The minimum is what
    the work costs when nothing else competes for the cores. The loop runs one call after another
    (``parallel_iterations=1``): with TensorFlow's default of 10, independent calls overlap on the
    two cores and each seemed to cost about half of what it costs inside a train step."""
    def loop(fn):
        @tf.function(autograph=False)
        def run():
            def step(i, acc):
                out = tf.nest.flatten(fn())
                return i + 1, acc + tf.add_n([tf.cast(tf.reshape(o, [-1])[0], tf.float32) for o in out])
            return tf.while_loop(lambda i, _: i < calls, step, (0, 0.0), parallel_iterations=1)[1]
        return run

    def fastest(run):
        run()
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        return best

    return (fastest(loop(body)) - fastest(loop(lambda: tf.constant(0.0)))) / calls


def train_step_min(model, xb, yb, calls=100, repeats=15):
    """Seconds per ``model.train_step`` on one batch, run ``calls`` times in one compiled loop (each
    step updates the weights the next reads, so they run one after another); the fastest of
    ``repeats`` runs. The compiled step alone, without ``fit``'s Python loop around it."""
    model.make_train_function()  # builds the optimizer's and the metrics' variables

    @tf.function
    def run():
        for _ in tf.range(calls):
            model.train_step((xb, yb))
        return model.optimizer.iterations

    run()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run().numpy()
        best = min(best, time.perf_counter() - t)
    return best / calls


def timed(fn, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def jacobian_fisher_fn(model):
    """Empirical Fisher sums of one batch from per-example gradients via tape.jacobian (pfor)."""
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def batch_sums(x, y):
        with tf.GradientTape() as tape:
            logp = tf.nn.log_softmax(model(x, training=False))
            target = tf.gather(logp, y, axis=1, batch_dims=1)
        jac = tape.jacobian(target, variables, experimental_use_pfor=True)
        return [tf.reduce_sum(tf.square(j), axis=0) for j in jac]

    return batch_sums


# --------------------------------------------------------------------------- report
ROWS = []


def row(name, seconds, ratio=None, target=None, note=""):
    verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
    ROWS.append((name, seconds, ratio, target, verdict, note))
    r = "" if ratio is None else f"{ratio:8.3f}"
    t = "" if target is None else f"<= {target:g}"
    print(f"  {name:<44}{seconds:9.3f} s  {r:>8}  {t:>7}  {verdict:<4}  {note}", flush=True)


def main():
    import argparse

    global N_EXAMPLES, ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--examples", type=int, default=N_EXAMPLES)
    args = parser.parse_args()
    if args.rounds < 1 or args.examples < JACOBIAN_SUBSET:
        parser.error(f"--rounds must be at least 1 and --examples at least {JACOBIAN_SUBSET}")
    N_EXAMPLES, ROUNDS = args.examples, args.rounds
    start = time.perf_counter()
    print(f"bench_fisher: TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    reproducibility.set_seed(0)
    x_u8, y, n_source = build_data(N_EXAMPLES)
    x = task_lib.scale_images(x_u8)
    print(f"data: {n_source:,} embedded MNIST digits tiled to {len(x):,} examples (copies after the "
          "first shifted by a random -2..2 pixels in y and x), labels digit // 2 (5 classes)")
    ds = task_lib.make_pipeline(x_u8, y, batch_size=BATCH, shuffle=True, seed=0)
    model = models.build_mlp()  # 784-128-5, Adam, no penalties

    # Brief training; the first epoch traces the train step and fills the pipeline's cache.
    times = fit_epoch_times(model, ds, epochs=3)
    print(f"model: 784-128-5 MLP ({model.count_params():,} parameters), trained {len(times)} epochs "
          f"({', '.join(f'{t:.2f}' for t in times)} s)")

    # The same weights in four more models: the EWC penalty (lam = 100, empirical F) with plain
    # model.fit, the same through fit_task (guard included), fit_task without a penalty, and a
    # model whose train step skips the in-graph weight check (to measure that check's share).
    anchor = penalties.Anchor.from_model(model, fisher.compute_fisher(model, (x, y)), task="A")
    weights = model.get_weights()
    ewc = penalties.ewc_penalty(anchor, 100.0)
    task = make_task(x_u8, y)

    def copy(cls=models.PenalizedSequential):
        other = models.build_mlp()
        if cls is not models.PenalizedSequential:
            other.__class__ = cls
        other.set_weights(weights)
        return other

    penalised, nocheck, guarded, guarded_pen = copy(), copy(NoWeightCheck), copy(), copy()
    penalised.set_penalties([ewc])
    for m in (penalised, nocheck):
        fit_epoch_times(m, ds, epochs=1)  # warm-up: trace its train step
    methods = (("empirical", 0.25), ("sampled", 0.25), ("exact", 3.0))
    for method, _ in methods:
        fisher.compute_fisher(model, (x[:1000], y[:1000]), method)  # warm-up: trace

    # Rounds: every configuration back to back, so that every ratio pairs measurements taken
    # within seconds of each other (the machine is shared, and its speed drifts). Reported: median
    # over the rounds of the times and of the per-round ratios. fit_task runs 2 epochs per round
    # and its second is timed: its first traces the train step again, as every fit_task call does
    # when it sets the task's penalties.
    keys = ("plain", "nocheck", "fit_task", "penalised", "fit_task_pen", *(m for m, _ in methods),
            "forward", "input_check")
    big = fisher.CLOSED_FORM_BATCH_SIZE

    def forward_only():  # the floor of any Fisher: the forward pass alone, in the Fisher's batches
        for s in range(0, len(x), big):
            model(x[s:s + big], training=False).numpy()
    rounds = {k: [] for k in keys}
    for r in range(ROUNDS):
        rounds["plain"] += fit_epoch_times(model, ds, epochs=1)
        rounds["nocheck"] += fit_epoch_times(nocheck, ds, epochs=1)
        rounds["fit_task"].append(fit_task_epoch(guarded, task, (), seed=r))
        rounds["penalised"] += fit_epoch_times(penalised, ds, epochs=1)
        rounds["fit_task_pen"].append(fit_task_epoch(guarded_pen, task, (ewc,), seed=r))
        for method, _ in methods:
            t = time.perf_counter()
            fisher.compute_fisher(model, (x, y), method)
            rounds[method].append(time.perf_counter() - t)
        t = time.perf_counter()
        forward_only()
        rounds["forward"].append(time.perf_counter() - t)
        t = time.perf_counter()
        fisher.check_inputs(model, x, y)
        rounds["input_check"].append(time.perf_counter() - t)
    plain = statistics.median(rounds["plain"])

    def ratio(key, unit="plain"):
        return statistics.median([a / b for a, b in zip(rounds[key], rounds[unit])])

    def epochs(key):
        return "epochs: " + ", ".join(f"{t:.2f}" for t in rounds[key])

    print(f"\ntimes: median of {ROUNDS} rounds; ratios: median of the per-round ratios")
    print(f"  {'measurement':<44}{'time':>11}  {'ratio':>8}  {'target':>7}")
    row("plain model.fit, one epoch (the unit)", plain, 1.0, None, epochs("plain"))
    for method, target in methods:
        row(f"compute_fisher {method!r}, {len(x):,} examples", statistics.median(rounds[method]),
            ratio(method), target)
    row(f"  of which the input check (shape, NaN, scale)", statistics.median(rounds["input_check"]),
        ratio("input_check"), None, "numpy, on all the images")
    row(f"forward pass alone, batches of {big:,}", statistics.median(rounds["forward"]), ratio("forward"),
        None, "a Fisher's floor: it needs this and a backward pass")
    row("model.fit, no in-graph weight check", statistics.median(rounds["nocheck"]), ratio("nocheck"),
        None, "the check's share is 1 minus this")
    row("fit_task, no penalty (guard's share)", statistics.median(rounds["fit_task"]), ratio("fit_task"),
        None, epochs("fit_task"))
    row("model.fit with EWC penalty, no guard", statistics.median(rounds["penalised"]), ratio("penalised"),
        None, epochs("penalised"))
    row("fit_task with EWC penalty, one epoch", statistics.median(rounds["fit_task_pen"]),
        ratio("fit_task_pen"), 1.05, epochs("fit_task_pen"))
    print(f"  shares of the penalised fit_task epoch, per-round medians: penalty "
          f"{ratio('penalised') - 1:+.3f}, in-graph weight check {1 - ratio('nocheck'):+.3f}, "
          f"guard callback and fit_task {ratio('fit_task') - 1:+.3f} (each against the unit)")

    # Per training step, timed in isolation: the EWC penalty's value and gradient (what the
    # penalised step adds), and the in-graph weight check; against the plain step of the fastest
    # plain epoch. Minimums, so that they hold on a loaded machine too.
    variables = penalised.trainable_variables

    def penalty_and_gradient():
        with tf.GradientTape() as tape:
            value = ewc(variables)
        return [value, *tape.gradient(value, variables)]

    theta = [tf.constant(t) for t in anchor.theta]

    fish = [tf.constant(f) for f in anchor.fisher]

    def autodiff():  # the same value, its gradient derived by the tape (the package before)
        with tf.GradientTape() as tape:
            value = 50.0 * tf.add_n([tf.reduce_sum(f * tf.square(v - t))
                                     for v, t, f in zip(variables, theta, fish)])
        return [value, *tape.gradient(value, variables)]

    steps = int(np.ceil(len(x) / BATCH))
    step = min(rounds["plain"]) / steps
    pen_step = per_call_min(penalty_and_gradient)
    auto_step = per_call_min(autodiff)
    check_step = per_call_min(lambda: models.weights_finite(variables))
    print(f"  per step, in isolation (fastest of 15): EWC penalty value and gradient {pen_step * 1e6:.0f} us "
          f"(autodiff of the same expression: {auto_step * 1e6:.0f} us), "
          f"in-graph weight check {check_step * 1e6:.0f} us; a plain step {step * 1e6:.0f} us (fastest "
          f"plain epoch / {steps} steps): {pen_step / step:.3f} and {check_step / step:.3f} of a step")

    # The compiled train step alone (fastest of 15 runs of 100 steps on one batch), on fresh copies
    # of the same weights: what the penalty and the weight check add inside the step, and what
    # fit's Python loop adds around it.
    xb, yb = next(iter(ds))
    alone = {"plain": copy(), "nocheck": copy(NoWeightCheck), "penalised": copy()}
    alone["penalised"].set_penalties([ewc])
    inside = {k: train_step_min(m, xb, yb) for k, m in alone.items()}
    print(f"  compiled train step alone (fastest of 15 runs of 100): plain {inside['plain'] * 1e6:.0f} us, "
          f"without the weight check {inside['nocheck'] * 1e6:.0f} us, with the EWC penalty "
          f"{inside['penalised'] * 1e6:.0f} us; fit's loop around each step "
          f"{(step - inside['plain']) * 1e6:.0f} us. Of a plain fit step: penalty "
          f"{(inside['penalised'] - inside['plain']) / step:+.3f}, weight check "
          f"{(inside['plain'] - inside['nocheck']) / step:+.3f}, fit's loop {(step - inside['plain']) / step:.3f}")

    # The article's eager GradientTape loop (benchmarks/article_baseline.py): one epoch each,
    # each paired with a plain model.fit epoch taken just before it.
    art_model = article_baseline.build_article_model()
    art_model.set_weights(weights)
    theta_a = article_baseline.snapshot(art_model)
    f_const = [tf.constant(f) for f in anchor.fisher]
    loops = (
        ("L2", lambda v: article_baseline.article_l2_term(v, theta_a),
         "1 run; its weights go NaN, as in the article"),
        ("EWC", lambda v: article_baseline.article_ewc_term(f_const, v, theta_a), "1 run"),
    )
    article_baseline.eager_epoch(art_model, ds.take(5), loops[0][1])  # warm-up: optimizer state
    for name, penalty, note in loops:
        art_model.set_weights(weights)
        unit = fit_epoch_times(model, ds, epochs=1)[0]
        t = time.perf_counter()
        article_baseline.eager_epoch(art_model, ds, penalty)
        secs = time.perf_counter() - t
        row(f"article eager loop, {name}, one epoch", secs, secs / unit, None,
            f"{note}; paired plain epoch {unit:.2f} s")

    # The article's Fisher, 1000 batches of 128 from the repeated data (~4 passes over 30,000),
    # paired with our empirical Fisher on all 30,000 examples taken just before.
    print(f"\n  ratios below are to our empirical Fisher on {len(x):,} examples, timed just before each")
    fisher.compute_fisher(model, (x, y), "article", num_batches=5)  # warm-up: trace
    emp = timed(lambda: fisher.compute_fisher(model, (x, y), "empirical"), 1)[0]
    t = time.perf_counter()
    fisher.compute_fisher(model, (x, y), "article", num_batches=fisher.ARTICLE_NUM_BATCHES)
    secs = time.perf_counter() - t
    row(f"compute_fisher 'article', {fisher.ARTICLE_NUM_BATCHES} batches", secs, secs / emp, None,
        f"1 run, tf.function step as in the package; empirical {emp:.2f} s")
    emp = timed(lambda: fisher.compute_fisher(model, (x, y), "empirical"), 1)[0]
    t = time.perf_counter()
    article_baseline.article_precision_matrices(model, ds, fisher.ARTICLE_NUM_BATCHES)
    secs = time.perf_counter() - t
    row(f"article's Fisher run eagerly, {fisher.ARTICLE_NUM_BATCHES} batches", secs, secs / emp, None,
        f"1 run, as the article ran it; empirical {emp:.2f} s")

    # Per-example gradients through tape.jacobian (pfor) on a subset, extrapolated.
    fn = jacobian_fisher_fn(model)
    xs, ys = tf.constant(x[:JACOBIAN_SUBSET]), tf.constant(y[:JACOBIAN_SUBSET].astype(np.int32))
    fn(xs[:JACOBIAN_BATCH], ys[:JACOBIAN_BATCH])  # warm-up: trace

    def run_jacobian():
        sums = [np.zeros(v.shape, np.float64) for v in model.trainable_variables]
        for s in range(0, JACOBIAN_SUBSET, JACOBIAN_BATCH):
            for total, part in zip(sums, fn(xs[s:s + JACOBIAN_BATCH], ys[s:s + JACOBIAN_BATCH])):
                total += part.numpy()
        return [a / JACOBIAN_SUBSET for a in sums]

    emp = timed(lambda: fisher.compute_fisher(model, (x, y), "empirical"), 1)[0]
    t = time.perf_counter()
    jac = run_jacobian()
    sub = time.perf_counter() - t
    extrapolated = sub * len(x) / JACOBIAN_SUBSET
    row(f"tape.jacobian Fisher, {len(x):,} (EXTRAPOLATED)", extrapolated, extrapolated / emp, None,
        f"measured {sub:.2f} s on {JACOBIAN_SUBSET:,} in batches of {JACOBIAN_BATCH}, "
        f"x{len(x) // JACOBIAN_SUBSET}; empirical {emp:.2f} s")
    closed = fisher.compute_fisher(model, (x[:JACOBIAN_SUBSET], y[:JACOBIAN_SUBSET]), "empirical")
    err = max(float(np.max(np.abs(a - b))) / float(np.max(np.abs(b))) for a, b in zip(closed, jac))
    print(f"  (closed form vs tape.jacobian on the subset: max error {err:.1e} relative to each "
          "array's largest entry)")

    misses = [r[0] for r in ROWS if r[4] == "MISS"]
    print(f"\ntargets: {sum(r[4] == 'PASS' for r in ROWS)} PASS, {len(misses)} MISS"
          + (f" ({'; '.join(misses)})" if misses else ""))
    print(f"total {time.perf_counter() - start:.1f} s; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
