"""``ember.version``: mirrors ``torch.version``, the build's description.

Values that describe ember are ember's own (``__version__``; ``git_version`` is "Unknown":
ember is installed from source without a build step that records the commit, which is what
torch reports in that case); ``debug`` is False (no debug build of ember exists); ``cuda``,
``hip``, ``rocm`` and ``xpu`` are None, as in torch's CPU build: ember has no such toolkit.
"""
from __future__ import annotations

import ember

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]

__version__ = str(ember.__version__)  # one source: the package's own
debug = False
cuda: str | None = None
git_version = "Unknown"
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
