"""Tests for ewc_helpers.fisher: every method against a brute-force float64 reference, and more.

The reference (``brute_force_fisher``) shares no code with the package: it clones the model in
float64 and, one example at a time, takes the gradient of a single log-probability with a plain
GradientTape, squares it and averages. The package instead uses a closed form for Dense layers
(``(h**2)^T (dL/dz)**2`` over a batch) and a vectorised Jacobian for every other layer.
"""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras
import tensorflow as tf

from ewc_helpers import sources, tasks as task_lib, fisher, models, reproducibility

N_EXAMPLES = 37  # small, and not a multiple of BATCH_SIZE
BATCH_SIZE = 8
SEED = 3


# --------------------------------------------------------------------------- helpers and fixtures
def to_float64(model):
    """A float64 copy of ``model`` with the same weights."""
    clone = keras.models.clone_model(
        model,
        clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": "float64"}),
    )
    clone.set_weights([np.asarray(w, np.float64) for w in model.get_weights()])
    return clone


def brute_force_fisher(model, x, labels, method):
    """Mean over examples of squared per-example gradients, in float64, one example at a time.

    ``method="exact"`` weights every class's squared gradient by its probability; otherwise the
    gradient of ``log p(labels[i] | x_i)`` is used.
    """
    m64 = to_float64(model)
    variables = m64.trainable_variables
    totals = [np.zeros(v.shape, np.float64) for v in variables]
    for i in range(len(x)):
        xi = tf.constant(np.asarray(x[i : i + 1], np.float64))
        with tf.GradientTape(persistent=True) as tape:
            logp = tf.nn.log_softmax(m64(xi, training=False))[0]
            # Index inside the tape so that each term is recorded and can be differentiated.
            terms = [logp[c] for c in range(logp.shape[0])]
        probs = np.exp(logp.numpy())
        if method == "exact":
            for c, term in enumerate(terms):
                for total, g in zip(totals, tape.gradient(term, variables)):
                    total += probs[c] * np.square(g.numpy())
        else:
            for total, g in zip(totals, tape.gradient(terms[int(labels[i])], variables)):
                total += np.square(g.numpy())
        del tape
    return [t / len(x) for t in totals]


def assert_close_to_reference(estimate, reference, rtol=1e-5, what=""):
    """Each array within ``rtol`` of the reference, measured against that array's largest entry.

    The criterion is ``max|F - F_ref| <= rtol * max|F_ref|`` per array. A plain elementwise
    relative error would be ill-posed here: many entries are exactly 0 or tiny (dead ReLU units,
    small inputs) and float32 rounding in the package dominates their relative error. Scaling by
    the array's maximum measures the float32 round-off against the quantity's natural size
    (float32 epsilon is 1.2e-7, and a prototype showed errors of about 1e-7), while a real
    mistake (wrong label, missing square, wrong example weight, dropout left on) changes entries
    by a sizeable fraction of that maximum.
    """
    assert len(estimate) == len(reference)
    for k, (got, want) in enumerate(zip(estimate, reference)):
        assert got.shape == want.shape, f"{what} array {k}: shape {got.shape} != {want.shape}"
        scale = float(np.max(np.abs(want)))
        assert scale > 0, f"{what} array {k}: the reference is all zero, the test would be vacuous"
        err = float(np.max(np.abs(np.asarray(got, np.float64) - want)))
        assert err <= rtol * scale, f"{what} array {k}: max error {err:.3g} > {rtol} * {scale:.3g}"


def random_inputs(n=N_EXAMPLES, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 5, n).astype(np.int64)
    return x, y


def build_conv_model():
    """A Sequential model whose Conv2D goes through the generic per-example Jacobian path."""
    return models.PenalizedSequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(4),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ])


def build_functional_mlp():
    """A functional (non-Sequential) MLP: every variable, Dense included, takes the generic path."""
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Dense(8, activation="tanh")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(5)(h))


