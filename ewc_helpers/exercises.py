"""Check functions for the lessons' coding exercises, where the student writes the mechanism.

Each exercise gives a stub; the student fills it in and calls the matching check, which prints
whether the answer is right and, if not, what differs from the expected result. A check never
raises on a wrong or unfilled answer (the students' edition runs top to bottom with the stubs
as they are): it returns a :class:`Check`, true when the answer is right.

* :func:`check_loss_curve` (lesson 02): a Keras callback that records each task's test loss
  before training and every ``every`` batches, a forgetting curve in the loss;
* :func:`check_l2_penalty` (lesson 03): the L2 penalty ``lam / 2 * sum (theta - theta_A)^2``;
* :func:`check_output_layer_fisher` (lesson 05): the empirical diagonal Fisher of the output
  layer, written without a loop over examples;
* :func:`check_online_ewc` (lesson 10): the online-EWC update ``F* = gamma F_old + F_new`` and
  the published penalty ``lam / 2 * sum gamma F* (theta - theta*)^2``;
* :func:`check_masked_loss` (lesson 11): the cross-entropy over a task's head or the digits seen
  so far, with the other output units masked out.

The expected values come from the library's own functions (:func:`~ewc_helpers.evaluation.accuracies`'
model, :func:`~ewc_helpers.penalties.l2_penalty`, :func:`~ewc_helpers.fisher.compute_fisher`),
never from stored numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _env  # noqa: F401

import keras
import tensorflow as tf

__all__ = ["Check", "check_loss_curve", "check_l2_penalty", "check_output_layer_fisher", "task_loss"]


@dataclass(frozen=True)
class Check:
    """The outcome of an exercise check: ``passed`` and the ``message`` printed for the student."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Check({'right' if self.passed else 'not yet'}: {self.message})"


def _report(passed: bool, message: str, verbose: bool) -> Check:
    check = Check(bool(passed), ("right: " if passed else "not yet: ") + message)
    if verbose:
        print(check.message)
    return check


def _raised(err: Exception) -> str:
    if isinstance(err, NotImplementedError):
        return "the stub is not filled in yet (it raises NotImplementedError)"
    return f"your code raised {type(err).__name__}: {err}"


# --------------------------------------------------------------------------- lesson 02
def task_loss(model, task, split: str = "test") -> float:
    """Mean sparse cross-entropy of ``model``'s logits on one split of ``task`` (the value a
    :func:`check_loss_curve` answer records)."""
    x, y = task.arrays(split)
    logits = model(x, training=False)
    return float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))


class _ReferenceLossCurve(keras.callbacks.Callback):
    def __init__(self, tasks: dict, every: int):
        super().__init__()
        self.tasks, self.every, self.records, self.batches = tasks, every, [], 0

    def _record(self):
        self.records.append({"step": self.batches,
                             **{name: task_loss(self.model, t) for name, t in self.tasks.items()}})

    def on_train_begin(self, logs=None):
        self.batches = 0
        self._record()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches % self.every == 0:
            self._record()


