"""Mirrors ``torch.fft``: discrete Fourier transforms and their helpers.

Each function resizes its input (slices, then one zero pad, as torch does) and calls the
transform records of ember/_ops/fft.py in torch's order, so the values, result dtypes
(float32 -> complex64, integers and bool -> the default dtype's complex), errors and
graph nodes are torch's, and every gradient is differentiable again. ember computes with
NumPy's pocketfft where torch's CPU build uses MKL: values agree to float32 tolerance.
float16 and bfloat16 are refused, as torch's CPU build refuses them.
"""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._ops import fft as _k
from ember._ops.fft import NORM_N, NORM_NONE, NORM_ROOT_N
from ember._ops.nn_conv import CONSTANT_PAD
from ember._ops.registry import run
from ember._ops.shape import ROLL, _slice
from ember._tensor import Tensor, tensor_argument, wrap_dim

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft",
           "ifft2", "ifftn", "ifftshift", "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2",
           "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]


# ---- argument handling ----------------------------------------------------------------


def _norm_mode(norm, forward: bool, fname: str) -> int:
    """torch's normalisation mode of a transform: "backward" (the default) scales only the
    inverse by 1/n, "forward" only the forward, "ortho" both by 1/sqrt(n)."""
    if norm is None or norm == "backward":
        return NORM_NONE if forward else NORM_N
    if norm == "forward":
        return NORM_N if forward else NORM_NONE
    if norm == "ortho":
        return NORM_ROOT_N
    if not isinstance(norm, str):
        raise TypeError(f"{fname}(): argument 'norm' must be str, not {type(norm).__name__}")
    raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _check_int(value, name: str, fname: str) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{fname}(): argument '{name}' must be int, not "
                        f"{type(value).__name__}")


def _check_points(n: int) -> None:
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _promote(input: Tensor, require_complex: bool) -> Tensor:
    """``input`` in the dtype a transform computes in: integers and bool become the default
    float, and a complex transform of real input becomes complex (ToCopyBackward0)."""
    dtype = input.dtype
    if dtype in (_dtype.float16, _dtype.bfloat16):
        raise RuntimeError(f"Unsupported dtype {_dtype.scalar_type_name(dtype)}")
    if not (input.is_floating_point() or input.is_complex()):
        input = input.to(_dtype.get_default_dtype())
    if require_complex and not input.is_complex():
        input = input.to(_dtype.from_np(_k._complex_of(np, input._data.dtype)))
    return input


def _real_input(input: Tensor, fname: str, valued: bool = False) -> Tensor:
    if input.is_complex():
        real = "real-valued" if valued else "real"
        raise RuntimeError(f"{fname} expects a {real} input tensor, but got "
                           f"{_dtype.scalar_type_name(input.dtype)}")
    return _promote(input, False)


def _dim(input: Tensor, dim: int, fname: str) -> int:
    _check_int(dim, "dim", fname)
    if input.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, input.dim())


def _resize(input: Tensor, dims: tuple, sizes: tuple) -> Tensor:
    """``input`` cut (a slice per dim) or zero-padded (one pad) to ``sizes`` on ``dims``."""
    pads = [0] * input.dim()
    for d, size in zip(dims, sizes):
        have = input.shape[d]
        if have > size:
            input = _slice(input, d, 0, size)
        elif have < size:
            pads[d] = size - have
    if any(pads):
        first = next(d for d, p in enumerate(pads) if p)
        input = run(CONSTANT_PAD, input, tuple((0, p) for p in pads[first:]), 0)
    return input


def _canonical(input: Tensor, s, dim) -> tuple:
    """(dims, sizes) of an n-dimensional transform from its ``s`` and ``dim`` arguments,
    with torch's errors; a size of -1 keeps the input's."""
    ndim = input.dim()
    if isinstance(s, int):
        s = (s,)
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None and dim is not None and len(s) != len(dim):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    if dim is not None:
        dims = tuple(wrap_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    elif s is not None:
        if len(s) > ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                               f"{ndim} dimensions.")
        dims = tuple(range(ndim - len(s), ndim))
    else:
        dims = tuple(range(ndim))
    if s is None:
        sizes = tuple(input.shape[d] for d in dims)
    else:
        sizes = tuple(input.shape[d] if n == -1 else n for d, n in zip(dims, s))
    return dims, sizes


# ---- one-dimensional transforms ---------------------------------------------------------


def _one_dim(input: Tensor, n, dim: int, fname: str) -> tuple:
    _check_int(n, "n", fname)
    d = _dim(input, dim, fname)
    size = input.shape[d] if n is None else n
    _check_points(size)
    return d, size


