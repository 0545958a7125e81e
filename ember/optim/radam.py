"""``RAdam`` (mirrors ``torch.optim.RAdam``): Adam with a rectified adaptive step."""
from __future__ import annotations

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

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Mirrors ``torch.optim.RAdam``.

    Args: params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, and keyword-only foreach, maximize, capturable,
    differentiable. Until the variance estimate is tractable (rho_t <= 5) the step is plain
    momentum SGD, as in torch.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_adam_ranges(lr, eps, betas, weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Mirrors ``RAdam.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            K = _kernels(group)
            beta1, beta2 = group["betas"]
            lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable()
                param, grad = K.unwrap(p), K.unwrap(p._grad)
                exp_avg, exp_avg_sq = K.unwrap(state["exp_avg"]), K.unwrap(state["exp_avg_sq"])
                if group["maximize"]:
                    grad = K.neg(grad)
                state["step"]._data += 1
                step = _value(state["step"])
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        K.mul_(param, 1 - lr * wd)
                    else:
                        grad = K.add(grad, param, wd)
                K.lerp_(exp_avg, grad, 1 - beta1)
                K.mul_(exp_avg_sq, beta2)
                K.addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                corrected = K.div(exp_avg, bias_correction1)
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = K.sqrt(exp_avg_sq)
                    adaptive = (K.adds(adaptive, eps) if group["differentiable"]
                                else K.adds_(adaptive, eps))
                    adaptive = (bias_correction2 ** 0.5) / adaptive
                    K.add_(param, K.mul(corrected * lr, adaptive) * rect, -1.0)
                else:
                    K.add_(param, corrected * lr, -1.0)
                if not group["differentiable"]:
                    _bump(p)
        return loss