def randomise_biases(model, seed=2):
    """Give the (zero-initialised) biases non-zero values so that their gradients matter too."""
    rng = np.random.default_rng(seed)
    model.set_weights([w if w.ndim > 1 else rng.normal(0, 0.3, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def mlp():
    reproducibility.set_seed(0)
    # dropout=0.5: the Fisher must be taken in inference mode, so it must not matter.
    return randomise_biases(models.build_mlp(hidden_units=16, dropout=0.5))


@pytest.fixture(scope="module")
def conv_model():
    reproducibility.set_seed(0)
    return randomise_biases(build_conv_model())


@pytest.fixture(scope="module")
def inputs():
    return random_inputs()


@pytest.fixture(scope="module")
def trained_on_a():
    """The article's 784-128-5 MLP trained for one epoch on the embedded task A, and A's data."""
    reproducibility.set_seed(0)
    tasks = task_lib.make_tasks(sources.load_mnist("embedded", verbose=False))
    model = models.build_mlp()
    model.fit(tasks["A"].dataset("train"), epochs=1, verbose=0)
    return model, tasks["A"].arrays("train")


# --------------------------------------------------------------------------- 1. brute force
@pytest.mark.parametrize("method", ["empirical", "sampled", "exact"])
@pytest.mark.parametrize("which", ["mlp", "conv_model"])
def test_matches_brute_force(request, which, method, inputs):
    model = request.getfixturevalue(which)
    x, y = inputs
    # "sampled" is defined as the empirical Fisher on the labels sample_labels draws.
    labels = fisher.sample_labels(model, x, SEED) if method == "sampled" else y
    estimate = fisher.compute_fisher(model, (x, y), method, batch_size=BATCH_SIZE, seed=SEED)
    assert_close_to_reference(estimate, brute_force_fisher(model, x, labels, method), what=method)


@pytest.mark.parametrize("method", ["empirical", "exact"])
def test_generic_path_for_a_functional_model(method, inputs):
    """A non-Sequential model uses per-example Jacobians for every variable; same answer."""
    reproducibility.set_seed(0)
    model = randomise_biases(build_functional_mlp())
    x, y = inputs
    estimate = fisher.compute_fisher(model, (x, y), method, batch_size=BATCH_SIZE)
    assert_close_to_reference(estimate, brute_force_fisher(model, x, y, method), what=method)


def test_sampled_labels_follow_the_model(mlp, inputs):
    """sample_labels draws from the model's distribution: seeded, and not just its argmax."""
    x, _ = inputs
    a, b = fisher.sample_labels(mlp, x, 0), fisher.sample_labels(mlp, x, 0)
    np.testing.assert_array_equal(a, b)
    draws = np.stack([fisher.sample_labels(mlp, x, s) for s in range(200)])
    assert draws.min() >= 0 and draws.max() < 5
    probs = tf.nn.softmax(mlp(x, training=False)).numpy()
    freq = np.stack([(draws == c).mean(axis=0) for c in range(5)], axis=1)
    # 200 Bernoulli draws per entry: standard error <= 0.5 / sqrt(200) = 0.035; 6 of them.
    assert np.max(np.abs(freq - probs)) < 6 * 0.5 / np.sqrt(200)


# --------------------------------------------------------------------------- 2. structure
@pytest.mark.parametrize("method", ["empirical", "sampled", "exact", "article"])
def test_structure(mlp, inputs, method):
    x, y = inputs
    x = x.copy()
    x[:, 0, 0, 0] = 1.0  # pixel 0 is lit in every example ...
    x[:, 0, 1, 0] = 0.0  # ... and pixel 1 in none
    est = fisher.compute_fisher(mlp, (x, y), method, batch_size=BATCH_SIZE, num_batches=2)
    assert isinstance(est, fisher.FisherEstimate)
    assert est.method == method
    variables = mlp.trainable_variables
    assert len(est) == len(variables)
    for arr, v in zip(est, variables):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
        assert arr.shape == tuple(v.shape)
    kernel, bias = est[0].astype(np.float64), est[1].astype(np.float64)
    if method == "article":
        # Not a Fisher: every row of the kernel is the same, whatever its pixel did.
        np.testing.assert_array_equal(est[0], np.broadcast_to(est[0][:1], est[0].shape))
        return
    # Per example, the hidden kernel's gradient is (pixel value) x (the bias's gradient), so with
    # pixels in [0, 1]: a kernel row never exceeds the bias's Fisher, equals it for a pixel that is
    # 1 in every example, and is exactly 0 for a pixel that is always 0.
    assert np.all(kernel <= bias[None, :] * (1 + 1e-5) + 1e-12)
    np.testing.assert_allclose(kernel[0], bias, rtol=1e-5, atol=1e-9 * bias.max())
    assert np.all(kernel[1] == 0) and bias.max() > 0
    if method != "article":
        assert est.num_examples == len(x)
        assert est.total() == pytest.approx(sum(float(np.sum(a, dtype=np.float64)) for a in est))
        assert est.max() == max(float(a.max()) for a in est)


def test_dataset_batched_unbatched_and_arrays_agree(mlp, inputs):
    x, y = inputs
    from_arrays = fisher.compute_fisher(mlp, (x, y), "exact", batch_size=BATCH_SIZE)
    unbatched = tf.data.Dataset.from_tensor_slices((x, y))
    for ds in (unbatched, unbatched.batch(5), unbatched.batch(64)):
        est = fisher.compute_fisher(mlp, ds, "exact", batch_size=BATCH_SIZE)
        assert est.num_examples == len(x)
        for a, b in zip(est, from_arrays):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.max()))


def test_max_examples_caps_the_count(mlp, inputs):
    x, y = inputs
    # Arrays: a seeded random subset (kept in order), the same one subsample() picks.
    capped = fisher.compute_fisher(mlp, (x, y), "empirical", max_examples=10, batch_size=4, seed=5)
    xs, ys = fisher.subsample(x, y, 10, seed=5)
    chosen = fisher.compute_fisher(mlp, (xs, ys), "empirical", batch_size=4)
    whole = fisher.compute_fisher(mlp, (x, y), "empirical", batch_size=4)
    assert capped.num_examples == 10 and len(ys) == 10
    for a, b in zip(capped, chosen):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert not all(np.allclose(a, b) for a, b in zip(capped, whole))
    # A dataset: the first max_examples elements.
    first = fisher.compute_fisher(mlp, (x[:10], y[:10]), "empirical", batch_size=4)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    capped_ds = fisher.compute_fisher(mlp, ds, "empirical", max_examples=10, batch_size=4)
    assert capped_ds.num_examples == 10
    for a, b in zip(capped_ds, first):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    # A cap above the data size uses all the data.
    assert fisher.compute_fisher(mlp, (x, y), "empirical", max_examples=1000).num_examples == len(x)


# --------------------------------------------------------------------------- 3. exact = E[sampled]
def test_exact_is_the_mean_of_sampled(mlp, inputs):
    """Each sampled Fisher F_s = (1/N) sum_n g_n(y_n,s)**2 with y_n,s ~ p(.|x_n) is an unbiased
    estimate of the exact Fisher: E_y[g_n(y)**2] = sum_c p(c|x_n) g_n(c)**2. Draws with different
    seeds are independent, so over K draws the mean M has standard error S / sqrt(K), with S the
    per-entry standard deviation measured from the draws themselves. By the central limit theorem
    |M - exact| <= 5 * S / sqrt(K) holds except with probability ~1e-6 per entry (a little more,
    as the draws are skewed and S is itself estimated); over ~12,600 entries we therefore require
    it for 99.9 % of them, plus a small atol for entries whose draws (nearly) never vary. The same
    bound is applied to the sum over all entries, which is a single well-behaved statistic.
    A biased draw (argmax instead of sampling, a wrong temperature, a label off by one) moves
    the mean by many standard errors.
    """
    x, y = inputs
    k = 60
    exact = fisher.compute_fisher(mlp, (x, y), "exact")
    draws = [fisher.compute_fisher(mlp, (x, y), "sampled", seed=s) for s in range(k)]
    flat_exact = np.concatenate([a.ravel() for a in exact]).astype(np.float64)
    flat = np.stack([np.concatenate([a.ravel() for a in d]) for d in draws]).astype(np.float64)
    mean, stderr = flat.mean(axis=0), flat.std(axis=0, ddof=1) / np.sqrt(k)
    atol = 1e-6 * flat_exact.max()
    ok = np.abs(mean - flat_exact) <= 5 * stderr + atol
    assert ok.mean() >= 0.999, f"{(~ok).sum()} of {ok.size} entries outside 5 standard errors"
    totals = flat.sum(axis=1)
    assert abs(totals.mean() - flat_exact.sum()) <= 5 * totals.std(ddof=1) / np.sqrt(k)
    # The draws really vary: the sampled Fisher is not a deterministic function of the data.
    assert totals.std() > 0


# --------------------------------------------------------------------------- 4. batch size
@pytest.mark.parametrize("method", ["empirical", "sampled", "exact"])
def test_batch_size_invariance(conv_model, inputs, method):
    x, y = inputs
    results = [fisher.compute_fisher(conv_model, (x, y), method, batch_size=b, seed=SEED)
               for b in (7, 32, len(x))]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            # Only the float32 summation order differs between batch sizes.
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(np.max(b)))


