"""Mirrors ``torch.nn.functional``: the functional form of every layer, activation and loss.

The functions live by topic in ``ember/nn/_functional/``; their array kernels and backward
rules are op records in ``ember/_ops/nn_*.py``.
"""
from ember._ops.out import install as _install_out  # torch's out= keyword, below
from ember.nn._functional.activation import *  # noqa: F403
from ember.nn._functional.attention import *  # noqa: F403
from ember.nn._functional.conv import *  # noqa: F403
from ember.nn._functional.distance import *  # noqa: F403
from ember.nn._functional.dropout import *  # noqa: F403
from ember.nn._functional.linear import *  # noqa: F403
from ember.nn._functional.loss import *  # noqa: F403
from ember.nn._functional.normalization import *  # noqa: F403
from ember.nn._functional.pooling import *  # noqa: F403
from ember.nn._functional.sparse import *  # noqa: F403
from ember.nn._functional.vision import *  # noqa: F403

_install_out(globals(), "nn.functional.")
del _install_out
