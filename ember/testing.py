"""``ember.testing``: mirrors ``torch.testing``: ``assert_close`` (torch's default
tolerances per dtype and its mismatch messages) and ``make_tensor`` (the same draws from
the global generator as torch's, so the same values after ``manual_seed``)."""
from __future__ import annotations

import collections.abc
import math
import warnings

from ember import _dtype
from ember._backend import ndarray, np
from ember._tensor import Tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# (rtol, atol) by dtype, torch.testing's defaults; other dtypes compare exactly.
_TOLERANCES = {
    _dtype.float16: (1e-3, 1e-5), _dtype.bfloat16: (1.6e-2, 1e-5),
    _dtype.float32: (1.3e-6, 1e-5), _dtype.float64: (1e-7, 1e-7),
    _dtype.complex64: (1.3e-6, 1e-5), _dtype.complex128: (1e-7, 1e-7),
}


class _Mismatch(AssertionError):
    pass


def _tolerances(*dtypes, rtol, atol) -> tuple:
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    if rtol is not None:
        return rtol, atol
    pairs = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _number_dtype(x) -> _dtype.dtype:
    if isinstance(x, bool):
        return _dtype.bool_
    if isinstance(x, int):
        return _dtype.int64
    if isinstance(x, float):
        return _dtype.float64
    return _dtype.complex128


def _is_number(x) -> bool:
    return isinstance(x, (bool, int, float, complex))


def _as_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, ndarray):
        from ember._ops.creation import from_numpy

        return from_numpy(x)
    return None


def _compare(actual, expected, *, rtol, atol, equal_nan, check_dtype, check_stride,
             allow_subclasses, path: str) -> None:
    # a NumPy scalar is compared as the Python number it holds, as torch's
    actual = actual.item() if isinstance(actual, np.generic) else actual
    expected = expected.item() if isinstance(expected, np.generic) else expected
    if _is_number(actual) and _is_number(expected):
        if check_dtype and type(actual) is not type(expected):
            raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
        dtypes = (_number_dtype(actual), _number_dtype(expected))
        r, a = _tolerances(*dtypes, rtol=rtol, atol=atol)
        _compare_values(np.asarray(actual), np.asarray(expected), r, a, equal_nan, True, path)
        return
    a_t, e_t = _as_tensor(actual), _as_tensor(expected)
    if a_t is not None and e_t is not None:
        # a tensor and an array are not a pair torch compares; two of either kind are
        if isinstance(actual, Tensor) != isinstance(expected, Tensor) or (
                not allow_subclasses and type(actual) is not type(expected)):
            raise TypeError(f"No comparison pair was able to handle inputs of type "
                            f"{type(actual)} and {type(expected)}.")
        _compare_tensors(a_t, e_t, rtol, atol, equal_nan, check_dtype, check_stride, path)
        return
    if (isinstance(actual, collections.abc.Sequence) and not isinstance(actual, str)
            and isinstance(expected, collections.abc.Sequence)
            and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != "
                            f"{len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype,
                     check_stride=check_stride, allow_subclasses=allow_subclasses,
                     path=f"{path}[{i}]")
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(
            expected, collections.abc.Mapping):
        keys_a, keys_e = set(actual), set(expected)
        if keys_a != keys_e:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual "
                            f"mapping: {sorted(keys_e - keys_a)}\nAdditional keys in the actual "
                            f"mapping: {sorted(keys_a - keys_e)}")
        for key in expected:
            _compare(actual[key], expected[key], rtol=rtol, atol=atol, equal_nan=equal_nan,
                     check_dtype=check_dtype, check_stride=check_stride,
                     allow_subclasses=allow_subclasses, path=f"{path}[{key!r}]")
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _compare_tensors(actual: Tensor, expected: Tensor, rtol, atol, equal_nan, check_dtype,
                     check_stride, path) -> None:
    if actual.shape != expected.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {actual.shape} != "
                        f"{expected.shape}.")
    if check_dtype and actual.dtype is not expected.dtype:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {actual.dtype} != "
                        f"{expected.dtype}.")
    if check_stride and actual.numel() > 1 and actual.stride() != expected.stride():
        raise _Mismatch(f"The values for attribute 'stride()' do not match: "
                        f"{actual.stride()} != {expected.stride()}.")
    r, a = _tolerances(actual.dtype, expected.dtype, rtol=rtol, atol=atol)
    common = _dtype.promote_types(actual.dtype, expected.dtype)
    a_data = actual.detach().to(common)._data
    e_data = expected.detach().to(common)._data
    rounding = None
    if common is _dtype.bfloat16:  # NumPy's math on ml_dtypes' bfloat16 goes through float32
        a_data, e_data = a_data.astype(np.float32), e_data.astype(np.float32)
        rounding = common.np
    _compare_values(a_data, e_data, r, a, equal_nan, actual.dim() == 0, path, rounding)