def check_loss_curve(callback_class, tasks: dict, every: int = 3, batches: int = 7,
                     verbose: bool = True) -> Check:
    """Check a forgetting-curve callback ``callback_class(tasks, every)``.

    Expected: its ``records`` is a list of dicts ``{"step": batches seen, <task name>: test loss,
    ...}``, one before training (step 0) and one after every ``every`` batches, where the loss is
    the mean sparse cross-entropy on the task's test split (:func:`task_loss`). The check trains a
    small model for ``batches`` batches of task ``"B"`` with the student's callback and a reference
    one side by side, so both see the same weights."""
    if not isinstance(tasks, dict) or "B" not in tasks:
        raise ValueError("tasks must be the lesson's dict of tasks, with a task 'B' to train on")
    from .models import build_mlp
    from .reproducibility import set_seed

    watched = {name: tasks[name] for name in ("A", "B") if name in tasks}
    try:
        mine = callback_class(watched, every)
    except Exception as err:  # noqa: BLE001  (report any failure to the student)
        return _report(False, f"creating {getattr(callback_class, '__name__', 'the callback')}"
                              f"(tasks, every={every}) failed; {_raised(err)}", verbose)
    if not isinstance(mine, keras.callbacks.Callback):
        return _report(False, "the class must subclass keras.callbacks.Callback", verbose)
    reference = _ReferenceLossCurve(watched, every)
    set_seed(0)
    model = build_mlp(hidden_units=16)
    x, y = tasks["B"].arrays("train")
    n = 32 * batches
    data = tf.data.Dataset.from_tensor_slices((x[:n], y[:n])).batch(32)
    try:
        model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[reference, mine])
    except Exception as err:  # noqa: BLE001
        return _report(False, f"training with your callback failed; {_raised(err)}", verbose)
    got, want = getattr(mine, "records", None), reference.records
    if not isinstance(got, list) or not got:
        return _report(False, "callback.records is empty: record once in on_train_begin and then in "
                              "on_train_batch_end every `every` batches", verbose)
    if len(got) != len(want):
        return _report(False, f"{len(got)} records after {batches} batches with every={every}; expected "
                              f"{len(want)} (steps {[r['step'] for r in want]})", verbose)
    for i, (g, w) in enumerate(zip(got, want)):
        if not isinstance(g, dict) or set(g) != set(w):
            return _report(False, f"record {i} should be a dict with keys {sorted(w)}; got {g!r}", verbose)
        if g["step"] != w["step"]:
            return _report(False, f"record {i} has step {g['step']}, expected {w['step']} (batches seen "
                                  "so far, 0 before training)", verbose)
        for name in watched:
            if not np.isclose(float(g[name]), w[name], rtol=1e-4, atol=1e-5):
                hint = (" (that looks like an accuracy, not a loss)" if 0 <= float(g[name]) <= 1 < w[name]
                        else "")
                return _report(False, f"record {i}, task {name}: {float(g[name]):.4f}, expected "
                                      f"{w[name]:.4f}, the mean cross-entropy on the test split{hint}",
                               verbose)
    return _report(True, f"{len(got)} records at steps {[r['step'] for r in got]} match the test losses",
                   verbose)


# --------------------------------------------------------------------------- lesson 03
def check_l2_penalty(penalty_fn, verbose: bool = True) -> Check:
    """Check ``penalty_fn(variables, theta_a, lam)``, the L2 penalty
    ``lam / 2 * sum over all weights of (theta - theta_A)^2`` as a scalar tensor, and its gradient
    ``lam * (theta - theta_A)``, on a few random weight arrays."""
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (3, 2)]
    theta_a = [rng.normal(size=s).astype(np.float32) for s in shapes]
    variables = [tf.Variable(t + rng.normal(scale=0.5, size=t.shape).astype(np.float32)) for t in theta_a]
    lam = 0.7
    diffs = [v.numpy() - t for v, t in zip(variables, theta_a)]
    want = lam / 2 * sum(float(np.sum(d ** 2)) for d in diffs)
    try:
        with tf.GradientTape() as tape:
            got = penalty_fn(variables, theta_a, lam)
    except Exception as err:  # noqa: BLE001
        return _report(False, _raised(err), verbose)
    if got is None:
        return _report(False, "the function returns None: return the penalty as a tensor", verbose)
    got_value = np.asarray(got)
    if got_value.size != 1:
        return _report(False, f"the penalty must be one number (a scalar); got shape {got_value.shape}: "
                              "sum over every weight of every array", verbose)
    got_value = float(got_value.reshape(()))
    if not tf.is_tensor(got):
        return _report(False, f"the penalty is a {type(got).__name__}, not a TensorFlow tensor: compute it "
                              "with TensorFlow operations (tf.reduce_sum, tf.square) on the variables, so "
                              "that its gradient can flow back to the weights", verbose)
    try:
        grads = tape.gradient(got, variables)
    except Exception as err:  # noqa: BLE001
        return _report(False, _raised(err), verbose)
    if not np.isclose(got_value, want, rtol=1e-5):
        ratio = got_value / want if want else float("nan")
        norms = lam / 2 * sum(float(np.sqrt(np.sum(d ** 2))) for d in diffs)
        if np.isclose(ratio, 2, rtol=1e-4):
            hint = "twice the expected value: the factor is lam / 2, not lam"
        elif np.isclose(ratio, 1 / lam, rtol=1e-4) or np.isclose(ratio, 0.5 / lam, rtol=1e-4):
            hint = "lam is missing"
        elif np.isclose(got_value, norms, rtol=1e-4) or np.isclose(got_value, norms / lam, rtol=1e-4):
            hint = "that is a sum of norms (the article's flaw): square the differences instead"
        else:
            hint = f"{ratio:.3g} times the expected value"
        return _report(False, f"penalty {got_value:.5g}, expected {want:.5g}: {hint}", verbose)
    if grads is None or any(g is None for g in grads):
        return _report(False, "the value is right but has no gradient for some weights: compute it "
                              "with TensorFlow operations on the variables themselves", verbose)
    if not all(np.allclose(g.numpy(), lam * d, rtol=1e-4, atol=1e-6) for g, d in zip(grads, diffs)):
        return _report(False, "the value is right but its gradient is not lam * (theta - theta_A)", verbose)
    return _report(True, f"penalty {got_value:.5g} and its gradient lam * (theta - theta_A) match", verbose)


