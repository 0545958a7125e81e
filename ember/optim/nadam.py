"""``NAdam`` (mirrors ``torch.optim.NAdam``): Adam with Nesterov momentum."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_adam_ranges,
    _check_capturable,
    _check_lr,
    _closure_loss,
    _kernels,
    _step_tensor,
    _value,
    _zeros_like,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Mirrors ``torch.optim.NAdam``.

    Args: params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, and keyword-only foreach, maximize,
    capturable, differentiable. ``mu_product`` is a 0-d state tensor multiplied in its own
    dtype, as torch's.
    """

    def __init__(self, params, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_adam_ranges(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Mirrors ``NAdam.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            K = _kernels(group)
            beta1, beta2 = group["betas"]
            lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
            momentum_decay = group["momentum_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["mu_product"] = _step_tensor(1.0)
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable("params, mu_products and state_steps")
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                exp_avg, exp_avg_sq = K.unwrap(state["exp_avg"]), K.unwrap(state["exp_avg_sq"])
                if group["maximize"]:
                    grad = K.neg(grad)
                state["step"]._data += 1
                step = _value(state["step"])
                bias_correction2 = 1 - beta2 ** step
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        K.mul_(param, 1 - lr * wd)
                    else:
                        grad = K.add(grad, param, wd)
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product = state["mu_product"]
                mu_product._data *= mu
                K.lerp_(exp_avg, grad, 1 - beta1)
                K.mul_(exp_avg_sq, beta2)
                K.addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                denom = K.sqrt(K.div(exp_avg_sq, bias_correction2))
                denom = K.adds(denom, eps) if group["differentiable"] else K.adds_(denom, eps)
                if group["differentiable"]:
                    # torch's differentiable branch keeps mu_product a tensor: the factors
                    # round to its dtype, and ``float / tensor`` is ``reciprocal * float``
                    mu_product_next = mu_product._data * mu_next
                    value_grad = np.reciprocal(1.0 - mu_product._data) * (-lr * (1.0 - mu))
                    value_avg = np.reciprocal(1.0 - mu_product_next) * (-lr * mu_next)
                else:
                    mu_product_value = _value(mu_product)
                    mu_product_next = mu_product_value * mu_next
                    value_grad = -lr * (1.0 - mu) / (1.0 - mu_product_value)
                    value_avg = (-lr * mu_next) / (1.0 - mu_product_next)
                K.addcdiv_(param, grad, denom, float(value_grad))
                K.addcdiv_(param, exp_avg, denom, float(value_avg))
                if not group["differentiable"]:
                    _bump(p)
        return loss
