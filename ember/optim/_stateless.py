"""``swap_in_optimizer_params_and_state`` (mirrors ``torch.optim``'s): run an optimizer on
other parameters and another ``state_dict()``-shaped state for the length of a block."""
from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

from ember._tensor import Tensor

__all__ = ["swap_in_optimizer_params_and_state"]

_NAME = "swap_in_optimizer_params_and_state"


def _checked_state(optim_state: dict) -> dict:
    """The ``"state"`` entry: a dict from packed ids to per-parameter dicts."""
    state = optim_state.get("state")
    if not isinstance(state, dict):
        raise RuntimeError(
            f"{_NAME} requires swapin_optim_state['state'] to be a dict mapping packed "
            f"parameter ids to per-param state dicts, got {type(state).__name__}.")
    if any(isinstance(key, Tensor) for key in state):
        raise RuntimeError(
            f"{_NAME} requires optimizer.state_dict()-style state keyed by packed parameter "
            "ids.")
    if any(isinstance(key, int) and not isinstance(entry, dict)
           for key, entry in state.items()):
        raise RuntimeError(
            f"{_NAME} requires per-parameter optimizer state entries to be dictionaries.")
    return state


def _checked_groups(optimizer, optim_state: dict) -> list:
    """The ``"param_groups"`` entry: a list of as many groups as the optimizer has."""
    groups = optim_state.get("param_groups")
    if not isinstance(groups, list):
        raise RuntimeError(
            f"{_NAME} requires swapin_optim_state['param_groups'] to be a list of "
            f"param-group dicts, got {type(groups).__name__}.")
    if len(groups) != len(optimizer.param_groups):
        raise RuntimeError("swapin_optim_state has a different number of parameter groups "
                           "than the live optimizer.")
    return groups


def _checked_ids(index: int, live: dict, group: Any) -> list:
    """A swap-in group's packed ids, once the group has the live group's keys and length."""
    if not isinstance(group, dict):
        raise RuntimeError(f"{_NAME} requires each optimizer param group to be a dictionary.")
    ids = group.get("params")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise RuntimeError(
            f"{_NAME} requires optimizer.state_dict()-style param_groups[*]['params'] "
            "entries keyed by packed parameter ids.")
    if len(ids) != len(live["params"]):
        raise RuntimeError(f"swapin_optim_state param group {index} has a different number "
                           "of params than the live optimizer param group.")
    only_swapin = [key for key in group if key not in live]
    only_live = [key for key in live if key not in group]
    if only_swapin or only_live:
        raise RuntimeError(
            f"{_NAME} requires optimizer.state_dict()-style param group keys to exactly "
            f"match the live optimizer group keys for group {index}. Keys only in swap-in: "
            f"{only_swapin}. Keys only in live: {only_live}.")
    return ids


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters: dict[str, Tensor],
                                       swapin_optim_state: dict[str, Any]):
    """Mirrors ``torch.optim.swap_in_optimizer_params_and_state``: inside the block the
    optimizer's groups hold ``swapin_parameters`` (their values in the order of the
    groups' parameters) and ``swapin_optim_state``'s hyperparameters, and its ``state``
    is ``swapin_optim_state["state"]`` keyed by those tensors (each parameter's dict
    copied, its tensors shared, so in-place updates such as a step's reach the given
    state dict). On exit the groups and state are the optimizer's own again.

    The optimizer must have state already; the state dict must have its layout (packed
    integer ids, the same groups with the same keys and lengths), else RuntimeError.

    >>> with swap_in_optimizer_params_and_state(opt, dict(model.named_parameters()),
    ...                                         saved_state):
    ...     opt.step()
    """
    if not optimizer.state:
        raise RuntimeError(f"{_NAME} requires initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        raise RuntimeError(f"{_NAME} requires a DCP-style optimizer state_dict.")
    state = _checked_state(swapin_optim_state)
    groups = _checked_groups(optimizer, swapin_optim_state)
    tensors = list(swapin_parameters.values())
    swaps, start, used_ids = [], 0, set()
    for index, (live, group) in enumerate(zip(optimizer.param_groups, groups)):
        ids = _checked_ids(index, live, group)
        used_ids.update(ids)
        if start + len(ids) > len(tensors):
            raise RuntimeError(f"{_NAME} requires the explicit parameter state to match "
                               "optimizer.param_groups ordering.")
        swaps.append((live, group, tensors[start:start + len(ids)]))
        start += len(ids)
    unused = [key for key in state if key not in used_ids]
    if unused:
        raise RuntimeError(
            f"{_NAME} requires swapin_optim_state['state'] to be keyed only by packed "
            f"parameter ids from param_groups[*]['params']; got extra keys {unused!r}.")

    live_state = optimizer.state
    # shallow copies: restoring them puts back the groups' own objects (the same params list)
    saved_groups = [dict(live) for live in optimizer.param_groups]
    try:
        swapped_state = defaultdict(dict)
        for live, group, params in swaps:
            live.update({key: value for key, value in group.items() if key != "params"})
            live["params"] = params
            for p, packed_id in zip(params, group["params"]):
                swapped_state[p] = dict(state.get(packed_id, {}))
        optimizer.state = swapped_state
        yield
    finally:
        for live, saved in zip(optimizer.param_groups, saved_groups):
            live.clear()
            live.update(saved)
        optimizer.state = live_state
