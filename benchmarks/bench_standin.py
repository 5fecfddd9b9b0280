"""How long the offline MNIST stand-in takes to make and write, and whether it behaves like MNIST.

    python benchmarks/bench_standin.py [--folder DIR] [--epochs 2] [--seed 0]

1. Times ``standin.make_standin()`` (60,000 + 10,000 distorted embedded digits, in memory) and
   ``standin.write_standin(folder)`` (the same plus the four gzipped IDX files), then reads the
   folder back with ``load_mnist(folder)``. Without ``--folder`` a temporary folder is used and
   removed afterwards.
2. Sanity check: the article's 784-128-5 MLP (``build_mlp``) is trained for ``--epochs`` epochs on
   the stand-in's ``multi`` task (all ten digits, labels ``digit // 2``) and scored on the
   stand-in test split and on the 1,000 real embedded test digits; the same model is trained on
   the embedded ``multi`` task alone for comparison, for as many epochs and for as many gradient
   steps. An MNIST-like stand-in gives a model that does at least as well on the real test digits
   as one trained on the 4,000 originals.

Timings depend on the machine and its load (printed); nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="where to write the stand-in (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="stand-in and training seed (default 0)")
    args = parser.parse_args(argv)

    import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
    from ewc_helpers import accuracy, build_mlp, fit_task, load_mnist, make_tasks, set_seed
    from ewc_helpers.standin import DEFAULTS, make_standin, write_standin

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; distortion {DEFAULTS}")
    start = time.perf_counter()
    make_standin(seed=args.seed)
    made = time.perf_counter() - start
    print(f"make_standin(): 60,000 + 10,000 images in memory     {made:6.1f} s")

    temporary = args.folder is None
    folder = Path(tempfile.mkdtemp(prefix="standin-") if temporary else args.folder)
    try:
        start = time.perf_counter()
        write_standin(folder, seed=args.seed, overwrite=True)
        written = time.perf_counter() - start
        print(f"write_standin(): made and written as IDX .gz files   {written:6.1f} s  ({folder})")
        start = time.perf_counter()
        standin = load_mnist(folder, verbose=False)
        print(f"load_mnist(folder): read back                        {time.perf_counter() - start:6.1f} s")
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    print(standin.describe())

    embedded = make_tasks(load_mnist("embedded", verbose=False))
    synthetic = make_tasks(standin)
    # The embedded set is 15 times smaller: a third run gives it as many gradient steps.
    same_steps = args.epochs * round(len(synthetic["multi"].train) / len(embedded["multi"].train))
    rows = []
    for name, tasks, epochs in (("stand-in", synthetic, args.epochs), ("embedded", embedded, args.epochs),
                                ("embedded", embedded, same_steps)):
        set_seed(args.seed)
        model = build_mlp()
        start = time.perf_counter()
        fit_task(model, tasks["multi"], epochs=epochs, seed=args.seed)
        seconds = time.perf_counter() - start
        rows.append((name, len(tasks["multi"].train), epochs, seconds,
                     accuracy(model, synthetic["multi"]), accuracy(model, embedded["multi"])))

    print("\nMLP 784-128-5 (build_mlp) trained on task 'multi' (labels digit // 2; 5-way):")
    print(f"{'trained on':<10}{'train n':>9}{'epochs':>8}{'fit s':>8}{'acc stand-in test':>19}"
          f"{'acc real embedded test':>24}")
    for name, n, epochs, seconds, acc_standin, acc_real in rows:
        print(f"{name:<10}{n:>9,}{epochs:>8}{seconds:>8.1f}{acc_standin:>19.4f}{acc_real:>24.4f}")
    (*_, s_standin, s_real), (*_, e_standin, e_real), (*_, _, q_real) = rows
    print("\nstand-in-trained / embedded-trained accuracy")
    print(f"  on the real test digits, same epochs:                  {s_real / e_real:.3f}")
    print(f"  on the stand-in test, same epochs:                     {s_standin / e_standin:.3f}")
    print(f"  on the real test digits, same steps ({same_steps} epochs):       {s_real / q_real:.3f}")
    print(f"stand-in-trained model: real test / stand-in test accuracy: {s_real / s_standin:.3f}")
    print("(the stand-in test split contains the 1,000 real embedded test digits plus 9,000 "
          "distortions of them; neither model has seen any of them)")


if __name__ == "__main__":
    main()
