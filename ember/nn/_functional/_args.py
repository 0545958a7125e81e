"""torch's argument parser's reading of an ``int[]`` argument, shared by the functions of
``ember.nn.functional`` that take one positionally."""
from __future__ import annotations

import operator


def int_tuple(fname: str, arg: str, value, position: int = 2) -> tuple:
    """``value`` as a tuple of ints, or torch's TypeError: a tuple or list (a ``Size``) whose
    elements have ``__index__`` (bools excepted); the message for a bad first element
    differs from the one for a later element."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be tuple of "
                        f"ints, not {type(value).__name__}")
    sizes = []
    for i, item in enumerate(value):
        try:
            if isinstance(item, bool):
                raise TypeError
            sizes.append(operator.index(item))
        except TypeError:
            kind = type(item).__name__
            if i == 0:
                raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be "
                                f"tuple of ints, but found element of type {kind} at pos 0"
                                ) from None
            raise TypeError(f"{fname}(): argument '{arg}' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got {kind}\""
                            ) from None
    return tuple(sizes)
