"""Mirrors ``torch.distributions.utils``: parameter broadcasting, probs/logits conversion and
the cached ``lazy_property``."""
from __future__ import annotations

import ember
from ember import Size, Tensor

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs",
           "probs_to_logits", "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant

_EMPTY_SHAPE = Size()  # the default sample_shape

# The numbers torch's distributions take as parameters: Python's bool, int and float (and
# their subclasses, such as numpy.float64); a numpy.float32, a complex or a Fraction is refused.
_NUMBER = (int, float)


def broadcast_all(*values) -> tuple:
    """Mirrors ``torch.distributions.utils.broadcast_all``: numbers become tensors of the
    first tensor's dtype and device (the default dtype when there is none), then all are
    broadcast together."""
    if not all(isinstance(v, (Tensor, *_NUMBER)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        options = {"dtype": ember.get_default_dtype()}
        for value in values:
            if isinstance(value, Tensor):
                options = {"dtype": value.dtype, "device": value.device}
                break
        values = [v if isinstance(v, Tensor) else ember.tensor(v, **options) for v in values]
    return ember.broadcast_tensors(*values)


def _probs_or_logits(dist, probs, logits) -> Size:
    """For the families parameterised by ``probs`` or ``logits`` (one of them, as torch
    insists): broadcast the one given, set it and ``dist._param`` to it, and return the batch
    shape (empty for a number)."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    given = probs if probs is not None else logits
    (param,) = broadcast_all(given)
    setattr(dist, "probs" if probs is not None else "logits", param)
    dist._param = param
    return Size() if isinstance(given, _NUMBER) else param.size()


def _broadcast_pair(first, second) -> tuple:
    """``broadcast_all(first, second)`` and the batch shape torch's two-parameter families
    give: empty for two numbers, else the broadcast shape."""
    a, b = broadcast_all(first, second)
    numbers = isinstance(first, _NUMBER) and isinstance(second, _NUMBER)
    return a, b, Size() if numbers else a.size()


def _standard_normal(shape, dtype, device) -> Tensor:
    return ember.empty(shape, dtype=dtype, device=device).normal_()


def _expand_probs_or_logits(source, new, shape) -> None:
    """Give ``new`` whichever of ``probs`` and ``logits`` ``source`` holds (given or already
    computed), expanded to ``shape``, with ``_param`` the last of them, as torch's
    ``expand`` of the families with a ``_param`` does."""
    if "probs" in source.__dict__:
        new.probs = source.probs.expand(shape)
        new._param = new.probs
    if "logits" in source.__dict__:
        new.logits = source.logits.expand(shape)
        new._param = new.logits


def _sum_rightmost(value, dim: int):
    """``value`` summed over its ``dim`` rightmost dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Mirrors ``torch.distributions.utils.clamp_probs``: into ``[eps, 1 - eps]``."""
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Mirrors ``torch.distributions.utils.logits_to_probs``: sigmoid (binary) or softmax
    over the last dimension."""
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, dim=-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Mirrors ``torch.distributions.utils.probs_to_logits`` (on clamped probabilities)."""
    clamped = clamp_probs(probs)
    if is_binary:
        return ember.log(clamped) - ember.log1p(-clamped)
    return ember.log(clamped)


class lazy_property:
    """Mirrors ``torch.distributions.utils.lazy_property``: computed (with grad enabled) on
    first access and stored in the instance, as a parameter given to the constructor is."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _LocScale:
    """The loc/scale pair of the location-scale families (Normal, Laplace, Cauchy), as
    torch's classes each handle it: broadcast together (the batch shape theirs, empty for two
    numbers) and expanded together."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if _LocScale in cls.__bases__:
            cls._family = cls  # what ``expand`` checks a subclass's ``_instance`` against

    def __init__(self, loc, scale, validate_args=None) -> None:
        self.loc, self.scale, batch_shape = _broadcast_pair(loc, scale)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        from ember.distributions.distribution import Distribution

        new = self._get_checked_instance(self._family, _instance)
        batch_shape = Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new


class _BinaryParams:
    """The probs/logits pair of the families of one success probability (Bernoulli, Binomial,
    Geometric, LogitRelaxedBernoulli): whichever was not given is computed from the other on
    first use, as torch's classes each do."""

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)



def _tril_mask(size: int, diag: int, device) -> Tensor:
    """``size x size`` bools, True on and below diagonal ``diag``."""
    positions = ember.arange(size, device=device)
    return positions <= positions.unsqueeze(-1) + diag


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """Mirrors ``torch.distributions.utils.tril_matrix_to_vec``: the elements of the last
    two dimensions (a ``D x D`` matrix) on or below diagonal ``diag``, row by row.

    Example: ``tril_matrix_to_vec(torch.arange(9.).reshape(3, 3))`` is
    ``tensor([0., 3., 4., 6., 7., 8.])``.
    """
    size = mat.shape[-1]
    if not -size <= diag < size:
        raise ValueError(f"diag ({diag}) provided is outside [{-size}, {size - 1}].")
    return mat[..., _tril_mask(size, diag, mat.device)]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """Mirrors ``torch.distributions.utils.vec_to_tril_matrix``: the last dimension laid row
    by row on and below diagonal ``diag`` of a ``D x D`` matrix, zeros elsewhere; the inverse
    of ``tril_matrix_to_vec``.

    Example: ``vec_to_tril_matrix(torch.arange(1., 4.))`` is
    ``tensor([[1., 0.], [2., 3.]])``.
    """
    n = vec.shape[-1]
    # D solves n = D (D + 1) / 2 + diag D - diag (diag + 1) / 2 for diag >= 0, and
    # n = (D + diag) (D + diag + 1) / 2 below the main diagonal; as in torch, a root just
    # above an integer is refused and one just below it is rounded down (the fill then
    # reports the mismatch)
    linear = 1 + 2 * diag
    size = (-linear + (linear * linear + 8 * n + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(size) - size > ember.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {n} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    size = round(size)
    mat = vec.new_zeros(vec.shape[:-1] + (size, size))
    mat[..., _tril_mask(size, diag, vec.device)] = vec
    return mat
