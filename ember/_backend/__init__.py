"""The array backends: the only place that imports NumPy (and, later, CuPy).

Everything else reaches arrays through ``xp``, the module passed to each op's forward, so
a second backend only has to be registered here.
"""
import warnings

import numpy

np = numpy
ndarray = numpy.ndarray

# Torch never warns on 1/0, log(0) or nan arithmetic; NumPy does, from inside our calls.
# Silence exactly those, and only when raised from ember's own modules.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")

_bfloat16 = None


def bfloat16_dtype() -> "numpy.dtype":
    """NumPy's bfloat16 dtype from ml_dtypes, imported on first use to keep import fast."""
    global _bfloat16
    if _bfloat16 is None:
        import ml_dtypes

        _bfloat16 = numpy.dtype(ml_dtypes.bfloat16)
    return _bfloat16
