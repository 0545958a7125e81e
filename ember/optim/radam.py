"""``RAdam`` (mirrors ``torch.optim.RAdam``): Adam with a rectified adaptive step."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_,
    _adam_moments_differentiable,
    _check_adam_ranges,
    _check_capturable,
    _check_lr,
    _check_moment_dtype,
    _check_state_shape,
    _closure_loss,
    _lr_scalar,
    _real,
    _refuse_foreach_differentiable,
    _step_tensor,
    _TensorKernels,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
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

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "decoupled_weight_decay": False, "capturable": False})

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``RAdam.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group)
            beta1, beta2 = _value(group["betas"][0]), _value(group["betas"][1])
            lr, wd, maximize = _lr_scalar(group["lr"]), group["weight_decay"], group["maximize"]
            decay, l2 = None, 0
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    decay = float(1 - lr * wd)
                else:
                    l2 = wd
            n_scratch = 3 if maximize or l2 else 2
            rho_inf = 2 / (1 - beta2) - 1
            jobs = []
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable(foreach=bool(group["foreach"]))
                _check_moment_dtype(state["exp_avg"], p._grad)
                _check_state_shape(state["exp_avg"], p._grad)
                state["step"]._data += 1
                step = _value(state["step"])
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                rect = None
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                if group["differentiable"]:
                    self._differentiable_update(group, p, state, bias_correction1,
                                                bias_correction2, rect)
                    continue
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                # NOTE [Version counters]: each tensor the step writes in place
                for t in (p, state["step"], exp_avg, exp_avg_sq):
                    t._vc[0] += 1
                jobs.append((p, (_real(p._data), _real(p._grad._data), _real(exp_avg._data),
                                 _real(exp_avg_sq._data)), n_scratch,
                             (maximize, decay, l2, 1 - beta1, beta2, 1 - beta2,
                              bias_correction1, bias_correction2 ** 0.5, float(lr), group["eps"],
                              rect)))
            self._run_jobs(_radam_kernel, jobs, 13)
        return loss

    @staticmethod
    def _differentiable_update(group: dict, p: Tensor, state: dict, bias_correction1: float,
                               bias_correction2: float, rect: float | None) -> None:
        K = _TensorKernels
        lr, eps = group["lr"], group["eps"]  # a tensor lr stays in the graph, as in torch
        beta1 = group["betas"][0]
        if isinstance(beta1, Tensor) and beta1.requires_grad:  # and so does such a beta1
            bias_correction1 = 1 - beta1 ** _value(state["step"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _adam_moments_differentiable(group, p, state)
        corrected = K.div(exp_avg, bias_correction1)
        if rect is not None:
            adaptive = (bias_correction2 ** 0.5) / K.adds(K.sqrt(exp_avg_sq), eps)
            K.add_(p, K.mul(corrected * lr, adaptive) * rect, -1.0)
        else:
            K.add_(p, corrected * lr, -1.0)


def _radam_kernel(param, grad, exp_avg, exp_avg_sq, scratch, maximize, decay, l2, weight,
                  beta2, one_minus_beta2, bias_correction1, bias_correction2_sqrt, lr, eps,
                  rect) -> None:
    """torch's single-tensor RAdam step on arrays, in place, with two or three
    temporaries; ``rect`` is None while the variance estimate is intractable."""
    update, tmp = scratch[0], scratch[1]
    grad = _adam_moments_(param, grad, exp_avg, exp_avg_sq, maximize, l2, decay, weight,
                          beta2, one_minus_beta2, scratch[2] if maximize or l2 else None, tmp)
    np.divide(exp_avg, bias_correction1, out=update)
    update *= lr
    if rect is not None:
        np.sqrt(exp_avg_sq, out=tmp)
        tmp += eps
        np.divide(bias_correction2_sqrt, tmp, out=tmp)
        update *= tmp
        update *= rect
    param -= update  # param.add_(update, alpha=-1): adding -u is subtracting u
