"""glibc's allocator thresholds, set at ``import ember`` (NOTE [Allocator thresholds] in
ember/_allocator.py): each case runs in a fresh interpreter, bounded by a timeout."""
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's")

# Three 600 KB arrays alive at once, then freed, as an op's temporaries are: glibc's own
# thresholds rise to one array's size (the largest block it has unmapped) and twice that,
# below the three together, so by default each round grows the heap, trims it and faults
# the pages in again.
_ROUNDS = """
import resource, sys
import numpy as np
if sys.argv[1] == "ember":
    import ember, ember._allocator
    print(ember._allocator.tuned)
else:
    print(None)

def work():
    return [np.ones(150_000, np.float32) for _ in range(3)]

for _ in range(5):
    work()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    work()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 50)
"""


def _run(which: str, **env) -> tuple:
    out = subprocess.run([sys.executable, "-c", _ROUNDS, which], capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env}, check=True)
    tuned, faults = out.stdout.split()
    return tuned, float(faults)


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}


def test_import_keeps_freed_memory_for_the_next_op(monkeypatch):
    monkeypatch.setattr(os, "environ", _clean_env())
    _, plain = _run("numpy")
    tuned, with_ember = _run("ember")
    assert tuned == "True"
    assert plain > 100  # pages of the arrays (~147 each) faulted in again every round
    assert with_ember < 5


@pytest.mark.parametrize("setting", [
    {"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MALLOC_MMAP_THRESHOLD_": "131072"},
    {"MALLOC_TOP_PAD_": "131072"}, {"MALLOC_MMAP_MAX_": "65536"},
    {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_the_users_malloc_settings_are_left_alone(monkeypatch, setting):
    monkeypatch.setattr(os, "environ", _clean_env())
    tuned, _ = _run("ember", **setting)
    assert tuned == "False"


def test_other_tunables_do_not_stop_it(monkeypatch):
    monkeypatch.setattr(os, "environ", _clean_env())
    tuned, faults = _run("ember", GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX512F_Usable")
    assert tuned == "True"
    assert faults < 5