# --------------------------------------------------------------------------- lesson 05
def _layer_fisher_answer(call, want) -> tuple:
    """Call a student's layer-Fisher function: ``(arrays, None)`` when it returned a kernel and a
    bias array of the expected shapes with no negative entry, else ``(None, what is wrong)``."""
    try:
        got = call()
    except Exception as err:  # noqa: BLE001
        return None, _raised(err)
    if got is None or len(got) != 2:
        return None, "return two arrays: the kernel's Fisher and the bias's Fisher"
    got = [np.asarray(g, np.float64) for g in got]
    for part, g, w in zip(("kernel", "bias"), got, want):
        if g.shape != w.shape:
            return None, f"the {part}'s Fisher has shape {g.shape}, expected {w.shape}"
        if np.any(g < 0):
            return None, f"the {part}'s Fisher has negative entries: a Fisher is a mean of squares"
    return got, None


def check_output_layer_fisher(fisher_fn, model, x, y, verbose: bool = True) -> Check:
    """Check ``fisher_fn(model, x, y) -> (kernel_F, bias_F)``: the empirical diagonal Fisher of the
    model's last Dense layer (the mean over examples of the squared gradient of
    ``log p(y_n | x_n)`` with respect to its kernel and bias), against
    :func:`~ewc_helpers.fisher.compute_fisher` on the same examples."""
    from .fisher import compute_fisher

    x = np.asarray(x, np.float32)
    y = np.asarray(y)
    reference = compute_fisher(model, (x, y), "empirical")
    want = [np.asarray(reference[-2]), np.asarray(reference[-1])]
    got, problem = _layer_fisher_answer(lambda: fisher_fn(model, x, y), want)
    if problem:
        return _report(False, problem, verbose)
    # the squared gradient of the label's logit (log_softmax left out) has the labels' frequencies
    # as its bias Fisher: name that slip before any other
    frequencies = np.bincount(y.astype(int), minlength=want[1].shape[0]) / len(y)
    if not np.allclose(got[1], want[1], rtol=0, atol=1e-4 * float(np.max(want[1]))) and np.allclose(
            got[1], frequencies, rtol=0, atol=1e-3):
        return _report(False, "the bias's Fisher equals the labels' frequencies: that is the squared gradient "
                              "of the label's logit, not of log p(y | x); the model outputs logits, so apply "
                              "tf.nn.log_softmax before picking the label's entry", verbose)
    for part, g, w in zip(("kernel", "bias"), got, want):
        scale = float(np.max(w))
        if not np.allclose(g, w, rtol=0, atol=1e-4 * scale):
            ratio = float(g.sum() / w.sum()) if w.sum() else float("nan")
            n = len(y)
            if np.isclose(ratio, n, rtol=0.05) or ratio > 0.2 * n:
                hint = ("about n times too large: the square of a batch-summed gradient is not the mean "
                        "of per-example squares")
            elif np.isclose(ratio, 1.0, rtol=0.05):
                hint = ("the right total but the wrong pattern: square each example's gradient before "
                        "averaging, and use the data's labels y")
            else:
                hint = (f"its total is {ratio:.3g} times the expected one: average the squared "
                        "per-example gradients over the examples")
            worst = float(np.max(np.abs(g - w)))
            return _report(False, f"the {part}'s Fisher differs by up to {worst:.3g} (largest entry "
                                  f"{scale:.3g}); {hint}", verbose)
    return _report(True, f"kernel {want[0].shape} and bias {want[1].shape} Fishers match compute_fisher "
                         f"on {len(y)} examples", verbose)


