"""The discrete Fourier transforms as op records, and ``stft`` / ``istft`` built on them.

Three records, as torch has: complex-to-complex (``FftC2CBackward0``), real-to-complex
(``FftR2CBackward0``) and complex-to-real (``FftC2RBackward0``), each over a tuple of dims
with a normalisation mode. The public functions of ``ember.fft`` (ember/fft.py) resize their
input and compose these records the way torch does, so the nodes a user sees are torch's.
Every backward is again a transform (NOTE [Transform adjoints]), so gradients of any order
work. This module loads with ``ember.fft`` or the first ``stft``/``istft`` call, never with
``import ember``.
"""
from __future__ import annotations

from ember import _dtype
from ember._backend import np
from ember._ops.nn_conv import CONSTANT_PAD
from ember._ops.registry import KEEP, attach, defop, run
from ember._tensor import Tensor, make

# Normalisation modes: the scale a transform over signals of N points applies.
NORM_NONE = 0      # 1
NORM_ROOT_N = 1    # 1 / sqrt(N)
NORM_N = 2         # 1 / N

# numpy's ``norm`` names for (mode, forward direction?): numpy scales its forward transform
# by 1 for "backward", 1/N for "forward"; its inverse by 1/N for "backward", 1 for "forward".
_NUMPY_NORM = {
    (NORM_NONE, True): "backward", (NORM_N, True): "forward", (NORM_ROOT_N, True): "ortho",
    (NORM_NONE, False): "forward", (NORM_N, False): "backward", (NORM_ROOT_N, False): "ortho",
}

# NOTE [Transform adjoints]
# Each transform is linear, so its gradient is its adjoint applied to ``grad`` (torch's
# complex convention, NOTE [Complex gradients] in autograd/graph.py, makes that the
# conjugate transpose). The adjoint of an unnormalised forward DFT is the unnormalised
# inverse DFT, with the same scale: c2c's backward is c2c the other way. r2c keeps the first
# n // 2 + 1 outputs of a real signal's DFT: its adjoint zero-pads ``grad`` back to n points,
# takes the inverse c2c and keeps the real part. c2r reads its input as the half spectrum of
# a real signal, each bin between DC and Nyquist standing for itself and its mirror image:
# its adjoint is r2c of ``grad`` with those bins counted twice.


def _c2c_forward(xp, x, dims, mode, forward):
    if not dims:
        return x.astype(_complex_of(xp, x.dtype))
    fn = xp.fft.fftn if forward else xp.fft.ifftn
    return fn(x, axes=dims, norm=_NUMPY_NORM[mode, forward])


def _r2c_forward(xp, x, dims, mode, onesided):
    if onesided:
        return xp.fft.rfftn(x, axes=dims, norm=_NUMPY_NORM[mode, True])
    return xp.fft.fftn(x, axes=dims, norm=_NUMPY_NORM[mode, True])


def _c2r_forward(xp, x, dims, mode, last_dim_size):
    sizes = [x.shape[d] for d in dims[:-1]] + [last_dim_size]
    return xp.fft.irfftn(x, s=sizes, axes=dims, norm=_NUMPY_NORM[mode, False])


def _complex_of(xp, np_dtype):
    return xp.result_type(np_dtype, xp.complex64)


def _r2c_backward(grad, self, dims, mode, onesided):
    last = dims[-1]
    n = self.shape[last]
    if onesided and grad.shape[last] != n:
        pads = ((0, n - grad.shape[last]),) + ((0, 0),) * (grad.dim() - 1 - last)
        grad = run(CONSTANT_PAD, grad, pads, 0)
    return run(C2C, grad, dims, mode, False).real


def _c2r_backward(grad, self, dims, mode, last_dim_size):
    half = run(R2C, grad, dims, mode, True)
    last = dims[-1]
    doubled = last_dim_size - half.shape[last]
    if doubled <= 0:
        return half
    shape = [1] * half.dim()
    shape[last] = half.shape[last]
    weights = np.ones(shape, grad._data.dtype)
    weights[(slice(None),) * last + (slice(1, 1 + doubled),)] = 2
    return half * make(weights)


