"""``ember.special``: mirrors ``torch.special`` for the functions ember has."""
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