# --------------------------------------------------------------------------- lesson 06
def check_exact_output_fisher(fisher_fn, model, x, verbose: bool = True) -> Check:
    """Check ``fisher_fn(model, x) -> (kernel_F, bias_F)``: the *exact* diagonal Fisher of the
    model's last Dense layer, the expectation over the model's own predictions
    ``sum_c p(c | x) (d/dtheta log p(c | x))**2`` averaged over the examples, no labels needed,
    against :func:`~ewc_helpers.fisher.compute_fisher` (method ``"exact"``) on the same inputs.
    A wrong answer that equals the empirical Fisher (the data's labels) is named as such."""
    from .fisher import compute_fisher

    x = np.asarray(x, np.float32)
    probs = tf.nn.softmax(model(x, training=False)).numpy()
    exact = compute_fisher(model, (x, probs.argmax(axis=1)), "exact")
    want = [np.asarray(exact[-2], np.float64), np.asarray(exact[-1], np.float64)]
    got, problem = _layer_fisher_answer(lambda: fisher_fn(model, x), want)
    if problem:
        return _report(False, problem, verbose)
    for part, g, w, k in zip(("kernel", "bias"), got, want, (-2, -1)):
        scale = float(np.max(w))
        if np.allclose(g, w, rtol=0, atol=1e-4 * scale):
            continue
        # the same quantity with the model's most likely class as the label (an empirical Fisher
        # with predicted labels): a common slip, summing one class instead of all of them
        argmax = np.asarray(compute_fisher(model, (x, probs.argmax(axis=1)), "empirical")[k], np.float64)
        ratio = float(g.sum() / w.sum()) if w.sum() else float("nan")
        if np.allclose(g, argmax, rtol=0, atol=1e-4 * max(float(np.max(argmax)), 1e-12)):
            hint = ("that is the squared gradient for the most likely class only: weight every class c by "
                    "p(c | x) and sum over the classes")
        elif np.isclose(ratio, len(x), rtol=0.05) or ratio > 0.2 * len(x):
            hint = "about n times too large: average over the examples, do not sum"
        elif np.isclose(ratio, 1.0, rtol=0.05):
            hint = "the right total but the wrong pattern: square each example's gradient before averaging"
        else:
            hint = (f"its total is {ratio:.3g} times the expected one; for each class c the gradient of "
                    "log p(c | x) by the logits is onehot(c) - softmax(z)")
        worst = float(np.max(np.abs(g - w)))
        return _report(False, f"the {part}'s Fisher differs by up to {worst:.3g} (largest entry {scale:.3g}); "
                              f"{hint}", verbose)
    return _report(True, f"kernel {want[0].shape} and bias {want[1].shape} Fishers match compute_fisher "
                         f"(exact) on {len(x)} examples", verbose)


# --------------------------------------------------------------------------- lesson 07
def _peaked_runner(peak: float, width: float = 1.0):
    """A cheap ``lam -> Result`` whose mean validation accuracy peaks at ``lam = peak`` (a
    Gaussian in log10 lam): task A rises and task B falls with lam, as in a real sweep."""
    from .studies.common import Result

    def run(lam):
        t = float(np.log10(lam) - np.log10(peak))
        a = 0.5 + 0.4 / (1 + np.exp(-2 * t))  # task A kept more as lam grows
        b = 0.9 - 0.4 / (1 + np.exp(-2 * t)) + 0.1 * np.exp(-(t / width) ** 2)  # a bump at the peak
        return Result("ewc", float(lam), val={"A": round(a, 4), "B": round(b, 4)},
                      test={"A": round(a, 4), "B": round(b, 4)})

    return run


