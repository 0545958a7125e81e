"""``ASGD`` (mirrors ``torch.optim.ASGD``): averaged stochastic gradient descent."""
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
    _kernels,
    _lr_scalar,
    _refuse_foreach_differentiable,
    _step_tensor,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["ASGD"]


def _as_default(value: float):
    """``value`` rounded to the default dtype (torch's ``torch.as_tensor(value)``)."""
    return np.asarray(value, dtype=ember.get_default_dtype().np)


class ASGD(Optimizer):
    """Mirrors ``torch.optim.ASGD``.

    Args: params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach,
    maximize, differentiable, capturable. ``eta`` and ``mu`` are 0-d state tensors of the
    step's dtype (so ``eta`` is rounded to it, as in torch).
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "capturable": False}, ("step", "eta", "mu"))

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``ASGD.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group)
            K = _kernels(group)
            lr, wd = _lr_scalar(group["lr"]), group["weight_decay"]
            lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["eta"] = _step_tensor(lr)
                    state["mu"] = _step_tensor(1.0)
                    state["ax"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable("params, mus, etas, and state_steps",
                                      foreach=bool(group["foreach"]))
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                ax = K.unwrap(state["ax"])
                if group["maximize"]:
                    grad = K.neg(grad)
                state["step"]._data += 1
                if wd != 0:
                    grad = K.add(grad, param, wd)
                eta_value = _value(state["eta"])
                K.mul_(param, 1 - lambd * eta_value)
                K.add_(param, grad, -eta_value)
                mu = state["mu"]
                if _value(mu) != 1:
                    if group["differentiable"]:
                        ax.add_(param.sub(ax).mul_(mu))
                    else:
                        ax += (param - ax) * mu._data
                else:
                    K.copy_(ax, param)
                step = _value(state["step"])
                # torch makes each new value a tensor of the default dtype first
                state["eta"]._data[...] = _as_default(lr / ((1 + lambd * lr * step) ** alpha))
                state["mu"]._data[...] = _as_default(1 / max(1, step - t0))
                if not group["differentiable"]:
                    _bump(p)
        return loss

