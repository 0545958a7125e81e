"""``ember.special``: mirrors ``torch.special`` for the functions ember has."""
from ember._ops import special_more as _special_more
from ember._ops.out import install as _install_out
from ember._ops.pointwise import (
                                  digamma,
                                  erf,
                                  erfc,
                                  erfinv,
                                  exp2,
                                  expit,
                                  expm1,
                                  gammaln,
                                  i0,
                                  i1,
                                  log1p,
                                  logit,
                                  polygamma,
                                  psi,
                                  round,
                                  sinc,
                                  xlogy,
)

__all__ = ["digamma", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i1",
           "log1p", "logit", "polygamma", "psi", "round", "sinc", "xlogy"]


# the rest of torch.special (ember._ops.special_more)
globals().update({_name: getattr(_special_more, _name) for _name in _special_more.SPECIAL_ALL})
__all__ += _special_more.SPECIAL_ALL

_install_out(globals(), "special.")  # torch's out= keyword
del _install_out