def check_lam_search(search_fn, verbose: bool = True) -> Check:
    """Check ``search_fn(run, grid, max_extensions) -> (chosen lam, sorted list of every lam
    tried)``: run every lam of ``grid`` (``run(lam)`` returns a result with ``val_score``), choose
    the one with the best mean validation accuracy (ties: the smaller lam), and while the chosen lam
    is the smallest value tried add one a decade below (the largest: a decade above), at most
    ``max_extensions`` times per end. Compared with :func:`~ewc_helpers.studies.common.search_lam`
    on runners whose best lam sits inside, below and far above the starting grid."""
    from .studies.common import search_lam

    cases = (("inside the grid", 300.0, (100.0, 300.0, 1000.0), 3),
             ("below the grid", 3.0, (100.0, 1000.0), 3),
             ("far above the grid (the limit stops it)", 1e9, (10.0, 100.0), 2))
    for name, peak, grid, limit in cases:
        ref = search_lam(_peaked_runner(peak), grid, max_extensions=limit)
        want_lam, want_tried = ref.best.lam, [r.lam for r in ref.results]
        calls = []
        runner = _peaked_runner(peak)

        def counted(lam, runner=runner):
            calls.append(float(lam))
            return runner(lam)

        try:
            got = search_fn(counted, grid, limit)
        except Exception as err:  # noqa: BLE001
            return _report(False, f"best lam {name}: {_raised(err)}", verbose)
        if got is None or not isinstance(got, (tuple, list)) or len(got) != 2:
            return _report(False, "return a pair: (the chosen lam, the sorted list of every lam tried)", verbose)
        lam, tried = got
        try:
            tried = sorted(float(x) for x in tried)
            lam = float(lam)
        except (TypeError, ValueError):
            return _report(False, f"could not read ({got[0]!r}, {got[1]!r}) as a lam and a list of lams",
                           verbose)
        where = f"grid {list(grid)} with its best lam {name}, max_extensions={limit}"
        if len(tried) != len(want_tried) or not np.allclose(tried, want_tried, rtol=1e-9):
            extra = len(tried) - len(want_tried)
            hint = ("it stops too early: keep extending while the chosen lam sits at an end" if extra < 0 else
                    "it tries too many values: stop at the limit per end, or once the best is inside")
            return _report(False, f"{where}: tried {[f'{x:g}' for x in tried]}, expected "
                                  f"{[f'{x:g}' for x in want_tried]} ({hint})", verbose)
        if sorted(calls) != tried:
            return _report(False, f"{where}: the lams you report as tried are not the ones you ran "
                                  f"({[f'{x:g}' for x in sorted(calls)]})", verbose)
        if not np.isclose(lam, want_lam, rtol=1e-9):
            return _report(False, f"{where}: chose lam {lam:g}, expected {want_lam:g} (the highest mean "
                                  "validation accuracy, val_score)", verbose)
    return _report(True, "the chosen lam and every lam tried match search_lam on all three grids "
                         "(best inside, below, and beyond the extension limit)", verbose)


__all__ += ["check_exact_output_fisher", "check_lam_search"]


# --------------------------------------------------------------------------- lesson 10
class _Weights:
    """The smallest thing :class:`~ewc_helpers.penalties.OnlineEWC` consolidates: variables."""

    def __init__(self, arrays):
        self.trainable_variables = [tf.Variable(a) for a in arrays]


def _online_case(seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (3,), (3, 2)]
    f_old = [rng.gamma(1.0, 0.5, size=s).astype(np.float32) for s in shapes]
    f_new = [rng.gamma(1.0, 0.5, size=s).astype(np.float32) for s in shapes]
    theta = [rng.normal(size=s).astype(np.float32) for s in shapes]
    return f_old, f_new, theta


def _update_hint(got, f_old, f_new, gamma) -> str:
    flat = lambda arrays: np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64)
    g, o, n = flat(got), flat(f_old), flat(f_new)
    for guess, hint in ((o + n, "gamma is missing: the old Fisher must be multiplied by gamma"),
                        (gamma * (o + n), "gamma multiplies the new Fisher too: only the old one decays"),
                        (n, "the old Fisher is dropped: that is the author's guess, not online EWC"),
                        (o + gamma * n, "gamma multiplies the new Fisher instead of the old one"),
                        (gamma * o, "the new task's Fisher is missing")):
        if np.allclose(g, guess, rtol=1e-5, atol=1e-7):
            return hint
    return f"its total is {g.sum() / (gamma * o + n).sum():.3g} times the expected one"


