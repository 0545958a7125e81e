"""``Adam`` (mirrors ``torch.optim.Adam``): AMSGrad, L2 or decoupled weight decay."""
from __future__ import annotations

import numpy as np

import ember
from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _bump,
    _check_adam_ranges,
    _check_capturable,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _closure_loss,
    _real,
    _step_tensor,
    _value,
    _zeros_like,
)

__all__ = ["Adam"]


def _to_scalar(x):
    return x.squeeze() if isinstance(x, Tensor) and x.dim() != 0 else x


class Adam(Optimizer):
    """Mirrors ``torch.optim.Adam``.

    Args: params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, and
    keyword-only foreach, maximize, capturable, differentiable, fused,
    decoupled_weight_decay (True makes it AdamW). ``capturable=True`` raises torch's error
    for CPU tensors at ``step``. The update is a few in-place passes over preallocated
    buffers (NOTE [Optimizer updates]).
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError(
                    "lr as a Tensor is not supported for capturable=False and foreach=True")
            _check_lr(lr)
        _check_adam_ranges(lr, eps, betas, weight_decay)
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor):
                if not capturable and foreach:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                     "capturable=False and foreach=True")
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(map(_to_scalar, betas))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        self._scratch: dict = {}

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_scratch", {})
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)

    def _init_state(self, group: dict, p: Tensor) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor(0.0, bool(group["fused"]))
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros_like(p)
        if group["differentiable"] and state["step"].requires_grad:
            raise RuntimeError("`requires_grad` is not supported for `step` in differentiable "
                               "mode")
        if group["foreach"] and isinstance(group["lr"], Tensor) and not group["capturable"]:
            raise RuntimeError("lr as a Tensor is not supported for capturable=False and "
                               "foreach=True")
        return state

    def _buffers(self, shape: tuple, dtype) -> tuple:
        key = (shape, dtype)
        bufs = self._scratch.get(key)
        if bufs is None:
            bufs = self._scratch[key] = (np.empty(shape, dtype), np.empty(shape, dtype))
        return bufs

    def step(self, closure=None):
        """Mirrors ``Adam.step``: one update; ``closure`` re-evaluates the loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            if group["fused"]:
                _check_fused_params(group)
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self._init_state(group, p)
                if group["capturable"]:
                    _check_capturable()
                if group["differentiable"]:
                    self._differentiable_update(group, p, grad, state)
                else:
                    self._array_update(group, p, grad, state)
        return loss

    def _array_update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        beta1, beta2 = (_value(b) for b in group["betas"])
        lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
        param, g = _real(p._data), _real(grad._data)
        exp_avg, exp_avg_sq = _real(state["exp_avg"]._data), _real(state["exp_avg_sq"]._data)
        step_t = state["step"]
        step_t._data += 1
        if group["maximize"]:
            g = -g
        if wd != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * wd
            else:
                g = g + wd * param
        tmp, upd = self._buffers(param.shape, param.dtype)
        w = 1 - beta1  # exp_avg.lerp_(grad, 1 - beta1)
        if abs(w) < 0.5:
            np.subtract(g, exp_avg, out=tmp)
            tmp *= w
            exp_avg += tmp
        else:
            np.subtract(g, exp_avg, out=tmp)
            tmp *= 1 - w
            np.subtract(g, tmp, out=exp_avg)
        exp_avg_sq *= beta2  # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp
        step = float(step_t._data)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        second = exp_avg_sq
        if group["amsgrad"]:
            second = _real(state["max_exp_avg_sq"]._data)
            np.maximum(second, exp_avg_sq, out=second)
        np.sqrt(second, out=tmp)  # denom = sqrt(v) / bias_correction2_sqrt + eps
        tmp /= bias_correction2_sqrt
        tmp += eps
        np.multiply(exp_avg, -step_size, out=upd)  # param.addcdiv_(m, denom, -step_size)
        upd /= tmp
        param += upd
        _bump(p)

    def _differentiable_update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        # torch's differentiable branch: bias corrections as tensors of the step, the update
        # from ember ops (in the graph).
        beta1, beta2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        step_t = state["step"]
        step_t.add_(1)
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** step_t
        bias_correction2 = 1 - beta2 ** step_t
        step_size_neg = (lr / bias_correction1).neg()
        bias_correction2_sqrt = bias_correction2.sqrt()
        second = exp_avg_sq
        if group["amsgrad"]:
            state["max_exp_avg_sq"].copy_(
                ember.maximum(state["max_exp_avg_sq"].clone(), exp_avg_sq))
            second = state["max_exp_avg_sq"]
        denom = (second.sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(
            eps / step_size_neg)
        p.addcdiv_(exp_avg.clone(), denom)