# --------------------------------------------------------------------------- 5. the article's method
def test_article_method_collapses_first_axis(trained_on_a):
    model, (x, y) = trained_on_a
    art = fisher.compute_fisher(model, (x, y), "article", num_batches=8)
    kernel, bias = art[0], art[1]
    assert kernel.shape == (784, 128) and bias.shape == (128,)
    # reduce_mean over axis 0, broadcast back: every row of a kernel is the same.
    np.testing.assert_array_equal(kernel, np.broadcast_to(kernel[:1], kernel.shape))
    # A bias collapses to one scalar spread over all its entries.
    for b in (art[1], art[3]):
        assert np.unique(b).size == 1
    # A real Fisher is not like that: pixels on the image border never light up.
    emp = fisher.compute_fisher(model, (x, y), "empirical")
    assert not np.allclose(emp[0], emp[0][:1])
    assert np.unique(emp[1]).size > 1


def test_article_method_scale_is_far_from_a_fisher(trained_on_a):
    """The article squares the gradient of a 128-example, all-class sum, not per-example ones.

    Measured with this fixture (784-128-5 MLP, one epoch on the embedded task A): totals about
    5.5e5 and maxima about 4.5e5 times the empirical Fisher's (the NOTES report ~1e5 on full
    MNIST). The bound of 100 leaves three orders of magnitude of margin.
    """
    model, (x, y) = trained_on_a
    art = fisher.compute_fisher(model, (x, y), "article", num_batches=8)
    emp = fisher.compute_fisher(model, (x, y), "empirical")
    assert art.num_examples == 8 * fisher.ARTICLE_BATCH_SIZE
    assert art.total() / emp.total() > 100
    assert art.max() / emp.max() > 100


