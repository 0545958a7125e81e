"""What user code meets of ``torch._dynamo`` beside ``compile``: ``eval_frame.OptimizedModule``,
the class of a compiled module (scripts test for it to reach the module, ``_orig_mod``)."""
from ember._dynamo import eval_frame

__all__ = ["eval_frame"]