def check_online_ewc(update_fn, penalty_fn, gamma: float = 0.8, lam: float = 3.0,
                     verbose: bool = True) -> Check:
    """Check the two halves of online EWC as Schwarz et al. (2018) publish it.

    ``update_fn(fisher_old, fisher_new, gamma)`` returns the running Fisher ``F* = gamma * F_old +
    F_new`` (one array per variable; ``fisher_old`` is None after the first task, when ``F*`` is
    ``F_new``), compared with what :class:`~ewc_helpers.penalties.OnlineEWC` holds after
    consolidating the same Fishers. ``penalty_fn(variables, theta_star, fisher_star, lam, gamma)``
    returns the published penalty ``lam / 2 * sum gamma * F* * (theta - theta*)^2`` as a scalar
    tensor with gradient ``lam * gamma * F* * (theta - theta*)``, compared with the library's
    :class:`~ewc_helpers.penalties.QuadraticPenalty` at ``gamma * lam`` (the library's own form
    leaves gamma out of the penalty)."""
    from .anchors import Anchor
    from .penalties import OnlineEWC, QuadraticPenalty

    f_old, f_new, theta_star = _online_case()
    reference = OnlineEWC(gamma)
    reference.consolidate(_Weights(theta_star), f_old)
    want_f = reference.consolidate(_Weights(theta_star), f_new).fisher
    try:
        first = update_fn(None, f_new, gamma)
        got_f = update_fn(f_old, f_new, gamma)
    except Exception as err:  # noqa: BLE001  (report any failure to the student)
        return _report(False, f"update: {_raised(err)}", verbose)
    for name, got, want in (("after the first task (fisher_old=None)", first, f_new),
                            ("after a later task", got_f, want_f)):
        if got is None or len(got) != len(want):
            return _report(False, f"update {name}: return one array per variable ({len(want)})", verbose)
        got = [np.asarray(g, np.float64) for g in got]
        if any(g.shape != w.shape for g, w in zip(got, want)):
            return _report(False, f"update {name}: shapes {[g.shape for g in got]}, expected "
                                  f"{[w.shape for w in want]}", verbose)
        if not all(np.allclose(g, w, rtol=1e-5, atol=1e-7) for g, w in zip(got, want)):
            hint = ("with no old Fisher, F* is the new task's Fisher" if name.startswith("after the first")
                    else _update_hint(got, f_old, f_new, gamma))
            return _report(False, f"update {name} differs from gamma * F_old + F_new: {hint}", verbose)
    rng = np.random.default_rng(1)
    variables = [tf.Variable(t + rng.normal(scale=0.5, size=t.shape).astype(np.float32)) for t in theta_star]
    anchor = Anchor([np.asarray(t) for t in theta_star], [np.asarray(f, np.float32) for f in want_f])
    want = float(QuadraticPenalty(anchor, gamma * lam)(variables))
    diffs = [v.numpy() - t for v, t in zip(variables, theta_star)]
    try:
        with tf.GradientTape() as tape:
            got = penalty_fn(variables, theta_star, want_f, lam, gamma)
        grads = tape.gradient(got, variables) if tf.is_tensor(got) else None
    except Exception as err:  # noqa: BLE001
        return _report(False, f"penalty: {_raised(err)}", verbose)
    if got is None:
        return _report(False, "the penalty function returns None: return the penalty as a tensor", verbose)
    value = np.asarray(got)
    if value.size != 1:
        return _report(False, f"the penalty must be one number; got shape {value.shape}", verbose)
    value = float(value.reshape(()))
    if not np.isclose(value, want, rtol=1e-4):
        ratio = value / want
        plain = lam / 2 * sum(float(np.sum(d ** 2)) for d in diffs)
        if np.isclose(ratio, 1 / gamma, rtol=1e-4):
            hint = ("gamma is missing: that is the library's form (F* alone); the published penalty "
                    "uses gamma * F*")
        elif np.isclose(ratio, 2, rtol=1e-4) or np.isclose(ratio, 2 / gamma, rtol=1e-4):
            hint = "the factor is lam / 2, not lam"
        elif np.isclose(value, plain, rtol=1e-4) or np.isclose(value, gamma * plain, rtol=1e-4):
            hint = "F* is missing: weight each squared difference by its Fisher"
        else:
            hint = f"{ratio:.3g} times the expected value"
        return _report(False, f"penalty {value:.5g}, expected {want:.5g}: {hint}", verbose)
    if grads is None or any(g is None for g in grads):
        return _report(False, "the penalty's value is right but has no gradient for some weights: use "
                              "TensorFlow operations on the variables themselves", verbose)
    if not all(np.allclose(g.numpy(), lam * gamma * f * d, rtol=1e-4, atol=1e-6)
               for g, f, d in zip(grads, want_f, diffs)):
        return _report(False, "the value is right but its gradient is not lam * gamma * F* * (theta - theta*)",
                       verbose)
    return _report(True, f"the running Fisher gamma * F_old + F_new and the published penalty {value:.5g} "
                         f"(gamma {gamma:g}, lam {lam:g}) match the library's OnlineEWC and "
                         f"QuadraticPenalty at gamma * lam", verbose)


