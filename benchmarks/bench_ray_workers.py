"""Speed-up of 2 Ray workers against 1 on the scenario suite's units (issue 17).

Runs the same small set of units (``--units`` units of the hsu2018 protocol, cut to ``--subset``
training digits and ``--epochs`` epochs per task) on a local Ray instance with 1 worker and then
with 2 workers, each into a fresh results folder, and prints both wall times and their ratio.
Ray's own start-up is timed separately and left out of the ratio. Each worker's TensorFlow is
limited to one thread (``--cpus-per-unit 1``), so 2 workers ask for 2 cores.

    python benchmarks/bench_ray_workers.py --data /path/to/standin --subset 12000 --units 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="embedded")
    parser.add_argument("--subset", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--units", type=int, default=4)
    args = parser.parse_args(argv)

    import ray

    from ewc_helpers.runner import ResultsFolder, Unit, load_data, run_units, suite_identity
    from ewc_helpers.studies.protocols import PROTOCOLS

    protocol = replace(PROTOCOLS["hsu2018"], epochs=args.epochs)
    mnist = load_data(args.data, args.subset)
    job = {"data": args.data, "subset": args.subset, "protocol": protocol}
    units = [Unit("task", "naive", None, seed) for seed in range(args.units)]
    times = {}
    for workers in (1, 2):
        started = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
        startup = time.perf_counter() - started
        folder = ResultsFolder(tempfile.mkdtemp(), suite_identity(protocol, mnist, args.subset))
        started = time.perf_counter()
        run_units(units, job, folder, backend="ray", workers=workers, progress=None)
        times[workers] = time.perf_counter() - started
        ray.shutdown()
        print(f"{workers} worker(s): {len(units)} units in {times[workers]:.1f} s (Ray start-up {startup:.1f} s, not counted)")
    print(f"speed-up of 2 workers over 1: {times[1] / times[2]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
