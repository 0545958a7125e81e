"""``Adam`` (mirrors ``torch.optim.Adam``): AMSGrad, L2 or decoupled weight decay."""
from __future__ import annotations

import numpy as np

import ember
from ember import _blas
from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _adam_moments_,
    _check_adam_ranges,
    _check_capturable,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _check_moment_dtype,
    _check_state_shape,
    _closure_loss,
    _lr_scalar,
    _real,
    _refuse_foreach_differentiable,
    _step_tensor,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["Adam"]


def _requires_grad(value) -> bool:
    """A hyperparameter given as a tensor that requires grad (a differentiable step keeps
    it in the graph)."""
    return isinstance(value, Tensor) and value.requires_grad


def _adam_jobs(group: dict, params: list, states: list) -> list:
    """The parameters' updates for ``_adam_kernel`` (NOTE [Optimizer threads]), their steps
    counted and their scalars folded (NOTE [Adam's folded scalars])."""
    beta1, beta2 = _value(group["betas"][0]), _value(group["betas"][1])
    lr, wd, eps = _lr_scalar(group["lr"]), group["weight_decay"], group["eps"]
    maximize, amsgrad = group["maximize"], group["amsgrad"]
    decay, l2 = None, 0.0
    if wd != 0:
        if group["decoupled_weight_decay"]:
            decay = float(1 - lr * wd)
        else:
            l2 = wd
    n_scratch = 2 if maximize or l2 else 1
    jobs = []
    folded: dict = {}  # (step, half precision, BLAS passes) -> the kernel's scalars
    for p, state in zip(params, states):
        step_t = state["step"]
        step_t._data += 1
        step = float(step_t._data)
        param = _real(p._data)
        half = param.dtype.itemsize < 4
        blas = param.size >= _blas.PASSES_MIN  # per parameter, not per thread's cut
        scalars = folded.get((step, half, blas))
        if scalars is None:
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            step_size = float(lr / (1 - beta1 ** step))
            if half:
                denom_div, eps_, scale = bias_correction2_sqrt, eps, -step_size
            else:
                denom_div, eps_, scale = (1.0, eps * bias_correction2_sqrt,
                                          -step_size * bias_correction2_sqrt)
            scalars = folded[(step, half, blas)] = (
                maximize, decay, l2, 1 - beta1, beta2, 1 - beta2, denom_div, eps_, scale, blas)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        max_exp_avg_sq = state["max_exp_avg_sq"] if amsgrad else None
        # NOTE [Version counters]: each tensor the step writes in place
        p._vc[0] += 1
        step_t._vc[0] += 1
        exp_avg._vc[0] += 1
        exp_avg_sq._vc[0] += 1
        if amsgrad:
            max_exp_avg_sq._vc[0] += 1
        arrays = (param, _real(p._grad._data), _real(exp_avg._data), _real(exp_avg_sq._data),
                  _real(max_exp_avg_sq._data) if amsgrad else None)
        jobs.append((p, arrays, n_scratch, scalars))
    return jobs


def _adam_kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scratch, maximize, decay,
                 l2, weight, beta2, one_minus_beta2, denom_div, eps, scale, blas) -> None:
    """torch's single-tensor Adam step on arrays, in place, with one or two temporaries;
    ``blas``: the moments and the update take BLAS's one-pass calls where they can (a
    parameter of ``_blas.PASSES_MIN`` elements or more).

    NOTE [Adam's folded scalars]: torch divides ``sqrt(v)`` by ``sqrt(bias_correction2)``,
    adds ``eps`` and divides the step size times ``m`` by that; here (in float32 and
    float64) the first division is folded into the two scalars, ``eps * sqrt(bc2)`` and
    ``step_size * sqrt(bc2)``, which saves one pass over the parameters and changes the
    result by rounding only. Half-precision dtypes keep the division: the folded scalars
    could fall below their smallest normal number.
    """
    tmp = scratch[0]
    _adam_moments_(param, grad, exp_avg, exp_avg_sq, maximize, l2, decay, weight, beta2,
                   one_minus_beta2, scratch[1] if maximize or l2 else None, tmp, blas)
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        second = np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    np.sqrt(second, out=tmp)
    if denom_div != 1.0:
        tmp /= denom_div
    tmp += eps
    np.divide(exp_avg, tmp, out=tmp)
    if not (blas and _blas.axpy(scale, tmp, param)):
        tmp *= scale
        param += tmp


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

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"amsgrad": False, "maximize": False, "foreach": None,
                                     "capturable": False, "differentiable": False,
                                     "decoupled_weight_decay": False, "fused": None})

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

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``Adam.step``: one update; ``closure`` re-evaluates the loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            if group["fused"]:
                _check_fused_params(group)
            params, states = [], []
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self._init_state(group, p)
                _check_moment_dtype(state["exp_avg"], grad)
                _check_state_shape(state["exp_avg"], grad)
                if group["capturable"]:
                    _check_capturable(foreach=bool(group["foreach"]))
                _refuse_foreach_differentiable(group)  # after torch's capturable check
                if group["differentiable"]:
                    self._differentiable_update(group, p, grad, state)
                else:
                    params.append(p)
                    states.append(state)
            if params:
                self._run_jobs(_adam_kernel, _adam_jobs(group, params, states), 12)
        return loss

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
            elif _requires_grad(wd):  # torch's in-place form, into the gradient itself
                grad = grad.addcmul_(p.clone(), wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg.lerp_(grad, 1 - beta1)
        if _requires_grad(beta2):  # addcmul's value is a number: torch lerps instead
            exp_avg_sq.lerp_(grad.square(), 1 - beta2)
        else:
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        # a beta in the graph saves the step its power reads: a copy, as the next step
        # counts in place
        bias_correction1 = 1 - beta1 ** (step_t.clone() if _requires_grad(beta1) else step_t)
        bias_correction2 = 1 - beta2 ** (step_t.clone() if _requires_grad(beta2) else step_t)
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
