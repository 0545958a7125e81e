"""NumPy's names for torch's arguments, in one place: torch's argument parser binds ``axis``
to a ``dim`` parameter, ``keepdims`` to ``keepdim``, ``x``/``a``/``x1`` to ``input`` and
``x2`` to ``other`` (``torch.sum(t, axis=0, keepdims=True)``, ``torch.add(x1=a, x2=b)``) in
every function it binds; the functions torch writes in Python take only their own names.

NOTE [NumPy argument names]
A call that uses none of these names costs the functions out.py wraps one empty dict: their
generated wrappers (NOTE [Generated out= wrappers]) take ``**numpy_names`` too. The other
functions of ember's namespaces get a wrapper of the same kind here (compiled once per
parameter list, on first use). Only a call that passes a keyword the function does not name
reaches ``rebind``, which applies torch's rule: a parameter not given under its own name
takes the value of its first NumPy name given (in the order above); a NumPy name left over
(its parameter was given too) or any unknown keyword is refused as torch refuses it, naming
the first keyword of the call that is not a parameter's own name. A required positional
parameter has the default ``REQUIRED`` in a wrapper, so that a NumPy name can stand for it;
when none does, the function is called with what was given and raises Python's "missing
argument" error as before. ember differs in taking a parameter given explicitly at its
default value (``sum(x, keepdims=True, keepdim=False)``) as not given, and Tensor methods
(``t.mean(axis=1)``) take only their own names: a wrapper would cost every method call,
ember's own included, a frame.
"""
from __future__ import annotations

import functools
import inspect

ALIASES = {"input": ("x", "a", "x1"), "other": ("x2",), "dim": ("axis",),
           "keepdim": ("keepdims",)}
# torch's functions written in Python: its parser never sees their keywords, so they take
# no NumPy names
PYTHON_FUNCTIONS = frozenset((
    "lstsq", "matrix_rank", "norm", "solve", "split", "stft", "symeig", "unique",
    "unique_consecutive"))


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED = _Required()
_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)


_WRAPPER_NAMES = ("numpy_names", "REQUIRED", "rebind", "_fn")


def applies(fn) -> bool:
    """Whether ``fn`` gets NumPy names: it names a parameter that has them, and has no
    ``*args``/``**kwargs`` and no name the wrappers use. A signature shown over a function of
    ``*args``/``**kwargs`` may list one of several overloads (with keywords it requires): no
    call to compile."""
    try:
        params = _parameters(fn)
    except (TypeError, ValueError):
        return False
    code = getattr(fn, "__code__", None)
    overloads = code is not None and code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    return any(p.name in ALIASES for p in params) and not any(
        p.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD) or p.name in _WRAPPER_NAMES
        or (overloads and p.kind is _P.KEYWORD_ONLY and p.default is _P.empty)
        for p in params)


@functools.cache
def _parameters(fn) -> tuple:
    return tuple(inspect.signature(fn).parameters.values())


def rebind(fn, args: tuple, kwargs: dict, numpy_names: dict) -> tuple:
    """The arguments of a call of ``fn`` that passed keywords it does not name
    (``numpy_names``, in call order), with torch's rule applied (see the NOTE). ``args`` and
    ``kwargs`` hold what the wrapper bound, ``REQUIRED`` where nothing was."""
    args = list(args)
    kwargs = dict(kwargs)
    used = set()
    for i, p in enumerate(_parameters(fn)):
        names = ALIASES.get(p.name)
        positional = p.kind in _POSITIONAL and i < len(args)
        value = args[i] if positional else kwargs.get(p.name, REQUIRED)
        if names is None or (value is not REQUIRED and value is not p.default):
            continue
        for alias in names:
            if alias in numpy_names:
                used.add(alias)
                if positional:
                    args[i] = numpy_names[alias]
                else:
                    kwargs[p.name] = numpy_names[alias]
                break
    if len(used) != len(numpy_names):
        raise TypeError(f"{fn.__name__}() got an unexpected keyword argument "
                        f"'{next(iter(numpy_names))}'")
    while args and args[-1] is REQUIRED:  # the function raises its own "missing" error
        args.pop()
    return tuple(args), kwargs