def _compare_values(actual, expected, rtol, atol, equal_nan, scalar: bool, path: str,
                    rounding=None) -> None:
    """``rounding``: the dtype torch computes the reported differences in, when the values
    arrive widened (bfloat16's, in float32)."""
    exact = rtol == 0 and atol == 0
    if actual.dtype.kind in "biu":
        actual, expected = actual.astype(np.int64), expected.astype(np.int64)
        matches = actual == expected
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            matches = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)
            # torch's isclose: equal values (infinities included) always match
            matches |= actual == expected
    if matches.all():
        return
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(actual - expected)
        if abs_diff.dtype.kind in "iu":
            rel_diff = abs_diff.astype(np.float32) / np.abs(expected).astype(np.float32)
        elif rounding is not None:  # each of torch's steps rounds to the narrow dtype
            abs_diff = abs_diff.astype(rounding).astype(np.float32)
            rel_diff = (abs_diff / np.abs(expected)).astype(rounding).astype(np.float32)
        else:
            rel_diff = abs_diff / np.abs(expected)
    word = "equal" if exact else "close"

    def allowed(tol) -> str:
        return "" if exact else f" (up to {tol} allowed)"

    if scalar:  # torch reports one-element differences in Python arithmetic
        a, e = actual.item(), expected.item()
        diff = abs(a - e)
        rel = diff / abs(e) if e != 0 else (math.nan if diff != diff else math.inf)
        msg = (f"Scalars are not {word}!\n\nExpected {e} but got {a}.\nAbsolute difference: "
               f"{diff}{allowed(atol)}\nRelative difference: {rel}{allowed(rtol)}")
    else:
        abs_diff = np.where(matches, 0, abs_diff).ravel()
        rel_diff = np.where(matches, 0, rel_diff).ravel()
        n_bad, n = int((~matches).sum()), matches.size
        i_abs, i_rel = _argmax(abs_diff), _argmax(rel_diff)
        shape = matches.shape
        msg = (f"Tensor-likes are not {word}!\n\nMismatched elements: {n_bad} / {n} "
               f"({n_bad / n * 100:.1f}%)\nGreatest absolute difference: "
               f"{abs_diff[i_abs].item()} at index {_index(i_abs, shape)}{allowed(atol)}\n"
               f"Greatest relative difference: {rel_diff[i_rel].item()} at index "
               f"{_index(i_rel, shape)}{allowed(rtol)}")
    if path:
        msg += f"\n\nThe failure occurred for item {path}"
    raise _Mismatch(msg)


