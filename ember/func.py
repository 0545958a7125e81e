"""Function transforms: mirrors ``torch.func`` (``grad``, ``grad_and_value``, ``vjp``,
``jvp``, ``jacrev``, ``jacfwd``, ``hessian``).

Each transform returns a function. Inputs are differentiated as fresh leaves, so the
transforms never touch the caller's ``.grad``; an input that already requires grad (an
outer transform's leaf) stays connected, so the transforms compose (``grad(grad(f))``),
and the outermost call returns plain tensors, as torch's does. ``jvp`` and ``jacfwd`` run
on forward-mode AD (``ember.autograd.forward_ad``).
"""
from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict

from ember.autograd import function as _function
from ember.autograd import grad as _autograd_grad
from ember.autograd.forward_ad import detach_dual
from ember.autograd.grad_mode import enable_grad
from ember.autograd.graph import (
    SECOND_BACKWARD,
    AccumulateGrad,
    Node,
    _counter,
    accumulator,
    grad_edge,
)

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "linearize", "functionalize",
           "replace_all_batch_norm_modules_", "debug_unwrap", "rearrange"]



@contextlib.contextmanager
def _transform():
    """While a transform runs ``func`` (NOTE [Functions under torch.func])."""
    _function.transforms[0] += 1
    try:
        yield
    finally:
        _function.transforms[0] -= 1


def _argnums(argnums, args: tuple) -> tuple[bool, tuple]:
    """(whether ``argnums`` is a tuple, the positions it names, made non-negative), checked
    as torch checks them when the transformed function is called."""
    many = isinstance(argnums, tuple)
    if not many and not isinstance(argnums, int):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    nums = argnums if many else (argnums,)
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    for num in nums:
        if not isinstance(num, int):
            raise RuntimeError(f"argnum must be int, got: {type(num)}")
        if not -len(args) <= num < len(args):
            raise RuntimeError(f"Got argnum={num}, but only {len(args)} positional inputs")
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return many, tuple(num % len(args) for num in nums)


def _only_tensors(out, where: str) -> None:
    """torch.func's refusal of a function output (a pytree) holding anything but tensors."""
    from ember._tensor import Tensor

    for leaf in _flatten(out)[0]:
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"{where}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(leaf)}")


def _tree_map(fn, tree):
    """``fn`` applied to every leaf of a pytree (``_flatten``'s), the structure kept, as
    torch.func's transforms accept parameters given as dicts."""
    leaves, spec = _flatten(tree)
    return _unflatten(iter([fn(leaf) for leaf in leaves]), spec)


def _tree_leaves(tree) -> list:
    return _flatten(tree)[0]


def _leaf(a):
    """A leaf to differentiate in place of ``a``, connected to ``a`` when it already
    requires grad (so outer transforms can still differentiate through it)."""
    _is_tensor_input(a)
    if a.requires_grad:
        return a.view_as(a)
    leaf = a.detach().requires_grad_(True)
    leaf._func_leaf = True
    if "_fw" in a.__dict__:  # forward over reverse: the leaf keeps its tangent
        leaf._fw = a._fw
    return leaf


def _is_tensor_input(a) -> None:
    from ember._tensor import Tensor

    if not isinstance(a, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(a)}")


def _leaves(args: tuple, argnums: tuple) -> tuple:
    """args with the differentiated ones (tensors or pytrees of them) replaced by leaves."""
    out = list(args)
    for i in argnums:
        out[i] = _tree_map(_leaf, args[i])
    return tuple(out)


