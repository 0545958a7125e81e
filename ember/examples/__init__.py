"""Runnable ember programs, written as ordinary PyTorch code with ``import ember as torch``.

``python -m ember.examples.digits`` trains a small CNN on the handwritten digits bundled in
``ember/data`` and writes a checkpoint that PyTorch loads.
"""
