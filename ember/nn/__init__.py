"""Mirrors ``torch.nn``: modules, parameters, ``functional``, ``init`` and ``utils``.

Imported on first use of ``ember.nn`` (see ``ember.__getattr__``), so ``import ember`` stays
fast for programs without models.
"""
from ember.nn import functional, init, parallel, utils  # noqa: F401 - torch.nn's submodules
from ember.nn.modules import *  # noqa: F403 - Module, Linear, Conv2d, ... (see __all__)
from ember.nn.parallel import DataParallel  # noqa: F401
from ember.nn.parameter import (  # noqa: F401
    Buffer,
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
)