def _grads_of(outputs, inputs: list, grad_outputs=None) -> tuple:
    """torch.func's gradients of ``outputs`` (a tuple) with respect to ``inputs``: outputs
    that need no gradient (a detached or integer result) take no part, and an input they do
    not reach gets zeros, as it does when no output needs a gradient at all."""
    from ember._ops.creation import zeros_like

    if grad_outputs is None:
        pairs = [(out, None) for out in outputs if out.requires_grad]
    else:
        pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if out.requires_grad]
    if not pairs:
        return tuple(zeros_like(t) for t in inputs)
    diff_outputs = tuple(out for out, _ in pairs)
    diff_grads = None if grad_outputs is None else tuple(g for _, g in pairs)
    return _autograd_grad(diff_outputs, inputs, diff_grads, retain_graph=True,
                          create_graph=True, allow_unused=True, materialize_grads=True)


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """Mirrors ``torch.func.grad_and_value``: ``(gradient, value)`` (``((gradient, aux),
    ...)``-style with ``has_aux``) of a function returning a one-element tensor."""
    from ember._tensor import Tensor

    def wrapper(*args, **kwargs):
        many, nums = _argnums(argnums, args)
        outer = _nested(args, nums)
        with enable_grad():
            args = _leaves(args, nums)
            _running.append({id(t) for i in nums for t in _tree_leaves(args[i])})
            try:
                with _transform():
                    out = func(*args, **kwargs)
            finally:
                _running.pop()
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(
                        "grad_and_value(f)(*args): output of function f should be a tuple: "
                        "(output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out)}")
            if out.dim() != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, "
                    f"got tensor with {out.dim()} dims. Maybe you wanted to use the vjp or "
                    "jacrev APIs instead?")
            inputs = [_tree_leaves(args[i]) for i in nums]
            flat = _grads_of((out,), [t for group in inputs for t in group])
            # back into each argument's structure
            found = iter(flat)
            leaf_grads = {id(t): next(found) for group in inputs for t in group}
            grads = tuple(_tree_map(lambda t: leaf_grads[id(t)], args[i]) for i in nums)
        result = _plain(grads if many else grads[0], outer)
        value = _plain(out, outer)
        return (result, (value, _plain(aux, outer))) if has_aux else (result, value)

    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """Mirrors ``torch.func.grad``: the gradient of a scalar function with respect to the
    arguments in ``argnums``."""
    inner = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux: bool = False):
    """Mirrors ``torch.func.vjp``: ``(output, vjp_fn)``; ``vjp_fn(cotangents)`` returns a
    tuple with one gradient per primal."""
    nums = tuple(range(len(primals)))
    with enable_grad():
        leaves = _leaves(primals, nums)
        with _transform():
            out = func(*leaves)
        aux = None
        if has_aux:
            out, aux = out
    _only_tensors(out, "vjp(f, *primals)")
    for leaf in _tree_leaves(out):
        if not leaf.is_floating_point() and not leaf.is_complex():
            raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or "
                               f"complex Tensors, got Tensor with dtype {leaf.dtype}")
    outer = _nested(primals, nums)

    def vjp_fn(*cotangents):
        outs = out if isinstance(out, tuple) else (out,)
        cots = cotangents[0] if len(cotangents) == 1 and isinstance(cotangents[0], tuple) \
            else cotangents
        with enable_grad():
            grads = _grads_of(outs, list(leaves), cots)
        return _plain(grads, outer)

    result = _plain(out, outer)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def jvp(func, primals: tuple, tangents: tuple, *, strict: bool = False,
        has_aux: bool = False):
    """Mirrors ``torch.func.jvp``: ``(output, J @ tangents)``, by forward-mode AD
    (``ember.autograd.forward_ad``) on a level of its own, so calls nest (forward over
    forward). The tangents are differentiable: ``grad`` or ``jacrev`` around ``jvp`` runs
    reverse mode over forward mode, as in torch. ``strict``: an output that does not
    depend on the primals raises, as torch's."""
    from ember._ops.creation import zeros_like
    from ember._tensor import Tensor
    from ember.autograd import forward_ad as fw

    where = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{where}: Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    flat_primals, spec = _flatten(primals)
    flat_tangents, tangents_spec = _flatten(tangents)
    if tangents_spec != spec:
        raise RuntimeError(
            f"{where}: Expected primals and tangents to have the same python structure. For "
            "example, if primals is a tuple of 3 tensors, tangents also must be. Got primals "
            f"with structure {_spec_repr(spec)} and tangents with structure "
            f"{_spec_repr(tangents_spec)}")
    for kind, leaves in (("primals", flat_primals), ("tangents", flat_tangents)):
        for leaf in leaves:
            if not isinstance(leaf, Tensor):
                raise RuntimeError(
                    f"{where}: Expected {kind} to only contain Tensors, got {type(leaf)}")
    if not flat_primals:
        raise RuntimeError(f"{where}: Expected primals to contain at least one Tensor.")
    with fw._nested_level() as level:
        duals = _unflatten(iter([fw._make_dual(p, t, level)
                                 for p, t in zip(flat_primals, flat_tangents)]), spec)
        with _transform():
            out = func(*duals)
        aux = None
        if has_aux:
            out, aux = out
        _only_tensors(out, where)
        outs = out if isinstance(out, tuple) else (out,)
        unpacked = [fw._unpack_dual(o, level) for o in outs]
    if strict and any(u.tangent is None for u in unpacked):
        raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                           "independent of the inputs. This is not allowed with strict=True.")
    values = tuple(_plain(u.primal, False) for u in unpacked)
    jvps = tuple(u.tangent if u.tangent is not None else zeros_like(u.primal)
                 for u in unpacked)
    if not isinstance(out, tuple):
        values, jvps = values[0], jvps[0]
    return (values, jvps, aux) if has_aux else (values, jvps)


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None,
           _preallocate_and_copy: bool = False):
    """Mirrors ``torch.func.jacrev``: the Jacobian of ``func`` with respect to
    ``argnums``, shape ``output.shape + input.shape``. torch's ``chunk_size`` (how many rows
    one vmapped vjp computes) and ``_preallocate_and_copy`` trade memory for speed there;
    ember computes the rows one vjp each (``autograd.functional.jacobian``), whatever they
    say: the same Jacobian."""
    from ember.autograd.functional import jacobian

    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    def wrapper(*args):
        many, nums = _argnums(argnums, args)
        for i in nums:
            _tree_map(_is_tensor_input, args[i])
        aux_box = []
        spec_box = []

        def partial(*diff):
            full = list(args)
            for i, d in zip(nums, diff):
                full[i] = d
            with _transform():
                out = func(*full)
            if has_aux:
                out, aux = out
                aux_box.append(aux)
            _only_tensors(out, "vjp(f, *primals)")
            # a pytree of outputs: one Jacobian per tensor, in the same structure
            leaves, spec = _flatten(out)
            spec_box.append(spec)
            return leaves[0] if spec is None else tuple(leaves)

        jac = jacobian(partial, tuple(args[i] for i in nums),
                       create_graph=_nested(args, nums))
        if isinstance(jac, tuple) and jac and isinstance(jac[0], tuple):
            jac = tuple(row if many else row[0] for row in jac)
        elif not many:
            jac = jac[0]
        if spec_box[0] is not None:
            jac = _unflatten(iter(jac), spec_box[0])
        return (jac, aux_box[0]) if has_aux else jac

    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """Mirrors ``torch.func.jacfwd``: the Jacobian, one forward-mode ``jvp`` per input
    element (shape ``output.shape + input.shape``). ``randomness`` as vmap's, which torch's
    jacfwd runs the columns under: "error" refuses a random op in ``func``, "same" gives
    every column the draws of one call, "different" draws afresh for each column in turn
    (torch draws them as one batch: the same bits where a sampler draws value after value,
    as ``rand`` does)."""
    from ember._ops import random
    from ember._ops.creation import zeros
    from ember._ops.shape import stack

    def wrapper(*args):
        _check_randomness(randomness)  # torch checks it on the call
        many, nums = _argnums(argnums, args)
        if randomness == "error":
            random.refusing.append(randomness)
            try:
                return columns_of(args, many, nums)
            finally:
                random.refusing.pop()
        return columns_of(args, many, nums)

    def columns_of(args: tuple, many: bool, nums: tuple):
        start = random.default_generator.get_state() if randomness == "same" else None
        blocks = []
        aux = None
        for i in nums:
            x = args[i]
            columns = []
            for j in range(x.numel()):
                if start is not None and (j or i != nums[0]):
                    random.default_generator.set_state(start)  # the draws of one call
                basis = zeros(x.numel(), dtype=x.dtype)
                basis._data[j] = 1
                tangents = tuple(basis.reshape(tuple(x.shape)) if k == i else
                                 zeros(tuple(args[k].shape), dtype=args[k].dtype)
                                 for k in nums)
                primals = tuple(args[k] for k in nums)

                def partial(*diff):
                    full = list(args)
                    for k, d in zip(nums, diff):
                        full[k] = d
                    return func(*full)

                result = jvp(partial, primals, tangents, has_aux=has_aux)
                value, column = result[0], result[1]
                if has_aux:
                    aux = result[2]
                columns.append(column)
            if columns:
                block = stack(columns, -1).reshape(tuple(value.shape) + tuple(x.shape))
            else:
                value = func(*args)[0] if has_aux else func(*args)
                block = zeros(tuple(value.shape) + tuple(x.shape), dtype=x.dtype)
            blocks.append(block)
        jac = tuple(blocks) if many else blocks[0]
        return (jac, aux) if has_aux else jac

    return wrapper


