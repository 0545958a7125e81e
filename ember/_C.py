"""Where torch keeps the classes of its C extension (``torch._C``): ember's counterparts of
those that torch's users meet by that path, in a traceback, a ``repr`` or a pickle
(``torch._C._LinAlgError``, public as ``linalg.LinAlgError``)."""
from ember._ops.linalg import LinAlgError as _LinAlgError

__all__ = ["_LinAlgError"]
