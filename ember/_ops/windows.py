"""torch's window functions: ``hann_window``, ``hamming_window``, ``blackman_window``,
``bartlett_window`` and ``kaiser_window``.

NOTE [Window arithmetic]
torch builds a window from ``arange`` in the output dtype and a few in-place steps, each
rounded to that dtype (for float16 and bfloat16 each step is computed in float32 and
rounded back). ember takes the same steps in the same order, so ``bartlett_window``, which
needs no transcendental function, has torch's bits; the cosine windows differ from torch
only where NumPy's ``cos`` kernel rounds differently from torch's (about one ulp), and the
Kaiser window where the Bessel function ``i0`` does.
"""
from __future__ import annotations

import math

from ember import _dtype
from ember._backend import np
from ember._device import place as _place
from ember._ops.creation import _finish, check_tensor_options

__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window",
           "kaiser_window"]


def _options_repr(dtype, given_dtype: bool, layout) -> str:
    # torch prints the factory's TensorOptions, marking the defaults it filled in.
    dtype_text = _dtype.cpp_type_name(dtype) + ("" if given_dtype else " (default)")
    layout_text = "Strided" if layout is not None else "Strided (default)"
    return (f"TensorOptions(dtype={dtype_text}, device=cpu, layout={layout_text}, "
            "requires_grad=false (default), pinned_memory=false, memory_format=(nullopt))")


def _positions(name: str, window_length, periodic, dtype, layout, device,
               pin_memory) -> tuple:
    """Check the arguments as torch does; return the window length and the output dtype."""
    if type(window_length) is not int:
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if type(periodic) is not bool:
        raise TypeError(f"{name}(): argument 'periodic' (position 2) must be bool, not "
                        f"{type(periodic).__name__}")
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options(name, layout, pin_memory)
    out_dtype = dtype or _dtype.get_default_dtype()
    if out_dtype.is_complex:
        raise NotImplementedError(
            f"\"arange_cpu\" not implemented for '{_dtype.scalar_type_name(out_dtype)}'")
    if not out_dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: "
                           f"{_options_repr(out_dtype, dtype is not None, layout)}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    return window_length, out_dtype


def _compute_dtype(out_dtype):
    # float16 / bfloat16 steps run in float32, each rounded back (NOTE [Window arithmetic])
    return np.dtype(np.float64) if out_dtype is _dtype.float64 else np.dtype(np.float32)


def _constant(value: float, out_dtype, compute):
    # torch converts a step's Python number to the tensor's dtype first
    return compute.type(out_dtype.np.type(value))


def _rounded(values, out_dtype, compute):
    if out_dtype.np == compute:
        return values
    return values.astype(out_dtype.np).astype(compute)