# --------------------------------------------------------------------------- lesson 11
def check_masked_loss(loss_fn, verbose: bool = True) -> Check:
    """Check ``loss_fn(logits, labels, units)``: the mean cross-entropy with the softmax taken over
    the output ``units`` only, a task's own head (task-incremental) or the digits seen so far
    (Hsu et al.'s class-incremental loss). Expected: what training computes, the sparse
    cross-entropy of the logits plus :func:`~ewc_helpers.models.logit_offset` (0 on ``units``,
    -1e9 elsewhere), and no gradient reaching the other units."""
    from .models import logit_offset

    rng = np.random.default_rng(0)
    logits_np = rng.normal(scale=2.0, size=(12, 10)).astype(np.float32)
    for units in ((2, 3), (0, 1, 2, 3, 4, 5)):
        labels = rng.choice(units, size=12).astype(np.int64)
        logits = tf.Variable(logits_np)
        want = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits_np + logit_offset(units, 10), from_logits=True)))
        try:
            with tf.GradientTape() as tape:
                got = loss_fn(logits, labels, units)
            grad = tape.gradient(got, logits) if tf.is_tensor(got) else None
        except Exception as err:  # noqa: BLE001
            return _report(False, _raised(err), verbose)
        if got is None:
            return _report(False, "the function returns None: return the loss as a tensor", verbose)
        value = np.asarray(got)
        if value.size != 1:
            return _report(False, f"the loss must be one number (the mean over examples); got shape "
                                  f"{value.shape}", verbose)
        value = float(value.reshape(()))
        if not np.isclose(value, want, rtol=1e-4, atol=1e-6):
            full = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, logits_np, from_logits=True)))
            if np.isclose(value, full, rtol=1e-4):
                hint = "that is the loss over all 10 units: the softmax must see only `units`"
            elif np.isclose(value, want * len(labels), rtol=1e-4):
                hint = "that is the sum over examples: take the mean"
            else:
                hint = f"{value / want:.3g} times the expected value"
            return _report(False, f"units {units}: loss {value:.5g}, expected {want:.5g}: {hint}", verbose)
        if grad is None:
            return _report(False, "the loss has no gradient: use TensorFlow operations on the logits", verbose)
        others = [u for u in range(10) if u not in units]
        leak = float(np.max(np.abs(grad.numpy()[:, others])))
        if leak > 1e-6:
            return _report(False, f"units {units}: the right value, but a gradient of up to {leak:.3g} reaches "
                                  "units outside the head: they must be masked out", verbose)
    return _report(True, "the loss over a task's head (2 units) and over the digits seen so far (6 units) "
                         "matches training's masked loss, and no gradient reaches the other units", verbose)


__all__ += ["check_online_ewc", "check_masked_loss"]


