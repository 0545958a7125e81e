"""``Adadelta`` (mirrors ``torch.optim.Adadelta``)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_capturable,
    _check_lr,
    _check_state_shape,
    _closure_loss,
    _kernels,
    _refuse_foreach_differentiable,
    _refuse_grad_number,
    _step_tensor,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Mirrors ``torch.optim.Adadelta``.

    Args: params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach, and keyword-only
    capturable, maximize, differentiable.
    """

    def __init__(self, params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "capturable": False})

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``Adadelta.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group, always=True)
            K = _kernels(group)
            lr, wd, eps, rho = _value(group["lr"]), group["weight_decay"], group["eps"], \
                group["rho"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    state["acc_delta"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable(devices="['cuda', 'xpu', 'hpu', 'privateuseone']")
                _check_state_shape(state["square_avg"], p._grad)
                state["step"]._data += 1
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                square_avg, acc_delta = K.unwrap(state["square_avg"]), K.unwrap(
                    state["acc_delta"])
                if group["maximize"]:
                    grad = K.neg(grad)
                if wd != 0:
                    grad = K.add(grad, param, wd)
                K.mul_(square_avg, rho)
                K.addcmul_(square_avg, grad, grad, 1 - rho)
                std = K.sqrt_(K.adds(square_avg, eps))
                delta = K.sqrt_(K.adds(acc_delta, eps))
                if group["differentiable"]:
                    delta = delta.clone()
                K.mul_(K.div_(delta, std), grad)
                K.mul_(acc_delta, rho)
                K.addcmul_(acc_delta, delta, delta, 1 - rho)
                if group["differentiable"]:
                    _refuse_grad_number(group["lr"], "add_(): argument 'alpha'")
                K.add_(param, delta, -lr)
                if not group["differentiable"]:
                    _bump(p)
        return loss

