"""The diagonal Fisher information of a Keras classifier, computed per example.

For a classifier with log-probabilities ``log p(c | x; theta)`` the diagonal Fisher is the mean over
examples of squared *per-example* gradients of a log-likelihood:

``"empirical"``  ``(d/dtheta log p(y_true | x))**2`` with the data's own label;
``"sampled"``    the same with ``y`` drawn from the model, ``y ~ p(. | x)`` (Kirkpatrick et al.
                 2017). The draw is seeded; :func:`sample_labels` gives the labels it uses;
``"exact"``      ``sum_c p(c | x) (d/dtheta log p(c | x))**2``, the expectation of the above;
``"article"``    the source article's computation, kept *only* to show what it gets wrong. It
                 squares the gradient of the whole batch's summed log-softmax (every class, every
                 example), then averages the square over the first axis of each weight, so that a
                 784x128 kernel collapses to 128 numbers broadcast back over its rows. It is not a
                 Fisher and its scale is unrelated to one.

Every method runs in inference mode (dropout off).

Speed. For a ``Dense`` layer ``z = x W + b`` the per-example gradient of the kernel is the outer
product ``x_n g_n^T`` with ``g_n = dL_n/dz_n``, so the sum of its squares over a batch is
``(x**2)^T (g**2)``: one matrix product, with no per-example gradient tensor ever built. Any other
trainable layer (a ``Conv2D``, say) falls back to per-example gradients from a vectorised Jacobian
(``tf.GradientTape.jacobian`` with pfor), which gives the same answer more slowly. A model whose
every trainable layer takes the closed form is run in steps of 4,096 examples (few, large matrix
products); one that needs Jacobians in steps of 500, whose memory grows with the batch.
"""

from __future__ import annotations

import logging
import weakref

import numpy as np

from . import _env  # noqa: F401

import keras
import tensorflow as tf

from .models import logit_offset

METHODS = ("empirical", "sampled", "exact", "article")
ARTICLE_NUM_BATCHES = 1000
ARTICLE_BATCH_SIZE = 128


class FisherEstimate(list):
    """One array per entry of ``model.trainable_variables``, with how it was computed."""

    def __init__(self, arrays, method: str, num_examples: int):
        super().__init__(arrays)
        self.method = method
        self.num_examples = int(num_examples)

    def total(self) -> float:
        return float(sum(np.sum(a, dtype=np.float64) for a in self))

    def max(self) -> float:
        return float(max(np.max(a) for a in self))


# --------------------------------------------------------------------------- inputs
def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"unknown Fisher method {method!r}; choose one of {', '.join(METHODS)}")


