"""The topic modules behind ``ember.nn.functional``."""
