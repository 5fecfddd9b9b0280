"""Issue 20 on the command line: `notebooks` and `standin` write all or nothing, never reach outside
their folder, never destroy a user's work, and fail in one clear line; and they, like --help, run
without importing TensorFlow (checked in a real subprocess, in its sys.modules)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ewc_helpers import __main__ as cli
from ewc_helpers import _cli, standin
from ewc_helpers.sources import IDX_FILES, MANIFEST, DataError, load_mnist

ROOT = Path(__file__).resolve().parents[1]

#: Commands that must run without TensorFlow, with the arguments of one real, quick run ({dest} is
#: a fresh temporary folder). A new command that needs no TensorFlow (e.g. `site`) adds a line here;
#: every command but `reproduce` is checked for a TF-free --help in any case.
TF_FREE_RUNS = {
    "--help": ["--help"],
    "notebooks": ["notebooks", "{dest}"],
    "standin": ["standin", "{dest}", "--train", "50", "--test", "10"],
}
NEEDS_TENSORFLOW = {"reproduce"}


def modules_after(argv, cwd):
    """Run ``python -m ewc_helpers *argv`` in a subprocess; its exit code and the TensorFlow-family
    modules in its sys.modules at the end."""
    code = ("import runpy, sys\n"
            f"sys.argv = ['-m', *{list(argv)!r}]\n"
            "try:\n"
            "    runpy._run_module_as_main('ewc_helpers')\n"
            "except SystemExit as e:\n"
            "    print('EXIT', e.code)\n"
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tensorflow_datasets'))[:3])\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)
    return proc


@pytest.mark.parametrize("name", sorted(TF_FREE_RUNS))
def test_command_runs_without_tensorflow(tmp_path, name):
    argv = [a.format(dest=tmp_path / "dest") for a in TF_FREE_RUNS[name]]
    proc = modules_after(argv, tmp_path)
    assert "EXIT" not in proc.stdout or "EXIT 0" in proc.stdout, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "LOADED []" in proc.stdout, proc.stdout[-500:]


def test_every_command_but_reproduce_has_a_tensorflow_free_help(tmp_path):
    commands = sorted(cli.build_parser()._subparsers._group_actions[0].choices)
    assert {"notebooks", "standin"} <= set(commands)
    for command in sorted(set(commands) - NEEDS_TENSORFLOW):
        proc = modules_after([command, "--help"], tmp_path)
        assert "EXIT 0" in proc.stdout and "LOADED []" in proc.stdout, (command, proc.stdout[-500:])


def run(capsys, argv):
    """Exit code, stdout and stderr of ``python -m ewc_helpers *argv`` run in this process."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_info:
        code = exit_info.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_clear_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    return lines[-1]


# --------------------------------------------------------------------------- notebooks
@pytest.fixture()
def course(tmp_path, capsys):
    dest = tmp_path / "course"
    code, out, err = run(capsys, ["notebooks", dest])
    assert code == 0, err
    return dest


def lessons():
    return sorted(p.name for p in _cli.lesson_folder(False).glob("*.ipynb"))


def test_a_link_in_dest_is_replaced_not_followed(tmp_path, course, capsys):
    outside = tmp_path / "outside.ipynb"
    outside.write_text("not yours to overwrite")
    first = course / lessons()[0]
    first.unlink()
    first.symlink_to(outside)
    dangling = course / lessons()[1]
    dangling.unlink()
    dangling.symlink_to(tmp_path / "nowhere" / "x.ipynb")
    code, out, err = run(capsys, ["notebooks", course, "--overwrite"])
    assert code == 0, err
    assert outside.read_text() == "not yours to overwrite"
    assert not (tmp_path / "nowhere").exists()
    assert not first.is_symlink() and first.read_bytes() == (_cli.lesson_folder(False) / first.name).read_bytes()
    assert f"your version is kept as {first.stem}.backup-" in out  # the link itself is kept, renamed


def test_an_edited_lesson_and_own_readme_are_kept(course, capsys):
    lesson = course / lessons()[3]
    lesson.write_text('{"my": "work"}')
    (course / "README.md").write_text("my own notes")
    unchanged = course / lessons()[4]
    code, out, err = run(capsys, ["notebooks", course, "--overwrite"])
    assert code == 0, err
    backups = sorted(p.name for p in course.glob("*.backup-*"))
    assert len(backups) == 2, backups
    assert {(course / b).read_text() for b in backups} == {'{"my": "work"}', "my own notes"}
    assert f"replacing {lesson.name}" in out and "replacing README.md" in out
    assert unchanged.name not in out  # a lesson as shipped is replaced without a backup