def hessian(func, argnums=0):
    """Mirrors ``torch.func.hessian``: ``jacfwd(jacrev(func))``."""
    return jacfwd(jacrev(func, argnums), argnums)


def _nested(args: tuple, nums: tuple) -> bool:
    """Whether an outer transform (or the caller) differentiates through this call."""
    return any(getattr(t, "requires_grad", False) for i in nums for t in _tree_leaves(args[i]))


# The ids of the leaves of each grad transform whose function is running, outermost first:
# a result of an inner transform that reaches them must keep its graph (a closure over an
# outer transform's input, as in grad(lambda w: grad(lambda x: f(x, w))(x).sum())(w)).
_running: list = []


def _plain(x, keep_graph: bool):
    """A result as torch.func returns it: connected to what the caller differentiates (an
    outer transform's inputs, or tensors the function closes over that require grad),
    plain otherwise."""
    from ember._tensor import Tensor

    if isinstance(x, (tuple, list, dict)):
        return _tree_map(lambda t: _plain(t, keep_graph), x)
    if not isinstance(x, Tensor) or keep_graph or not x.requires_grad:
        return x
    return x if _reaches_outer_leaf(x) else detach_dual(x)


def _reaches_outer_leaf(t) -> bool:
    """Whether ``t``'s graph reaches a leaf the caller made (not one of ours: those were
    made by ``_leaves`` with ``detach()``, and nothing else refers to them), or one of an
    enclosing transform that is still running."""
    from ember.autograd.graph import AccumulateGrad

    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            var = node.variable
            if var is not None and (not getattr(var, "_func_leaf", False) or any(
                    id(var) in leaves for leaves in _running)):
                return True
            continue
        stack.extend(child for child, _ in node.next_functions)
    return False


