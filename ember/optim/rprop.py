"""``Rprop`` (mirrors ``torch.optim.Rprop``): resilient backpropagation."""
from __future__ import annotations

import numpy as np

import ember
from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_capturable,
    _check_lr,
    _closure_loss,
    _full_like,
    _real,
    _refuse_foreach_differentiable,
    _refuse_grad_number,
    _step_tensor,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Mirrors ``torch.optim.Rprop``.

    Args: params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), and keyword-only
    capturable, foreach, maximize, differentiable.
    """

    def __init__(self, params, lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "capturable": False})

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``Rprop.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group)
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            lr = _value(group["lr"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["prev"] = _zeros_like(p)
                    _refuse_grad_number(group["lr"],
                                        "full_like(): argument 'fill_value' (position 2)")
                    state["step_size"] = _full_like(
                        p, complex(lr, lr) if p.is_complex() else lr)
                if group["capturable"]:
                    _check_capturable()
                state["step"]._data += 1
                if group["differentiable"]:
                    self._tensor_update(group, p, state, etaminus, etaplus, step_size_min,
                                        step_size_max)
                    continue
                param, grad = _real(p._data), _real(p._grad._data)
                prev, step_size = _real(state["prev"]._data), _real(state["step_size"]._data)
                if group["maximize"]:
                    grad = -grad
                sign = np.sign(grad * prev)
                factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0)
                                  ).astype(step_size.dtype)
                step_size *= factor
                np.clip(step_size, step_size_min, step_size_max, out=step_size)
                grad = np.where(sign < 0, 0, grad).astype(grad.dtype)
                param += (-1 * np.sign(grad)) * step_size
                prev[...] = grad
                _bump(p)
        return loss

    @staticmethod
    def _tensor_update(group, p, state, etaminus, etaplus, step_size_min, step_size_max):
        grad = p._grad
        if group["maximize"]:
            grad = -grad
        prev, step_size = state["prev"], state["step_size"]
        sign = grad.mul(prev.clone()).sign()
        factor = ember.where(sign > 0, etaplus, ember.where(sign < 0, etaminus, 1.0))
        step_size.mul_(factor).clamp_(step_size_min, step_size_max)
        grad = ember.where(sign < 0, ember.zeros_like(grad), grad)
        p.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