def wrapper_source(params: tuple, out: bool) -> tuple:
    """(signature, fast-path test, call, positional tuple, keyword dict) source texts of a
    wrapper taking ``params`` and ``**numpy_names`` (and ``out`` where torch has it)."""
    sig, call, arg_list, kw_items, required = [], [], [], [], []
    for p in params:
        if p.kind in _POSITIONAL:
            sig.append(p.name)  # the defaults are the wrapper's ``__defaults__``
            if p.default is _P.empty:
                required.append(p.name)
            call.append(p.name)
            arg_list.append(p.name + ", ")
        else:
            if "*" not in sig:
                sig.append("*")
            sig.append(p.name)
            call.append(f"{p.name}={p.name}")
            kw_items.append(f"{p.name!r}: {p.name}")
    if any(p.kind is _P.POSITIONAL_ONLY for p in params):
        sig.insert(1 + max(i for i, p in enumerate(params) if p.kind is _P.POSITIONAL_ONLY), "/")
    if out:
        if "*" not in sig:
            sig.append("*")
        sig.append("out")
    sig.append("**numpy_names")
    fast = " and ".join(["not numpy_names"] + [f"{n} is not REQUIRED" for n in required])
    return (", ".join(sig), fast, ", ".join(call), "".join(arg_list),
            "{" + ", ".join(kw_items) + "}")


_CODES: dict = {}


def _exact_code(params: tuple):
    key = tuple((p.name, p.kind, p.default is _P.empty) for p in params)
    code = _CODES.get(key)
    if code is None:
        sig, fast, call, arg_list, kw_dict = wrapper_source(params, out=False)
        # ``rebind`` and ``REQUIRED`` are this module's globals, the wrapper's
        source = (
            "def _make(_fn):\n"
            f"    def wrapper({sig}):\n"
            f"        if {fast}:\n"
            f"            return _fn({call})\n"
            f"        args, kwargs = rebind(_fn, ({arg_list}), {kw_dict}, numpy_names)\n"
            "        return _fn(*args, **kwargs)\n"
            "    return wrapper\n")
        make = compile(source, "<ember NumPy-names wrapper>", "exec").co_consts[0]
        code = _CODES[key] = next(c for c in make.co_consts if hasattr(c, "co_freevars"))
    return code


def defaults(params: tuple) -> tuple:
    """(``__defaults__``, ``__kwdefaults__``) of a wrapper made by ``wrapper_source``."""
    positional = tuple(REQUIRED if p.default is _P.empty else p.default
                       for p in params if p.kind in _POSITIONAL)
    keyword = {p.name: p.default for p in params
               if p.kind is _P.KEYWORD_ONLY and p.default is not _P.empty}
    return positional or None, keyword


_PENDING: dict = {}


def _specialise(fn) -> None:
    for wrapper, params in _PENDING.pop(id(fn), ()):
        code = _exact_code(params)
        if code.co_freevars == wrapper.__code__.co_freevars:
            wrapper.__code__ = code
            wrapper.__defaults__, wrapper.__kwdefaults__ = defaults(params)


def _first_call(fn, args: tuple, kwargs: dict):
    names = {p.name for p in _parameters(fn)}
    unknown = {k: v for k, v in kwargs.items() if k not in names}
    if unknown:
        args, kwargs = rebind(fn, args, {k: v for k, v in kwargs.items() if k in names},
                              unknown)
    return fn(*args, **kwargs)


def accepting(fn):
    """``fn`` taking torch's NumPy names too (NOTE [NumPy argument names]); ``fn`` itself
    when it has no parameter that has them."""
    if not applies(fn):
        return fn
    params = _parameters(fn)
    _fn = fn

    def wrapper(*args, **kwargs):
        _specialise(_fn)  # the next call runs the exact code (see the NOTE)
        return _first_call(_fn, args, kwargs)
    _PENDING.setdefault(id(fn), []).append((wrapper, params))
    wrapper.__signature__ = inspect.signature(fn)
    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(wrapper, attr, getattr(fn, attr))
    wrapper._numpy_names_of = fn
    return wrapper


def install(namespace: dict, prefix: str) -> None:
    """Give the public functions of ``namespace`` (a module's globals) torch's NumPy names,
    those torch writes in Python excepted; ``prefix`` is the torch submodule (``"linalg."``).
    The functions out.py wraps take them in that wrapper."""
    for name in [n for n in namespace if not n.startswith("_")]:
        fn = namespace[name]
        if (isinstance(fn, type) or not inspect.isfunction(fn) or hasattr(fn, "_out_wrapped")
                or hasattr(fn, "_numpy_names_of") or prefix + name in PYTHON_FUNCTIONS):
            continue
        namespace[name] = accepting(fn)