def _check_randomness(randomness: str) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError("Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *,
         chunk_size: int | None = None):
    """Mirrors ``torch.func.vmap``: ``func`` mapped over a dim of its inputs, computed on
    the whole batch at once by each op's batching rule (``ember/_ops/batching.py``; ops
    without one run per sample). Nests; ``grad`` inside ``vmap`` gives per-sample
    gradients, and vmap's outputs can be differentiated in reverse mode (see
    ``_VmapBackward``) and forward mode (``jvp``, ``jacfwd``, ``hessian`` and ``make_dual``
    around vmap: NOTE [Tangents through vmap]). ``randomness`` ("error", "same" or
    "different") says what random ops inside mean for the batch, as torch's (NOTE [Random
    ops inside vmap] in ember/_ops/random.py). ember differs: the outputs' ``grad_fn`` is
    one node for the whole call (named after the first output's last op)."""
    from ember._ops import batching
    from ember._tensor import Tensor, wrap_dim
    from ember.autograd.grad_mode import is_grad_enabled

    _check_randomness(randomness)

    name = _function_name(func)

    def wrapped(*args, **kwargs):
        where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
        if not isinstance(in_dims, (int, tuple)):
            raise ValueError(
                f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching "
                f"the structure of inputs, got: {type(in_dims)}.")
        _check_out_dims(out_dims, name)
        flat_args, args_spec = _flatten(args)
        flat_dims = _broadcast_dims(in_dims, args_spec)
        if flat_dims is None:
            raise ValueError(
                f"{where}: in_dims is not compatible with the structure of `inputs`. in_dims has "
                f"structure {_spec_repr(_flatten(in_dims)[1])} but inputs has structure "
                f"{_spec_repr(args_spec)}.")
        level = len(batching.levels)
        sizes = []
        recording = is_grad_enabled()
        # the mapped inputs that need a gradient: (input, its stand-in leaf, in_dim)
        differentiated = []
        stand_ins = []  # (input, its stand-in, in_dim, the stand-in's tangents)

        def map_one(a, d):
            if not isinstance(d, int):
                raise ValueError(f"{where}: Got in_dim={d} for an input but in_dim must be "
                                 "either an integer dimension or None.")
            if not isinstance(a, Tensor):
                raise ValueError(
                    f"{where}: Got in_dim={d} for an input but the input is of type {type(a)}. "
                    "We cannot vmap over non-Tensor arguments, please use None as the "
                    "respective in_dim")
            ndim = a.dim()
            if not -ndim <= d < ndim:
                raise ValueError(
                    f"{where}: Got in_dim={d} for some input, but that input is a Tensor of "
                    f"dimensionality {ndim} so expected in_dim to satisfy -{ndim} <= in_dim < "
                    f"{ndim}.")
            d = wrap_dim(d, ndim)
            sizes.append(a._data.shape[d])
            # NOTE [Tangents through vmap]: a mapped input's tangents are mapped with it
            tangents = []
            inner = _carry_tangents(a, _into_level(a, d, level),
                                    lambda t: _into_level(t, d, level), tangents)
            stand_ins.append((a, inner, d, inner.__dict__.get("_fw")))
            if recording:
                for outer, stand_in in [(a, inner)] + tangents:
                    if outer.requires_grad:
                        stand_in._requires_grad = True
                        differentiated.append((outer, stand_in, d))
            return inner

        mapped = _unflatten(iter([a if d is None else map_one(a, d)
                                  for a, d in zip(flat_args, flat_dims)]), args_spec)
        if not sizes:
            raise ValueError("vmap: Expected at least one Tensor to vmap over")
        if len(set(sizes)) != 1:
            raise ValueError(
                "vmap: Expected all tensors to have the same size in the mapped dimension, got "
                f"sizes {sizes} for the mapped dimension")
        outer_levels = batching.levels[:]
        start = next(_counter)  # nodes made from here on belong to this call
        batching.levels.append(sizes[0])
        batching.randomness.append(randomness)
        try:
            with _transform():
                out = func(*mapped, **kwargs)
        finally:
            batching.levels.pop()
            batching.randomness.pop()
        for a, inner, d, fw in stand_ins:
            if inner.__dict__.get("_fw") is not fw:  # an in-place op wrote the stand-in
                _carry_tangents(inner, a, lambda t, d=d: _unbatch(t, d, level, sizes[0]))
        flat_out, out_spec = _flatten(out)
        results = []
        pairs = []
        for o, d in zip(flat_out, _output_dims(out, out_spec, out_dims, name)):
            if d is None:  # returned as it is, where it does not vary over the batch
                if isinstance(o, Tensor) and level in getattr(o.__dict__.get("_phys"),
                                                              "levels", ()):
                    raise ValueError(f"vmap({name}, ...): `{name}` can not return a "
                                     "BatchedTensor when out_dim is None")
                results.append(o)
                continue
            if not isinstance(o, Tensor):
                raise ValueError(
                    f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(o)}. "
                    "Did you mean to set out_dims= to None for output?")
            r = _unbatch(o, d, level, sizes[0])
            results.append(r)
            tangents = []
            _carry_tangents(o, r, lambda t, d=d: _unbatch(t, d, level, sizes[0]), tangents)
            pairs += [(o, r, d)] + [(t, rt, d) for t, rt in tangents]
        result = _unflatten(iter(results), out_spec)
        if recording:
            _VmapBackward.connect(
                pairs,
                [(grad_edge(a), accumulator(inner), d) for a, inner, d in differentiated],
                start, outer_levels, sizes[0])
        return result

    return wrapped


