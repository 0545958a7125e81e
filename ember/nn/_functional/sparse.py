"""Part of ``ember.nn.functional``."""

__all__: list[str] = []
