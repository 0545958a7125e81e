"""Thread counts: ``ember.set_num_threads`` sizes NumPy's BLAS pool, ``get_num_threads`` reads
the number back, the default follows torch's (OMP_NUM_THREADS, else the cores), and bad
counts raise torch's errors.

The BLAS pool is read here by code of the test's own, independent of ember._threads: the
OpenBLAS that NumPy loaded, found among the process's mapped libraries and asked for its
thread count through ctypes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, torch

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run in a fresh interpreter: prints what the snippet passes to ``report`` as JSON.
_READER = '''
import ctypes, json, sys

def blas_threads():
    import numpy  # loads its BLAS
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            getter = getattr(lib, name, None)
            if getter is not None:
                getter.restype = ctypes.c_int
                return getter()
    return None

def report(**values):
    print(json.dumps(values))
'''


def _run(snippet: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", _READER + snippet], cwd=_ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _has_openblas() -> bool:
    return _run("report(n=blas_threads())")["n"] is not None


needs_openblas = pytest.mark.skipif(not sys.platform.startswith("linux") or not _has_openblas(),
                                    reason="reads OpenBLAS's pool through /proc/self/maps")


@needs_openblas
def test_set_num_threads_sizes_the_blas_pool():
    got = _run("""
before = blas_threads()
import ember
imported = blas_threads()
ember.get_num_threads()
ember.set_num_threads(1)
one = blas_threads()
ember.set_num_threads(before)
report(before=before, imported=imported, one=one, back=blas_threads(),
       read=ember.get_num_threads())
""")
    # importing ember and reading the count leave the pool as NumPy's BLAS set it up
    assert got["imported"] == got["before"]
    assert got["one"] == 1
    assert got["back"] == got["read"] == got["before"]


@pytest.mark.parametrize("env", [{}, {"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "abc"},
                                 {"OMP_NUM_THREADS": "64"},
                                 {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}])
def test_default_count_is_torchs(env):
    got = _run("""
import torch, ember
report(torch=torch.get_num_threads(), ember=ember.get_num_threads(),
       torch_interop=torch.get_num_interop_threads(),
       ember_interop=ember.get_num_interop_threads())
""", **env)
    assert got["ember"] == got["torch"]
    assert got["ember_interop"] == got["torch_interop"]


def test_round_trip():
    saved = ember.get_num_threads(), ember.get_num_interop_threads()
    try:
        for lib in (torch, ember):
            lib.set_num_threads(1)
            assert lib.get_num_threads() == 1
        ember.set_num_threads(3)
        assert ember.get_num_threads() == 3
        ember.set_num_interop_threads(5)
        assert ember.get_num_interop_threads() == 5
    finally:
        ember.set_num_threads(saved[0])
        ember.set_num_interop_threads(saved[1])
        torch.set_num_threads(saved[0])


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
@pytest.mark.parametrize("name", ["set_num_threads", "set_num_interop_threads"])
def test_bad_counts_raise_torchs_errors(name, value):
    check_raises_like(lambda lib: getattr(lib, name)(value))


@pytest.mark.parametrize("name", ["set_num_threads", "set_num_interop_threads"])
def test_count_is_positional_only(name):
    for lib in (torch, ember):
        with pytest.raises(TypeError):
            getattr(lib, name)(num=1)


# NOTE [Batch-parallel kernels]: a convolution large enough splits its batch over the threads
# with the BLAS pool held at one thread meanwhile.
@needs_openblas
def test_batch_parallel_convolution_restores_the_pool_and_ignores_the_thread_count():
    got = _run("""
import numpy as np, ember
ember.set_num_threads(2)
ember.manual_seed(0)
conv = ember.nn.Conv2d(16, 32, 3, padding=1)
x = ember.randn(8, 16, 32, 32, requires_grad=True)
g = ember.randn(8, 32, 32, 32)
results = []
for threads in (2, 1):
    ember.set_num_threads(threads)
    x.grad = None
    conv.zero_grad()
    y = conv(x)
    y.backward(g)
    results.append([a.detach().numpy().copy() for a in (y, x.grad, conv.weight.grad)])
ember.set_num_threads(2)
conv(x).backward(g)
report(after=blas_threads(), same=[bool(np.array_equal(a, b)) for a, b in zip(*results)])
""")
    assert got["after"] == 2
    assert got["same"] == [True, True, True]


@pytest.mark.parametrize("transposed", [False, True])
def test_batch_parallel_convolution_matches_torch(transposed):
    saved = ember.get_num_threads()
    # float64: the weight gradient sums 5,400 products, beyond float32's default tolerance
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((6, 16, 30, 30))
    shape = (16, 24, 3, 3) if transposed else (24, 16, 3, 3)
    w_np = rng.standard_normal(shape) * 0.1
    b_np = rng.standard_normal(24)
    fn = "conv_transpose2d" if transposed else "conv2d"
    out = {}
    try:
        ember.set_num_threads(2)
        for lib in (torch, ember):
            x, w, b = (lib.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
            y = getattr(lib.nn.functional, fn)(x, w, b, padding=1)
            y.backward(lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
            out[lib] = (y, x.grad, w.grad, b.grad)
    finally:
        ember.set_num_threads(saved)
    for e, t in zip(out[ember], out[torch]):
        assert_same(e, t)


@needs_openblas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_parts_run_gets_the_blas_pool_back():
    # parts running in another thread when the process forks never finish in the child
    got = _run("""
import os
import ember
from ember import _threads
ember.set_num_threads(2)
_threads.set_blas_threads(1)
_threads._blas_held[:] = [1, 2]  # as run_parts leaves them while its parts run
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, f"{blas_threads()} {_threads._blas_held[0]}".encode())
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(read, 100).decode().split()
report(child_pool=int(child[0]), child_held=int(child[1]), parent_pool=blas_threads())
""")
    assert got == {"child_pool": 2, "child_held": 0, "parent_pool": 1}
