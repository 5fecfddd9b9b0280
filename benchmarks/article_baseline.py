"""The source article's eager training loop for L2 and EWC, re-implemented as a timing baseline.

This is our own code, written from the description in ``shared/reference/NOTES.md``; it is used
only by ``bench_fisher.py`` as the point of comparison for ``model.fit`` with penalties. It keeps
the article's structure, and with it the features that cost time or correctness:

* a Python ``for`` loop over batches, run eagerly (no ``tf.function``), each step doing its
  forward pass, penalty and gradient under a ``tf.GradientTape`` and then
  ``optimizer.apply_gradients``;
* two Keras metrics updated every step, and a progress line formatted every step, which reads
  their results back to the host (``.numpy()``) and so synchronises every batch;
* the article's L2 term: half the sum over variables of the *unsquared* norm
  ``tf.norm(theta - theta_A)``, with no lambda. Its gradient at ``theta == theta_A`` is NaN, so
  after the first step the weights are NaN, as in the article (this changes no timings);
* the article's EWC term ``(alpha / 2) * sum F (theta - theta_A)**2`` with ``alpha = 25``;
* ``model(imgs)`` called without ``training=True``, as in the article, so a Dropout layer is
  inactive inside this loop;
* a loss *metric* built without ``from_logits=True`` and fed logits, as in the article (it only
  affects the printed number).

Do not use it to train anything: :mod:`ewc_helpers` does all of this through ``model.fit``.
"""

from __future__ import annotations

import io
import sys

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras
import tensorflow as tf


def snapshot(model):
    """theta_A: a copy of every trainable variable's current value."""
    return [tf.identity(v) for v in model.trainable_variables]


def article_l2_term(variables, theta_a):
    """0.5 * sum_k ||theta_k - theta_A,k||: a norm, not its square, and no lambda (the flaw)."""
    total = 0.0
    for v, t in zip(variables, theta_a):
        total += tf.norm(v - t)
    return 0.5 * total


def article_ewc_term(fisher, variables, theta_a, alpha=25.0):
    """(alpha / 2) * sum F (theta - theta_A)**2, the article's elastic penalty."""
    total = 0.0
    for f, v, t in zip(fisher, variables, theta_a):
        total += tf.reduce_sum(f * (v - t) ** 2)
    return 0.5 * alpha * total


def article_precision_matrices(model, dataset, num_batches=1000):
    """The article's Fisher as it ran it: eager, ``num_batches`` batches of a repeated dataset.

    The gradient of the batch's summed log-softmax (all examples, all classes) is squared and
    averaged over each weight's first axis (the flaws listed in NOTES.md). The package's
    ``compute_fisher(..., method="article")`` gives the same numbers from a ``tf.function`` step.
    """
    variables = model.trainable_variables
    precision = [tf.zeros_like(v) for v in variables]
    for imgs, _ in dataset.repeat().take(num_batches):
        with tf.GradientTape() as tape:
            ll = tf.nn.log_softmax(model(imgs))
        for k, g in enumerate(tape.gradient(ll, variables)):
            precision[k] += tf.reduce_mean(g**2, axis=0) / num_batches
    return precision


def build_article_model(dropout: bool = False):
    """The article's plain ``keras.Sequential`` 784-128-5 MLP (optionally with its Dropout)."""
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(0.5))
    layers.append(keras.layers.Dense(5))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def eager_epoch(model, dataset, penalty, epoch: int = 1, stream=None):
    """One epoch of the article's custom loop: ``penalty(variables)`` is added to the task loss.

    Returns (mean loss metric, accuracy) as the article's progress line shows them. ``stream``
    receives the per-batch progress line (default: a discarded buffer, so benchmarks print
    nothing, while still paying for formatting and the host read-back).
    """
    stream = io.StringIO() if stream is None else stream
    accuracy = keras.metrics.SparseCategoricalAccuracy("accuracy")
    loss_metric = keras.metrics.SparseCategoricalCrossentropy("loss")  # fed logits, as printed
    accuracy.reset_state()  # Keras 3 spelling of the article's reset_states()
    loss_metric.reset_state()
    variables = model.trainable_variables
    for batch, (imgs, labels) in enumerate(dataset):
        with tf.GradientTape() as tape:
            preds = model(imgs)
            total_loss = model.loss(labels, preds) + penalty(variables)
        grads = tape.gradient(total_loss, variables)
        model.optimizer.apply_gradients(zip(grads, variables))
        accuracy.update_state(labels, preds)
        loss_metric.update_state(labels, preds)
        stream.write("\rEpoch: {}, Batch: {}, Loss: {:.3f}, Accuracy: {:.3f}".format(
            epoch, batch + 1, loss_metric.result().numpy(), accuracy.result().numpy()))
    stream.write("\n")
    return float(loss_metric.result().numpy()), float(accuracy.result().numpy())


def train_with_l2(model, task_b_train, theta_a, epochs: int = 6, stream=None):
    """The article's L2 loop on task B, after the caller trained on A and took ``snapshot``."""
    return [eager_epoch(model, task_b_train, lambda v: article_l2_term(v, theta_a), e + 1, stream)
            for e in range(epochs)]


def train_with_ewc(model, task_b_train, fisher, theta_a, epochs: int = 9, alpha: float = 25.0,
                   stream=None):
    """The article's EWC loop on task B (it ran ``3 * epochs`` = 9 epochs)."""
    fisher = [tf.constant(f) for f in fisher]
    return [eager_epoch(model, task_b_train, lambda v: article_ewc_term(fisher, v, theta_a, alpha),
                        e + 1, stream)
            for e in range(epochs)]


if __name__ == "__main__":  # a tiny smoke run on the embedded digits
    from ewc_helpers import sources, tasks as task_lib

    tasks = task_lib.make_tasks(sources.load_mnist("embedded"))
    m = build_article_model()
    m.fit(tasks["A"].dataset("train"), epochs=1, verbose=0)
    theta = snapshot(m)
    print(train_with_l2(m, tasks["B"].dataset("train"), theta, epochs=1, stream=sys.stdout))
