"""Mirrors ``torch.nn.utils.stateless``: call a module with some parameters and buffers
replaced for the duration of the call."""
from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from ember._tensor import Tensor

__all__ = ["functional_call"]


def _merge_dicts(parameter_and_buffer_dicts) -> dict[str, Any]:
    if isinstance(parameter_and_buffer_dicts, dict):
        return dict(parameter_and_buffer_dicts)
    if not isinstance(parameter_and_buffer_dicts, (list, tuple)):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(parameter_and_buffer_dicts)}")
    counts = Counter(k for d in parameter_and_buffer_dicts for k in d)
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional "
                         "call is ambiguous")
    return {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}


def _module_tensors(module) -> list[tuple[str, Tensor]]:
    return [*module.named_parameters(remove_duplicate=False),
            *module.named_buffers(remove_duplicate=False)]


def _untie(module, values: dict[str, Any]) -> dict[str, Any]:
    """Give every name tied to a replaced tensor (one tensor registered under several names)
    the replacement too, as torch's ``tie_weights=True`` does."""
    groups: dict[int, list[str]] = {}
    for name, t in _module_tensors(module):
        groups.setdefault(id(t), []).append(name)
    out = dict(values)
    for names in groups.values():
        if len(names) < 2:
            continue
        given = [n for n in names if n in values]
        if not given:
            continue
        first = values[given[0]]
        if any(values[n] is not first for n in given[1:]):
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, "
                             "which are tied. Consider using tie_weights=False")
        for n in names:
            out[n] = first
    return out


def _owner(module, name: str):
    *path, attr = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


_ABSENT = object()


def _functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                     tie_weights: bool = True, strict: bool = False):
    values = _merge_dicts(parameter_and_buffer_dicts)
    if tie_weights:
        values = _untie(module, values)
    if strict:
        valid = {n for n, _ in _module_tensors(module)}
        missing, unexpected = sorted(valid - set(values)), sorted(set(values) - valid)
        if missing or unexpected:
            msgs = []
            if unexpected:
                msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
            if missing:
                msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                module._get_name(), "\n\t".join(msgs)))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    swapped = []  # (table or owner, key, old value)
    try:
        for name, value in values.items():
            owner, attr = _owner(module, name)
            table = None
            for candidate in ("_parameters", "_buffers"):
                members = owner.__dict__.get(candidate)
                if members is not None and attr in members:
                    table = members
                    break
            if table is not None:
                # Written into the table directly: a plain tensor may stand in for a
                # Parameter, which setattr would refuse.
                swapped.append((table, attr, table[attr]))
                table[attr] = value
            else:
                swapped.append((owner, attr, owner.__dict__.get(attr, _ABSENT)))
                object.__setattr__(owner, attr, value)
        return module(*args, **(kwargs or {}))
    finally:
        for holder, attr, old in reversed(swapped):
            if isinstance(holder, dict):
                holder[attr] = old
            elif old is _ABSENT:
                object.__delattr__(holder, attr)
            else:
                object.__setattr__(holder, attr, old)


def functional_call(module, parameters_and_buffers: dict[str, Any], args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Mirrors the deprecated ``torch.nn.utils.stateless.functional_call``; use
    ``ember.func.functional_call``.

    Calls ``module(*args, **kwargs)`` with the parameters and buffers named (dotted) in
    ``parameters_and_buffers`` replaced by the given tensors, then restores them.
    ``tie_weights`` replaces tied names together; ``strict`` requires exactly the module's
    names.
    """
    warnings.warn(
        "`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will "
        "be removed in a future version of PyTorch. Please use `torch.func.functional_call` "
        "instead which is a drop-in replacement.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs,
                            tie_weights=tie_weights, strict=strict)