def _function_name(func) -> str:
    """How torch.func's messages name a function: its ``__name__``, a partial by its
    function's, anything else by its repr."""
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_function_name(func.func)}, ...)"
    return repr(func)


# ---- pytrees as torch.func reads them: tuples (sizes, named tuples and return types too),
# lists and dicts are nodes, all else a leaf.
# A spec is None for a leaf, else (type, keys of a dict or None, the children's specs).


def _node_kind(tree):
    """The type of ``tree`` when it is a pytree node, else None."""
    if isinstance(tree, (tuple, list)):
        return type(tree)
    if isinstance(tree, dict):  # rebuilt as itself, or a plain dict for another mapping
        return type(tree) if type(tree) in (dict, OrderedDict) else dict
    return None


def _flatten(tree) -> tuple[list, object]:
    kind = _node_kind(tree)
    if kind is None:
        return [tree], None
    keyed = isinstance(tree, dict)
    leaves, specs = [], []
    for child in (tree.values() if keyed else tree):
        found, spec = _flatten(child)
        leaves += found
        specs.append(spec)
    return leaves, (kind, list(tree) if keyed else None, specs)


def _unflatten(leaves, spec):
    if spec is None:
        return next(leaves)
    kind, keys, children = spec
    values = [_unflatten(leaves, child) for child in children]
    if keys is not None:
        return kind(zip(keys, values))
    return kind(*values) if hasattr(kind, "_fields") else kind(values)


def _spec_repr(spec, indent: int = 0) -> str:
    """torch's ``TreeSpec`` repr, as its structure errors print it."""
    if spec is None:
        return "*"
    kind, keys, children = spec
    inner = (",\n" + " " * (indent + 2)).join(_spec_repr(c, indent + 2) for c in children)
    return f"TreeSpec({kind.__name__}, {keys!r}, [{inner}])"


def _count_leaves(spec) -> int:
    return 1 if spec is None else sum(_count_leaves(c) for c in spec[2])


def _broadcast_dims(dims, spec) -> list | None:
    """One dim per leaf of the tree ``spec``: ``dims`` is a prefix of the tree (a dim at a
    node stands for its every leaf); None when it does not fit the tree."""
    kind = _node_kind(dims)
    if kind is None:
        return [dims] * _count_leaves(spec)
    if spec is None or kind is not spec[0]:
        return None
    _, keys, children = spec
    if keys is not None:
        if set(dims) != set(keys):
            return None
        values = [dims[k] for k in keys]
    elif len(dims) != len(children):
        return None
    else:
        values = dims
    flat = []
    for d, child in zip(values, children):
        found = _broadcast_dims(d, child)
        if found is None:
            return None
        flat += found
    return flat


def _check_out_dims(out_dims, name: str) -> None:
    leaves, _ = _flatten(out_dims)
    if not all(d is None or isinstance(d, int) for d in leaves):
        raise ValueError(
            f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a "
            "python collection of ints representing where in the outputs the vmapped "
            "dimension should appear.")


def _output_dims(out, out_spec, out_dims, name: str) -> list:
    """One out_dim per leaf of vmap's output; a lone tensor also takes a one-element tuple
    (as torch's vmap does)."""
    lone = out_spec is None and type(out_dims) is tuple and len(out_dims) == 1
    flat = _broadcast_dims(out_dims[0] if lone else out_dims, out_spec)
    if flat is None:
        raise ValueError(
            f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
            f"the structure of `outputs`. out_dims has structure "
            f"{_spec_repr(_flatten(out_dims)[1])} but outputs has structure "
            f"{_spec_repr(out_spec)}.")
    return flat


def _into_level(a, d: int, level: int):
    """A mapped input's stand-in inside the level: its dim ``d`` becomes the level's batch
    dim (after the dims of outer levels, when an outer vmap batched it already)."""
    from ember._backend import np
    from ember._ops import batching

    if batching.is_batched(a):
        outer = a._phys
        k = len(outer.levels)
        return batching.wrap(np.moveaxis(outer.array, k + d, k), outer.levels + (level,))
    return batching.wrap(np.moveaxis(a._data, d, 0), (level,))


def _carry_tangents(src, out, move, found: list | None = None):
    """``out`` (made from ``src`` by ``move``, a linear change of layout) given ``src``'s
    tangents at the active forward-AD levels, each moved by ``move`` too, with their own
    tangents (forward over forward); (tangent, moved tangent) pairs are appended to
    ``found``, so the caller can connect those that carry a graph. NOTE [Tangents through
    vmap]: the tangent of a batched tensor is batched the same way, so a mapped input's
    stand-in carries its tangent mapped over the level, func's ops propagate batched
    tangents by their batching rules as any op on batched tensors, and an output's tangent
    leaves the level as the output does; gradients entering and leaving ``_VmapBackward``
    (forward over reverse: ``hessian``) move their tangents likewise. Each move is linear,
    so it commutes with taking the tangent."""
    from ember.autograd import forward_ad

    fw = src.__dict__.get("_fw")
    if not fw:
        return out
    moved = {}
    for level, tangent in fw.items():
        if level in forward_ad.levels:
            moved[level] = _carry_tangents(tangent, move(tangent), move, found)
            if found is not None:
                found.append((tangent, moved[level]))
    if moved:
        out._fw = moved
    return out


