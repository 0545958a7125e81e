"""``SGD`` (mirrors ``torch.optim.SGD``): momentum, dampening, Nesterov, weight decay."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _closure_loss,
    _detached_copy,
    _kernels,
    _value,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """Mirrors ``torch.optim.SGD``.

    Args: params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, and
    keyword-only maximize, foreach, differentiable, fused (NOTE [Optimizer updates]).
    The first step's momentum buffer is the gradient itself, as in torch.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0,
                 nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        """Mirrors ``SGD.step``: one update; ``closure`` re-evaluates the loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            if group["fused"]:
                _check_fused_params(group)
            K = _kernels(group)
            differentiable = group["differentiable"]
            lr, momentum = group["lr"], group["momentum"]
            dampening, nesterov = group["dampening"], group["nesterov"]
            wd, maximize = group["weight_decay"], group["maximize"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                param = K.unwrap(p)
                grad = K.unwrap(p._grad)
                if maximize:
                    grad = K.neg(grad)
                if wd != 0:
                    grad = K.add(grad, param, _value(wd))
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = _detached_copy(K, p, grad)
                        state["momentum_buffer"] = buf
                        buf = K.unwrap(buf)
                    else:
                        buf = K.unwrap(buf)
                        K.mul_(buf, momentum)
                        K.add_(buf, grad, 1 - dampening)
                    grad = K.add(grad, buf, momentum) if nesterov else buf
                if differentiable and isinstance(lr, Tensor) and lr.requires_grad:
                    param.addcmul_(grad, lr, value=-1)
                else:
                    K.add_(param, grad, -_value(lr))
                if not differentiable:
                    _bump(p)
        return loss
