"""``Adagrad`` (mirrors ``torch.optim.Adagrad``)."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _check_state_shape,
    _closure_loss,
    _full_like,
    _lr_scalar,
    _negated_decayed,
    _real,
    _refuse_foreach_differentiable,
    _refuse_grad_number,
    _step_tensor,
    _TensorKernels,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Mirrors ``torch.optim.Adagrad``.

    Args: params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, foreach, and keyword-only maximize, differentiable, fused. The state (``sum``
    and ``step``) is made at construction, as torch's.
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, bool(group["fused"]))

    def _init_state(self, p: Tensor, fused: bool) -> None:
        """torch's state of a parameter: its step, and its sum filled with the constructor's
        ``initial_accumulator_value`` (torch reads no group's own value). Made at
        construction, and at the first step of a parameter added later."""
        state = self.state[p]
        state["step"] = _step_tensor(0.0, fused)
        init = self.defaults["initial_accumulator_value"]
        state["sum"] = _full_like(p, complex(init, init) if p.is_complex() else init)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False, "differentiable": False,
                                     "fused": None})

    def share_memory(self) -> None:
        """Mirrors ``Adagrad.share_memory``: NumPy arrays of one process are already
        shared by every thread; nothing moves."""

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``Adagrad.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group, always=True)
            if group["fused"]:  # as torch, at the step: the parameters with a gradient
                _check_fused_params(group)
            differentiable = group["differentiable"]
            lr, wd, eps = _lr_scalar(group["lr"]), group["weight_decay"], group["eps"]
            lr_decay, maximize = group["lr_decay"], group["maximize"]
            n_scratch = 3 if maximize or wd != 0 else 2
            jobs = []
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:  # a parameter of a group added after construction
                    self._init_state(p, bool(group["fused"]))
                _check_state_shape(state["sum"], p._grad)
                state["step"]._data += 1
                step = _value(state["step"])
                clr = float(lr / (1 + (step - 1) * lr_decay))
                if differentiable:
                    self._differentiable_update(group, p, state["sum"], clr)
                    continue
                # NOTE [Version counters]: each tensor the step writes in place
                p._vc[0] += 1
                state["step"]._vc[0] += 1
                state["sum"]._vc[0] += 1
                jobs.append((p, (_real(p._data), _real(p._grad._data),
                                 _real(state["sum"]._data)),
                             n_scratch, (maximize, wd, eps, -clr)))
            self._run_jobs(_adagrad_kernel, jobs, 7)
        return loss

    @staticmethod
    def _differentiable_update(group: dict, p: Tensor, state_sum: Tensor, clr: float) -> None:
        K = _TensorKernels
        grad = p._grad
        if group["maximize"]:
            grad = K.neg(grad)
        if group["weight_decay"] != 0:
            grad = K.add(grad, p, group["weight_decay"])
        K.addcmul_(state_sum, grad, grad, 1)
        std = K.adds(K.sqrt(state_sum), group["eps"])
        _refuse_grad_number(group["lr"], "addcdiv_(): argument 'value'")
        K.addcdiv_(p, grad, std, -clr)


def _adagrad_kernel(param, grad, state_sum, scratch, maximize, weight_decay, eps,
                    neg_clr) -> None:
    """torch's single-tensor Adagrad step on arrays, in place, with two or three
    temporaries."""
    std, tmp = scratch[0], scratch[1]
    if maximize or weight_decay != 0:
        grad = _negated_decayed(grad, param, maximize, weight_decay, scratch[2], tmp)
    np.multiply(grad, grad, out=tmp)
    state_sum += tmp
    np.sqrt(state_sum, out=std)
    std += eps
    np.multiply(grad, neg_clr, out=tmp)
    tmp /= std
    param += tmp
