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
    est = fisher.compute_fisher(mlp, (x, y), method, batch_size=BATCH_SIZE, num_batches=2)
    assert isinstance(est, fisher.FisherEstimate)
    assert est.method == method
    variables = mlp.trainable_variables
    assert len(est) == len(variables)
    for arr, v in zip(est, variables):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
        assert arr.shape == tuple(v.shape)
        assert np.all(np.isfinite(arr)) and np.all(arr >= 0)
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
