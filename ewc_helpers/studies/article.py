"""The article's experiments, beside its published figures (lesson 05 and ``reproduce``).

For one seed: multi-task training, task A alone, then task B naive, with L2 and with EWC, ``lam``
chosen on validation (:func:`~.common.search_lam`), plus the article's own EWC recipe as an
ablation. Over seeds, :func:`~.common.summarize` and :func:`format_article_table` give the table.
"""

from __future__ import annotations

from ..training import make_anchor
from .common import format_table, search_lam
from .two_tasks import EWC_LAMS, L2_LAMS, LamSweeper, train_multitask, train_task_a, train_task_b

#: The article's published test accuracies (one run each, full MNIST): (task A, task B). Its EWC
#: figures come from its own recipe, so they sit on that row; its L2 used its norm penalty.
ARTICLE_RESULTS = {
    "multi-task": (0.9724, 0.9742),
    "A only": (0.9850, None),
    "naive": (0.2663, 0.9831),
    "L2": (0.9038, 0.5978),
    "EWC, article recipe": (0.7678, 0.7087),
}
#: The article's EWC recipe: its Fisher, alpha = 25, dropout 0.5, 3 epochs on A and 9 on B.
ARTICLE_EWC_RECIPE = dict(fisher="article", lam=25.0, dropout=0.5, epochs_a=3, epochs_b=9)


def article_ewc_recipe(tasks: dict, setup) -> "Result":  # noqa: F821
    """Ablation: the article's own EWC setup (its Fisher, alpha = 25, dropout 0.5, 3 + 9 epochs)."""
    recipe = ARTICLE_EWC_RECIPE
    a = train_task_a(tasks, setup, dropout=recipe["dropout"], epochs=recipe["epochs_a"])
    anchor = make_anchor(a.model, tasks["A"], recipe["fisher"], seed=setup.seed)
    return train_task_b(a.model, tasks, setup, "ewc", recipe["lam"], anchor, epochs=recipe["epochs_b"],
                        dropout=recipe["dropout"], label="EWC, article recipe")


def run_article_suite(tasks: dict, setup, l2_lams=L2_LAMS, ewc_lams=EWC_LAMS,
                      include_recipe: bool = True, progress=print) -> dict:
    """All of the article's experiments for one seed.

    Returns ``{"seed", "results": [Result ...] in table order, "searches": {"l2": LamSearch,
    "ewc": LamSearch}}``.
    """
    say = progress or (lambda *_: None)
    out = {"seed": setup.seed, "results": [], "searches": {}}

    def keep(r):
        say(f"[seed {setup.seed}] {r.label:<22} test A {r.test['A']:.3f}  test B {r.test['B']:.3f}"
            + (f"  (lam {r.lam:g})" if r.lam is not None else "") + f"  {r.seconds:.1f}s")
        out["results"].append(r)

    keep(train_multitask(tasks, setup))
    a = train_task_a(tasks, setup)
    keep(a)
    keep(train_task_b(a.model, tasks, setup, "naive"))
    sweeper = LamSweeper(a.model, tasks, setup)
    anchor = make_anchor(a.model, tasks["A"], setup.fisher, seed=setup.seed,
                         max_examples=setup.fisher_examples)
    for method, grid, extra in (("l2", l2_lams, None), ("ewc", ewc_lams, anchor)):
        search = search_lam(sweeper.runner(method, extra), grid, progress=lambda m: say(f"  {method}: {m}"))
        out["searches"][method] = search
        keep(search.best)
    if include_recipe:
        keep(article_ewc_recipe(tasks, setup))
    return out


def format_article_table(rows) -> str:
    """Test accuracy on A and B per method, beside the article's published figures."""
    for r in rows:
        if r["method"] == "a_only":
            r["test"]["B"], r["test_std"]["B"] = None, None
    return format_table(rows, ("tasks",), published=ARTICLE_RESULTS, published_label="article")