def _cosine_window(name: str, window_length, periodic, terms, dtype, layout, device,
                   pin_memory, requires_grad):
    """``terms[0] + sum_k terms[k] * cos(2 pi k n / (m - 1))``, in torch's step order:
    each cosine's argument is ``n * (2 pi k / (m - 1))`` rounded to the dtype, and the terms
    are accumulated from the highest frequency down."""
    n, out_dtype = _positions(name, window_length, periodic, dtype, layout, device, pin_memory)
    if n <= 1:
        return _finish(np.ones(n, out_dtype.np), requires_grad)
    m = n + 1 if periodic else n
    compute = _compute_dtype(out_dtype)
    positions = _rounded(np.arange(m, dtype=compute), out_dtype, compute)
    result = None
    for k in range(len(terms) - 1, 0, -1):
        step = _constant(math.pi * 2.0 * k / (m - 1), out_dtype, compute)
        angle = _rounded(positions * step, out_dtype, compute)
        term = _rounded(np.cos(angle), out_dtype, compute)
        term = _rounded(term * _constant(terms[k], out_dtype, compute), out_dtype, compute)
        result = term if result is None else _rounded(result + term, out_dtype, compute)
    result = _rounded(result + _constant(terms[0], out_dtype, compute), out_dtype, compute)
    return _finish(np.ascontiguousarray(result[:n]).astype(out_dtype.np, copy=False),
                   requires_grad)


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, pin_memory: bool = False, requires_grad: bool = False):
    """Mirrors ``torch.hann_window``: ``0.5 - 0.5 cos(2 pi n / (N - 1))`` with ``N`` the
    window length, plus one when ``periodic`` (the extra last value is dropped). Float dtypes
    only, as in torch. Bits as torch's up to the cosine kernel (NOTE [Window arithmetic])."""
    return _cosine_window("hann_window", window_length, periodic, (0.5, -0.5), dtype, layout,
                          device, pin_memory, requires_grad)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   pin_memory: bool = False, requires_grad: bool = False):
    """Mirrors ``torch.hamming_window``: ``alpha - beta cos(2 pi n / (N - 1))`` (see
    ``hann_window`` for ``N`` and ``periodic``)."""
    for arg, value, pos in (("alpha", alpha, 3), ("beta", beta, 4)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"hamming_window(): argument '{arg}' (position {pos}) must be "
                            f"float, not {type(value).__name__}")
    return _cosine_window("hamming_window", window_length, periodic, (alpha, -beta), dtype,
                          layout, device, pin_memory, requires_grad)


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, pin_memory: bool = False, requires_grad: bool = False):
    """Mirrors ``torch.blackman_window``:
    ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))`` (see ``hann_window``)."""
    return _cosine_window("blackman_window", window_length, periodic, (0.42, -0.5, 0.08),
                          dtype, layout, device, pin_memory, requires_grad)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, pin_memory: bool = False, requires_grad: bool = False):
    """Mirrors ``torch.bartlett_window``: the triangle ``1 - |2n / (N - 1) - 1|`` (see
    ``hann_window``); torch's bits (NOTE [Window arithmetic])."""
    n, out_dtype = _positions("bartlett_window", window_length, periodic, dtype, layout,
                              device, pin_memory)
    if n <= 1:
        return _finish(np.ones(n, out_dtype.np), requires_grad)
    m = n + 1 if periodic else n
    compute = _compute_dtype(out_dtype)
    positions = _rounded(np.arange(m, dtype=compute), out_dtype, compute)
    rising = _rounded(positions * _constant(2.0 / (m - 1), out_dtype, compute), out_dtype, compute)
    # past the middle the triangle falls: 2 - 2n / (N - 1)
    result = np.where(rising > 1, _rounded(compute.type(2.0) - rising, out_dtype, compute),
                      rising)
    return _finish(np.ascontiguousarray(result[:n]).astype(out_dtype.np, copy=False),
                   requires_grad)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, layout=None, device=None, pin_memory: bool = False,
                  requires_grad: bool = False):
    """Mirrors ``torch.kaiser_window``: ``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)``
    with ``a = (N - 1) / 2`` (see ``hann_window`` for ``N`` and ``periodic``). ember computes
    in float64 and rounds once to the dtype, within an ulp of torch's value."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"kaiser_window(): argument 'beta' (position 3) must be float, not "
                        f"{type(beta).__name__}")
    n, out_dtype = _positions("kaiser_window", window_length, periodic, dtype, layout, device,
                              pin_memory)
    if n <= 1:
        return _finish(np.ones(n, out_dtype.np), requires_grad)
    m = n + 1 if periodic else n
    alpha = (m - 1) / 2.0
    # torch's positions are an arange in the output dtype (bfloat16 rounds past 256)
    positions = np.arange(m, dtype=out_dtype.np).astype(np.float64)
    ratio = (positions - alpha) / alpha
    values = np.i0(beta * np.sqrt(np.maximum(1.0 - ratio * ratio, 0.0))) / np.i0(beta)
    return _finish(np.ascontiguousarray(values[:n]).astype(out_dtype.np), requires_grad)
