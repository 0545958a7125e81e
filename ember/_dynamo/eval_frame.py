"""Where the class of a module that ``ember.compile`` returns lives, as torch's
``torch._dynamo.eval_frame.OptimizedModule`` does (so ``isinstance`` tests and pickles find
it by that path). The class is made on first use: it subclasses ``nn.Module``."""


def __getattr__(name: str):
    if name == "OptimizedModule":
        from ember._compile import _optimized_module_class

        return _optimized_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
