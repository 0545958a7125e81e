"""``ember.func.rearrange``: mirrors ``torch.func.rearrange`` (einops' ``rearrange``).

A pattern names the input's axes on the left of ``->`` and says on the right in which order
and grouping they come out: ``"b h w c -> b (h w) c"``. Parentheses group axes (on the left
a group is one input dim split into its axes, on the right a group is one output dim made of
them), ``...`` stands for the dims the names do not cover, ``1`` and ``()`` are unnamed axes
of size one. The work is one reshape into the left side's separate axes, one permute and one
reshape into the right side's groups, so a result is a view wherever reshape can give one,
and autograd sees three ordinary ops.

torch evaluates the pattern with first-class dims, which leaves two marks ember keeps: an
unnamed axis on the left is summed over (a size-1 axis drops out; torch sums a larger one
too, and the result is a new tensor), and the errors of binding sizes are its
``DimensionBindError``, naming an axis ``d<i>`` by its position among the left side's axes.
ember differs in one respect: with unnamed axes on the left, whether the result is a view
follows ember's rule above rather than torch's (a unit axis grouped with others, torch
views; merged groups after a sum, torch copies); values, shapes and gradients are the same.
"""
from __future__ import annotations

from ember._tensor import Tensor

__all__ = ["rearrange", "DimensionBindError"]

_ELLIPSIS = "…"  # how torch's messages show the ellipsis among axis names


class DimensionBindError(Exception):
    """Mirrors ``functorch.dim.DimensionBindError``: the sizes a pattern implies do not fit
    the tensor's."""


def _parse(side: str) -> list:
    """One side of a pattern as a list of groups: a group is a list of axis names (``None``
    for an unnamed axis of size one), a lone axis a list of one, the ellipsis the string
    ``"…"``."""
    groups: list = []
    group = None  # the open bracket's axes
    i = 0
    while i < len(side):
        char = side[i]
        if char.isspace():
            i += 1
        elif char == ".":
            if side[i:i + 3] != "..." or any(g == _ELLIPSIS for g in groups) or (
                    group is not None and _ELLIPSIS in group):
                if side[i:i + 3] == "...":
                    raise ValueError("Expression may contain dots only inside ellipsis (...); "
                                     "only one ellipsis for tensor ")
                raise ValueError("Expression may contain dots only inside ellipsis (...)")
            (groups if group is None else group).append(_ELLIPSIS)
            i += 3
        elif char == "(":
            if group is not None:
                raise ValueError(
                    "Axis composition is one-level (brackets inside brackets not allowed)")
            group = []
            i += 1
        elif char == ")":
            if group is None:
                raise ValueError("Brackets are not balanced")
            groups.append(group)
            group = None
            i += 1
        elif char.isalnum() or char == "_":
            j = i
            while j < len(side) and (side[j].isalnum() or side[j] == "_"):
                j += 1
            word = side[i:j]
            if word.isdigit():
                if word != "1":
                    raise ValueError("rearrange only supports unnamed axes of size 1")
                axis = None
            else:
                axis = word
            if group is None:
                groups.append([axis])
            else:
                group.append(axis)
            i = j
        else:
            raise ValueError(f"Unknown character '{char}'")
    if group is not None:
        raise ValueError(f"Imbalanced parentheses in expression: '{side}'")
    names = [a for g in groups for a in ([g] if g == _ELLIPSIS else g) if a is not None]
    seen: set = set()
    for name in names:
        if name in seen:
            raise ValueError(f"Indexing expression contains duplicate dimension '{name}'")
        seen.add(name)
    return groups


def _names(groups: list) -> list:
    return [a for g in groups for a in ([g] if g == _ELLIPSIS else g) if a is not None]