def _index(flat: int, shape: tuple) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _argmax(values) -> int:
    # torch.max propagates NaN: the first NaN wins, as np.argmax does
    return int(np.argmax(values))


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False, msg=None) -> None:
    """Mirrors ``torch.testing.assert_close``: ``actual`` and ``expected`` (tensors, NumPy
    arrays, Python numbers, or sequences and mappings of them) match in shape and dtype and
    satisfy ``|actual - expected| <= atol + rtol * |expected|`` elementwise. Without
    ``rtol``/``atol`` torch's defaults for the dtype apply (float32: 1.3e-6 and 1e-5;
    integers and bool: exact). On failure it raises AssertionError with torch's message
    (mismatched elements, greatest differences and their indices), or ``msg`` (a string,
    or a callable given torch's message). All ember tensors are on the CPU with one
    layout, so ``check_device`` and ``check_layout`` always hold."""
    try:
        _compare(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=check_dtype, check_stride=check_stride,
                 allow_subclasses=allow_subclasses, path="")
    except _Mismatch as error:
        text = str(error)
        if msg is not None:
            text = msg(text) if callable(msg) else msg
        raise AssertionError(text) from None


def make_tensor(*shape, dtype: _dtype.dtype, device, low: float | None = None,
                high: float | None = None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """Mirrors ``torch.testing.make_tensor``: a tensor of ``shape`` with values drawn
    uniformly from ``[low, high)`` (defaults by dtype: bool [0, 2), unsigned [0, 10),
    signed integers [-9, 10), floating and complex [-9, 9)), drawn from the global
    generator as torch draws them (``randint`` for bool and integers, ``uniform_`` for
    floats and for the real view of complex tensors), so the values equal torch's after
    the same ``manual_seed``. ``noncontiguous`` gives a strided view, ``exclude_zero``
    replaces zeros by 1 (integers) or the dtype's ``tiny``."""
    from ember._device import place
    from ember._ops.creation import empty
    from ember._ops.random import randint
    from ember._ops.shape import view_as_real

    place(device)
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    integral = dtype.category in (_dtype.BOOL, _dtype.INT)
    if requires_grad and integral:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype is _dtype.bool_:
        low, high = _range(dtype, low, high, 0, 2, 0, 2)
        result = randint(low, high, shape, dtype=dtype)
    elif integral:
        info = np.iinfo(dtype.np)
        top = int(info.max) + (1 if dtype is not _dtype.int64 else 0)
        low, high = _range(dtype, low, high, int(info.min), top, -9, 10)
        result = randint(low, high, shape, dtype=dtype)
    else:
        finfo = _dtype.finfo(dtype)
        low, high = _range(dtype, low, high, finfo.min, finfo.max, -9, 9)
        result = empty(shape, dtype=dtype)
        target = view_as_real(result) if dtype.category == _dtype.COMPLEX else result
        if high - low >= _dtype.finfo(target.dtype).max:  # the span itself would overflow
            target.uniform_(low / 2, high / 2).mul_(2)
        else:
            target.uniform_(low, high)
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        result[result == 0] = 1 if integral else _dtype.finfo(dtype).tiny
    if not integral:
        result.requires_grad = requires_grad
    return result


def _range(dtype, low, high, lowest, highest, default_low, default_high) -> tuple:
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    floating = dtype.category >= _dtype.FLOAT
    if low == high and floating:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. Use "
                      "`torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if not floating:
        return math.ceil(low), math.ceil(high)
    return low, high


# (rtol, atol) of the deprecated ``assert_allclose`` by dtype; other dtypes compare exactly
_ALLCLOSE_TOLERANCES = {_dtype.float16: (1e-3, 1e-3), _dtype.float32: (1e-4, 1e-5),
                        _dtype.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol: float | None = None, atol: float | None = None,
                    equal_nan: bool = True, msg: str = "") -> None:
    """Mirrors the deprecated ``torch.testing.assert_allclose`` (with its FutureWarning):
    ``assert_close`` with the older default tolerances (the larger of the two dtypes'),
    nan equal to nan, the dtypes and strides left unchecked; a non-tensor ``expected`` is
    made in ``actual``'s dtype."""
    from ember._ops.creation import tensor

    warnings.warn(
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a "
        "future release. Please use `torch.testing.assert_close()` instead. You can find "
        "detailed upgrade instructions in https://github.com/pytorch/pytorch/issues/61844.",
        FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        pairs = [_ALLCLOSE_TOLERANCES.get(t.dtype, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, check_stride=False, msg=msg or None)
