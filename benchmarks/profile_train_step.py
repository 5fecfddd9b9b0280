"""Where the penalised train step's extra time goes: variants of the step, timed against each other.

Run: ``python benchmarks/profile_train_step.py [ROUNDS]`` (about 2 minutes on 2 quiet cores).

Same data and model as ``bench_fisher.py`` (30,000 tiled digits, the 784-128-5 MLP, batch 128,
Adam). Each variant is one model with the same starting weights; in every round each variant
trains one epoch of ``model.fit`` (no callbacks), back to back, so that the drifts of a shared
machine hit all of them alike. Printed: the median over rounds of each variant's epoch time and of
its per-round ratio to the plain epoch of that round. Nothing is asserted.

Variants (all with the EWC penalty, lam = 100, empirical Fisher, unless named plain):

* ``plain``            no penalty (the unit);
* ``autodiff``         the penalty as the package built it before: ``sum F (v - t)**2`` per
                       variable, differentiated by the tape;
* ``value_only``       the same value under ``tf.stop_gradient``: what its forward part costs;
* ``hand_grad``        the package's penalty now: the same value, with its gradient
                       ``lam F (v - t)`` supplied by ``tf.custom_gradient`` (no autodiff ops);
* ``flat``             theta* and F held as one concatenated vector, the variables concatenated
                       each step (autodiff);
* ``*_spe4``           ``steps_per_execution=4`` (four batches per call of the compiled step:
                       how much of a step is ``fit``'s per-call overhead).

XLA (``jit_compile=True``) is not a variant: ``reproducibility.set_seed`` turns on TensorFlow's op
determinism, and Keras then refuses XLA ("Model doesn't support jit_compile=True").

Then the compiled train step alone, without ``fit``'s Python loop: ``model.train_step`` run 100
times on one batch inside one ``tf.function`` loop, the fastest of 15 such runs (a minimum, which
a loaded machine disturbs far less than a median of epochs), for the plain model, the penalty
before and now, and the model without the in-graph weight check.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ewc_helpers  # noqa: E402,F401
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_fisher import build_data, fit_epoch_times, train_step_min as compiled_step_min  # noqa: E402
from ewc_helpers import fisher, models, penalties, reproducibility, tasks as task_lib  # noqa: E402


def autodiff_penalty(anchor, lam):
    """The penalty as built before this change: the tape differentiates ``F * (v - t)**2``."""
    theta = [tf.constant(t) for t in anchor.theta]
    fish = [tf.constant(f) for f in anchor.fisher]

    def penalty(variables):
        total = 0.0
        for v, t, f in zip(variables, theta, fish):
            total = total + tf.reduce_sum(f * tf.square(v - t))
        return 0.5 * lam * total
    return penalty


def value_only(pen):
    return lambda variables: tf.stop_gradient(pen(variables))


def flat_penalty(anchor, lam):
    theta = tf.constant(np.concatenate([t.ravel() for t in anchor.theta]))
    fish = tf.constant(np.concatenate([f.ravel() for f in anchor.fisher]))

    def penalty(variables):
        v = tf.concat([tf.reshape(w, [-1]) for w in variables], 0)
        return 0.5 * lam * tf.reduce_sum(fish * tf.square(v - theta))
    return penalty


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rounds", nargs="?", type=int, default=7, help="interleaved rounds (default 7)")
    rounds = parser.parse_args().rounds
    print(f"profile_train_step: TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    reproducibility.set_seed(0)
    x_u8, y, _ = build_data()
    x = task_lib.scale_images(x_u8)
    ds = task_lib.make_pipeline(x_u8, y, batch_size=128, shuffle=True, seed=0)
    base = models.build_mlp()
    fit_epoch_times(base, ds, epochs=2)
    anchor = penalties.Anchor.from_model(base, fisher.compute_fisher(base, (x, y)), task="A")
    weights = base.get_weights()
    ewc = penalties.ewc_penalty(anchor, 100.0)

    def make(pen=None, jit=False, spe=1):
        m = models.build_mlp()
        if jit or spe != 1:
            m.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=jit, steps_per_execution=spe)
        m.set_weights(weights)
        if pen is not None:
            m.set_penalties([pen])
        return m

    variants = {
        "plain": make(),
        "autodiff": make(autodiff_penalty(anchor, 100.0)),
        "value_only": make(value_only(autodiff_penalty(anchor, 100.0))),
        "hand_grad": make(ewc),
        "flat": make(flat_penalty(anchor, 100.0)),
        "plain_spe4": make(spe=4),
        "hand_grad_spe4": make(ewc, spe=4),
    }
    for m in variants.values():
        fit_epoch_times(m, ds, epochs=1)  # warm-up: trace
    times = {k: [] for k in variants}
    for r in range(rounds):
        for k, m in variants.items():
            times[k] += fit_epoch_times(m, ds, epochs=1)
        print(f"  round {r + 1}: load {os.getloadavg()[0]:.2f}", flush=True)
    steps = -(-len(x) // 128)
    print(f"\n  {'variant':<18}{'epoch s':>9}{'us/step':>9}{'ratio to plain':>16}")
    for k, ts in times.items():
        ratio = statistics.median(a / b for a, b in zip(ts, times["plain"]))
        med = statistics.median(ts)
        print(f"  {k:<18}{med:9.3f}{med / steps * 1e6:9.0f}{ratio:16.3f}")
    fastest_plain_step = min(times["plain"]) / steps

    # The compiled step alone.
    xb, yb = next(iter(ds))
    nocheck = make()
    nocheck.train_step = lambda data: keras.Sequential.train_step(nocheck, data)
    alone = {"plain": make(), "autodiff": make(autodiff_penalty(anchor, 100.0)), "hand_grad": make(ewc),
             "plain, no weight check": nocheck}
    results = {k: compiled_step_min(m, xb, yb) for k, m in alone.items()}
    print(f"\n  compiled train step alone (fastest of 15 runs of 100 steps), against the fastest plain "
          f"fit step ({fastest_plain_step * 1e6:.0f} us):")
    for k, secs in results.items():
        print(f"  {k:<24}{secs * 1e6:7.0f} us  {secs / fastest_plain_step:6.3f} of a fit step")
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