def _unbatch(out, dims, level: int, size: int):
    """vmap's outputs (a pytree) for one level: that level's batch dim joins each tensor's
    logical shape at ``dims``; outer levels stay batched. Also turns a gradient that arrived
    for a mapped input back into the input's layout (``dims`` = its in_dim)."""
    from ember._backend import np
    from ember._ops import batching
    from ember._tensor import Tensor, make, wrap_dim

    if isinstance(out, tuple):
        dims = dims if isinstance(dims, (tuple, list)) else (dims,) * len(out)
        return tuple(_unbatch(o, d, level, size) for o, d in zip(out, dims))
    if isinstance(out, (dict, list)):
        return _tree_map(lambda o: _unbatch(o, dims, level, size), out)
    if not isinstance(out, Tensor):
        raise ValueError("vmap: func must return only tensors")
    phys = out.__dict__.get("_phys")
    array, batch_levels = (phys.array, phys.levels) if phys is not None else (out._data, ())
    if level in batch_levels:
        position = batch_levels.index(level)
    else:  # the same for every sample of this level: broadcast over it
        position = len(batch_levels)
        array = np.expand_dims(array, position)
        array = np.broadcast_to(
            array, array.shape[:position] + (size,) + array.shape[position + 1:])
    outer = tuple(lv for lv in batch_levels if lv != level)
    k = len(outer)
    # this level's dim joins the logical shape at out_dims; outer levels stay batched
    array = np.moveaxis(array, position, k + wrap_dim(dims, array.ndim - k))
    array = np.ascontiguousarray(array)
    return batching.wrap(array, outer) if outer else make(array)


# How a gradient leaves a ``_VmapBackward``: summed over the vmap level (a tensor the call
# closed over), as opposed to an int, the in_dim of a mapped input laid out again.
_SUMMED = object()


def _leave(g, how, level: int, size: int):
    """A gradient captured inside the level, as the tensor it flows to outside needs it:
    laid out as a mapped input (``how`` its in_dim), or summed over the level."""
    from ember._ops import batching
    from ember._tensor import make

    if g is None:
        return None
    if how is not _SUMMED:
        return _unbatch(g, how, level, size)
    phys = g.__dict__.get("_phys")
    if phys is not None and level in phys.levels:  # one gradient per sample: sum
        rest = tuple(lv for lv in phys.levels if lv != level)
        summed = phys.array.sum(phys.levels.index(level))
        return batching.wrap(summed, rest) if rest else make(summed)
    array = (phys.array if phys is not None else g._data) * size  # the same for every sample
    return batching.wrap(array, phys.levels) if phys is not None else make(array)


def _enter(grad, how, level: int, size: int):
    """An output's gradient batched again at the level (the inverse of ``_leave``): the
    output's vmap dim moves out of the logical shape, or the gradient of a sum over the
    level is the same for every sample."""
    from ember._backend import np
    from ember._ops import batching
    from ember._tensor import wrap_dim

    phys = grad.__dict__.get("_phys")
    array, lv = (phys.array, phys.levels) if phys is not None else (grad._data, ())
    k = len(lv)
    if how is _SUMMED:
        array = np.expand_dims(array, k)
        array = np.ascontiguousarray(
            np.broadcast_to(array, array.shape[:k] + (size,) + array.shape[k + 1:]))
    else:
        array = np.moveaxis(array, k + wrap_dim(how, array.ndim - k), k)
    return batching.wrap(array, lv + (level,))


