"""``ember.utils``: mirrors ``torch.utils`` (``checkpoint``, ``swap_tensors`` today)."""
from ember._runtime import swap_tensors  # noqa: F401 - torch.utils.swap_tensors


def __getattr__(name: str):
    # ``ember.utils.data`` starts multiprocessing machinery: load it on first access only.
    if name == "data":
        import importlib

        module = importlib.import_module("ember.utils.data")
        globals()["data"] = module
        return module
    raise AttributeError(f"module 'ember.utils' has no attribute '{name}'")
