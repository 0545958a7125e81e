"""``Adagrad`` (mirrors ``torch.optim.Adagrad``)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _closure_loss,
    _full_like,
    _kernels,
    _step_tensor,
    _value,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Mirrors ``torch.optim.Adagrad``.

    Args: params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, foreach, and keyword-only maximize, differentiable, fused. The state (``sum``
    and ``step``) is made at construction, as torch's.
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            if group["fused"]:
                _check_fused_params(group)
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_tensor(0.0, bool(group["fused"]))
                init = group["initial_accumulator_value"]
                state["sum"] = _full_like(p, complex(init, init) if p.is_complex() else init)

    def share_memory(self) -> None:
        """Mirrors ``Adagrad.share_memory``: NumPy arrays of one process are already
        shared by every thread; nothing moves."""

    def step(self, closure=None):
        """Mirrors ``Adagrad.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            K = _kernels(group)
            lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
            lr_decay = group["lr_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                state["step"]._data += 1
                step = _value(state["step"])
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                state_sum = K.unwrap(state["sum"])
                if group["maximize"]:
                    grad = K.neg(grad)
                if wd != 0:
                    grad = K.add(grad, param, wd)
                clr = lr / (1 + (step - 1) * lr_decay)
                K.addcmul_(state_sum, grad, grad, 1)
                std = K.sqrt(state_sum)
                std = K.adds(std, eps) if group["differentiable"] else K.adds_(std, eps)
                K.addcdiv_(param, grad, std, -clr)
                if not group["differentiable"]:
                    _bump(p)
        return loss