class _VmapBackward(Node):
    """The node of a vmap call's outputs, so that gradients flow through vmap.

    ``func`` ran on the logical (per-sample) tensors and recorded its graph there, as it
    does for ``grad`` inside ``vmap``. This node's backward turns the outputs' gradients
    into batched gradients of those logical outputs and runs the engine over ``func``'s
    graph with the vmap level active again, so every op's backward is batched by the same
    rules as its forward (per-sample fallbacks included). The gradients that reach a mapped
    input's stand-in are laid out as that input; those that reach a tensor ``func`` closed
    over (a weight) are summed over the level. Its edges are the mapped inputs and those
    closed-over tensors, found by walking ``func``'s graph down to nodes made before the
    call. (Recording on the physical arrays instead would mean a second graph beside the
    logical one that ``grad`` inside ``vmap`` needs.)

    NOTE [Higher-order gradients through vmap]: with ``create_graph`` the replay records a
    graph inside the level too, and is itself treated as a vmap call: its gradients get a
    new ``_VmapBackward`` whose mapped inputs are the outputs' gradients (their batched
    seeds are the stand-ins) and this node's mapped inputs (the same stand-ins, whose
    graph the replay's saved tensors lead to), and whose closed-over tensors are found by
    the same walk. Each order of derivative adds one such node, so any order works."""

    __slots__ = ("num_outputs", "_outputs", "_inputs", "_mapped", "_levels", "_size",
                 "_start", "_name")

    @classmethod
    def connect(cls, pairs, mapped, start, outer_levels, size):
        """Give the results of a call this node as ``grad_fn``. ``pairs``: (logical output
        inside the level, result outside, how: out_dim or ``_SUMMED``); ``mapped``: (edge
        outside, the stand-in's accumulator inside, how: in_dim or ``_SUMMED``)."""
        pairs = [p for p in pairs if p[0].requires_grad]
        if not pairs:
            return
        stand_ins = {acc for _, acc, _ in mapped}
        closed, seen = [], set()
        stack = [grad_edge(o) for o, _, _ in pairs]
        while stack:
            edge = stack.pop()
            fn = edge[0]
            if fn is None or edge in seen or fn in stand_ins:
                continue
            seen.add(edge)
            if isinstance(fn, AccumulateGrad) or fn._key > -start:  # made before the call
                closed.append(edge)
            else:
                stack.extend(fn.next_functions)
        node = cls()
        node.next_functions = tuple(edge for edge, _, _ in mapped) + tuple(closed)
        node._key = -next(_counter)
        node._extra = None
        node.num_outputs = len(pairs)
        node._outputs = [(grad_edge(o), how) for o, _, how in pairs]
        node._inputs = [((acc, 0), how) for _, acc, how in mapped] + [
            (edge, _SUMMED) for edge in closed]
        node._mapped = len(mapped)
        node._levels = outer_levels
        node._size = size
        node._start = start
        first = pairs[0][0].grad_fn
        node._name = first.name() if first is not None else "AliasBackward0"
        for i, (_, r, _) in enumerate(pairs):
            r._requires_grad = True
            r._grad_fn = node
            r._output_nr = i

    def name(self) -> str:
        return self._name

    def release(self) -> None:
        self._outputs = None

    def apply(self, grads: list) -> list:
        from ember._ops import batching
        from ember.autograd.engine import execute
        from ember.autograd.grad_mode import is_grad_enabled

        if self._outputs is None:
            raise RuntimeError(SECOND_BACKWARD)
        level = len(self._levels)
        create_graph = is_grad_enabled()
        roots, seeds, seeded = [], [], []
        for (edge, how), grad in zip(self._outputs, grads):
            if grad is None:
                continue
            tangents = []  # NOTE [Tangents through vmap]
            seed = _carry_tangents(grad, _enter(grad, how, level, self._size),
                                   lambda t, how=how: _enter(t, how, level, self._size),
                                   tangents)
            for outer, stand_in in [(grad, seed)] + tangents:
                if create_graph and outer.requires_grad:  # a stand-in for its graph
                    stand_in._requires_grad = True
                    seeded.append((grad_edge(outer), accumulator(stand_in), how))
            roots.append(edge)
            seeds.append(seed)
        if not roots:
            return [None] * len(self.next_functions)
        targets = [edge for edge, _ in self._inputs]
        saved, modes = batching.levels[:], batching.randomness[:]
        batching.levels[:] = self._levels + [self._size]
        # a backward formula draws nothing; should one, it is refused as vmap's default does
        batching.randomness[:] = ["error"] * len(batching.levels)
        try:
            captured = execute(roots, seeds, True, create_graph, targets, False)
        finally:
            batching.levels[:] = saved
            batching.randomness[:] = modes
        out, pairs = [], []
        for g, (_, how) in zip(captured, self._inputs):
            tangents = []
            r = None if g is None else _carry_tangents(
                g, _leave(g, how, level, self._size),
                lambda t, how=how: _leave(t, how, level, self._size), tangents)
            out.append(r)
            if g is not None:
                pairs += [(g, r, how)] + [(t, rt, how) for t, rt in tangents]
        if create_graph:  # NOTE [Higher-order gradients through vmap]
            n = self._mapped
            mapped = seeded + [(outer, edge[0], how) for outer, (edge, how) in zip(
                self.next_functions[:n], self._inputs[:n])]
            _VmapBackward.connect(pairs, mapped, self._start, self._levels, self._size)
        return out


def linearize(func, *primals) -> tuple:
    """Mirrors ``torch.func.linearize``: ``(func(*primals), jvp_fn)``, where ``jvp_fn(*tangents)``
    gives the Jacobian-vector product at ``primals``. torch traces ``func`` once into a
    graph of the linear part; ember runs forward-mode AD (``jvp``) on each call of
    ``jvp_fn``: the same values, a forward pass each time."""
    from ember._ops.creation import zeros_like

    flat, spec = _flatten(primals)
    output, _ = jvp(func, primals, _unflatten(iter([zeros_like(p) for p in flat]), spec))

    def jvp_fn(*tangents):
        flat_tangents, tangents_spec = _flatten(tangents)
        if tangents_spec != spec:
            raise RuntimeError(
                f"Expected the tangents {_spec_repr(tangents_spec)} to have the same argspec as "
                f"the primals {_spec_repr(spec)}")
        for i, (p, t) in enumerate(zip(flat, flat_tangents)):
            if t.shape != p.shape:
                raise RuntimeError(
                    f"tangent:{i} with shape {t.shape} in flattened pytree doesn't match the "
                    f"shape {p.shape} of the corresponding primal.")
        return jvp(func, primals, tangents)[1]

    return output, jvp_fn


