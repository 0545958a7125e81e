"""ember/_blas.py: the one-pass ``y = a x + b y`` and ``y += a x`` the optimizers use, against
the same expression in float64, and the cases that must fall back to NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from ember import _blas

# NumPy's wheels bundle the OpenBLAS whose entry points _blas uses; another NumPy build has
# only the NumPy path, which the optimizer tests cover
pytestmark = pytest.mark.skipif(not _blas._lookup(), reason="NumPy's BLAS is not OpenBLAS")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 100003])
def test_updates_match_the_expression(dtype, n):
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    eps = np.finfo(dtype).eps
    out = y.copy()
    assert _blas.axpby(0.1, x, 0.9, out)
    exact = 0.1 * x.astype(np.float64) + 0.9 * y.astype(np.float64)
    np.testing.assert_allclose(out, exact, rtol=4 * eps, atol=4 * eps)
    out = y.copy()
    assert _blas.axpy(-0.3, x, out)
    np.testing.assert_allclose(out, y.astype(np.float64) - 0.3 * x, rtol=4 * eps, atol=4 * eps)


def test_cut_arrays_give_the_same_bits():
    # a step split over threads updates flat ranges: each element's result must not depend
    # on where the cut falls (NOTE [Optimizer threads])
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10007).astype(np.float32)
    y = rng.standard_normal(10007).astype(np.float32)
    whole, pieces = y.copy(), y.copy()
    _blas.axpby(0.1, x, 0.9, whole)
    for start, stop in ((0, 5), (5, 17), (17, 4000), (4000, 10007)):
        _blas.axpby(0.1, x[start:stop], 0.9, pieces[start:stop])
    assert np.array_equal(whole, pieces)


@pytest.mark.parametrize("x,y", [
    (np.ones(4, np.float16), np.ones(4, np.float16)),  # no half-precision BLAS
    (np.ones(8, np.float32)[::2], np.ones(4, np.float32)),  # strided
    (np.ones(4, np.float32), np.ones(4, np.float64)),  # mixed dtypes
    (np.ones(4, np.float32), np.ones(5, np.float32)),  # mismatched sizes
])
def test_unsupported_arrays_are_left_to_numpy(x, y):
    before = y.copy()
    assert not _blas.usable(x, y)
    assert not _blas.axpby(2.0, x, 3.0, y)
    assert not _blas.axpy(2.0, x, y)
    assert np.array_equal(y, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(784, 256), (41, 100), (5000, 3), (1, 9000)])
def test_transposed_copy_is_numpys_copy(dtype, shape):
    # every bit, specials included, C-ordered
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[::97] = np.nan
    a.reshape(-1)[::89] = -0.0
    a.reshape(-1)[::83] = np.inf
    source = a.T
    out = _blas.transposed_copy(source)
    if source.flags.c_contiguous:  # a row or a column: NumPy's plain copy serves
        assert out is None
        return
    assert out.flags.c_contiguous and out.dtype == source.dtype and out.shape == source.shape
    assert np.array_equal(out.view(np.uint8), np.ascontiguousarray(source).view(np.uint8))


@pytest.mark.parametrize("array", [
    np.zeros((100, 100), np.float32),                   # C-ordered already
    np.zeros((100, 100), np.float16).T,                 # a dtype OpenBLAS has no copy for
    np.zeros((10, 20), np.float32).T,                   # small: NumPy's copy is faster
    np.zeros((200, 300), np.float32)[::2].T,            # strided, not a transposed matrix
    np.zeros((4, 100, 100), np.float32).transpose(0, 2, 1),  # not 2-d
])
def test_transposed_copy_leaves_other_layouts_to_numpy(array):
    assert _blas.transposed_copy(array) is None