def _input_rank(model):
    try:
        return len(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def subsample(x, y, max_examples=None, seed: int = 0):
    """``max_examples`` of the pairs (x, y) chosen at random by ``seed``, in their original order.

    Not the first ``max_examples``: MNIST splits are often ordered by digit, and the first
    examples would then cover only the lowest digits. All pairs when ``max_examples`` is None or
    not smaller than their number.
    """
    if max_examples is None or max_examples >= len(y):
        return x, y
    if int(max_examples) != max_examples or max_examples < 1:
        raise ValueError(f"max_examples must be a positive integer or None; got {max_examples!r}")
    index = np.sort(np.random.default_rng(seed).choice(len(y), int(max_examples), replace=False))
    return x[index], y[index]


def _iter_batches(model, data, batch_size, max_examples, seed=0):
    """Yield (x float32, y int32) numpy batches of ``batch_size`` from arrays or a tf.data.Dataset."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError("the dataset must yield (x, y) pairs")
        rank = _input_rank(model)
        if rank is not None and len(spec[0].shape) in (rank, rank - 1):
            batched = len(spec[0].shape) == rank
        else:  # images of another shape (refused below, by check_inputs): an unknown first axis is a batch
            batched = spec[0].shape[:1] == [None]
        ds = data.unbatch() if batched else data
        if max_examples is not None:
            ds = ds.take(max_examples)
        for x, y in ds.batch(batch_size).as_numpy_iterator():
            check_inputs(model, x, y)
            yield np.asarray(x, np.float32), np.asarray(y, np.int32)
        return
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("data must be a tf.data.Dataset of (x, y) or a pair of arrays (x, y)")
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
    check_inputs(model, x, y)
    x, y = subsample(x, y, max_examples, seed)
    n = len(x)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yield np.asarray(x[start:stop], np.float32), np.asarray(y[start:stop], np.int32)


def check_inputs(model, x, y, num_classes: int | None = None) -> None:
    """Refuse data a Fisher of ``model`` would silently get wrong, with a message naming the fault:
    images of another shape than the model's input, NaN or infinite pixels, unscaled 0-255
    pixels, labels that are not whole numbers, and labels outside the model's output head."""
    x, y = np.asarray(x), np.asarray(y)
    try:
        expected = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        expected = None
    if expected and None not in expected and tuple(x.shape[1:]) != expected:
        raise ValueError(f"the images have shape {tuple(x.shape[1:])} per example but the model takes "
                         f"{expected}" + ("; reshape them (Task.arrays gives the model's shape)"
                                          if int(np.prod(x.shape[1:])) == int(np.prod(expected)) else ""))
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices; got shape {y.shape}")
    # np.min and np.max propagate NaN, and an infinity shows in one of them: two passes over the
    # images and no temporary array, instead of a boolean array as large as the images.
    largest = np.max(x) if x.size else 0
    if np.issubdtype(x.dtype, np.floating) and x.size and not (np.isfinite(largest) and np.isfinite(np.min(x))):
        raise ValueError(f"the images hold {int(np.sum(~np.isfinite(x)))} NaN or infinite pixel values")
    if x.size and (np.issubdtype(x.dtype, np.integer) or float(largest) > 1.0 + 1e-6):
        raise ValueError(f"the images look unscaled (dtype {x.dtype}, largest pixel {largest:g}): "
                         "scale them to [0, 1] as the training pipeline does (Task.arrays does this)")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"labels must be whole class indices; got dtype {y.dtype}"
                             + (f", e.g. {y[y != np.round(y)][:3].tolist()}"
                                if np.issubdtype(y.dtype, np.number) and np.any(y != np.round(y)) else ""))
    if num_classes is None:
        try:
            num_classes = int(model.outputs[0].shape[-1])
        except (AttributeError, IndexError, TypeError, ValueError):
            num_classes = None
    if num_classes and y.size and (np.min(y) < 0 or np.max(y) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} for the model's {num_classes}-way output; "
                         f"found {np.min(y):g}..{np.max(y):g}")


def sample_labels(model, x, seed: int = 0, classes=None) -> np.ndarray:
    """Labels drawn from the model's predictive distribution, as the ``"sampled"`` method draws them.

    Example ``i`` uses row ``i`` of ``numpy.random.default_rng(seed).random((N, C))`` as uniform
    noise for a Gumbel-max draw, so the draw does not depend on how the data is batched.
    ``classes`` restricts the draw to a task's own head, as ``compute_fisher(..., classes=...)``
    does: every label is then one of ``classes``, drawn from the softmax over those output units.
    """
    logits = np.asarray(model(np.asarray(x, np.float32), training=False), np.float64)
    if classes is not None:
        logits = logits + logit_offset(classes, logits.shape[-1])
    noise = np.random.default_rng(seed).random(logits.shape)
    return np.argmax(logits - np.log(-np.log(noise)), axis=1).astype(np.int32)


def _softmax_layer(model):
    """The name of the model's last layer if it applies a softmax, else None."""
    layers = getattr(model, "layers", None) or []
    if not layers:
        return None
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return last.name
    activation = getattr(last, "activation", None)
    if getattr(activation, "__name__", None) == "softmax":
        return last.name
    return None


