"""Tensor printing: ``repr(tensor)`` text identical to torch's, and torch's print options.

User code and doctests compare printed tensors character for character, so every rule below
reproduces what torch prints (layout, number formatting, line wrapping, summarization and
the ``dtype=`` / ``grad_fn=`` suffixes), as observed from torch itself.

Mirrors ``torch._tensor_str``: ``set_printoptions``, ``get_printoptions``, ``printoptions``
and the text of ``torch.Tensor.__repr__``.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from ember._backend import np
from ember._dtype import bool_, default_complex, float8_e8m0fnu, get_default_dtype, int64
from ember._tensor import Tensor

_PREFIX = "tensor("


class _PrintOptions:
    """The current print options; the attributes are the keys of ``get_printoptions()``."""

    __slots__ = ("edgeitems", "linewidth", "precision", "sci_mode", "threshold")

    def __init__(self) -> None:
        self.precision: int = 4
        self.threshold: float = 1000
        self.edgeitems: int = 3
        self.linewidth: int = 80
        self.sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()
# The key order of torch's get_printoptions() dict.
_OPTION_ORDER = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

# (precision, threshold, edgeitems, linewidth) of each named profile.
_PROFILES = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Mirrors ``torch.set_printoptions``.

    A profile resets precision, threshold, edgeitems and linewidth before the explicit
    arguments apply; an unknown profile name is ignored, as torch ignores it. ``sci_mode`` is
    always assigned, so any call without it returns to automatic choice, as in torch.
    """
    if profile in _PROFILES:
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Mirrors ``torch._tensor_str.get_printoptions``: the options as a plain dict."""
    return {name: getattr(PRINT_OPTS, name) for name in _OPTION_ORDER}


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Mirrors ``torch._tensor_str.printoptions``: ``set_printoptions`` for a ``with`` block."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


# --------------------------------------------------------------------------------------------
# Number formatting


def _format_reals(values: list[float], e8m0: bool = False) -> tuple[list[str], int]:
    """Format real floating-point values (Python floats) as one torch formatter would.

    Returns the unpadded strings and the column width. The style is chosen from the nonzero
    finite values only: all integral gives integer mode (``1.``); a spread over three orders
    of magnitude, a value above 1e8 or (for non-integral values) one below 1e-4 gives
    scientific notation; otherwise fixed point with ``precision`` decimals. ``sci_mode``
    overrides the choice, but only when there is a nonzero finite value.

    The width also comes from the nonzero finite values alone (at least 1): zeros, ``nan`` and
    ``inf`` never widen a column, so ``-0.0000`` or ``-inf`` can stick out past it.

    ``e8m0``: the values are float8_e8m0fnu's, for which torch's test "nonzero and finite"
    keeps everything but 2**-127 (it compares with 0 converted to the dtype, 2**-127, and
    finds NaN finite); a NaN kept makes the smallest and largest NaN, as torch's min/max do.
    """
    precision = PRINT_OPTS.precision
    if e8m0:
        shown = [v for v in values if v != _E8M0_SMALLEST]
    else:
        shown = [v for v in values if v != 0 and math.isfinite(v)]
    if not shown:
        sci, integral = False, True
    else:
        if any(v != v for v in shown):
            smallest = largest = math.nan
        else:
            smallest = min(map(abs, shown))
            largest = max(map(abs, shown))
        integral = all(math.isfinite(v) and v == math.ceil(v) for v in shown)
        sci = largest / smallest > 1000.0 or largest > 1.0e8
        if not integral:
            sci = sci or smallest < 1.0e-4
        if PRINT_OPTS.sci_mode is not None:
            sci = PRINT_OPTS.sci_mode
    if sci:
        spec = f".{precision}e"

        def fmt(v: float) -> str:
            return format(v, spec)
    elif integral:
        def fmt(v: float) -> str:
            # nan and inf keep their plain names; every finite value gets a trailing point.
            return format(v, ".0f") + "." if math.isfinite(v) else format(v, ".0f")
    else:
        spec = f".{precision}f"

        def fmt(v: float) -> str:
            return format(v, spec)
    width = max((len(fmt(v)) for v in shown), default=1)
    return [fmt(v) for v in values], width


_E8M0_SMALLEST = 2.0 ** -127  # float8_e8m0fnu's byte 0


def _pad(strings: list[str], width: int) -> list[str]:
    """Right-align strings to a column width (longer strings are left as they are)."""
    return [s.rjust(width) for s in strings]


def _format_elements(data: Any, dtype: Any) -> tuple[list[str], int]:
    """The padded text of every element of ``data`` (flattened) and the width of one column.

    The width is what torch uses to decide how many elements fit on a line. For complex
    numbers the real and imaginary parts are formatted (and styled) independently; the real
    parts are aligned, the imaginary parts are not, and the column width torch assumes is
    real width + imaginary width + 1, which ignores the ``j``.
    """
    flat = data.reshape(-1)
    if dtype.is_complex:
        real, real_width = _format_reals(flat.real.astype(np.float64).tolist())
        imag, imag_width = _format_reals(flat.imag.astype(np.float64).tolist())
        out = []
        for r, i in zip(_pad(real, real_width), imag, strict=True):
            out.append(r + (i if i[0] in "+-" else "+" + i) + "j")
        return out, real_width + imag_width + 1
    if dtype.is_floating_point:
        strings, width = _format_reals(flat.astype(np.float64).tolist(),
                                       dtype is float8_e8m0fnu)
        return _pad(strings, width), width
    # Integers and bools print as Python prints them (True / False); every value counts.
    strings = [str(v) for v in flat.tolist()]
    width = max(map(len, strings), default=1)
    return _pad(strings, width), width


# --------------------------------------------------------------------------------------------
# Layout


def _summarized(data: Any, edgeitems: int) -> Any:
    """The elements a summarized print shows: the first and last ``edgeitems`` of every long
    dimension. Torch sizes its columns from these alone, so the hidden ones never widen them.
    """
    for axis, size in enumerate(data.shape):
        if size > 2 * edgeitems:
            keep = np.concatenate([np.arange(edgeitems), np.arange(size - edgeitems, size)])
            data = np.take(data, keep, axis=axis)
    return data


def _layout(strings: Any, full_shape: tuple[int, ...], indent: int, width: int,
            summarize: bool) -> str:
    """Bracketed text of a nested array of element strings, as torch lays it out.

    ``strings`` holds only the shown elements; ``full_shape`` is the tensor's own shape,
    which says where the hidden ones were (and so where ``...`` goes). ``indent`` is the
    column of the opening bracket.
    """
    edge = PRINT_OPTS.edgeitems
    size = full_shape[0]
    cut = summarize and size > 2 * edge
    if len(full_shape) == 1:
        items = list(strings)
        if cut:
            items = items[:edge] + [" ..."] + items[edge:]
        # Torch counts the "..." entry as one element when filling a line.
        per_line = max((PRINT_OPTS.linewidth - indent) // (width + 2), 1)
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [_layout(row, full_shape[1:], indent + 1, width, summarize) for row in strings]
    if cut:
        rows = rows[:edge] + ["..."] + rows[edge:]
    # A blank line between blocks for every dimension past the second.
    sep = "," + "\n" * (len(full_shape) - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def _body(data: Any, dtype: Any, indent: int) -> str:
    """The text between ``tensor(`` (``indent`` columns) and the suffixes for a tensor with
    elements."""
    if data.ndim == 0:
        return _format_elements(data, dtype)[0][0]
    shape = data.shape
    summarize = data.size > PRINT_OPTS.threshold
    if summarize:
        if PRINT_OPTS.edgeitems == 0:  # nothing would be shown, so torch prints only "...".
            return "[...]"
        data = _summarized(data, PRINT_OPTS.edgeitems)
    strings, width = _format_elements(data, dtype)
    nested = np.array(strings, dtype=object).reshape(data.shape)
    return _layout(nested, shape, indent, width, summarize)


def _suffixes(t: Any) -> list[str]:
    """The ``name=value`` parts torch appends after the elements, in torch's order."""
    data = t._data
    dtype = t.dtype
    out = []
    if data.size == 0:
        # Torch states the shape unless it is (0,), and the dtype unless it is the default
        # float dtype (nothing in "[]" hints at an int64 or a complex tensor).
        if data.ndim != 1:
            out.append(f"size={tuple(data.shape)}")
        if dtype is not get_default_dtype():
            out.append(f"dtype={dtype!r}")
    else:
        if PRINT_OPTS.edgeitems == 0:  # no element shows where the dimensions end.
            out.append(f"size={tuple(data.shape)}")
        # int64 and bool are recognisable from the printed values, so torch omits them.
        if dtype not in (get_default_dtype(), default_complex(), int64, bool_):
            out.append(f"dtype={dtype!r}")
    try:
        node = t.grad_fn
    except RuntimeError:  # a view whose history is ambiguous (NOTE [Views made without grad
        node_name = "Invalid"  # mode]): torch prints its placeholder node so
    else:
        node_name = None if node is None else type(node).__name__  # CopySlices: no torch::
    if node_name is not None:
        out.append(f"grad_fn=<{node_name}>")
    elif t.requires_grad:
        out.append("requires_grad=True")
    if "_fw" in getattr(t, "__dict__", ()):
        from ember.autograd.forward_ad import tangent_of

        tangent = tangent_of(t)
        if tangent is not None:  # torch shows a 0-d tangent as a Python number
            out.append("tangent=" + (repr(tangent.item()) if tangent.dim() == 0
                                     else tensor_repr(tangent)))
    return out


def tensor_repr(t: Any, prefix: str | None = None) -> str:
    """Mirrors ``torch.Tensor.__repr__`` (and ``__str__``): the full ``tensor(...)`` text.
    A subclass's name stands for ``tensor``, as in torch (``MyTensor([1., 2.])``); continuation
    lines line up under the first "[" whatever the prefix."""
    if prefix is None:
        prefix = _PREFIX if type(t) is Tensor else type(t).__name__ + "("
    indent = len(prefix)
    text = prefix + ("[]" if t._data.size == 0 else _body(t._data, t.dtype, indent))
    # Torch measures the last line as two columns longer than it is (before any suffix is
    # wrapped), so a suffix moves to its own line slightly earlier than the width requires.
    line_len = len(text.rpartition("\n")[2]) + 2
    for suffix in _suffixes(t):
        if line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            text += ",\n" + " " * indent + suffix
            line_len = indent + len(suffix)
        else:
            text += ", " + suffix
            line_len += len(suffix) + 2
    return text + ")"