C2C = defop("fft_c2c", node="FftC2CBackward0", kind=KEEP, forward=_c2c_forward,
            backward=lambda grad, self, dims, mode, forward: run(C2C, grad, dims, mode,
                                                                 not forward),
            real_formulas=False)
R2C = defop("fft_r2c", node="FftR2CBackward0", kind=KEEP, forward=_r2c_forward, save=(0,),
            backward=_r2c_backward, real_formulas=False)
C2R = defop("fft_c2r", node="FftC2RBackward0", kind=KEEP, forward=_c2r_forward,
            backward=_c2r_backward, real_formulas=False)


def c2c(x: Tensor, dims: tuple, mode: int, forward: bool) -> Tensor:
    """torch's ``_fft_c2c``: the DFT (or inverse DFT) of complex ``x`` over ``dims``."""
    return run(C2C, x, dims, mode, forward)


def r2c(x: Tensor, dims: tuple, mode: int, onesided: bool) -> Tensor:
    """torch's ``_fft_r2c``: the forward DFT of real ``x`` over ``dims``, the last of them
    halved to n // 2 + 1 bins when ``onesided``."""
    return run(R2C, x, dims, mode, onesided)


def c2r(x: Tensor, dims: tuple, mode: int, last_dim_size: int) -> Tensor:
    """torch's ``_fft_c2r``: the real signal (``last_dim_size`` points on the last of
    ``dims``) whose half spectrum is ``x``; the unnormalised inverse DFT."""
    return run(C2R, x, dims, mode, last_dim_size)


# ---- stft / istft ------------------------------------------------------------------------


def _type_repr(t: Tensor) -> str:
    return f"{_dtype.legacy_type_name(t._data.dtype)}{list(t.shape)}"


def _stft_call(input, n_fft, hop, win, window, normalized, onesided, return_complex,
               align) -> str:
    window_repr = "None" if window is None else (
        f"{_dtype.legacy_type_name(window._data.dtype)}{{{list(window.shape)}}}")
    return (f"stft({_type_repr(input)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
            f"window={window_repr}, normalized={int(normalized)}, "
            f"onesided={_opt_flag(onesided)}, return_complex={_opt_flag(return_complex)}, "
            f"align_to_window={_opt_flag(align)})")


def _opt_flag(value) -> str:
    return "None" if value is None else str(int(value))


def _window_to(window: Tensor | None, n_fft: int, win_length: int) -> Tensor | None:
    """``window`` zero-padded on both sides to ``n_fft`` points, as torch centres it."""
    if window is None or win_length == n_fft:
        return window
    left = (n_fft - win_length) // 2
    return run(CONSTANT_PAD, window, ((left, n_fft - win_length - left),), 0)


