"""Time loading the embedded MNIST digits and building the three tasks.

    python benchmarks/bench_data.py [--repeat 5]

Prints the TensorFlow import time once, then the median (and min/max) of ``--repeat`` runs of
``sources.load_mnist("embedded")`` and ``task_lib.make_tasks(...)``. Timings are machine-dependent; the
unit tests deliberately assert none of them.
"""

from __future__ import annotations

import argparse
import statistics
import time


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def describe(label, times):
    return (f"{label:<34}median {statistics.median(times) * 1e3:8.1f} ms   "
            f"min {min(times) * 1e3:8.1f} ms   max {max(times) * 1e3:8.1f} ms   (n={len(times)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    start = time.perf_counter()
    from ewc_helpers import data  # imports TensorFlow (quietly) through ewc_helpers._env

    print(f"{'import ewc_helpers (TensorFlow)':<34}{(time.perf_counter() - start) * 1e3:8.1f} ms")

    mnist, load_times = timed(lambda: sources.load_mnist("embedded", verbose=False), args.repeat)
    tasks, task_times = timed(lambda: task_lib.make_tasks(mnist), args.repeat)
    _, both_times = timed(lambda: task_lib.make_tasks(sources.load_mnist("embedded", verbose=False)), args.repeat)

    print(describe('load_mnist("embedded")', load_times))
    print(describe("make_tasks (A, B, multi)", task_times))
    print(describe("load + make_tasks", both_times))
    print()
    print(mnist.describe())
    print(task_lib.summarize_tasks(tasks))


if __name__ == "__main__":
    main()