_REMOVE = ("mutations", "mutations_and_views")


def functionalize(func, *, remove: str = "mutations"):
    """Mirrors ``torch.func.functionalize``: ``func`` with its mutations (and, with
    ``remove="mutations_and_views"``, its aliasing) kept away from the caller's tensors: it
    runs on private copies of the tensor arguments, an argument it wrote is then updated
    with ``copy_`` (as torch writes mutated inputs back), and no output aliases an argument.
    torch rewrites the program into out-of-place ops, which matters to its graph tracing;
    in eager ember (and torch) the values are the same."""
    from ember._tensor import Tensor

    if remove not in _REMOVE:
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}."
            " Valid options are:\n     remove='mutations': all inplace and out= operators will "
            "be removed from the program, and replaced with their out-of-place equivalents.\n"
            "     remove='mutations_and_views': In addition to the above, all aliasing operators "
            "{view} will be replaced with their non-aliasing counterparts, {view}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        flat, spec = _flatten((args, kwargs))
        copies = [a.clone() if isinstance(a, Tensor) else a for a in flat]
        versions = [c._version if isinstance(c, Tensor) else None for c in copies]
        inner_args, inner_kwargs = _unflatten(iter(copies), spec)
        with _transform():
            out = func(*inner_args, **inner_kwargs)
        for original, copy, version in zip(flat, copies, versions):
            if version is not None and copy._version != version:
                original.copy_(copy)
        return out

    return wrapped


def replace_all_batch_norm_modules_(root):
    """Mirrors ``torch.func.replace_all_batch_norm_modules_``: every batch norm module
    under ``root`` (itself included) stops tracking running statistics, in place (its
    running mean, variance and batch count become None), so that it normalises each batch
    by its own statistics, as vmap over models needs; returns ``root``."""
    from ember.nn.modules.batchnorm import _BatchNorm

    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root


def debug_unwrap(tensor, *, recurse: bool = True):
    """Mirrors ``torch.func.debug_unwrap``: a batched tensor inside ``vmap`` as the tensor
    of its whole batch (the batch dims first; ``recurse=False``: only the innermost level's
    dim, still batched over the outer levels); any other tensor as it is (ember's ``grad``
    transforms wrap nothing)."""
    from ember._backend import np
    from ember._ops import batching
    from ember._tensor import make

    phys = tensor.__dict__.get("_phys")
    if phys is None:
        return tensor
    array = phys.array.view(np.ndarray)
    if recurse or len(phys.levels) == 1:
        return make(array)
    return batching.wrap(phys.array, phys.levels[:-1])


def rearrange(tensor, pattern: str, **axes_lengths: int):
    """Mirrors ``torch.func.rearrange`` (einops' ``rearrange``); see ember/_rearrange.py."""
    from ember._rearrange import rearrange as _rearrange

    return _rearrange(tensor, pattern, **axes_lengths)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Mirrors ``torch.func.functional_call``: call the ``nn.Module`` ``module`` with some of
    its parameters and buffers (dotted names, ``"layer.weight"``) replaced by the given
    tensors for the duration of the call, then put back, so ``grad`` and ``vmap`` can treat
    parameters as inputs. ``parameter_and_buffer_dicts`` is a dict or a tuple of dicts;
    ``tie_weights`` replaces tied names together; ``strict`` requires exactly the module's
    names. The work is ``nn.utils.stateless``'s."""
    from ember.nn.utils.stateless import _functional_call

    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


def stack_module_state(models) -> tuple[dict, dict]:
    """Mirrors ``torch.func.stack_module_state``: the parameters and the buffers of several
    modules of one class and one training mode, each name's tensors stacked along a new
    leading dim (dicts by dotted name), for ``vmap`` over ``functional_call`` (model
    ensembling). A stacked parameter is a new leaf that requires grad when the modules'
    tensors do (all of them or none)."""
    from ember._ops.shape import stack

    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError(
            "stack_module_state: Expected all models to have the same training/eval mode.")
    if any(type(m) is not type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(named: list) -> dict:
        out = {}
        for name in named[0]:
            tensors = [tensors_of[name] for tensors_of in named]
            flags = {t.requires_grad for t in tensors}
            if len(flags) > 1:
                raise RuntimeError(
                    f"Expected {name} from each model to have the same .requires_grad")
            out[name] = stack(tensors).detach().requires_grad_(flags.pop())
        return out

    return (stacked([dict(m.named_parameters()) for m in models]),
            stacked([dict(m.named_buffers()) for m in models]))
