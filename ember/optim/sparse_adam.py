"""``SparseAdam`` (mirrors ``torch.optim.SparseAdam``)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_lr, _closure_loss, _use_grad_for_differentiable

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Mirrors ``torch.optim.SparseAdam``: Adam for sparse gradients.

    Args: params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False.

    ember has no sparse tensors yet, so every gradient is dense, and ``step`` refuses it
    with torch's error; construction checks and groups behave as torch's.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        complex_params = []
        for index, group in enumerate(self.param_groups):
            for d_index, p in enumerate(group["params"]):
                if p.is_complex():
                    complex_params.append([index, d_index])
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    @_use_grad_for_differentiable
    def step(self, closure=None):
        """Mirrors ``SparseAdam.step``: raises torch's error for the (dense) gradients."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
        return loss