def _pack(names: tuple) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def rearrange(tensor, pattern: str, **axes_lengths: int) -> Tensor:
    """Mirrors ``torch.func.rearrange``: ``tensor`` (or a sequence of tensors, stacked
    first) reordered, split, merged, given or rid of unit dims as ``pattern`` says
    (``"b (h w) c -> b h w c"``); ``axes_lengths`` give the sizes a split cannot infer
    (``h=4``)."""
    from ember._ops.shape import stack

    if not isinstance(tensor, Tensor):
        tensor = stack(tensor)
    for length in axes_lengths.values():
        if not isinstance(length, int):
            raise TypeError(f"rearrange axis lengths must be integers, got: {type(length)}")
    sides = pattern.split("->")
    if len(sides) != 2:
        raise ValueError("Pattern must contain a single '->' separator")
    left, right = (_parse(side) for side in sides)
    if any(g != _ELLIPSIS and _ELLIPSIS in g for g in left):
        raise ValueError(f"Ellipsis is parenthesis in the left side is not allowed: {pattern}")
    left_names, right_names = _names(left), _names(right)
    if _ELLIPSIS in right_names and _ELLIPSIS not in left_names:
        raise ValueError(
            f"Ellipsis found in right side, but not left side of a pattern {pattern}")
    one_side = set(left_names) ^ set(right_names)
    if one_side:
        raise ValueError("Identifiers only on one side of rearrange expression (should be on "
                         f"both): {one_side}")
    unknown = set(axes_lengths) - set(left_names)
    if unknown:
        raise ValueError(f"Identifiers not found in rearrange expression: {unknown}")

    # the left side's groups, one per input dim, the ellipsis as as many dims as it covers
    named = len(left) - (_ELLIPSIS in left_names)
    ndim = tensor.dim()
    if _ELLIPSIS in left_names:
        if named > ndim:
            raise ValueError(f"Number of dimensions in pattern ({named}) must be less than or "
                             f"equal to the number of dimensions in the tensor ({ndim})")
    elif named != ndim:
        raise ValueError(f"Number of dimensions in pattern ({named}) must be equal to the "
                         f"number of dimensions in the tensor ({ndim})")
    covered = [f"{_ELLIPSIS}{i}" for i in range(ndim - named)]

    def expand(groups: list) -> list:
        out = []
        for g in groups:
            if g == _ELLIPSIS:
                out += [[a] for a in covered]
            elif _ELLIPSIS in g:
                out.append([a for x in g for a in (covered if x == _ELLIPSIS else [x])])
            else:
                out.append(g)
        return out

    left, right = expand(left), expand(right)
    position = {}  # a named axis -> its d<i> in torch's messages
    for g in left:
        for a in g:
            if a is not None and a not in position:
                position[a] = f"d{len(position)}"

    sizes: dict = {}
    axes_shape: list = []  # the input split into its separate axes (unit axes kept)
    for g, size in zip(left, tensor.shape):
        known = [axes_lengths.get(a, 1 if a is None else None) for a in g]
        missing = [a for a, k in zip(g, known) if k is None]
        if len(missing) > 1:
            raise DimensionBindError(
                "cannot infer the sizes of two dimensions at once "
                f"{position[missing[0]]} and {position[missing[1]]}")
        product = 1
        for k in known:
            product *= 1 if k is None else k
        if missing:
            if product == 0 or size % product:
                shown = tuple("?" if k is None else k for a, k in zip(g, known)
                              if a is not None)
                raise DimensionBindError("inferred dimension does not evenly fit into larger "
                                         f"dimension: {size} vs {shown}")
            known[known.index(None)] = size // product
        elif product != size and g and g != [None]:
            raise DimensionBindError(
                f"Dimension sizes to do not match ({size} != {product}) when matching "
                f"dimension pack {_pack(tuple(position[a] for a in g if a is not None))}")
        if not g or g == [None]:  # ``()`` or ``1``: one unnamed axis
            g, known = [None], [size]
        for a, k in zip(g, known):
            sizes[a] = k
            axes_shape.append(k)

    axes = [a for g in left for a in (g or [None])]
    result = tensor.reshape(tuple(axes_shape))
    order = [axes.index(a) for g in right for a in g if a is not None]
    unnamed = [i for i, a in enumerate(axes) if a is None]
    out_shape = []
    for g in right:
        size = 1
        for a in g:
            if a is not None:
                size *= sizes[a]
        out_shape.append(size)
    if not unnamed:  # a view of the input wherever reshape gives one, as torch's
        return result.permute(tuple(order)).reshape(tuple(out_shape))
    # torch's first-class dims sum an axis no name binds: a new tensor in the output's order
    result = result.permute(tuple(order + unnamed)).sum(tuple(range(len(order), len(axes))))
    return result if tuple(result.shape) == tuple(out_shape) else \
        result.reshape(tuple(out_shape))
