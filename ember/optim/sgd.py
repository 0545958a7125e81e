"""``SGD`` (mirrors ``torch.optim.SGD``): momentum, dampening, Nesterov, weight decay."""
from __future__ import annotations

import numpy as np

from ember import _blas
from ember._tensor import Tensor, make
from ember.optim.optimizer import (
    Optimizer,
    _check_fused,
    _check_fused_params,
    _check_lr,
    _check_state_shape,
    _closure_loss,
    _detached_copy,
    _negated_decayed,
    _real,
    _TensorKernels,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """Mirrors ``torch.optim.SGD``.

    Args: params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, and
    keyword-only maximize, foreach, differentiable, fused (NOTE [Optimizer updates]).
    The first step's momentum buffer is the gradient itself, as in torch.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0,
                 nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        _check_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"nesterov": False, "maximize": False, "foreach": None,
                                     "differentiable": False, "fused": False}, ())

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``SGD.step``: one update; ``closure`` re-evaluates the loss."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            if group["fused"]:
                _check_fused_params(group)
            if group["differentiable"]:
                self._differentiable_update(group)
                continue
            lr, momentum = _value(group["lr"]), group["momentum"]
            wd, maximize = _value(group["weight_decay"]), group["maximize"]
            scalars = (maximize, wd, momentum, 1 - group["dampening"], group["nesterov"])
            later, first = (*scalars, False, -lr), (*scalars, True, -lr)
            n_scratch = 2 if maximize or wd != 0 else 1
            jobs = []
            new_buffers = []  # NOTE [SGD's new momentum buffers]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                p._vc[0] += 1  # NOTE [Version counters]
                if momentum == 0:
                    jobs.append((p, (_real(p._data), _real(grad._data), None), n_scratch, later))
                    continue
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:  # torch's ``grad.clone()``: filled by the kernel
                    buf = make(np.empty_like(p._data))
                    new_buffers.append((state, buf))
                    jobs.append((p, (_real(p._data), _real(grad._data), _real(buf._data)),
                                 n_scratch, first))
                else:
                    _check_state_shape(buf, grad)
                    buf._vc[0] += 1
                    jobs.append((p, (_real(p._data), _real(grad._data), _real(buf._data)),
                                 n_scratch, later))
            self._run_jobs(_sgd_kernel, jobs, 4)
            for state, buf in new_buffers:
                state["momentum_buffer"] = buf
        return loss

    def _differentiable_update(self, group: dict) -> None:
        K = _TensorKernels
        lr, momentum = group["lr"], group["momentum"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        wd, maximize = group["weight_decay"], group["maximize"]
        new_buffers = []  # NOTE [SGD's new momentum buffers]
        for p in group["params"]:
            if p._grad is None:
                continue
            grad = p._grad
            if maximize:
                grad = K.neg(grad)
            if wd != 0:
                grad = K.add(grad, p, _value(wd))
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = _detached_copy(K, p, grad)
                    new_buffers.append((state, buf))
                else:
                    K.mul_(buf, momentum)
                    K.add_(buf, grad, 1 - dampening)
                grad = K.add(grad, buf, momentum) if nesterov else buf
            if isinstance(lr, Tensor) and lr.requires_grad:
                p.addcmul_(grad, lr, value=-1)
            else:
                K.add_(p, grad, -_value(lr))
        for state, buf in new_buffers:
            state["momentum_buffer"] = buf


# NOTE [SGD's new momentum buffers]: as torch's SGD reads every parameter's buffer before it
# updates any and stores them after, a buffer made in a step enters the state after the
# step: a parameter given twice in a group (torch warns) then starts two buffers from its
# gradient, the later one kept, instead of updating the first one's.
def _sgd_kernel(param, grad, buf, scratch, maximize, weight_decay, momentum, dampening_alpha,
                nesterov, first, neg_lr) -> None:
    """torch's single-tensor SGD step on arrays, in place, with one or two temporaries."""
    tmp = scratch[0]
    if maximize or weight_decay != 0:
        grad = _negated_decayed(grad, param, maximize, weight_decay, scratch[1], tmp)
    if buf is not None:
        if first:
            np.copyto(buf, grad)
        elif not _blas.axpby(dampening_alpha, grad, momentum, buf):  # one pass: ember/_blas.py
            buf *= momentum
            if dampening_alpha == 1:
                buf += grad
            else:
                np.multiply(grad, dampening_alpha, out=tmp)
                buf += tmp
        if nesterov:
            np.multiply(buf, momentum, out=tmp)
            grad = np.add(grad, tmp, out=tmp)
        else:
            grad = buf
    if not _blas.axpy(neg_lr, grad, param):
        np.multiply(grad, neg_lr, out=tmp)
        param += tmp