# --------------------------------------------------------------------------- 6. bad input
def test_unknown_method(mlp, inputs):
    with pytest.raises(ValueError, match="diagonal"):
        fisher.compute_fisher(mlp, inputs, "diagonal")


def test_empty_arrays(mlp):
    x, y = np.zeros((0, 28, 28, 1), np.float32), np.zeros((0,), np.int64)
    for method in ("empirical", "sampled", "exact"):
        with pytest.raises(ValueError, match="no examples"):
            fisher.compute_fisher(mlp, (x, y), method)


@pytest.mark.parametrize("batched", [False, True])
def test_empty_dataset(mlp, batched):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((0, 28, 28, 1), np.float32), np.zeros((0,), np.int64)))
    if batched:
        ds = ds.batch(4)
    with pytest.raises(ValueError, match="no examples"):
        fisher.compute_fisher(mlp, ds, "empirical")
    with pytest.raises(ValueError, match="no examples"):
        fisher.compute_fisher(mlp, ds, "article", num_batches=3)


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_max_examples(mlp, inputs, bad):
    with pytest.raises(ValueError, match="max_examples"):
        fisher.compute_fisher(mlp, inputs, "empirical", max_examples=bad)


def test_mismatched_lengths_and_bad_batch_size(mlp, inputs):
    x, y = inputs
    with pytest.raises(ValueError, match="differ in length"):
        fisher.compute_fisher(mlp, (x, y[:-1]))
    with pytest.raises(ValueError, match="batch_size"):
        fisher.compute_fisher(mlp, (x, y), batch_size=0)


