"""``ember.utils``: mirrors ``torch.utils`` (``checkpoint``, ``data``, ``dlpack``, ``hooks``,
``swap_tensors``), plus ``ember.utils.safetensors`` (``safetensors.torch`` for ember)."""
from ember._runtime import swap_tensors  # noqa: F401 - torch.utils.swap_tensors


def __getattr__(name: str):
    # ``ember.utils.data`` starts multiprocessing machinery and ``ember.utils.safetensors``
    # needs an optional package: load them (and dlpack) on first access only.
    if name in ("checkpoint", "data", "dlpack", "hooks", "safetensors"):
        import importlib

        module = importlib.import_module(f"ember.utils.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ember.utils' has no attribute '{name}'")
