"""``NAdam`` (mirrors ``torch.optim.NAdam``): Adam with Nesterov momentum."""
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

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"maximize": False, "foreach": None, "capturable": False,
                                     "differentiable": False, "decoupled_weight_decay": False},
                              ("step", "mu_product"))

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``NAdam.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group)
            beta1, beta2 = _value(group["betas"][0]), _value(group["betas"][1])
            lr, wd = _lr_scalar(group["lr"]), group["weight_decay"]
            momentum_decay, maximize = group["momentum_decay"], group["maximize"]
            decay, l2 = None, 0
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    decay = float(1 - lr * wd)
                else:
                    l2 = wd
            n_scratch = 3 if maximize or l2 else 2
            jobs = []
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
                    # torch's foreach kernel words it with one more comma
                    _check_capturable("params, mu_products, and state_steps"
                                      if group["foreach"] else
                                      "params, mu_products and state_steps",
                                      foreach=bool(group["foreach"]))
                _check_moment_dtype(state["exp_avg"], p._grad)
                _check_state_shape(state["exp_avg"], p._grad)
                state["step"]._data += 1
                step = _value(state["step"])
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product = state["mu_product"]
                if group["differentiable"]:
                    beta1_t = group["betas"][0]
                    if isinstance(beta1_t, Tensor) and beta1_t.requires_grad:
                        # torch's momentum factors are then tensors in the graph, and so
                        # is the running product they multiply in place
                        decay = 1.0 - 0.5 * (0.96 ** (step * momentum_decay))
                        decay_next = 1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay))
                        mu, mu_next = beta1_t * decay, beta1_t * decay_next
                        mu_product.mul_(mu)
                    else:
                        mu_product._data *= mu
                    self._differentiable_update(group, p, state, step, mu, mu_next)
                    continue
                mu_product._data *= mu
                mu_product_value = _value(mu_product)
                mu_product_next = mu_product_value * mu_next
                value_grad = -lr * (1.0 - mu) / (1.0 - mu_product_value)
                value_avg = (-lr * mu_next) / (1.0 - mu_product_next)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                # NOTE [Version counters]: each tensor the step writes in place
                for t in (p, state["step"], mu_product, exp_avg, exp_avg_sq):
                    t._vc[0] += 1
                jobs.append((p, (_real(p._data), _real(p._grad._data), _real(exp_avg._data),
                                 _real(exp_avg_sq._data)), n_scratch,
                             (maximize, decay, l2, 1 - beta1, beta2, 1 - beta2,
                              1 - beta2 ** step, group["eps"], float(value_grad),
                              float(value_avg))))
            self._run_jobs(_nadam_kernel, jobs, 16)
        return loss

    @staticmethod
    def _differentiable_update(group: dict, p: Tensor, state: dict, step: float, mu: float,
                               mu_next: float) -> None:
        K = _TensorKernels
        beta2, lr, eps = group["betas"][1], group["lr"], group["eps"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        grad = _adam_moments_differentiable(group, p, state)
        denom = K.adds(K.sqrt(K.div(exp_avg_sq, 1 - beta2 ** step)), eps)
        # torch's differentiable branch keeps mu_product a tensor: the factors round to its
        # dtype, and ``float / tensor`` is ``reciprocal * float``; a tensor lr divides, in
        # the wider dtype, and stays in the graph
        mu_product = state["mu_product"]
        if isinstance(lr, Tensor) or isinstance(mu, Tensor):
            value_grad = (-lr * (1.0 - mu)) / (1.0 - mu_product)
            value_avg = (-lr * mu_next) / (1.0 - mu_product * mu_next)
        else:
            mu_product = mu_product._data
            value_grad = float(np.reciprocal(1.0 - mu_product) * (-lr * (1.0 - mu)))
            value_avg = float(np.reciprocal(1.0 - mu_product * mu_next) * (-lr * mu_next))
        # the scaled copies, not the state, are what addcdiv saves for the backward: the
        # next step's in-place update of exp_avg must not invalidate this step's graph
        K.addcdiv_(p, K.mul(grad, value_grad), denom)
        K.addcdiv_(p, K.mul(exp_avg, value_avg), denom)


def _nadam_kernel(param, grad, exp_avg, exp_avg_sq, scratch, maximize, decay, l2, weight,
                  beta2, one_minus_beta2, bias_correction2, eps, value_grad,
                  value_avg) -> None:
    """torch's single-tensor NAdam step on arrays, in place, with two or three
    temporaries."""
    denom, tmp = scratch[0], scratch[1]
    grad = _adam_moments_(param, grad, exp_avg, exp_avg_sq, maximize, l2, decay, weight,
                          beta2, one_minus_beta2, scratch[2] if maximize or l2 else None, tmp)
    np.divide(exp_avg_sq, bias_correction2, out=denom)
    np.sqrt(denom, out=denom)
    denom += eps
    # param.addcdiv_(grad, denom, value_grad).addcdiv_(exp_avg, denom, value_avg)
    np.multiply(grad, value_grad, out=tmp)
    tmp /= denom
    param += tmp
    np.multiply(exp_avg, value_avg, out=tmp)
    tmp /= denom
    param += tmp