def test_cache_does_not_keep_models_alive(inputs):
    """compute_fisher caches its traced step per model; that cache must not leak the model."""
    import gc
    import weakref

    model = models.build_mlp(hidden_units=4)
    fisher.compute_fisher(model, inputs, "empirical")
    assert model in fisher._CACHE  # the traced step is cached while the model lives ...
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # ... and released with it


def test_subsample_is_random_not_the_first_examples():
    """On data ordered by label (as MNIST splits are), a cap must not keep only the first labels."""
    y = np.repeat(np.arange(5), 40)
    x = np.arange(len(y), dtype=np.float32)
    xs, ys = fisher.subsample(x, y, 20, seed=0)
    assert len(ys) == 20 and len(set(ys.tolist())) >= 4
    assert np.all(np.diff(xs) > 0), "kept in the original order"
    again, _ = fisher.subsample(x, y, 20, seed=0)
    other, _ = fisher.subsample(x, y, 20, seed=1)
    assert np.array_equal(xs, again) and not np.array_equal(xs, other)
    full_x, full_y = fisher.subsample(x, y, None)
    assert full_x is x and full_y is y


# --------------------------------------------------------------------------- 7. data a Fisher would get wrong
@pytest.mark.parametrize("method", ["empirical", "exact"])
def test_labels_outside_the_head(mlp, inputs, method):
    x, y = inputs
    y = y.copy()
    y[4] = 7  # a 5-way head has units 0..4
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.4 for the model's 5-way output; found 0\.\.7"):
        fisher.compute_fisher(mlp, (x, y), method)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.4"):
        fisher.compute_fisher(mlp, ds, method)


def test_labels_that_are_not_whole_numbers(mlp, inputs):
    x, y = inputs
    y = y.astype(np.float64)
    y[2] = 2.5
    with pytest.raises(ValueError, match=r"labels must be whole class indices; got dtype float64, e\.g\. \[2\.5\]"):
        fisher.compute_fisher(mlp, (x, y), "exact")
    # Whole numbers stored as floats are fine, and give the integer labels' Fisher.
    y_int = inputs[1]
    a = fisher.compute_fisher(mlp, (x, y_int.astype(np.float32)), "empirical")
    b = fisher.compute_fisher(mlp, (x, y_int), "empirical")
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_a_nan_pixel(mlp, inputs):
    x, y = inputs
    x = x.copy()
    x[5, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="the images hold 1 NaN or infinite pixel values"):
        fisher.compute_fisher(mlp, (x, y), "exact")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match="NaN or infinite pixel"):
        fisher.compute_fisher(mlp, ds, "empirical")


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_unscaled_images(mlp, inputs, dtype):
    x, y = inputs
    raw = np.round(x * 255).astype(dtype)
    with pytest.raises(ValueError, match=r"the images look unscaled .*largest pixel 255.*scale them to \[0, 1\]"):
        fisher.compute_fisher(mlp, (raw, y), "exact")


def test_flat_images_for_an_image_model_get_a_short_message(mlp, inputs):
    x, y = inputs
    flat = x.reshape(len(x), 784)
    with pytest.raises(ValueError, match=r"shape \(784,\) per example but the model takes \(28, 28, 1\); reshape") as err:
        fisher.compute_fisher(mlp, (flat, y), "exact")
    assert len(str(err.value)) < 300  # not a page of TensorFlow shape errors
    with pytest.raises(ValueError, match=r"shape \(784,\) per example") as err:
        fisher.compute_fisher(mlp, tf.data.Dataset.from_tensor_slices((flat, y)).batch(8), "empirical")
    assert len(str(err.value)) < 300