def test_overwrite_is_needed_and_named(course, capsys):
    code, out, err = run(capsys, ["notebooks", course])
    assert code == 2 and "pass --overwrite" in one_clear_line(err)


@pytest.mark.parametrize("which", ["students", "teachers", "checkout root", "package"])
def test_a_lesson_source_is_refused_as_dest(capsys, which):
    dest = {"students": _cli.lesson_folder(False), "teachers": _cli.lesson_folder(True), "checkout root": ROOT,
            "package": ROOT / "ewc_helpers" / "lessons-copy"}[which]
    before = sorted((p.name, p.stat().st_mtime_ns) for p in _cli.lesson_folder(True).glob("*"))
    code, out, err = run(capsys, ["notebooks", dest, "--overwrite"])
    assert code == 2
    assert "choose a new folder" in one_clear_line(err) or "inside the installed ewc_helpers package" in err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in _cli.lesson_folder(True).glob("*")) == before
    assert not (ROOT / "ewc_helpers" / "lessons-copy").exists()


def test_a_failed_copy_changes_nothing(tmp_path, course, capsys, monkeypatch):
    (course / "README.md").write_text("my own notes")
    before = {p.name: p.read_bytes() for p in course.iterdir()}
    real_copy, copied = _cli.shutil.copyfile, []

    def copy_then_fail(src, dst):
        copied.append(src)
        if len(copied) == 7:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst)

    monkeypatch.setattr(_cli.shutil, "copyfile", copy_then_fail)
    code, out, err = run(capsys, ["notebooks", course, "--overwrite"])
    assert code == 2 and "No space left on device" in one_clear_line(err) and "nothing in it was replaced" in err
    assert {p.name: p.read_bytes() for p in course.iterdir()} == before


def impossible_places(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    return {"under a file": afile / "sub", "a file": afile, "under /proc": Path("/proc/ewc-test"),
            "unknown user": "~no-such-user-ewc/x", "empty": "", "name too long": tmp_path / ("n" * 300)}


@pytest.mark.parametrize("command", ["notebooks", "standin"])
@pytest.mark.parametrize("place", ["under a file", "a file", "under /proc", "unknown user", "empty", "name too long"])
def test_impossible_destinations_fail_in_one_line(tmp_path, capsys, monkeypatch, command, place):
    monkeypatch.setattr(standin, "make_standin", lambda *a, **k: pytest.fail("computed before refusing"))
    dest = impossible_places(tmp_path)[place]
    code, out, err = run(capsys, [command, dest] + (["--train", "50", "--test", "10"] if command == "standin" else []))
    assert code == 2
    line = one_clear_line(err)
    assert "error:" in line and sum("error" in x for x in err.splitlines()) == 1, err  # argparse adds usage


def test_a_read_only_dest_fails_in_one_line(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; /proc stands for them above")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    for argv in (["notebooks", ro / "c"], ["standin", ro / "s", "--train", "50", "--test", "10"]):
        code, out, err = run(capsys, argv)
        assert code == 2 and "cannot write to" in one_clear_line(err)


# --------------------------------------------------------------------------- standin
def test_standin_refusal_names_the_command_line_option(tmp_path, capsys):
    (tmp_path / "STANDIN.txt").write_text("my notes")
    code, out, err = run(capsys, ["standin", tmp_path, "--train", "50", "--test", "10"])
    assert code == 2 and "pass --overwrite" in one_clear_line(err) and "overwrite=True" not in err
    assert (tmp_path / "STANDIN.txt").read_text() == "my notes"


@pytest.mark.parametrize("train, message", [("10", "too small for the tasks"),
                                            ("1000000000000", "an IDX file holds at most"),
                                            ("4000000000", "GiB of memory")])
def test_standin_sizes_are_refused_in_one_line(tmp_path, capsys, monkeypatch, train, message):
    monkeypatch.setattr(standin, "make_standin", lambda *a, **k: pytest.fail("computed before refusing"))
    monkeypatch.setattr(standin, "available_memory", lambda: 8 * 2**30)
    code, out, err = run(capsys, ["standin", tmp_path / "s", "--train", train])
    assert code == 2 and message in one_clear_line(err)
    assert not (tmp_path / "s").exists()


def test_standin_writes_a_set_the_loader_checks(tmp_path, capsys):
    code, out, err = run(capsys, ["standin", tmp_path / "s", "--train", "50", "--test", "10"])
    assert code == 0, err
    assert (tmp_path / "s" / MANIFEST).is_file()
    (tmp_path / "s" / IDX_FILES["test_labels"]).write_bytes(b"")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz does not match"):
        load_mnist(tmp_path / "s", verbose=False)
