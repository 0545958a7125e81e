"""Part of ``ember.nn.modules``."""

__all__: list[str] = []