def _c2c_1d(input: Tensor, n, dim: int, norm, forward: bool, fname: str) -> Tensor:
    d, size = _one_dim(input, n, dim, fname)
    mode = _norm_mode(norm, forward, fname)
    input = _promote(input, False)
    input = _resize(input, (d,), (size,))
    if input.is_complex():
        return _k.c2c(input, (d,), mode, forward)
    out = _k.r2c(input, (d,), mode, False)
    return out if forward else out.conj()


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.fft``: the one-dimensional DFT along ``dim``, the input cut or
    zero-padded to ``n`` points first. ``norm``: "backward" (default, unscaled), "forward"
    (1/n) or "ortho" (1/sqrt(n))."""
    return _c2c_1d(input, n, dim, norm, True, "fft_fft")


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ifft``: the inverse of ``fft`` (``norm`` as there, the 1/n of
    "backward" on this side)."""
    return _c2c_1d(input, n, dim, norm, False, "fft_ifft")


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.rfft``: the DFT of a real signal, its ``n // 2 + 1`` non-negative
    frequency bins."""
    input = _real_input(input, "rfft")
    d, size = _one_dim(input, n, dim, "fft_rfft")
    mode = _norm_mode(norm, True, "fft_rfft")
    return _k.r2c(_resize(input, (d,), (size,)), (d,), mode, True)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.irfft``: the real signal of ``n`` points (default
    ``2 * (m - 1)`` for ``m`` input bins) whose half spectrum is ``input``; the imaginary
    parts of the zero (and Nyquist) bins are ignored."""
    _check_int(n, "n", "fft_irfft")
    d = _dim(input, dim, "fft_irfft")
    size = 2 * (input.shape[d] - 1) if n is None else n
    _check_points(size)
    mode = _norm_mode(norm, False, "fft_irfft")
    input = _resize(_promote(input, True), (d,), (size // 2 + 1,))
    return _k.c2r(input, (d,), mode, size)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.hfft``: the (real) DFT of a Hermitian-symmetric signal given by
    its first half, ``n`` output points (default ``2 * (m - 1)``)."""
    _check_int(n, "n", "fft_hfft")
    d = _dim(input, dim, "fft_hfft")
    size = 2 * (input.shape[d] - 1) if n is None else n
    _check_points(size)
    mode = _norm_mode(norm, True, "fft_hfft")
    input = _resize(_promote(input, True), (d,), (size // 2 + 1,))
    return _k.c2r(input.conj(), (d,), mode, size)


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ihfft``: the inverse of ``hfft`` for a real signal, its
    ``n // 2 + 1`` first bins."""
    input = _real_input(input, "ihfft")
    d, size = _one_dim(input, n, dim, "fft_ihfft")
    mode = _norm_mode(norm, False, "fft_ihfft")
    return _k.r2c(_resize(input, (d,), (size,)), (d,), mode, True).conj()


# ---- n-dimensional transforms -------------------------------------------------------------


def _c2c_n(input: Tensor, s, dim, norm, forward: bool, fname: str) -> Tensor:
    mode = _norm_mode(norm, forward, fname)
    dims, sizes = _canonical(input, s, dim)
    for size in sizes:
        _check_points(size)
    input = _resize(_promote(input, True), dims, sizes)
    return _k.c2c(input, dims, mode, forward)


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.fftn``: the DFT over ``dim`` (default: all dims, or the last
    ``len(s)``), each cut or zero-padded to its size in ``s`` (-1: unchanged)."""
    return _c2c_n(input, s, dim, norm, True, "fft_fftn")


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ifftn``: the inverse of ``fftn``."""
    return _c2c_n(input, s, dim, norm, False, "fft_ifftn")


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.fft2``: ``fftn`` over the last two dims by default."""
    return _c2c_n(input, s, dim, norm, True, "fft_fft2")


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ifft2``: ``ifftn`` over the last two dims by default."""
    return _c2c_n(input, s, dim, norm, False, "fft_ifft2")


def _half_n(input: Tensor, s, dim, fname: str, name: str, from_bins: bool) -> tuple:
    """(dims, sizes, last size) of a transform whose last dim is halved; ``from_bins``: the
    input holds bins (irfftn, hfftn), whose default signal size is ``2 * (m - 1)``."""
    dims, sizes = _canonical(input, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    last = sizes[-1]
    if from_bins and (s is None or (s[-1] if not isinstance(s, int) else s) == -1):
        last = 2 * (input.shape[dims[-1]] - 1)
    for size in sizes[:-1] + (last,):
        _check_points(size)
    return dims, sizes, last


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.rfftn``: ``fftn`` of a real signal, the last transformed dim
    keeping its ``n // 2 + 1`` non-negative frequency bins."""
    if input.is_complex():
        _real_input(input, "rfftn", valued=True)
    mode = _norm_mode(norm, True, "fft_rfftn")
    dims, sizes, _ = _half_n(input, s, dim, "fft_rfftn", "rfftn", False)
    input = _resize(_promote(input, False), dims, sizes)
    return _k.r2c(input, dims, mode, True)


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.irfftn``: the inverse of ``rfftn``; the last transformed dim's
    signal size is ``s[-1]`` or ``2 * (m - 1)``."""
    mode = _norm_mode(norm, False, "fft_irfftn")
    dims, sizes, last = _half_n(input, s, dim, "fft_irfftn", "irfftn", True)
    input = _resize(_promote(input, True), dims, sizes[:-1] + (last // 2 + 1,))
    return _k.c2r(input, dims, mode, last)


def hfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.hfftn``: the real n-dimensional DFT of a Hermitian signal given
    by the first half of its last transformed dim."""
    mode = _norm_mode(norm, True, "fft_hfftn")
    dims, sizes, last = _half_n(input, s, dim, "fft_hfftn", "hfftn", True)
    input = _resize(_promote(input, True), dims, sizes[:-1] + (last // 2 + 1,))
    if len(dims) > 1:
        input = _k.c2c(input, dims[:-1], mode, True)
    return _k.c2r(input.conj(), dims[-1:], mode, last)


def ihfftn(input: Tensor, s=None, dim=None, norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ihfftn``: the inverse of ``hfftn`` for a real signal, the last
    transformed dim keeping ``n // 2 + 1`` bins."""
    if input.is_complex():
        raise RuntimeError(f"Only supports floating-point dtypes, but found: "
                           f"{_dtype.scalar_type_name(input.dtype)}")
    mode = _norm_mode(norm, False, "fft_ihfftn")
    dims, sizes, _ = _half_n(input, s, dim, "fft_ihfftn", "ihfftn", False)
    input = _resize(_promote(input, False), dims, sizes)
    half = _k.r2c(input, dims[-1:], mode, True)
    if len(dims) == 1:
        return half.conj()
    return _k.c2c(half.conj_physical(), dims[:-1], mode, False)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.rfft2``: ``rfftn`` over the last two dims by default."""
    return rfftn(input, s, dim, norm)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.irfft2``: ``irfftn`` over the last two dims by default."""
    return irfftn(input, s, dim, norm)


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.hfft2``: ``hfftn`` over the last two dims by default."""
    return hfftn(input, s, dim, norm)


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None) -> Tensor:
    """Mirrors ``torch.fft.ihfft2``: ``ihfftn`` over the last two dims by default."""
    return ihfftn(input, s, dim, norm)


# ---- helpers ------------------------------------------------------------------------------


def _freq(n: int, d: float, dtype, requires_grad: bool, fname: str, onesided: bool):
    from ember._ops.creation import _finish

    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"{fname}(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    dtype = dtype or _dtype.get_default_dtype()
    if dtype.is_complex:
        raise NotImplementedError(
            f"\"arange_cpu\" not implemented for '{_dtype.scalar_type_name(dtype)}'")
    if not dtype.is_floating_point:
        raise RuntimeError(f"{fname[4:]} requires a floating point or complex dtype")
    size = n // 2 + 1 if onesided else n
    if size < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                           f"[{size}]")
    bins = np.arange(size, dtype=np.int64)
    if not onesided:
        bins[(n + 1) // 2:] -= n
    d = d.item() if isinstance(d, Tensor) else d
    # torch scales by the reciprocal, rounded to the dtype: one multiplication
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.asarray(1.0 / (n * d) if n * d else np.inf).astype(dtype.np)
        data = (bins.astype(dtype.np) * scale).astype(dtype.np)
    return _finish(data, requires_grad)


def fftfreq(n: int, d: float = 1.0, *, dtype=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.fft.fftfreq``: the sample frequencies of an ``n``-point DFT with
    sample spacing ``d``: ``[0, 1, ..., -2, -1] / (n * d)``, in ``dtype`` (default
    float)."""
    from ember._device import place

    place(device)
    return _freq(n, d, dtype, requires_grad, "fft_fftfreq", False)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.fft.rfftfreq``: the ``n // 2 + 1`` non-negative frequencies of
    ``fftfreq``."""
    from ember._device import place

    place(device)
    return _freq(n, d, dtype, requires_grad, "fft_rfftfreq", True)


def _shift(input: Tensor, dim, inverse: bool) -> Tensor:
    ndim = input.dim()
    if dim is None:
        dims = tuple(range(ndim))
    elif isinstance(dim, int):
        dims = (wrap_dim(dim, ndim),)
    else:
        dims = tuple(wrap_dim(d, ndim) for d in dim)
    if not dims:
        raise RuntimeError("`shifts` required")
    shifts = tuple((input.shape[d] + inverse) // 2 for d in dims)
    return run(ROLL, input, shifts, dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.fft.fftshift``: rolls the zero frequency to the centre of each of
    ``dim`` (default all), by ``n // 2``."""
    tensor_argument("fft_fftshift", "input", input, 1)
    return _shift(input, dim, False)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """Mirrors ``torch.fft.ifftshift``: the inverse of ``fftshift`` (a roll by
    ``(n + 1) // 2``)."""
    tensor_argument("fft_ifftshift", "input", input, 1)
    return _shift(input, dim, True)


from ember._ops.out import install as _install_out  # noqa: E402 - torch's out= keyword

_install_out(globals(), "fft.")