# --------------------------------------------------------------------------- lesson 08
def _small_mlp(seed: int = 0, inputs: int = 6, hidden: int = 5, classes: int = 3, n: int = 40):
    """A few units of a ReLU MLP (weights as arrays), non-negative inputs like pixels, and a move."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(inputs, hidden)), rng.normal(scale=0.1, size=hidden),
               rng.normal(size=(hidden, classes)), rng.normal(scale=0.1, size=classes)]
    delta = [rng.normal(scale=0.2, size=w.shape) for w in weights]
    x = np.abs(rng.normal(size=(n, inputs)))
    return weights, delta, x


def check_fisher_quadratic(forms_fn, verbose: bool = True) -> Check:
    """Check ``forms_fn(weights, delta, x, diagonal_fisher) -> (full, diagonal)``: half the exact
    Fisher's quadratic form along the move ``delta``, with the *whole* matrix
    (``(1/2) mean_n [sum_k p_nk u_nk^2 - (sum_k p_nk u_nk)^2]``, ``u_n`` the change of example n's
    logits per unit step along ``delta``) and with its diagonal only (``(1/2) sum_i F_ii
    delta_i^2``), on a ReLU MLP of a few units, against
    :func:`~ewc_helpers.studies.movement.fisher_quadratic`."""
    from .studies.movement import exact_diagonal_fisher, fisher_quadratic

    weights, delta, x = _small_mlp()
    diag = exact_diagonal_fisher(weights, x)
    want = fisher_quadratic(weights, delta, x, diag)
    try:
        got = forms_fn([w.copy() for w in weights], [d.copy() for d in delta], x.copy(), [f.copy() for f in diag])
    except Exception as err:  # noqa: BLE001
        return _report(False, _raised(err), verbose)
    try:
        full, diagonal = (float(np.asarray(v).reshape(())) for v in got)
    except (TypeError, ValueError):
        return _report(False, f"return two numbers, (full, diagonal); got {got!r}", verbose)
    if not np.isclose(diagonal, want["diagonal"], rtol=1e-4):
        ratio = diagonal / want["diagonal"]
        hint = ("twice the expected value: the form is (1/2) sum F d^2" if np.isclose(ratio, 2, rtol=1e-3)
                else f"{ratio:.3g} times the expected value: weight each squared move by its own Fisher entry")
        return _report(False, f"diagonal form {diagonal:.5g}, expected {want['diagonal']:.5g}: {hint}", verbose)
    if not np.isclose(full, want["full"], rtol=1e-3):
        wf = [np.asarray(w, np.float64) for w in weights]
        h = np.maximum(x @ wf[0] + wf[1], 0.0)
        logits = h @ wf[2] + wf[3]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        u = ((x @ wf[0] + wf[1] > 0) * (x @ delta[0] + delta[1])) @ wf[2] + h @ delta[2] + delta[3]
        second_moment = 0.5 * float(np.mean(np.sum(p * u ** 2, 1)))
        ratio = full / want["full"]
        if np.isclose(ratio, 2, rtol=1e-3):
            hint = "twice the expected value: the form is (1/2) d^T F d"
        elif np.isclose(full, second_moment, rtol=1e-3) or np.isclose(full, 2 * second_moment, rtol=1e-3):
            hint = ("subtract (sum_k p_k u_k)^2: under the softmax the Fisher is the covariance of the "
                    "logit changes, not their second moment")
        elif np.isclose(full, diagonal, rtol=1e-3):
            hint = "that is the diagonal form again: the full one needs each example's logit change u_n"
        elif abs(ratio - 1) < 0.05:
            hint = ("close but not equal: with finite differences use the central difference in float64 "
                    "with a small step (1e-5)")
        else:
            hint = f"{ratio:.3g} times the expected value"
        return _report(False, f"full form {full:.5g}, expected {want['full']:.5g}: {hint}", verbose)
    return _report(True, f"full form {full:.5g} and diagonal form {diagonal:.5g} match on {len(x)} inputs; "
                         f"along this move the full form is {full / diagonal:.3g} times the diagonal", verbose)


# --------------------------------------------------------------------------- lesson 09
def check_penalty_descent(descent_fn, verbose: bool = True) -> Check:
    """Check ``descent_fn(deviation, lr, lam, fisher, steps)``: the deviations ``theta - theta_A``
    after each of ``steps`` plain gradient-descent steps on the penalty ``(lam / 2) sum F d^2``
    alone, shape ``(steps + 1, n)`` with the start in row 0, against
    :func:`~ewc_helpers.studies.stability.quadratic_descent`. The Fisher entries make
    ``lr * lam * F`` span both sides of the limit 2."""
    from .studies.stability import quadratic_descent

    deviation = np.array([1.0, -0.5, 0.3, 0.02], np.float32)
    fisher = np.array([0.5, 2.0, 10.0, 25.0], np.float32)
    lr, lam, steps = 0.1, 1.0, 6
    want = quadratic_descent(deviation, lr, lam, fisher, steps)
    try:
        got = descent_fn(deviation.copy(), lr, lam, fisher.copy(), steps)
    except Exception as err:  # noqa: BLE001
        return _report(False, _raised(err), verbose)
    if got is None:
        return _report(False, "the function returns None: return the deviations, one row per step", verbose)
    got = np.asarray(got, np.float64)
    if got.shape != want.shape:
        hint = (" (row 0 must be the starting deviation)" if got.shape == (steps, len(deviation)) else "")
        return _report(False, f"shape {got.shape}, expected {want.shape}: steps + 1 rows, one column per "
                              f"weight{hint}", verbose)
    if not np.allclose(got[0], want[0]):
        return _report(False, "row 0 must be the starting deviation, unchanged", verbose)
    if not np.allclose(got, want, rtol=1e-4, atol=1e-6):
        factor = got[1] / want[0]
        k = lr * lam * fisher
        if np.allclose(factor, 1 - k / 2, rtol=1e-4):
            hint = "your factor is 1 - lr*lam*F/2: the gradient of (lam/2) F d^2 is lam F d"
        elif np.allclose(factor, 1 + k, rtol=1e-4):
            hint = "your factor is 1 + lr*lam*F: a descent step goes against the gradient"
        else:
            hint = (f"after one step the factors are {np.round(factor, 3).tolist()}, expected "
                    f"1 - lr*lam*F = {np.round(1 - k, 3).tolist()}")
        return _report(False, hint, verbose)
    grows = np.abs(got[-1]) > np.abs(got[0])
    return _report(True, f"{steps} steps match; the weights with lr*lam*F = "
                         f"{np.round(lr * lam * fisher[grows], 2).tolist()} (above 2) grow, the others shrink",
                   verbose)

__all__ += ["check_fisher_quadratic", "check_penalty_descent"]
