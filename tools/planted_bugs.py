"""Plants known bugs in ember, one at a time, and checks that the tests catch each one.

Each bug is one textual change to one file of a copy of this checkout's last commit. The
op tests run on the changed copy once per hypothesis setting: the "ci" profile (the fixed
examples CI draws) and the "random" profile (as many examples, drawn at random) with four
seeds. A bug counts as caught in a run when at least one test fails. The unchanged copy runs
first and must pass, or the table would mean nothing.

Usage: ``python tools/planted_bugs.py [--only NAME ...] [--seeds 1 2 3 4]``; prints a table
(bug x setting: caught / MISSED) and exits 1 if any bug was missed in any run.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# What the op tests cover; -x stops a run at the first failure, so a caught bug is quick.
TEST_FILES = (
    "tests/test_ops.py", "tests/test_more_ops.py", "tests/test_more_rows.py",
    "tests/test_pointwise.py", "tests/test_reduction.py", "tests/test_shape.py",
    "tests/test_inplace.py", "tests/test_tensor.py", "tests/test_autograd.py",
)

# name: (file, text to find (exactly once), replacement, what the bug is)
BUGS = {
    "alias": ("ember/_ops/pointwise.py", "\nsubtract = sub\n", "\nsubtract = add\n",
              "torch.subtract is an alias of add instead of sub"),
    "expand_as": ("ember/_ops/shape.py", "return expand(self, other._data.shape)",
                  "return expand(self, other._data.shape[::-1])",
                  "expand_as uses the other tensor's shape reversed"),
    "mean_grad": ("ember/_ops/reduction.py",
                  "    return expand_back(grad, shape, dims, keepdim) / _count(shape, dims)\n",
                  "    halved = _count(shape, dims) / (2 if dims in ((1,), [1], 1) else 1)\n"
                  "    return expand_back(grad, shape, dims, keepdim) / halved\n",
                  "the gradient of mean over dim 1 is doubled"),
    "inplace_input": ("ember/_ops/inplace.py",
                      "        return inplace(fn, self, *args, **kwargs)\n",
                      "        if name == 'sub':\n"
                      "            return inplace(lambda a, b, **k: fn(b, a, **k), self, *args,"
                      " **kwargs)\n"
                      "        return inplace(fn, self, *args, **kwargs)\n",
                      "sub_ writes other - self into self"),
    "error_text": ("ember/_ops/_promote.py", "must match the size of tensor b",
                   "should match the size of tensor b",
                   "the broadcast error's text is changed"),
    "refused_backward": ("ember/_ops/pointwise.py",
                         'backward=(not_implemented("floor_divide"), '
                         'not_implemented("floor_divide")))',
                         "backward=(lambda grad, self, other: grad * 0,\n"
                         "              lambda grad, self, other: grad * 0))",
                         "floor_divide answers a zero gradient where torch refuses"),
    "promotion": ("ember/_ops/_promote.py", "            if zero_dim:\n",
                  "            if False:\n",
                  "0-d tensors take part in promotion as dimensioned tensors do"),
}


def copy_checkout(dest: Path) -> None:
    """The files of the last commit (HEAD) of this checkout, under ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=REPO,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def plant(tree: Path, bug: str) -> None:
    path, old, new, _ = BUGS[bug]
    text = (tree / path).read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{bug}: the text to change occurs {text.count(old)} times in {path}")
    (tree / path).write_text(text.replace(old, new))


def run_tests(tree: Path, setting: str) -> tuple[bool, float]:
    """(whether every test passed, seconds) for one hypothesis setting."""
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TEST_FILES]
    if setting != "ci":
        args += ["--hypothesis-profile=random", f"--hypothesis-seed={setting}"]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=tree, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pytest could not run ({proc.returncode}):\n{proc.stdout[-3000:]}"
                         f"{proc.stderr[-3000:]}")
    return proc.returncode == 0, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=list(BUGS), metavar="NAME")
    parser.add_argument("--seeds", nargs="*", default=["1", "2", "3", "4"],
                        help="seeds of the random-profile runs (besides the ci profile)")
    args = parser.parse_args(argv)
    settings = ["ci", *args.seeds]
    missed = 0
    with tempfile.TemporaryDirectory(prefix="ember-planted-") as tmp:
        clean = Path(tmp) / "clean"
        copy_checkout(clean)
        ok, seconds = run_tests(clean, "ci")
        if not ok:
            raise SystemExit("the unchanged checkout fails its tests: fix that first")
        print(f"unchanged checkout: tests pass ({seconds:.0f} s)\n")
        print(f"{'bug':<18}" + "".join(f"{'ci' if s == 'ci' else 'seed ' + s:>10}"
                                       for s in settings) + "   what")
        for bug in args.only or BUGS:
            tree = Path(tmp) / bug
            shutil.copytree(clean, tree)
            plant(tree, bug)
            cells = []
            for setting in settings:
                passed, seconds = run_tests(tree, setting)
                missed += passed
                cells.append("MISSED" if passed else f"{seconds:.0f}s")
            print(f"{bug:<18}" + "".join(f"{c:>10}" for c in cells) + f"   {BUGS[bug][3]}",
                  flush=True)
            shutil.rmtree(tree)
    print("\ncells: seconds until the first failing test (the bug was caught), or MISSED")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
