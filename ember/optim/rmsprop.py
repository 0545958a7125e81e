"""``RMSprop`` (mirrors ``torch.optim.RMSprop``): centred and momentum variants."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _check_capturable,
    _check_lr,
    _check_moment_dtype,
    _check_state_shape,
    _closure_loss,
    _lerp_,
    _negated_decayed,
    _real,
    _refuse_foreach_differentiable,
    _refuse_grad_number,
    _step_tensor,
    _TensorKernels,
    _upgrade_loaded_state,
    _use_grad_for_differentiable,
    _value,
    _zeros_like,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Mirrors ``torch.optim.RMSprop``.

    Args: params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, capturable=False, foreach=None, maximize=False, differentiable=False.
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"momentum": 0, "centered": False, "foreach": None,
                                     "maximize": False, "differentiable": False,
                                     "capturable": False})

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``RMSprop.step``."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            _refuse_foreach_differentiable(group)
            differentiable = group["differentiable"]
            lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
            alpha, momentum = group["alpha"], group["momentum"]
            maximize = group["maximize"]
            scalars = (maximize, wd, alpha, 1 - alpha, eps, momentum, -lr)
            n_scratch = 3 if maximize or wd != 0 else 2
            jobs = []
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = _zeros_like(p)
                if group["capturable"]:
                    _check_capturable()
                _check_state_shape(state["square_avg"], p._grad)
                if group["centered"]:
                    _check_moment_dtype(state["grad_avg"], p._grad)
                state["step"]._data += 1
                if differentiable:
                    self._differentiable_update(group, p, state)
                    continue
                # NOTE [Version counters]: each tensor the step writes in place
                p._vc[0] += 1
                state["step"]._vc[0] += 1
                state["square_avg"]._vc[0] += 1
                arrays = [_real(p._data), _real(p._grad._data), _real(state["square_avg"]._data)]
                for key, wanted in (("grad_avg", group["centered"]),
                                    ("momentum_buffer", momentum > 0)):
                    if wanted:
                        state[key]._vc[0] += 1
                        arrays.append(_real(state[key]._data))
                    else:
                        arrays.append(None)
                jobs.append((p, tuple(arrays), n_scratch, scalars))
            self._run_jobs(_rmsprop_kernel, jobs, 9)
        return loss

    @staticmethod
    def _differentiable_update(group: dict, p: Tensor, state: dict) -> None:
        K = _TensorKernels
        lr, wd, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
        alpha, momentum = group["alpha"], group["momentum"]
        grad, square_avg = p._grad, state["square_avg"]
        if group["maximize"]:
            grad = K.neg(grad)
        if wd != 0:
            grad = K.add(grad, p, wd)
        K.mul_(square_avg, alpha)
        K.addcmul_(square_avg, grad, grad, 1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            K.lerp_(grad_avg, grad, 1 - alpha)
            avg = K.sqrt_(K.addcmul_(K.clone(square_avg), grad_avg, grad_avg, -1))
        else:
            avg = K.sqrt(square_avg)
        avg = K.adds(avg, eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            K.mul_(buf, momentum)
            K.addcdiv_(buf, grad, avg)
            _refuse_grad_number(group["lr"], "add_(): argument 'alpha'")
            K.add_(p, buf, -lr)
        else:
            _refuse_grad_number(group["lr"], "addcdiv_(): argument 'value'")
            K.addcdiv_(p, grad, avg, -lr)


def _rmsprop_kernel(param, grad, square_avg, grad_avg, buf, scratch, maximize, weight_decay,
                    alpha, one_minus_alpha, eps, momentum, neg_lr) -> None:
    """torch's single-tensor RMSprop step on arrays, in place, with two or three
    temporaries."""
    avg, tmp = scratch[0], scratch[1]
    if maximize or weight_decay != 0:
        grad = _negated_decayed(grad, param, maximize, weight_decay, scratch[2], tmp)
    # square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    square_avg *= alpha
    np.multiply(grad, one_minus_alpha, out=tmp)
    tmp *= grad
    square_avg += tmp
    if grad_avg is not None:
        _lerp_(grad_avg, grad, one_minus_alpha, tmp)
        # square_avg.addcmul(grad_avg, grad_avg, value=-1): adding -(g*g) is subtracting it
        np.multiply(grad_avg, grad_avg, out=avg)
        np.subtract(square_avg, avg, out=avg)
        np.sqrt(avg, out=avg)
    else:
        np.sqrt(square_avg, out=avg)
    avg += eps
    if buf is not None:
        buf *= momentum
        np.divide(grad, avg, out=tmp)
        buf += tmp
        np.multiply(buf, neg_lr, out=tmp)
    else:
        np.multiply(grad, neg_lr, out=tmp)
        tmp /= avg
    param += tmp