def stft(input: Tensor, n_fft: int, hop_length: int | None = None,
         win_length: int | None = None, window: Tensor | None = None, center: bool = True,
         pad_mode: str = "reflect", normalized: bool = False, onesided: bool | None = None,
         return_complex: bool | None = None, align_to_window: bool | None = None) -> Tensor:
    """Mirrors ``torch.stft``: the DFTs of ``n_fft``-point frames of ``input`` (1-D, or 2-D
    with a batch dim), ``hop_length`` apart (default ``n_fft // 4``), each multiplied by
    ``window`` (``win_length`` points, default ``n_fft``, centred in the frame; ones when
    None). ``center`` pads ``n_fft // 2`` points each side with ``pad_mode`` (as
    ``nn.functional.pad``); ``normalized`` scales by ``n_fft ** -0.5``; ``onesided`` (default
    for real input and window) keeps ``n_fft // 2 + 1`` bins. ``return_complex`` must be
    given for real input; False returns ``view_as_real`` of the result (deprecated in
    torch). ``align_to_window`` (only with ``center=False``) starts each frame where its
    window starts. Result: (batch?, bins, frames). The frames are one strided view of the
    input and the transform one call over all of them."""
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if window is None:
        from ember._runtime import _warn_once  # loads after the op tables

        _warn_once(
            "stft-window",
            "A window was not provided. A rectangular window will be applied,which is known "
            "to cause spectral leakage. Other windows such as torch.hann_window or "
            "torch.hamming_window are recommended to reduce spectral leakage.To suppress this "
            "warning and use a rectangular window, explicitly set "
            "`window=torch.ones(n_fft, device=<device>)`.", stacklevel=4)
    if center:
        from ember.nn.functional import pad

        ndim = input.dim()
        extended = [1] * (3 - ndim) + list(input.shape)
        half = n_fft // 2
        input = pad(input.view(extended), [half, half], pad_mode)
        input = input.view(input.shape[-ndim:] if ndim else ())
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    complex_input = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_input:
            raise RuntimeError(
                "stft requires the return_complex parameter be given for real inputs, and "
                "will further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    elif not return_complex:
        from ember._runtime import _warn_once  # loads after the op tables

        _warn_once(
            "stft-return-complex",
            "stft with return_complex=False is deprecated. In a future pytorch release, stft "
            "will return complex tensors for all inputs, and return_complex=False will raise "
            "an error.\nNote: you can still call torch.view_as_real on the complex output to "
            "recover the old return format.", stacklevel=4)

    def fail(what: str):
        return RuntimeError(_stft_call(input, n_fft, hop, win, window, normalized, onesided,
                                       return_complex, align_to_window) + " : " + what)

    ndim = input.dim()
    if ndim not in (1, 2):
        raise fail("expected a 1D or 2D tensor")
    if not (input.is_floating_point() or input.is_complex()):
        raise fail("expected a tensor of floating point or complex values")
    if input.dtype in (_dtype.float16, _dtype.bfloat16):
        raise RuntimeError(f"MKL FFT doesn't support tensors of type: "
                           f"{_dtype.scalar_type_name(input.dtype)}")
    length = input.shape[-1]
    if align_to_window:
        # frame t's window (not the frame) starts at t * hop_length: the signal moves right
        # by the window's offset in the frame, and the frame's tail past the window pads it
        left = (n_fft - win) // 2
        input = run(CONSTANT_PAD, input, ((left, n_fft - win - left),), 0)
        length = input.shape[-1]
    if not 0 < n_fft <= length:
        raise fail(f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise fail(f"expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise fail(f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        raise fail(f"expected a 1D window tensor of size equal to win_length={win}, but got "
                   f"window with size {list(window.shape)}")
    if ndim == 1:
        input = input.unsqueeze(0)
    frames = input.unfold(-1, n_fft, hop)
    window = _window_to(window, n_fft, win)
    if window is not None:
        frames = frames * window
    mode = NORM_ROOT_N if normalized else NORM_NONE
    if complex_input:
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = c2c(frames, (2,), mode, True)
    else:
        out = r2c(frames, (2,), mode, True if onesided is None else onesided)
    out = out.transpose_(1, 2)
    if ndim == 1:
        out = out.squeeze_(0)
    if return_complex:
        return out
    from ember._ops.shape import view_as_real

    return view_as_real(out)


def _istft_call(input, n_fft, hop, win, window, center, normalized, onesided, length,
                return_complex) -> str:
    window_repr = "None" if window is None else (
        f"{_dtype.legacy_type_name(window._data.dtype)}{{{list(window.shape)}}}")
    kind = _dtype.scalar_type_name(input.dtype)
    return (f"istft(CPU{kind}Type{list(input.shape)}, n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win}, window={window_repr}, center={int(center)}, "
            f"normalized={int(normalized)}, onesided={_opt_flag(onesided)}, "
            f"length={'None' if length is None else length}, "
            f"return_complex={int(return_complex)})")


def istft(input: Tensor, n_fft: int, hop_length: int | None = None,
          win_length: int | None = None, window: Tensor | None = None, center: bool = True,
          normalized: bool = False, onesided: bool | None = None, length: int | None = None,
          return_complex: bool = False) -> Tensor:
    """Mirrors ``torch.istft``: the inverse of ``stft`` by overlap-add. ``input`` is the
    complex (batch?, bins, frames) spectrum; each frame's inverse DFT is multiplied by
    ``window`` and the frames are added at their ``hop_length`` offsets, then divided by
    the added squared window (which must not vanish anywhere: torch's "window overlap add
    min" error). ``center`` drops the ``n_fft // 2`` padding points at each end; ``length``
    trims or zero-pads the result. ``onesided`` defaults to whether there are
    ``n_fft // 2 + 1`` bins; ``return_complex`` gives the complex signal (two-sided input,
    real window only)."""
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")

    def fail(what: str, sep: str = " : "):
        return RuntimeError(_istft_call(input, n_fft, hop, win, window, center, normalized,
                                        onesided, length, return_complex) + sep + what)

    if window is not None and window.is_complex() and not return_complex:
        raise RuntimeError("Complex windows are incompatible with return_complex=False")
    if window is None:
        from ember._runtime import _warn_once  # loads after the op tables

        _warn_once(
            "istft-window",
            "A window was not provided. A rectangular window will be applied.Please provide "
            "the same window used by stft to make the inversion lossless.To suppress this "
            "warning and use a rectangular window, explicitly set "
            "`window=torch.ones(n_fft, device=<device>)`.", stacklevel=4)
    if input.numel() == 0:
        raise fail("input tensor cannot be empty.")
    ndim = input.dim() + 1  # torch counts the (real, imag) pair as a dim
    if ndim not in (3, 4):
        raise fail(f"expected a tensor with 3 or 4 dimensions, but got {ndim}")
    bins = input.shape[-2]
    sided = bins != n_fft if onesided is None else onesided
    if sided:
        if n_fft // 2 + 1 != bins:
            raise fail("expected the frequency dimension (3rd to the last) of the input "
                       f"tensor to match n_fft / 2 + 1 when onesided=True, but got {bins}")
    elif n_fft != bins:
        raise fail("expected the frequency dimension (3rd to the last) of the input tensor "
                   f"to match n_fft when onesided=False, but got {bins}")
    if not 0 < hop <= win:
        raise fail("expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise fail("expected 0 < win_length <= n_fft")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        raise fail("Invalid window shape. window has to be 1D and length of `win_length`")
    if sided and return_complex:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    spectrum = input.unsqueeze(0) if ndim == 3 else input
    spectrum = spectrum.transpose(1, 2)  # (batch, frames, bins)
    mode = NORM_ROOT_N if normalized else NORM_N
    if return_complex:
        frames = c2c(spectrum, (2,), mode, False)
    else:
        if not sided:
            spectrum = spectrum[..., :n_fft // 2 + 1]
        frames = c2r(spectrum, (2,), mode, n_fft)
    real_dtype = frames.real.dtype if frames.is_complex() else frames.dtype
    if window is None:
        from ember._ops.creation import ones

        window = ones(n_fft, dtype=real_dtype)
    else:
        window = _window_to(window, n_fft, win)
    frames = frames * window
    count = frames.shape[1]
    expected = n_fft + hop * (count - 1)
    signal = _overlap_add(frames, hop, expected)
    envelope = _overlap_add((window * window).expand(1, count, n_fft), hop, expected)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = expected - n_fft // 2
    else:
        end = expected
    end = min(end, expected)
    signal = signal[:, start:end]
    envelope = envelope[:, start:end]
    small = envelope.abs() < 1e-11
    if small.any().item():
        raise fail("window overlap add min: 1\n[ CPUBoolType{} ]", sep=" ")
    signal = signal / envelope
    if ndim == 3:
        signal = signal.squeeze(0)
    if length is not None and signal.shape[-1] < length:
        from ember._runtime import _warn_once  # loads after the op tables

        _warn_once(
            "istft-length",
            "The length of signal is shorter than the length parameter. Result is being "
            "padded with zeros in the tail. Please check your center and hop_length "
            "settings.", stacklevel=4)
        signal = run(CONSTANT_PAD, signal, ((0, length - signal.shape[-1]),), 0)
    return signal


def _overlap_add(frames: Tensor, hop: int, total: int) -> Tensor:
    """(batch, frames, n) -> (batch, total): frame i added at offset ``i * hop`` (the
    adjoint of ``unfold``; torch's own istft uses this same op)."""
    from ember._ops.shape import UNFOLD_BACKWARD

    batch, _, n = frames.shape
    return run(UNFOLD_BACKWARD, frames, (batch, total), 1, n, hop)


attach({"stft": stft, "istft": istft})

__all__ = ["c2c", "c2r", "istft", "r2c", "stft"]