def check_logits(model, outputs=None) -> None:
    """Refuse a model that outputs probabilities rather than logits.

    Every method takes a log-softmax of the model's outputs; over probabilities that gives
    ``log softmax(p)``, not ``log p``, and a Fisher that is silently wrong. Checked on the last
    layer (a ``Softmax`` layer, or a layer with ``activation="softmax"``) and, when ``outputs`` of
    a batch are given, on their values (each row in [0, 1] and summing to 1).
    """
    name = _softmax_layer(model)
    if name is None and outputs is not None:
        out = np.asarray(outputs, np.float64)
        if out.ndim == 2 and out.shape[-1] > 1 and out.size and np.all(out >= 0) and np.all(out <= 1) \
                and np.allclose(out.sum(axis=-1), 1.0, rtol=0, atol=1e-5):
            name = "its outputs"
    if name is not None:
        where = "its outputs" if name == "its outputs" else f"its last layer {name!r}"
        raise ValueError(
            f"compute_fisher needs a model that outputs logits, but {where} apply a softmax (each row "
            "is a probability distribution); a log-softmax over probabilities gives a wrong Fisher. "
            "Remove the final softmax (build_mlp ends in logits, and its loss uses from_logits=True)")


# --------------------------------------------------------------------------- per-batch kernels
def _is_closed_form_dense(layer):
    return (
        isinstance(layer, keras.layers.Dense)
        and not getattr(layer, "lora_enabled", False)
        and getattr(layer, "quantization_mode", None) is None
    )


_CACHE = weakref.WeakKeyDictionary()


class _DropSpuriousRetracingWarnings(logging.Filter):
    """TensorFlow counts traces by the Python function's id. Each model gets its own per-batch
    function here, traced once; when an old model is freed, a new closure can reuse its id and
    TensorFlow warns of "excessive retracing" that is not happening. Only that warning, about
    this module's function, is dropped."""

    def filter(self, record):
        text = record.getMessage()
        return not ("triggered tf.function retracing" in text and "_batch_function.<locals>" in text)


logging.getLogger("tensorflow").addFilter(_DropSpuriousRetracingWarnings())


def _batch_function(model, method, example_shape, num_classes):
    """A traced function returning, for one batch, the summed squared per-example gradients."""
    per_model = _CACHE.setdefault(model, {})
    key = (method, tuple(example_shape), num_classes, tuple(id(v) for v in model.trainable_variables))
    if key in per_model:
        return per_model[key]

    variables = list(model.trainable_variables)
    index = {id(v): i for i, v in enumerate(variables)}
    sequential = isinstance(model, keras.Sequential)
    # A weak reference: a strong one in this closure (kept in _CACHE[model]) would keep every
    # model ever passed to compute_fisher alive, defeating the WeakKeyDictionary.
    model_ref = weakref.ref(model)

    def forward(x, tape):
        """Logits, plus (layer, input, pre-activation) for every closed-form Dense layer."""
        model = model_ref()
        if not sequential:
            return model(x, training=False), []
        records, h = [], x
        for layer in model.layers:
            if _is_closed_form_dense(layer) and id(layer.kernel) in index and len(h.shape) == 2:
                z = tf.matmul(h, layer.kernel)
                if layer.use_bias:
                    z = z + layer.bias
                tape.watch(z)  # before z is used, so that dL/dz can be read off the tape
                records.append((layer, h, z))
                h = layer.activation(z) if layer.activation is not None else z
            else:
                h = layer(h, training=False)
        return h, records

    def batch_sums(x, y, noise, offset):
        with tf.GradientTape(persistent=True) as tape:
            logits, records = forward(x, tape)
            logits = logits + offset  # -1e9 on the output units outside the task's head, else 0
            logp = tf.nn.log_softmax(logits)
            if method == "sampled":
                gumbel = -tf.math.log(-tf.math.log(noise))
                y = tf.argmax(tf.stop_gradient(logits) + gumbel, axis=1, output_type=tf.int32)
            # Reduce inside the tape: the gradients below are taken of these recorded sums.
            if method == "exact":
                class_totals = [tf.reduce_sum(logp[:, c]) for c in range(logits.shape[-1])]
            else:
                target = tf.gather(logp, y, axis=1, batch_dims=1)  # (N,) log p(y_n | x_n)
                total = tf.reduce_sum(target)
        sums = [None] * len(variables)
        # Rank-2 Dense layers whose variables the closed form covers (a Dense on rank>2 input
        # was routed through layer() above and is handled by the generic path instead).
        covered = set()
        if method == "exact":
            probs = tf.stop_gradient(tf.exp(logp))
            weighted = [tf.zeros_like(z) for _, _, z in records]
            for c, class_total in enumerate(class_totals):
                g = tape.gradient(class_total, [z for _, _, z in records])
                weighted = [w + probs[:, c : c + 1] * tf.square(gc) for w, gc in zip(weighted, g)]
            g2 = weighted
        else:
            g = tape.gradient(total, [z for _, _, z in records])
            g2 = [tf.square(gi) for gi in g]
        for (layer, h, _), gz2 in zip(records, g2):
            sums[index[id(layer.kernel)]] = tf.matmul(tf.square(h), gz2, transpose_a=True)
            covered.add(index[id(layer.kernel)])
            if layer.use_bias and id(layer.bias) in index:
                sums[index[id(layer.bias)]] = tf.reduce_sum(gz2, axis=0)
                covered.add(index[id(layer.bias)])
        rest = [i for i in range(len(variables)) if i not in covered]
        if rest:
            rest_vars = [variables[i] for i in rest]
            if method == "exact":
                jac = tape.jacobian(logp, rest_vars, experimental_use_pfor=True)  # (N, C, *shape)
                for i, j in zip(rest, jac):
                    w = probs[(slice(None), slice(None)) + (tf.newaxis,) * (len(j.shape) - 2)]
                    sums[i] = tf.reduce_sum(w * tf.square(j), axis=[0, 1])
            else:
                jac = tape.jacobian(target, rest_vars, experimental_use_pfor=True)  # (N, *shape)
                for i, j in zip(rest, jac):
                    sums[i] = tf.reduce_sum(tf.square(j), axis=0)
        del tape
        return sums

    signature = [
        tf.TensorSpec([None, *example_shape], tf.float32),
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None, num_classes], tf.float32),
        tf.TensorSpec([num_classes], tf.float32),
    ]
    fn = tf.function(batch_sums, input_signature=signature, autograph=False)
    per_model[key] = fn
    return fn


