"""``Muon`` (mirrors ``torch.optim.Muon``): momentum SGD for 2-d parameters whose update is
orthogonalised by a few Newton-Schulz iterations in bfloat16."""
from __future__ import annotations

import math

import ember
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_lr, _closure_loss

__all__ = ["Muon"]

# torch's defaults: the quintic's coefficients, its iteration count, and the floor of the
# norm the update is divided by before the iterations
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5
EPS = 1e-7


def _zeropower_via_newtonschulz(update: Tensor, ns_coefficients: tuple, ns_steps: int,
                                eps: float) -> Tensor:
    """``update`` brought near the nearest semi-orthogonal matrix (its singular values near
    one) by ``ns_steps`` quintic Newton-Schulz iterations X <- a X + (b A + c A A) X with
    A = X X^T, run in bfloat16 on the wide orientation, as torch runs them."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(update.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = update.size(0) > update.size(1)
    x = update.bfloat16()
    if tall:
        x = x.T
    x.div_(x.norm().clamp(min=eps))  # a spectral norm of at most one
    for _ in range(ns_steps):
        gram = x @ x.T
        x = ember.addmm(x, ember.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn: str | None, shape) -> float | Tensor:
    """``lr`` scaled for a ``shape`` (rows, columns) parameter: by sqrt(max(1, rows / cols))
    ("original", the default) or by 0.2 sqrt(max(rows, cols)) ("match_rms_adamw"), so
    the orthogonalised update's RMS does not depend on the shape."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Mirrors ``torch.optim.Muon``.

    Args: params (2-d tensors only), lr=1e-3, weight_decay=0.1 (decoupled, scaled by lr),
    momentum=0.95, nesterov=True, ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7,
    ns_steps=5, adjust_lr_fn=None ("original" or "match_rms_adamw").

    Each step: B <- momentum B + (1 - momentum) g (a lerp); the update is
    g + momentum (B - g) with Nesterov, else B; it is orthogonalised
    (``_zeropower_via_newtonschulz``); param *= 1 - lr weight_decay; param -= lr' update with
    lr' = ``_adjust_lr(lr)``.

    >>> p = ember.nn.Parameter(ember.ones(3, 2)); p.grad = ember.eye(3, 2)
    >>> Muon([p], lr=0.02).step()
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B,
                                                                DEFAULT_C),
                 eps: float = EPS, ns_steps: int = DEFAULT_NS_STEPS,
                 adjust_lr_fn: str | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                    "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
                    "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def step(self, closure=None):
        """Mirrors ``Muon.step``: one update of every parameter that has a gradient."""
        loss = _closure_loss(closure)
        with ember.no_grad():
            for group in self.param_groups:
                lr = group["lr"]
                if isinstance(lr, Tensor) and lr.dim() != 0:
                    lr = lr.squeeze()
                updates = []  # torch checks every parameter of a group before it updates
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.is_complex():
                        raise RuntimeError("Muon does not support complex parameters")
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = ember.zeros_like(p.grad)
                    updates.append((p, state["momentum_buffer"]))
                for p, buf in updates:
                    self._update(p, buf, group, lr)
        return loss

    @staticmethod
    def _update(p: Tensor, buf: Tensor, group: dict, lr) -> None:
        grad, momentum = p.grad, group["momentum"]
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        buf.lerp_(grad, 1 - momentum)
        update = grad.lerp(buf, momentum) if group["nesterov"] else buf
        update = _zeropower_via_newtonschulz(update, group["ns_coefficients"],
                                             group["ns_steps"], group["eps"])
        adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(update, alpha=-adjusted_lr)
