"""``RMSprop`` (mirrors ``torch.optim.RMSprop``): centred and momentum variants."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_capturable,
    _check_lr,
    _closure_loss,
    _kernels,
    _step_tensor,
    _value,
    _zeros_like,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Mirrors ``torch.optim.RMSprop``.

    Args: params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, capturable=False, foreach=None, maximize=False, differentiable=False.
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Mirrors ``RMSprop.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            K = _kernels(group)
            lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
            alpha, momentum = group["alpha"], group["momentum"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable()
                state["step"]._data += 1
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                square_avg = K.unwrap(state["square_avg"])
                if group["maximize"]:
                    grad = K.neg(grad)
                if wd != 0:
                    grad = K.add(grad, param, wd)
                K.mul_(square_avg, alpha)
                K.addcmul_(square_avg, grad, grad, 1 - alpha)
                if group["centered"]:
                    grad_avg = K.unwrap(state["grad_avg"])
                    K.lerp_(grad_avg, grad, 1 - alpha)
                    avg = K.addcmul_(K.clone(square_avg), grad_avg, grad_avg, -1)
                    avg = K.sqrt_(avg)
                else:
                    avg = K.sqrt(square_avg)
                avg = K.adds(avg, eps) if group["differentiable"] else K.adds_(avg, eps)
                if momentum > 0:
                    buf = K.unwrap(state["momentum_buffer"])
                    K.mul_(buf, momentum)
                    K.addcdiv_(buf, grad, avg)
                    K.add_(param, buf, -lr)
                else:
                    K.addcdiv_(param, grad, avg, -lr)
                if not group["differentiable"]:
                    _bump(p)
        return loss