# --------------------------------------------------------------------------- public API
#: Examples per step when every trainable variable has the Dense closed form: a step then
#: holds a few arrays of ``batch x features`` floats, and fewer, larger steps run faster.
CLOSED_FORM_BATCH_SIZE = 4096
#: Examples per step when some layer needs per-example Jacobians (memory grows with the batch
#: times that layer's parameters times the classes).
JACOBIAN_BATCH_SIZE = 500


def _closed_form_only(model) -> bool:
    """True when every trainable variable belongs to a Dense layer on rank-2 input in a Sequential
    model, so that the whole Fisher takes the closed form (see the module docstring)."""
    if not isinstance(model, keras.Sequential):
        return False
    covered = set()
    for layer in model.layers:
        if not _is_closed_form_dense(layer):
            continue
        try:
            rank = len(layer.input.shape)
        except (AttributeError, TypeError, ValueError):
            return False
        if rank == 2:
            covered.add(id(layer.kernel))
            if layer.use_bias:
                covered.add(id(layer.bias))
    return all(id(v) in covered for v in model.trainable_variables)


def compute_fisher(model, data, method: str = "empirical", *, max_examples: int | None = None,
                   batch_size: int | None = None, seed: int = 0, progress: bool = False,
                   num_batches: int = ARTICLE_NUM_BATCHES, classes=None) -> FisherEstimate:
    """Diagonal Fisher of ``model`` on ``data``: one array per ``model.trainable_variables`` entry.

    ``data`` is a tf.data.Dataset of (x, y), batched or not, or a pair of arrays. ``max_examples``
    caps how many examples are used: a random subset chosen by ``seed`` for arrays (see
    :func:`subsample`), the first ones for a dataset (shuffle it for a representative sample).
    ``batch_size`` only sets the memory used per step: the result does not depend on it. By
    default it is ``CLOSED_FORM_BATCH_SIZE`` (4096) when every layer takes the Dense closed form
    and ``JACOBIAN_BATCH_SIZE`` (500) otherwise. ``seed`` drives the ``"sampled"`` draw.
    ``progress=True`` shows a progress bar. ``num_batches`` applies to ``"article"`` only.
    ``classes`` restricts the model's outputs to a task's own head (see ``Task.classes``): the
    log-likelihoods are those of a softmax over these output units only.

    The model must output logits: one ending in a softmax raises a ValueError (see
    :func:`check_logits`). Bad data (images of the wrong shape, NaN or unscaled pixels, labels that
    are not whole or lie outside the head) raises a ValueError naming the fault.
    """
    _check_method(method)
    if max_examples is not None and (int(max_examples) != max_examples or max_examples < 1):
        raise ValueError(f"max_examples must be a positive integer or None; got {max_examples!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    if not model.trainable_variables:
        raise ValueError("the model has no trainable variables (is it built?)")
    check_logits(model)
    if method == "article":
        return _article_fisher(model, data, num_batches, max_examples, progress)
    if batch_size is None:
        batch_size = CLOSED_FORM_BATCH_SIZE if _closed_form_only(model) else JACOBIAN_BATCH_SIZE

    totals = [np.zeros(v.shape, np.float64) for v in model.trainable_variables]
    rng = np.random.default_rng(seed)
    bar = keras.utils.Progbar(max_examples, unit_name="example") if progress else None
    n, num_classes = 0, None
    for x, y in _iter_batches(model, data, batch_size, max_examples, seed):
        if num_classes is None:
            outputs = model(x[:8], training=False)
            check_logits(model, outputs)
            num_classes = int(outputs.shape[-1])
            fn = _batch_function(model, method, x.shape[1:], num_classes)
            offset = tf.constant(np.zeros(num_classes, np.float32) if classes is None
                                 else logit_offset(classes, num_classes))
        if classes is not None and not np.all(np.isin(y, classes)):
            raise ValueError(f"labels must be among the task's output units {tuple(classes)}; "
                             f"found {sorted(set(np.unique(y).tolist()) - set(classes))}")
        # Uniform noise for the "sampled" Gumbel-max draw, consumed example by example so that
        # the draw does not depend on batch_size (see sample_labels).
        noise = rng.random((len(x), num_classes))
        noise = np.clip(noise, np.finfo(np.float32).tiny, 1.0 - 1e-7).astype(np.float32)
        for total, s in zip(totals, fn(x, y, noise, offset)):
            total += s.numpy()
        n += len(x)
        if bar is not None:
            bar.update(n)
    if n == 0:
        raise ValueError("the data holds no examples: the Fisher needs at least one")
    return FisherEstimate([(t / n).astype(np.float32) for t in totals], method, n)


def _article_fisher(model, data, num_batches, max_examples, progress):
    """The article's ``compute_precision_matrices``, reproduced with its flaws (see module docs)."""
    if int(num_batches) != num_batches or num_batches < 1:
        raise ValueError(f"num_batches must be a positive integer; got {num_batches!r}")
    if isinstance(data, tf.data.Dataset):
        rank = _input_rank(model)
        batched = len(data.element_spec[0].shape) == rank if rank is not None else True
        ds = data if batched else data.batch(ARTICLE_BATCH_SIZE)
    else:
        x, y = subsample(*(np.asarray(a) for a in data), max_examples)
        ds = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).batch(ARTICLE_BATCH_SIZE)
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True, autograph=False)
    def step(imgs):
        with tf.GradientTape() as tape:
            ll = tf.nn.log_softmax(model(imgs, training=False))
        grads = tape.gradient(ll, variables)  # gradient of the sum over batch AND classes
        return [tf.reduce_mean(g**2, axis=0) for g in grads]  # mean over each weight's first axis

    precision = [np.zeros(v.shape, np.float64) for v in variables]
    bar = keras.utils.Progbar(num_batches, unit_name="batch") if progress else None
    seen = examples = 0
    for imgs, _ in ds.repeat().take(num_batches):
        if seen == 0:
            check_logits(model, model(imgs[:8], training=False))
        for k, r in enumerate(step(imgs)):
            precision[k] = precision[k] + r.numpy() / num_batches  # broadcast, as in the article
        seen, examples = seen + 1, examples + len(imgs)
        if bar is not None:
            bar.update(seen)
    if seen == 0:
        raise ValueError("the data holds no examples: the Fisher needs at least one")
    return FisherEstimate([p.astype(np.float32) for p in precision], "article", examples)
