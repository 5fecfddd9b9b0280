"""Probe (issue 20): try bad or unlucky inputs on the writers, copiers, caches and mismatched models,
and count the outcomes per class.

    python benchmarks/probe_bad_inputs.py [--seed 0] [--kills 8] [--no-reproduce] [-v]

Surfaces: the ``notebooks`` and ``standin`` commands (run for real, in subprocesses), the IDX
loader, the task-A and sweep caches, ``ewc_penalty``, ``Anchor.save`` and evaluation with a model
whose head is too small. Interruptions: ``kill -9`` at random moments (seeded) during a stand-in
``--overwrite``, a cache write, a lesson copy over a student's work, and ``reproduce --suite
scenarios --out``, each followed by a check of what is left and a re-run.

Outcome classes: handled (a clear one-line refusal, or a correct result), silent_wrong (wrong data or
a number where an error was due), data_lost (a user's file gone or changed), traceback (a raw
traceback, or an exception of an unexpected kind), unclear (an error that does not name the
problem), hang (no answer within the timeout). Everything runs in a temporary folder; the user's
own cache folder is not touched (EWC_CACHE points into the temporary folder).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLASSES = ("handled", "silent_wrong", "data_lost", "traceback", "unclear", "hang")
RESULTS: list = []


def record(name, outcome, note=""):
    assert outcome in CLASSES, outcome
    RESULTS.append((name, outcome, note))
    if VERBOSE or outcome != "handled":
        print(f"  {outcome:12s} {name}{': ' + note if note else ''}", flush=True)


def env(**extra):
    base = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    base.update({k: str(v) for k, v in extra.items()})
    return base


def run_cli(argv, timeout=180, cwd=None, **env_extra):
    try:
        return subprocess.run([PY, "-m", "ewc_helpers", *map(str, argv)], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd or WORK, env=env(**env_extra))
    except subprocess.TimeoutExpired:
        return None


def classify_refusal(proc, keywords=()):
    """A refusal is handled when it exits non-zero with exactly one error line naming the problem."""
    if proc is None:
        return "hang", "no answer"
    if "Traceback" in proc.stderr:
        return "traceback", proc.stderr.strip().splitlines()[-1][:120]
    if proc.returncode == 0:
        return "silent_wrong", "accepted: " + proc.stdout.strip()[-120:]
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    if len(errors) == 1 and all(k.lower() in errors[0].lower() for k in keywords):
        return "handled", errors[0][:140]
    return "unclear", " | ".join(errors)[:160] or proc.stderr[-160:]


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(folder):
    """{name: sha256} of the regular files (and link targets) in a folder."""
    out = {}
    for p in sorted(Path(folder).iterdir()):
        out[p.name] = ("link:" + os.readlink(p)) if p.is_symlink() else (digest(p) if p.is_file() else "dir")
    return out


# --------------------------------------------------------------------------- notebooks
def lesson_names():
    from ewc_helpers._cli import lesson_folder

    return sorted(p.name for p in lesson_folder(False).glob("*.ipynb"))


def probe_notebooks():
    from ewc_helpers._cli import lesson_folder

    print("notebooks command", flush=True)
    afile = WORK / "afile"
    afile.write_text("x")
    refusals = {
        "notebooks: DEST under a file": ([afile / "sub"], ["not a directory"]),
        "notebooks: DEST is a file": ([afile], ["not a folder"]),
        "notebooks: DEST under /proc": (["/proc/ewc-probe"], ["cannot write"]),
        "notebooks: DEST ~nouser": (["~no-such-user-probe/c"], ["no such user"]),
        "notebooks: DEST empty string": ([""], ["empty string"]),
        "notebooks: DEST is the students' lessons": ([lesson_folder(False), "--overwrite"], ["copied from"]),
        "notebooks: DEST is the teachers' lessons": ([lesson_folder(True), "--overwrite"], ["copied from"]),
        "notebooks: DEST is the checkout root": ([ROOT, "--overwrite"], ["copied from"]),
        "notebooks: DEST inside the package": ([ROOT / "ewc_helpers" / "copy", "--overwrite"], ["package"]),
        "notebooks: DEST name too long": ([WORK / ("n" * 300)], ["cannot write"]),
        "notebooks: misspelt option": ([WORK / "c0", "--teachr"], ["unrecognized"]),
    }
    teacher_before = snapshot(lesson_folder(True))
    for name, (argv, keys) in refusals.items():
        record(name, *classify_refusal(run_cli(["notebooks", *argv]), keys))
    link = WORK / "link-to-teacher"
    link.symlink_to(lesson_folder(True))
    record("notebooks: DEST is a link to the teachers' lessons",
           *classify_refusal(run_cli(["notebooks", link, "--overwrite"]), ["copied from"]))
    dangling = WORK / "dangling-dest"
    dangling.symlink_to(WORK / "nowhere-dest")
    record("notebooks: DEST is a dangling link", *classify_refusal(run_cli(["notebooks", dangling]), ["link"]))
    if snapshot(lesson_folder(True)) != teacher_before or (ROOT / "ewc_helpers" / "copy").exists():
        record("notebooks: lesson sources unchanged after the refusals", "data_lost")
    else:
        record("notebooks: lesson sources unchanged after the refusals", "handled")

    dest = WORK / "course"
    proc = run_cli(["notebooks", dest])
    record("notebooks: a fresh copy", "handled" if proc and proc.returncode == 0 else "unclear")
    record("notebooks: again without --overwrite", *classify_refusal(run_cli(["notebooks", dest]), ["--overwrite"]))

    names = lesson_names()
    outside = WORK / "outside.ipynb"
    outside.write_text("outside DEST")
    (dest / names[0]).unlink()
    (dest / names[0]).symlink_to(outside)
    (dest / names[1]).unlink()
    (dest / names[1]).symlink_to(WORK / "nowhere" / "x.ipynb")
    (dest / names[2]).write_text('{"student": "work"}')
    (dest / "README.md").write_text("my own readme")
    proc = run_cli(["notebooks", dest, "--overwrite"])
    ok = proc is not None and proc.returncode == 0
    record("notebooks --overwrite: a link to a file outside DEST",
           "handled" if outside.read_text() == "outside DEST" else "data_lost")
    record("notebooks --overwrite: a dangling link", "handled" if not (WORK / "nowhere").exists() else "silent_wrong")
    kept = [p for p in dest.iterdir() if p.is_file() and not p.is_symlink()]
    texts = {p.read_text(errors="replace") for p in kept}
    record("notebooks --overwrite: an edited lesson", "handled" if '{"student": "work"}' in texts and ok
           and f"replacing {names[2]}" in proc.stdout else "data_lost")
    record("notebooks --overwrite: the user's own README.md", "handled" if "my own readme" in texts and ok
           and "replacing README.md" in proc.stdout else "data_lost")
    proc = run_cli(["notebooks", WORK / "course-t", "--teacher"])
    record("notebooks --teacher: a fresh copy", "handled" if proc and proc.returncode == 0 else "unclear")


def probe_copy_kills(rng, kills):
    print(f"notebooks --overwrite killed at random moments ({kills})", flush=True)
    names = lesson_names()
    base = WORK / "course-base"
    run_cli(["notebooks", base])
    (base / names[3]).write_text('{"edited": "by the student"}')
    (base / "README.md").write_text("student readme")
    started = time.perf_counter()
    trial = WORK / "course-trial"
    shutil.copytree(base, trial, symlinks=True)
    run_cli(["notebooks", trial, "--overwrite"])
    duration = time.perf_counter() - started
    for k in range(kills):
        trial = WORK / f"course-kill-{k}"
        shutil.copytree(base, trial, symlinks=True)
        delay = rng.uniform(0.05, duration * 1.1)
        proc = subprocess.Popen([PY, "-m", "ewc_helpers", "notebooks", str(trial), "--overwrite"], cwd=WORK,
                                env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        texts = {p.read_text(errors="replace") for p in trial.iterdir() if p.is_file()}
        lost = {'{"edited": "by the student"}', "student readme"} - texts
        again = run_cli(["notebooks", trial, "--overwrite"])
        texts = {p.read_text(errors="replace") for p in trial.iterdir() if p.is_file()}
        lost |= {'{"edited": "by the student"}', "student readme"} - texts
        whole = all((trial / n).is_file() for n in names) and again is not None and again.returncode == 0
        leftovers = [p.name for p in trial.iterdir() if p.name.startswith(".ewc-lessons-copying-")]
        name = f"notebooks --overwrite killed after {delay:.2f} s"
        if lost:
            record(name, "data_lost", f"lost {sorted(lost)}")
        elif not whole or leftovers:
            record(name, "unclear", "the re-run did not finish the copy" + (f"; left {leftovers}" if leftovers else ""))
        else:
            record(name, "handled")


# --------------------------------------------------------------------------- standin
def probe_standin():
    print("standin command and the IDX loader", flush=True)
    from ewc_helpers.sources import DataError, IDX_FILES, MANIFEST, load_mnist

    afile = WORK / "afile2"
    afile.write_text("x")
    own = WORK / "own-standin-txt"
    own.mkdir()
    (own / "STANDIN.txt").write_text("my notes")
    refusals = {
        "standin: DEST under a file": ([afile / "s"], ["not a directory"]),
        "standin: DEST is a file": ([afile], ["not a folder"]),
        "standin: DEST under /proc": (["/proc/ewc-probe"], ["cannot write"]),
        "standin: DEST ~nouser": (["~no-such-user-probe/s"], ["no such user"]),
        "standin: DEST empty string": ([""], ["empty string"]),
        "standin: DEST name too long": ([WORK / ("s" * 300)], ["cannot write"]),
        "standin: --train 10": ([WORK / "s1", "--train", "10"], ["too small"]),
        "standin: --train 0": ([WORK / "s1", "--train", "0"], ["positive integer"]),
        "standin: --train 1000000000000": ([WORK / "s1", "--train", "1000000000000"], ["at most"]),
        "standin: --train 4000000000 (memory)": ([WORK / "s1", "--train", "4000000000"], ["memory"]),
        "standin: --test 5": ([WORK / "s1", "--test", "5"], ["at least 10"]),
        "standin: --seed -1": ([WORK / "s1", "--train", "100", "--test", "10", "--seed", "-1"], ["seed"]),
        "standin: --seed abc": ([WORK / "s1", "--seed", "abc"], ["invalid int"]),
        "standin: the user's own STANDIN.txt": ([own, "--train", "100", "--test", "10"], ["--overwrite"]),
    }
    for name, (argv, keys) in refusals.items():
        started = time.perf_counter()
        outcome, note = classify_refusal(run_cli(["standin", *argv]), keys)
        if outcome == "handled" and time.perf_counter() - started > 20:
            outcome, note = "unclear", "refused only after computing"
        record(name, outcome, note)
    record("standin: STANDIN.txt kept", "handled" if (own / "STANDIN.txt").read_text() == "my notes" else "data_lost")

    good = WORK / "set-good"
    proc = run_cli(["standin", good, "--train", "200", "--test", "20"])
    record("standin: a small set", "handled" if proc and proc.returncode == 0 else "unclear")
    record("standin: again without --overwrite", *classify_refusal(run_cli(["standin", good, "--train", "200"]),
                                                                  ["--overwrite"]))
    other = WORK / "set-other"
    run_cli(["standin", other, "--train", "200", "--test", "20", "--seed", "1"])

    def loads(name, make, keys):
        folder = WORK / name.replace(" ", "-").replace(":", "")
        shutil.copytree(good, folder)
        make(folder)
        try:
            load_mnist(folder, verbose=False)
        except DataError as err:
            ok = all(k in str(err) for k in keys)
            record(name, "handled" if ok else "unclear", str(err)[:140])
        except Exception as err:  # noqa: BLE001 - an unexpected kind is what the probe looks for
            record(name, "traceback", f"{type(err).__name__}: {err}"[:140])
        else:
            record(name, "silent_wrong", "loaded")

    img = IDX_FILES["train_images"]
    loads("loader: a mixed set (images of another seed)", lambda f: shutil.copyfile(other / img, f / img), ["mixed"])
    loads("loader: an incomplete set", lambda f: (f / IDX_FILES["test_labels"]).unlink(), ["lacks"])
    loads("loader: STANDIN.txt missing", lambda f: (f / "STANDIN.txt").unlink(), ["incomplete"])
    loads("loader: a truncated file", lambda f: (f / img).write_bytes((f / img).read_bytes()[:500]), ["does not match"])
    loads("loader: a corrupt manifest", lambda f: (f / MANIFEST).write_text("{"), ["manifest"])

    def bad_labels(f):
        from ewc_helpers.sources import read_idx, write_idx

        labels = read_idx(f / IDX_FILES["train_labels"], 2049).copy()
        labels[5] = 12
        write_idx(f / IDX_FILES["train_labels"], labels)
        (f / MANIFEST).unlink()  # a folder of the user's own files: no manifest

    loads("loader: a label 12, no manifest", bad_labels, ["train-labels-idx1-ubyte.gz", "0-9"])

    def too_small(f):
        from ewc_helpers.sources import write_idx
        from ewc_helpers.standin import make_standin

        small = make_standin(30, 10, seed=0)
        for key, fname in IDX_FILES.items():
            part, kind = key.split("_")
            array = getattr(getattr(small, part), kind)
            write_idx(f / fname, array[..., 0] if kind == "images" else array)
        (f / MANIFEST).unlink()

    loads("loader: too few images per digit", too_small, ["too small"])


def probe_standin_kills(rng, kills):
    print(f"standin --overwrite killed at random moments ({kills})", flush=True)
    from ewc_helpers.sources import DataError, IDX_FILES, load_mnist

    size = ["--train", "6000", "--test", "1000"]
    old, new = WORK / "st-old", WORK / "st-new"
    started = time.perf_counter()
    run_cli(["standin", old, *size, "--seed", "0"])
    duration = time.perf_counter() - started
    run_cli(["standin", new, *size, "--seed", "1"])
    files = list(IDX_FILES.values()) + ["STANDIN.txt"]
    sets = {"old": {n: digest(old / n) for n in files}, "new": {n: digest(new / n) for n in files}}
    for k in range(kills):
        trial = WORK / f"st-kill-{k}"
        shutil.copytree(old, trial)
        delay = rng.uniform(0.1, duration * 1.05)
        proc = subprocess.Popen([PY, "-m", "ewc_helpers", "standin", str(trial), *size, "--seed", "1", "--overwrite"],
                                cwd=WORK, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        name = f"standin --overwrite killed after {delay:.2f} s of {duration:.1f}"
        now = {n: digest(trial / n) for n in files if (trial / n).is_file()}
        try:
            load_mnist(trial, verbose=False)
        except DataError as err:
            outcome = "handled" if "--overwrite" in str(err) else "unclear"
            note = "refused: " + str(err)[:90]
        except Exception as err:  # noqa: BLE001
            outcome, note = "traceback", f"{type(err).__name__}: {err}"[:120]
        else:
            which = [s for s, d in sets.items() if d == now]
            outcome, note = ("handled", f"loads the {which[0]} set, whole") if which else ("silent_wrong", "a mixed set loads")
        again = run_cli(["standin", trial, *size, "--seed", "1", "--overwrite"])
        if outcome == "handled" and (again is None or again.returncode != 0
                                     or {n: digest(trial / n) for n in files} != sets["new"]):
            outcome, note = "unclear", "a re-run did not repair the set"
        record(name, outcome, note)


# --------------------------------------------------------------------------- caches
def probe_caches():
    print("task-A and sweep caches", flush=True)
    import numpy as np

    from ewc_helpers import sources, tasks as task_lib
    from ewc_helpers.studies import common, task_a_cache, two_tasks

    cache = WORK / "cache"
    os.environ["EWC_CACHE"] = str(cache)
    small = sources.load_embedded()
    small = sources.MNIST(small.train.take(slice(None, None, 4)), small.test.take(slice(None, None, 4)),
                          "embedded", "quarter")
    tasks = task_lib.make_tasks(small)
    setup = common.Setup(hidden_units=8, epochs_a=1)
    w8 = [np.full(s, 0.1, np.float32) for s in ((784, 8), (8,), (8, 5), (5,))]
    w64 = [np.full(s, 0.1, np.float32) for s in ((784, 64), (64,), (64, 5), (5,))]

    def rebuilt(name, load):
        out = io.StringIO()
        with redirect_stdout(out):
            try:
                got = load()
            except Exception as err:  # noqa: BLE001
                return record(name, "traceback", f"{type(err).__name__}: {err}"[:120])
        said = [line for line in out.getvalue().splitlines() if "computing it again" in line]
        if got is not None:
            record(name, "silent_wrong", "the entry was used")
        else:
            record(name, "handled" if len(said) == 1 else "unclear", said[0][:120] if said else "no line said so")

    digest8 = task_a_cache.key(tasks["A"], setup)
    nan = [w.copy() for w in w8]
    nan[0][0, 0] = np.nan
    task_a_cache.store(digest8, nan, {})
    rebuilt("cache: NaN weights", lambda: task_a_cache.load(digest8))
    other = task_a_cache.key(tasks["A"], common.Setup(hidden_units=64, epochs_a=1))
    os.replace(task_a_cache.store(other, w64, {}), cache / f"task_a-{digest8}.npz")
    rebuilt("cache: another setup's entry under this key", lambda: task_a_cache.load(digest8))
    (cache / f"task_a-{digest8}.npz").write_bytes(b"PK\x03\x04 truncated")
    rebuilt("cache: a truncated entry", lambda: task_a_cache.load(digest8))
    task_a_cache.store(digest8, w64, {})
    rebuilt("cache: weights of another shape (shapes given)",
            lambda: task_a_cache.load(digest8, shapes=[w.shape for w in w8]))

    # End to end: an older, unmarked entry of a 64-unit model under the key train_task_a uses.
    key = task_a_cache.key(tasks["A"], setup, dropout=setup.dropout, epochs=setup.epochs_a)
    np.savez(cache / f"task_a-{key}.npz", num_weights=np.array(4), history=np.array("{}"),
             **{f"w{i}": w for i, w in enumerate(w64)})
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            first = two_tasks.train_task_a(tasks, setup)
            second = two_tasks.train_task_a(tasks, setup)
        ok = first.info["cached"] is False and second.info["cached"] is True and "computing it again" in out.getvalue()
        record("cache: an older 64-unit entry under train_task_a's key", "handled" if ok else "unclear")
    except Exception as err:  # noqa: BLE001
        record("cache: an older 64-unit entry under train_task_a's key", "traceback", f"{type(err).__name__}"[:120])

    grid = [1.0, 10.0]
    rows = lambda lams, v=0.9: [{"method": "ewc", "lam": lam, "val": {"A": v}, "test": {"A": v}, "label": ""}
                                for lam in lams]
    rk = task_a_cache.results_key("sweep", grid, np.arange(3))
    for name, content in {"cache: an empty sweep": [], "cache: a sweep over another grid": rows([1.0, 100.0]),
                          "cache: a sweep holding NaN": rows(grid, float("nan"))}.items():
        task_a_cache.store_results(rk, content)
        rebuilt(name, lambda: task_a_cache.load_results(rk))
    rk2 = task_a_cache.results_key("sweep", [1.0, 100.0], np.arange(3))
    task_a_cache.store_results(rk2, rows([1.0, 100.0]))
    os.replace(cache / f"results-{rk2}.json", cache / f"results-{rk}.json")
    rebuilt("cache: another grid's sweep under this key", lambda: task_a_cache.load_results(rk))
    (cache / f"results-{rk}.json").write_text(json.dumps(rows(grid)))
    rebuilt("cache: an older unmarked sweep", lambda: task_a_cache.load_results(rk))

    mine = {"results-2024.json": "user file", f"results-{'a' * 32}.json": '{"user": 1}', "notes.txt": "n"}
    for n, t in mine.items():
        (cache / n).write_text(t)
    (cache / ".results-abcd1234.tmp").write_text("{")
    task_a_cache.clear()
    left = {p.name for p in cache.iterdir()}
    record("cache: clear() beside the user's files", "handled" if all((cache / n).read_text() == t for n, t in mine.items())
           and left == set(mine) else ("data_lost" if not set(mine) <= left else "unclear"), str(sorted(left))[:100])
    for word in ("false", "no", "off", "0", "False"):
        os.environ["EWC_CACHE"] = word
        ok = not task_a_cache.enabled() and task_a_cache.folder().name == "ewc_helpers"
        record(f"cache: EWC_CACHE={word}", "handled" if ok else "silent_wrong")
    os.environ["EWC_CACHE"] = str(cache)


def probe_cache_kills(rng, kills):
    print(f"cache writes killed at random moments ({kills})", flush=True)
    import numpy as np

    from ewc_helpers.studies import task_a_cache

    cache = WORK / "cache-kill"
    cache.mkdir()
    (cache / "results-mine.json").write_text("user file")
    key = "b" * 32
    writer = ("import sys; sys.argv = ['-m']\n"  # keeps TensorFlow out: store() needs only numpy
              "import numpy as np\nfrom ewc_helpers.studies import task_a_cache\n"
              "w = [np.random.default_rng(i).random((1000, 4000), dtype=np.float32) for i in range(4)]\n"
              "print('ready', flush=True)\n"
              f"while True:\n    task_a_cache.store({key!r}, w, {{'loss': [1.0]}})\n")
    for k in range(kills):
        proc = subprocess.Popen([PY, "-c", writer], cwd=WORK, env=env(EWC_CACHE=cache), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()
        delay = rng.uniform(0.0, 0.6)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        name = f"cache store() killed after {delay:.2f} s"
        out = io.StringIO()
        with redirect_stdout(out):
            got = task_a_cache.load(key)
        expected = [np.random.default_rng(i).random((1000, 4000), dtype=np.float32) for i in range(4)]
        if got is not None and not all(np.array_equal(a, b) for a, b in zip(got["weights"], expected)):
            record(name, "silent_wrong", "a partial entry was used")
            continue
        os.environ["EWC_CACHE"] = str(cache)
        task_a_cache.clear()
        left = sorted(p.name for p in cache.iterdir())
        if (cache / "results-mine.json").read_text() != "user file":
            record(name, "data_lost")
        elif left != ["results-mine.json"]:
            record(name, "unclear", f"clear() left {left}")
        else:
            record(name, "handled", "entry whole" if got is not None else "no entry yet")
    os.environ["EWC_CACHE"] = str(WORK / "cache")


# --------------------------------------------------------------------------- library
def probe_library():
    print("penalties, anchors, evaluation", flush=True)
    import numpy as np

    from ewc_helpers import evaluation, tasks as task_lib
    from ewc_helpers.anchors import Anchor, AnchorError, PenaltyError
    from ewc_helpers.models import build_mlp
    from ewc_helpers.penalties import ewc_penalty
    from ewc_helpers.sources import load_embedded
    from ewc_helpers.split_mnist import make_split_tasks
    from ewc_helpers.training import fit_task, make_anchor

    def expect(name, fn, errors, keys):
        try:
            value = fn()
        except errors as err:
            ok = all(k in str(err) for k in keys)
            return record(name, "handled" if ok else "unclear", str(err)[:120])
        except Exception as err:  # noqa: BLE001
            return record(name, "traceback", f"{type(err).__name__}: {str(err)[:100]}")
        record(name, "silent_wrong", f"returned {value!r}"[:100])

    theta = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
    anchor = Anchor(theta, [np.ones_like(t) for t in theta], task="A", method="exact", num_examples=5)
    for lam in (True, "10", float("nan"), -1):
        expect(f"ewc_penalty(anchor, {lam!r})", lambda: ewc_penalty(anchor, lam), PenaltyError, ["lam must be"])
    expect("Anchor.save under /proc", lambda: anchor.save("/proc/probe.npz"), AnchorError, ["/proc/probe.npz"])
    expect("Anchor.save under a file", lambda: anchor.save(WORK / "afile" / "a.npz"), AnchorError, ["afile"])

    mnist = load_embedded()
    permuted = task_lib.make_permuted_tasks(mnist, 1)[0]
    split = make_split_tasks(mnist, "task")[-1]
    five = build_mlp(num_classes=5, hidden_units=8)
    for fn in (evaluation.accuracy, evaluation.correct_answers):
        expect(f"{fn.__name__}: 5-unit model, 10-class task", lambda: fn(five, permuted), ValueError,
               ["output units"])
    expect("accuracy: 5-unit model, task head (8, 9)", lambda: evaluation.accuracy(five, split), ValueError,
           ["output units"])
    expect("make_anchor: 5-unit model, 10-class task", lambda: make_anchor(five, permuted), ValueError, ["0..4"])
    expect("fit_task: 5-unit model, 10-class task (training.py, not issue 20's owner)",
           lambda: fit_task(five, permuted.take(slice(0, 256)) if hasattr(permuted, "take") else permuted, epochs=1),
           (ValueError, TypeError), ["output"])


# --------------------------------------------------------------------------- reproduce --out
def probe_reproduce_kills(rng, kills):
    help_text = run_cli(["reproduce", "--help"])
    if help_text is None or "--out" not in help_text.stdout:
        print("reproduce --out does not exist here: its interruption is not covered", flush=True)
        return
    print(f"reproduce --suite scenarios --out killed at random moments ({kills})", flush=True)
    argv = ["reproduce", "--suite", "scenarios", "--data", "embedded", "--settings", "task", "--methods",
            "naive,ewc", "--subset", "1200", "--seeds", "1", "--quiet"]
    for k in range(kills):
        out = WORK / f"rep-{k}"
        proc = subprocess.Popen([PY, "-m", "ewc_helpers", *argv, "--out", str(out)], cwd=WORK, env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        delay = rng.uniform(5.0, 40.0)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        again = run_cli([*argv, "--out", out], timeout=600)
        name = f"reproduce --out killed after {delay:.1f} s, then re-run"
        if again is None:
            record(name, "hang")
        elif "Traceback" in again.stderr:
            record(name, "traceback", again.stderr.strip().splitlines()[-1][:120])
        elif again.returncode != 0:
            record(name, "unclear", again.stderr.strip()[-120:])
        else:
            record(name, "handled")


def main():
    global WORK, VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--kills", type=int, default=8, help="kills per interrupted writer (default 8)")
    parser.add_argument("--no-reproduce", action="store_true", help="skip the reproduce --out kills (slow)")
    parser.add_argument("-v", action="store_true", help="print every case, not only the failures")
    args = parser.parse_args()
    VERBOSE = args.v
    import random

    rng = random.Random(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ewc-probe-") as tmp:
        WORK = Path(tmp)
        os.environ["EWC_CACHE"] = str(WORK / "cache")
        sys.argv[0] = "probe"
        import ewc_helpers  # noqa: F401  (quiet TensorFlow)

        probe_notebooks()
        probe_copy_kills(rng, args.kills)
        probe_standin()
        probe_standin_kills(rng, args.kills)
        probe_caches()
        probe_cache_kills(rng, args.kills)
        probe_library()
        if not args.no_reproduce:
            probe_reproduce_kills(rng, 2)
    counts = collections.Counter(outcome for _, outcome, _ in RESULTS)
    print(f"\n{len(RESULTS)} bad or unlucky inputs tried in {time.perf_counter() - started:.0f} s:")
    for outcome in CLASSES:
        print(f"  {outcome:12s} {counts.get(outcome, 0)}")
    return 0 if counts.get("handled", 0) == len(RESULTS) else 1


WORK = Path(".")
VERBOSE = False

if __name__ == "__main__":
    sys.exit(main())
