"""``Adafactor`` (mirrors ``torch.optim.Adafactor``): Adam-like steps from a factored second
moment (row and column means of the squared gradient for tensors of two dims or more)."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _check_lr,
    _closure_loss,
    _step_tensor,
    _upgrade_loaded_state,
    _value,
)

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Mirrors ``torch.optim.Adafactor``.

    Args: params, lr=1e-2 (the largest relative step size, and the weight decay's
    coefficient), beta2_decay=-0.8, eps=(None, 1e-3) (epsilon1, None: the parameter dtype's
    machine epsilon; epsilon2, the smallest parameter scale), d=1.0 (the update clipping
    threshold), weight_decay=0.0, and keyword-only foreach, maximize.

    Each step t: beta2 = 1 - t ** beta2_decay, rho = min(lr, 1 / sqrt(t)),
    alpha = max(epsilon2, RMS(param)) * rho; decoupled weight decay param *= 1 - lr *
    weight_decay; the second moment V from the running row and column means of grad ** 2
    (V = row * col / max(mean(row), epsilon1)) or, below two dims, their running average;
    U = grad / max(sqrt(V), epsilon1), clipped to U / max(1, RMS(U) / d); param -= alpha * U.

    >>> p = ember.nn.Parameter(ember.ones(2, 3)); p.grad = ember.ones(2, 3)
    >>> Adafactor([p], lr=0.5).step()
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        _upgrade_loaded_state(self, {"foreach": None, "maximize": False})

    def _init_state(self, p: Tensor) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor()
            if p.dim() > 1:
                # the running means along the last dim (rows) and the one before (columns)
                state["row_var"] = p.grad.new_zeros(p.shape[:-1] + (1,))
                state["col_var"] = p.grad.new_zeros(p.shape[:-2] + (1, p.shape[-1]))
            else:
                state["variance"] = ember.zeros_like(p.grad)
        return state

    def step(self, closure=None):
        """Mirrors ``Adafactor.step``."""
        loss = _closure_loss(closure)
        with ember.no_grad():
            for group in self.param_groups:
                # a tensor lr stays a scalar of its dtype: torch's rho and alpha are then
                # 0-d tensors of that dtype, rounded in it
                lr, d = group["lr"], group["d"]
                if isinstance(lr, Tensor):
                    lr = lr._data[()]
                eps1, eps2 = group["eps"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.is_complex():
                        raise RuntimeError("Adafactor does not support complex parameters")
                    self._update(p, self._init_state(p), group, lr, d, eps1, eps2)
        return loss

    @staticmethod
    def _update(p: Tensor, state: dict, group: dict, lr: float, d: float, eps1, eps2) -> None:
        grad = -p.grad if group["maximize"] else p.grad
        if eps1 is None:
            eps1 = ember.finfo(p.dtype).eps
        state["step"] += 1
        step = _value(state["step"])
        beta2 = 1 - step ** group["beta2_decay"]
        rho = min(lr, 1 / math.sqrt(step))
        alpha = max(eps2, p.norm(2).item() / math.sqrt(p.numel())) * rho
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        if p.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            # torch's mean of squares along a dim is its norm squared over the length:
            # the sqrt and square round, so the bits differ from square().mean()
            for var, dim in ((row_var, -1), (col_var, -2)):
                mean_square = ember.norm(grad, dim=dim, keepdim=True).square_()
                var.lerp_(mean_square.div_(grad.size(dim)), 1 - beta2)
            var = row_var * col_var / row_var.mean(dim=-2, keepdim=True).clamp(min=eps1)
        else:
            var = state["variance"]
            var.lerp_(grad.square(), 1 - beta2)
        update = var.clamp(min=eps1 * eps1).rsqrt() * grad
        clip = max(1.0, update.norm(2).item() / (math.sqrt(update.numel()) * d))
        p.add_(update, alpha=-alpha / clip)
