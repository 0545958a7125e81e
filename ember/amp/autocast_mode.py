"""``ember.amp.autocast_mode``: mirrors ``torch.amp.autocast_mode`` (``autocast``,
``is_autocast_available``, ``custom_fwd``/``custom_bwd``); the state and the casting mode
live in ``ember._autocast``."""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from ember._autocast import (
    autocast,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]


def _cast(value, device_type: str, dtype):
    """``value`` with its floating-point tensors of ``device_type`` (float64 ones excepted)
    cast to ``dtype``, inside lists, tuples, dicts and other iterables as torch walks them."""
    from ember._backend import ndarray
    from ember._dtype import float64
    from ember._tensor import Tensor

    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type \
            and value.dtype is not float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, ndarray)):
        return value
    if isinstance(value, Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype)
                for k, v in value.items()}
    if isinstance(value, Iterable):
        cast = (_cast(v, device_type, dtype) for v in value)
        return type(value)(cast) if isinstance(value, (list, tuple)) else cast
    return value


def _check_device_type(device_type) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Mirrors ``torch.amp.custom_fwd``: decorates a custom ``autograd.Function``'s
    ``forward`` (its first argument the context). With ``cast_inputs`` (a dtype), inside an
    autocast region of ``device_type`` the floating-point tensor arguments are cast to it and
    ``forward`` runs with autocast off; otherwise ``forward`` runs in the autocast state it
    finds. The state it ran in is noted on the context for ``custom_bwd``."""
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def forward(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = enabled
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not enabled:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, device_type, cast_inputs),
                       **_cast(kwargs, device_type, cast_inputs))

    return forward


def custom_bwd(bwd=None, *, device_type: str):
    """Mirrors ``torch.amp.custom_bwd``: decorates the ``backward`` of a function whose
    ``forward`` ``custom_fwd`` decorated, so that it runs in the autocast state (enabled or
    not, and its dtype) the forward ran in."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def backward(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast,
                      dtype=ctx._dtype):
            return bwd(*args, **kwargs)

    return backward
