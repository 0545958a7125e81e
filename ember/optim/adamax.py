"""``Adamax`` (mirrors ``torch.optim.Adamax``): Adam with the infinity norm."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_adam_ranges,
    _check_capturable,
    _check_lr,
    _check_moment_dtype,
    _check_state_shape,
    _closure_loss,
    _kernels,
    _lr_scalar,
    _refuse_foreach_differentiable,
    _refuse_grad_number,
    _step_tensor,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Mirrors ``torch.optim.Adamax``.

    Args: params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach, and
    keyword-only maximize, differentiable, capturable (NOTE [Optimizer updates]).
    """

    def __init__(self, params, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check_adam_ranges(lr, eps, betas, weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "capturable": False})

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``Adamax.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group, always=True)
            K = _kernels(group)
            beta1, beta2 = _value(group["betas"][0]), _value(group["betas"][1])
            if group["differentiable"]:  # tensor betas stay in the graph, as in torch
                beta1, beta2 = group["betas"]
            lr, wd, eps = _lr_scalar(group["lr"]), group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_inf"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable(foreach=bool(group["foreach"]))
                _check_moment_dtype(state["exp_avg"], p._grad)
                _check_state_shape(state["exp_avg"], p._grad)
                state["step"]._data += 1
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                exp_avg, exp_inf = K.unwrap(state["exp_avg"]), K.unwrap(state["exp_inf"])
                if group["maximize"]:
                    grad = K.neg(grad)
                if wd != 0:
                    grad = K.add(grad, param, wd)
                K.lerp_(exp_avg, grad, 1 - beta1)
                K.mul_(exp_inf, beta2)
                K.maximum_(exp_inf, K.adds_(K.abs(grad), eps))
                clr = float(lr / (1 - beta1 ** _value(state["step"])))
                if group["differentiable"]:  # either makes torch's value a tensor
                    for value in (group["lr"], group["betas"][0]):
                        _refuse_grad_number(value, "addcdiv_(): argument 'value'")
                K.addcdiv_(param, exp_avg, exp_inf, -clr)
                if not group["differentiable"]:
                    _bump(p)
        return loss