# --------------------------------------------------------------------------- 8. a task's own head
def test_classes_gives_the_fisher_of_the_sliced_head(inputs):
    """compute_fisher(classes=...) equals the Fisher of a model whose output layer holds only those
    units (labels renumbered), and is exactly 0 on the other output units' weights."""
    reproducibility.set_seed(1)
    wide = randomise_biases(models.build_mlp(num_classes=10, hidden_units=16))
    classes = (2, 5, 7)
    x, _ = inputs
    y = np.array(classes)[np.random.default_rng(0).integers(0, 3, len(x))]
    w = wide.get_weights()
    narrow = models.build_mlp(num_classes=3, hidden_units=16)
    narrow.set_weights([w[0], w[1], w[2][:, classes], w[3][list(classes)]])
    y_narrow = np.searchsorted(classes, y)
    others = [c for c in range(10) if c not in classes]
    for method in ("empirical", "exact"):
        got = fisher.compute_fisher(wide, (x, y), method, classes=classes)
        want = fisher.compute_fisher(narrow, (x, y_narrow), method)
        for k in (0, 1):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6 * float(want[k].max()))
        np.testing.assert_allclose(got[2][:, classes], want[2], rtol=1e-5, atol=1e-6 * float(want[2].max()))
        np.testing.assert_allclose(got[3][list(classes)], want[3], rtol=1e-5, atol=1e-6 * float(want[3].max()))
        assert np.all(got[2][:, others] == 0) and np.all(got[3][others] == 0)
        # Without classes the other units take part, and the hidden layer's Fisher differs.
        full = fisher.compute_fisher(wide, (x, y), method)
        assert not np.allclose(full[0], got[0], rtol=1e-3)
    with pytest.raises(ValueError, match=r"labels must be among the task's output units \(2, 5, 7\); found \[3\]"):
        fisher.compute_fisher(wide, (x, np.where(y == 5, 3, y)), "exact", classes=classes)


def test_sampled_with_classes_uses_the_labels_sample_labels_draws(inputs):
    """With ``classes``, "sampled" is the empirical Fisher on sample_labels(..., classes=...), and
    every drawn label is one of the head's units (without classes the draw covers all 10)."""
    reproducibility.set_seed(1)
    wide = randomise_biases(models.build_mlp(num_classes=10, hidden_units=16))
    classes = (2, 5, 7)
    x, _ = inputs
    y = np.array(classes)[np.random.default_rng(0).integers(0, 3, len(x))]
    drawn = fisher.sample_labels(wide, x, SEED, classes=classes)
    assert set(drawn.tolist()) <= set(classes) and len(set(drawn.tolist())) > 1
    everywhere = np.concatenate([fisher.sample_labels(wide, x, s) for s in range(20)])
    assert not set(everywhere.tolist()) <= set(classes)
    got = fisher.compute_fisher(wide, (x, y), "sampled", seed=SEED, batch_size=BATCH_SIZE, classes=classes)
    want = fisher.compute_fisher(wide, (x, drawn), "empirical", batch_size=BATCH_SIZE, classes=classes)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-12)


def build_softmax_mlp(as_layer):
    """The MLP with a softmax at the end: as Dense(activation="softmax"), or as a Softmax layer."""
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu")]
    layers += [keras.layers.Dense(5), keras.layers.Softmax()] if as_layer else [keras.layers.Dense(5, activation="softmax")]
    return keras.Sequential(layers)


class SoftmaxInside(keras.Model):
    """A subclassed model whose call ends in a softmax that no layer attribute shows."""

    def __init__(self):
        super().__init__()
        self.flat, self.dense = keras.layers.Flatten(), keras.layers.Dense(5)

    def call(self, x, training=False):
        return keras.ops.softmax(self.dense(self.flat(x)))


@pytest.mark.parametrize("method", ["empirical", "exact", "article"])
@pytest.mark.parametrize("which", ["dense_softmax", "softmax_layer", "subclassed"])
def test_a_model_ending_in_a_softmax_is_refused(inputs, which, method):
    x, y = inputs
    model = {"dense_softmax": lambda: build_softmax_mlp(False), "softmax_layer": lambda: build_softmax_mlp(True),
             "subclassed": SoftmaxInside}[which]()
    model(x[:1])
    with pytest.raises(ValueError, match=r"needs a model that outputs logits, but its .*apply a softmax.*"
                                         r"Remove the final softmax"):
        fisher.compute_fisher(model, (x, y), method, num_batches=2)
    # The same model without its softmax is accepted (logits of any sign and sum).
    if which == "softmax_layer":
        logits = keras.Sequential(model.layers[:-1])
        assert fisher.compute_fisher(logits, (x, y), method, num_batches=2).total() > 0
