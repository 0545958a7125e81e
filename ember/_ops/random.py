"""Random sampling with torch's CPU generator: the same seed gives the same numbers.

NOTE [torch's CPU stream]: torch's CPU generator is MT19937 seeded with the low 32 bits of
the seed exactly as NumPy's legacy seeding does, so a NumPy ``MT19937`` bit generator per
ember ``Generator`` yields torch's raw 32-bit words (``random_raw``). What torch builds on
them, learnt by experiment against torch 2.13 on the CPU:

- a 32-bit draw is one word; a 64-bit draw is two words, the first the high half;
- a float32 uniform is ``(word & (2**24 - 1)) * 2**-24``, a float64 one is the 64-bit draw
  masked to 53 bits times ``2**-53``;
- a single normal sample (tensors under 16 elements, non-contiguous ones, log-normal) is
  Box-Muller on two float64 uniforms ``u1, u2``: ``sqrt(-2 log1p(-u2)) cos(2 pi u1)``, and
  the matching ``sin`` sample is kept in the generator for the next single sample;
- a contiguous tensor of 16 or more normals is filled with uniforms, then transformed in
  blocks of 16 (element ``j`` pairs with ``j + 8``); when the size is not a multiple of 16
  the last 16 elements are drawn afresh and transformed again. float32 does this with
  vectorised single-precision ``log``/``sincos`` approximations (Cephes polynomials, with
  fused multiply-adds), which ``_cephes_log``/``_cephes_sincos`` reproduce bit for bit;
  float16/bfloat16 normals of 16 or more are float32 ones on the uniforms padded to whole
  blocks, the last block's normals overwriting the last 16 elements, then rounded;
- a double sample stored in float16/bfloat16 rounds through float;
- a complex tensor samples its interleaved real and imaginary parts (normals with
  ``std / sqrt(2)`` each);
- integers are the raw draw modulo the range, a 64-bit draw for ranges of 2**28 or more;
- ``randperm`` is a forward Fisher-Yates pass on 32-bit words below ``(2**32 - 1) // 20``
  and an inside-out pass on 64-bit draws from there on.

The float64 transcendental steps (the Box-Muller ``log``/``log1p``, ``exponential_``'s
``log1p``, ``geometric_``'s ``log``, ``cauchy_``'s ``tan``, ``log_normal_``'s ``exp``) are
the C library's, as torch's scalar kernels call it, so the samples are the same on every CPU
(NOTE [Sampler math on every CPU]).

The functions run on the vectorised NumPy arrays of words, ``randperm``'s swaps included
(NOTE [Fisher-Yates without a loop]); only ``poisson``, whose draws depend on earlier
values, walks elements in Python.
"""
from __future__ import annotations

import functools
import math
import operator
import os
import warnings

from ember import _dtype
from ember._backend import np
from ember._device import place as _place
from ember._device import serve as _serve
from ember._ops import _promote, batching
from ember._ops.creation import (
    _FACTORY_OPTIONS,
    _NOT_GIVEN,
    check_tensor_options,
    first_missing,
    like_layout,
    missing_arguments,
    overloads_refusal,
    sizes_or_size,
    zero_gradient,
)
from ember._ops.fused import fma32, fma64
from ember._ops.registry import (
    KEEP,
    Op,
    attach,
    check_inplace,
    defop,
    not_implemented,
    run,
    run_inplace,
)
from ember._tensor import Tensor, c_type_name, make, tensor_argument
from ember.autograd import grad_mode

__all__ = [
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
    "randint_like", "normal", "bernoulli", "multinomial", "poisson",
]

_DEFAULT_SEED = 67280421310721
_STATE_SIZE = 5056
_F32 = np.float32
_F64 = np.float64
_U64 = np.uint64


class Generator:
    """Mirrors ``torch.Generator`` on the CPU: an MT19937 stream that gives torch's numbers
    for the same seed (NOTE [torch's CPU stream]).

    Example: ``g = ember.Generator().manual_seed(0); ember.rand(3, generator=g)``.
    """

    def __init__(self, device="cpu") -> None:
        from ember._device import generator_device

        generator_device(device)  # torch's error for a device without a generator here
        self._mt = None
        self._normal = None        # the cached float64 normal sample (torch's normal_y)
        self._float_normal = None  # torch keeps a float32 one too; round-tripped only
        self.manual_seed(_DEFAULT_SEED)

    @property
    def _bits(self):
        # NumPy's random module costs ~25 ms to import: load it on the first draw, not at
        # ``import ember``.
        if self._mt is None:
            self._mt = np.random.MT19937()
            self._mt._legacy_seeding(self._initial_seed & 0xFFFFFFFF)
        return self._mt

    @property
    def device(self):
        from ember._device import CPU

        return CPU

    def manual_seed(self, seed: int) -> Generator:
        """Mirrors ``Generator.manual_seed``: seeds from the low 32 bits of ``seed``."""
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise ValueError("Overflow when unpacking long long")
        seed &= 2 ** 64 - 1
        self._initial_seed = seed
        self._mt = None  # seeded from _initial_seed on the next draw
        self._normal = None
        self._float_normal = None
        # torch records "not yet twisted" (next = 0) after seeding; NumPy's position is 624
        # either way, so remember it until the first draw.
        self._fresh = True
        return self

    def seed(self) -> int:
        """Mirrors ``Generator.seed``: seeds from the OS's entropy and returns the seed."""
        value = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """Mirrors ``Generator.initial_seed``."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """Mirrors ``Generator.get_state``: torch's 5056-byte layout (seed, position, the
        624 MT words as uint64, the cached normals)."""
        state = np.zeros(_STATE_SIZE, np.uint8)
        mt = self._bits.state["state"]
        pos = int(mt["pos"])
        head = np.zeros(3, np.uint64)
        head[0] = self._initial_seed
        state[:8] = head[:1].view(np.uint8)
        nxt = 0 if self._fresh else pos
        state[8:16] = np.array([625 - pos, 1], np.int32).view(np.uint8)
        state[16:24] = np.array([nxt], np.uint64).view(np.uint8)
        state[24:5016] = mt["key"].astype(np.uint64).view(np.uint8)
        if self._normal is not None:
            state[5024:5032] = np.array([self._normal], _F64).view(np.uint8)
            state[5040:5044] = np.array([1], np.int32).view(np.uint8)
        if self._float_normal is not None:
            state[5048:5052] = np.array([self._float_normal], _F32).view(np.uint8)
            state[5052] = 1
        return make(state)

    def set_state(self, new_state: Tensor) -> Generator:
        """Mirrors ``Generator.set_state`` (the layout ``get_state`` returns)."""
        data = new_state._data if isinstance(new_state, Tensor) else np.asarray(new_state)
        if data.dtype != np.uint8:
            raise RuntimeError(
                "expected a torch.ByteTensor, but got "
                f"{_dtype.legacy_type_name(data.dtype)}")
        if data.size != _STATE_SIZE:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but found the input "
                f"RNG state size to be {data.size}")
        data = np.ascontiguousarray(data.reshape(-1))
        left = int(data[8:12].view(np.int32)[0])
        nxt = int(data[16:24].view(np.uint64)[0])
        if not 1 <= left <= 624:  # torch checks its own fields the same way
            raise RuntimeError("The current state of the CPU generator is invalid.")
        self._initial_seed = int(data[:8].view(np.uint64)[0])
        key = data[24:5016].view(np.uint64).astype(np.uint32)
        self._bits.state = {"bit_generator": "MT19937",
                            "state": {"key": key, "pos": 625 - left}}
        self._fresh = left == 1 and nxt == 0
        valid = int(data[5040:5044].view(np.int32)[0])
        self._normal = float(data[5024:5032].view(_F64)[0]) if valid else None
        self._float_normal = float(data[5048:5052].view(_F32)[0]) if data[5052] else None
        return self

    # ---- raw draws (NOTE [torch's CPU stream]) ------------------------------------------
    def _words(self, n: int):
        """``n`` raw 32-bit draws as uint64."""
        self._fresh = False
        return self._bits.random_raw(n)

    def _words64(self, n: int):
        """``n`` 64-bit draws: two words each, the first the high half."""
        w = self._words(2 * n)
        return (w[0::2] << _U64(32)) | w[1::2]

    def _uniform64(self, n: int):
        """``n`` float64 uniforms in [0, 1) from 53-bit draws."""
        return (self._words64(n) & _U64((1 << 53) - 1)).astype(_F64) * 2.0 ** -53

    def _uniform32(self, n: int):
        """``n`` float32 uniforms in [0, 1) from 24-bit draws."""
        return (self._words(n) & _U64(0xFFFFFF)).astype(_F32) * _F32(2.0 ** -24)

    def _normals(self, n: int):
        """``n`` single float64 standard normals, one after another, through the cached
        ``sin`` sample (torch's ``normal_distribution<double>``)."""
        out = np.empty(n, _F64)
        start = 0
        if n and self._normal is not None:
            out[0] = self._normal
            self._normal = None
            start = 1
        m = n - start
        if m == 0:
            return out
        pairs = (m + 1) // 2
        u = self._uniform64(2 * pairs)
        theta = 2.0 * math.pi * u[0::2]
        radius = np.sqrt(-2.0 * _libm("log1p", -u[1::2]))
        both = np.empty(2 * pairs, _F64)
        both[0::2] = radius * np.cos(theta)
        both[1::2] = radius * np.sin(theta)
        out[start:] = both[:m]
        if m % 2:
            self._normal = float(both[-1])
        return out


default_generator = Generator()


def _gen(generator: Generator | None, name: str = "") -> Generator:
    """The generator a draw uses; ``name``: the function whose ``generator`` argument it is
    (torch's TypeError for anything but a Generator)."""
    if refusing:  # a jacfwd whose randomness is "error" (NOTE [Random ops inside vmap])
        raise RuntimeError(_ERROR_MODE)
    if generator is None:
        return default_generator
    if name and not isinstance(generator, Generator):
        raise TypeError(f"{name}(): argument 'generator' must be torch.Generator, not "
                        f"{c_type_name(generator)}")
    return generator


# torch's overloads of the factories that take a generator: one with it, one without
_GENERATOR_OVERLOADS = {
    name: (f"({head}, *, torch.Generator generator, {tail})", f"({head}, *, {tail})")
    for name, head, tail in (
        ("rand", "tuple of ints size", "Tensor out = None, " + _FACTORY_OPTIONS),
        ("randn", "tuple of ints size", "Tensor out = None, " + _FACTORY_OPTIONS),
        ("randperm", "int n", "Tensor out = None, " + _FACTORY_OPTIONS),
        ("rand_like", "Tensor input", "torch.memory_format memory_format = None, "
         + _FACTORY_OPTIONS),
        ("randn_like", "Tensor input", "torch.memory_format memory_format = None, "
         + _FACTORY_OPTIONS))}
_GENERATOR_OVERLOADS["randint"] = tuple(
    f"({bounds}, {o[1:]}" for bounds in ("int high", "int low, int high")
    for o in _GENERATOR_OVERLOADS["rand"])
_GENERATOR_OVERLOADS["normal"] = (
    "(Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)",
    "(Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)",
    "(float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)",
    "(float mean, float std, tuple of ints size, *, torch.Generator generator = None, Tensor "
    "out = None, " + _FACTORY_OPTIONS + ")")
_GENERATOR_OVERLOADS["bernoulli"] = (
    "(Tensor input, *, torch.Generator generator = None, Tensor out = None)",
    "(Tensor input, float p, *, torch.Generator generator = None)")
_GENERATOR_OVERLOADS["bernoulli_"] = ("(Tensor p, *, torch.Generator generator = None)",
                                      "(float p = 0.5, *, torch.Generator generator = None)")
_GENERATOR_OVERLOADS["random_"] = ("(*, torch.Generator generator = None)",
                                   "(int from, int to, *, torch.Generator generator = None)",
                                   "(int to, *, torch.Generator generator = None)")


def _check_generator(name: str, generator, positionals: tuple, **keywords) -> None:
    """torch's TypeError for a ``generator`` that is not a Generator given to ``name``, an
    overloaded function: its arguments' types (``keywords``: those given by keyword, in
    torch's sorted order) and its overloads."""
    if generator is None or isinstance(generator, Generator):
        return
    keywords["generator"] = generator
    raise overloads_refusal(name, _GENERATOR_OVERLOADS[name], positionals, keywords)


# NOTE [Random ops inside vmap]
# vmap's ``randomness`` says what a random op means for a batch, as in torch (learnt by
# experiment against torch 2.13, bits included): "error" refuses any draw; "same" draws once
# for the logical shape, shared by every sample, and refuses an op whose tensor input is
# batched; "different" runs the op on the physical batch: a factory draws its shape with the
# sizes of the "different" levels in front (outermost first; "same" levels broadcast), an
# in-place fill draws its target's whole physical array (an unbatched target is refused), an
# op on batched inputs runs on their physical arrays lined up over the levels, and
# ``randperm`` draws one permutation per sample in turn. The public functions are wrapped by
# ``_vmap_random``, which costs one test of ``batching.levels`` outside vmap; while a wrapped
# function runs on physical arrays, the wrapping steps aside (``_physical``). ``jacfwd``,
# which runs its columns one after another, refuses draws through ``refusing``.
_ERROR_MODE = ("vmap: called random operation while in randomness error mode. Please either "
               "use the 'same' or 'different' randomness flags on vmap or perform the "
               "randomness operation out of vmap")
_SAME_BATCHED = ("Vmap does not currently support same randomness with a batched tensor "
                 "input. Please file an issue with functorch")
_DIFFERENT_UNBATCHED = ("vmap: Cannot ask for different inplace randomness on an unbatched "
                        "tensor. This will appear like same randomness. If this is necessary "
                        "for your usage, please file an issue with functorch.")
refusing: list = []      # "error" while a jacfwd with randomness="error" runs its function
_physical = [False]      # a wrapped function is running on physical arrays
_lead: list = [()]       # the batch sizes a factory's shape takes in front ("different")


def _vmap_random(kind: str):
    """Wrap a public random function for vmap (NOTE [Random ops inside vmap]); ``kind``:
    "factory" (its shape through ``_shape_size``), "like" (the shape of its first argument),
    "perm" (``randperm``), "inplace" (fills its first argument), "data" (draws from its
    tensor arguments' values)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not batching.levels or _physical[0]:
                return fn(*args, **kwargs)
            _physical[0] = True
            try:
                return _in_vmap(fn, kind, args, kwargs)
            finally:
                _physical[0] = False
                _lead[0] = ()
        return wrapper
    return decorate


def _lined_up(t: Tensor, levels: tuple, sizes: tuple):
    """``t``'s physical array with one leading dim per level of ``levels`` (broadcast where
    ``t`` does not vary over it)."""
    phys = t.__dict__.get("_phys")
    if phys is None:
        array = t._data.reshape((1,) * len(levels) + t._data.shape)
    else:
        array = phys.array
        for i, level in enumerate(levels):
            if level not in phys.levels:
                array = np.expand_dims(array, i)
    return np.broadcast_to(array, sizes + t._data.shape)


def _in_vmap(fn, kind: str, args: tuple, kwargs: dict):
    modes = batching.randomness
    if "error" in modes:
        raise RuntimeError(_ERROR_MODE)
    different = tuple(i for i, mode in enumerate(modes) if mode == "different")
    sizes = tuple(batching.levels[i] for i in different)
    if kind == "data" and not any(isinstance(a, Tensor) for a in args + tuple(kwargs.values())):
        kind = "factory"  # normal(mean, std, size) with numbers
    if kind == "factory":
        if not different:
            return fn(*args, **kwargs)
        _lead[0] = sizes
        return batching.wrap(fn(*args, **kwargs)._data, different)
    if kind == "like":
        if not different:
            return fn(*args, **kwargs)
        like = make(np.empty(sizes + args[0]._data.shape, args[0]._data.dtype))
        return batching.wrap(fn(like, *args[1:], **kwargs)._data, different)
    if kind == "perm":
        if not different:
            return fn(*args, **kwargs)
        draws = [fn(*args, **kwargs)._data for _ in range(math.prod(sizes))]
        return batching.wrap(np.stack(draws).reshape(sizes + draws[0].shape), different)
    tensors = [a for a in args + tuple(kwargs.values()) if isinstance(a, Tensor)]
    batched = [t for t in tensors if batching.is_batched(t)]
    for t in batched:
        if any(modes[level] == "same" for level in t._phys.levels) and not (
                kind == "inplace" and t is args[0]):
            raise RuntimeError(_SAME_BATCHED)
    if kind == "inplace":
        target, others = args[0], batched[1:] if batched and batched[0] is args[0] else batched
        phys = target.__dict__.get("_phys")
        own = phys.levels if phys is not None else ()
        for t in others:
            if not set(t._phys.levels) <= set(own):
                raise RuntimeError(
                    f"vmap: inplace {fn.__name__.strip('_')}(self, *extra_args) is not "
                    "possible because there exists a Tensor `other` in extra_args that has "
                    "more elements than `self`. This happened due to `other` being vmapped "
                    "over but `self` not being vmapped over in a vmap. Please try to use "
                    f"out-of-place operators instead of inplace {fn.__name__.strip('_')}. "
                    "If said operator is being called inside the PyTorch framework, please "
                    "file a bug report instead.")
    if kind == "inplace":
        if any(level not in own for level in different):
            raise RuntimeError(_DIFFERENT_UNBATCHED)
        if phys is None:
            return fn(*args, **kwargs)
        check_inplace(target)
        # draw for the "different" levels, broadcast over the "same" ones
        draw = tuple(batching.levels[lv] if modes[lv] == "different" else 1 for lv in own)
        fresh = phys.array if draw == phys.array.shape[:len(own)] else np.empty(
            draw + target._data.shape, phys.array.dtype)

        def lined(a):
            return make(_lined_up(a, own, draw)) if isinstance(a, Tensor) else a
        fn(make(fresh), *map(lined, args[1:]), **{k: lined(v) for k, v in kwargs.items()})
        if fresh is not phys.array:
            phys.array[...] = fresh
        target._vc[0] += 1
        return target
    levels = tuple(sorted({lv for t in batched for lv in t._phys.levels} | set(different)))
    if not levels:
        return fn(*args, **kwargs)
    lead = tuple(batching.levels[lv] for lv in levels)

    def lined(a):
        return make(_lined_up(a, levels, lead)) if isinstance(a, Tensor) else a
    if fn.__name__ == "multinomial":  # one distribution a row: the batch's rows in turn
        probs = _lined_up(args[0], levels, lead)
        rows = make(np.ascontiguousarray(probs).reshape(-1, probs.shape[-1]))
        out = fn(rows, *args[1:], **kwargs)._data
        return batching.wrap(out.reshape(probs.shape[:-1] + out.shape[-1:]), levels)
    out = fn(*map(lined, args), **{k: lined(v) for k, v in kwargs.items()})
    return batching.wrap(out._data, levels)


def manual_seed(seed: int) -> Generator:
    """Mirrors ``torch.manual_seed``: seeds the default generator and returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Mirrors ``torch.seed``: a non-deterministic seed for the default generator."""
    return default_generator.seed()


def initial_seed() -> int:
    """Mirrors ``torch.initial_seed``."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """Mirrors ``torch.get_rng_state``: a uint8 tensor in torch's 5056-byte layout."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Mirrors ``torch.set_rng_state``."""
    if not isinstance(new_state, Tensor):
        raise TypeError(f"expected a torch.ByteTensor, but got {c_type_name(new_state)}")
    default_generator.set_state(new_state)


# ---- float32 arithmetic as torch's vectorised kernels do it ----------------------------------


# NOTE [Sampler math on every CPU]: torch's float64 samplers call the C library's ``log``,
# ``log1p``, ``exp`` and ``tan`` one element at a time. NumPy's float64 ufuncs for these pick a
# vectorised kernel at run time; with AVX-512 it differs from the C library in the last bit for
# 0.3% (log) to 10% (log1p) of values, so samples would depend on the CPU. Python's ``math``
# module calls the C library itself, so ``_libm`` maps it over the elements: the same bits as
# torch on every CPU, at about 90 ns an element. NumPy's float64 ``sin`` and ``cos`` call the C
# library on every dispatch target (AVX-512, AVX2 and baseline alike) and ``sqrt`` is correctly
# rounded by IEEE 754, so those stay vectorised; the tests rerun under each dispatch target.
_LIBM = {
    # math function, NumPy's ufunc, and the inputs where the math function returns what C
    # does: outside them it raises, and NumPy's answer (inf, -inf or nan) is already C's.
    "log": (math.log, np.log, lambda x: x > 0),
    "log1p": (math.log1p, np.log1p, lambda x: x > -1),
    "exp": (math.exp, np.exp, lambda x: x <= 709.782712893384),  # the largest finite exp
    "tan": (math.tan, np.tan, np.isfinite),
}


def _libm(name: str, x):
    """The C library's ``name`` of every element of the float64 array ``x`` (NOTE [Sampler
    math on every CPU])."""
    fn, ufunc, domain = _LIBM[name]
    inside = domain(x)
    if inside.all():
        flat = x.reshape(-1)
        return np.fromiter(map(fn, flat.tolist()), _F64, flat.size).reshape(x.shape)
    with np.errstate(all="ignore"):
        out = ufunc(x)
    out[inside] = np.fromiter(map(fn, x[inside].tolist()), _F64)
    return out


_LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
             1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
             3.3333331174e-1)


def _cephes_log(x):
    """Natural log of positive float32s with the Cephes single-precision polynomial in the
    operation order (and fused multiply-adds) of torch's AVX2 normal kernel."""
    x = np.maximum(x, np.finfo(_F32).tiny)
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F32) + _F32(1)
    m = ((bits & ~0x7F800000) | np.int32(0x3F000000)).view(_F32)  # mantissa in [0.5, 1)
    low = m < _F32(0.707106781186547524)
    f = m - _F32(1)
    e = e - low.astype(_F32)
    f = f + np.where(low, m, _F32(0))
    z = f * f
    y = np.full_like(f, _F32(_LOG_POLY[0]))
    for coef in _LOG_POLY[1:]:
        y = fma32(y, f, _F32(coef))
    y = fma32(y * f, z, e * _F32(-2.12194440e-4))
    y = fma32(z, _F32(-0.5), y)
    return fma32(e, _F32(0.693359375), f + y)


def _cephes_sincos(x):
    """(sin, cos) of float32s, Cephes single precision, as torch's AVX2 normal kernel."""
    negative = np.signbit(x)
    x = np.abs(x)
    octant = ((x * _F32(1.27323954473516)).astype(np.int32) + 1) & ~1
    y = octant.astype(_F32)
    x = fma32(y, _F32(-0.78515625), x)
    x = fma32(y, _F32(-2.4187564849853515625e-4), x)
    x = fma32(y, _F32(-3.77489497744594108e-8), x)
    sin_sign = negative ^ ((octant & 4) != 0)
    cos_sign = ((~(octant - 2)) & 4) != 0
    use_sin_poly = (octant & 2) == 0
    z = x * x
    cos_poly = fma32(_F32(2.443315711809948e-5), z, _F32(-1.388731625493765e-3))
    cos_poly = fma32(cos_poly, z, _F32(4.166664568298827e-2))
    cos_poly = fma32(cos_poly * z, z, -(z * _F32(0.5))) + _F32(1)
    sin_poly = fma32(_F32(-1.9515295891e-4), z, _F32(8.3321608736e-3))
    sin_poly = fma32(sin_poly, z, _F32(-1.6666654611e-1))
    sin_poly = fma32(sin_poly * z, x, x)
    s = np.where(use_sin_poly, sin_poly, cos_poly)
    c = np.where(use_sin_poly, cos_poly, sin_poly)
    return np.where(sin_sign, -s, s), np.where(cos_sign, -c, c)


# ---- the samplers on raw arrays -----------------------------------------------------------


def _category(np_dtype) -> int:
    return _dtype.from_np(np_dtype).category


def _unsupported(kernel: str, np_dtype) -> NotImplementedError:
    """torch's refusal of a dtype its kernel was not compiled for."""
    name = _dtype.scalar_type_name(_dtype.from_np(np_dtype))
    return NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')


def _require_float(np_dtype, kernel: str) -> None:
    if _category(np_dtype) != _dtype.FLOAT:
        raise _unsupported(kernel, np_dtype)


def _continuous_only(np_dtype, distribution: str, name: str) -> None:
    if _category(np_dtype) != _dtype.FLOAT:
        raise RuntimeError(
            f"{distribution} distribution is a continuous probability distribution. dtype must "
            f"be a floating point but you specified {name}")


def _half(np_dtype) -> bool:
    return np_dtype.itemsize == 2 and _category(np_dtype) == _dtype.FLOAT


def _narrow(values, np_dtype):
    """float64 samples stored in ``np_dtype``. torch rounds a double sample to half through
    float (C++'s conversion to Half/BFloat16 takes a float), a double rounding that differs
    from rounding straight to half in rare ties."""
    if _half(np_dtype):
        values = values.astype(_F32)
    return values.astype(np_dtype)


def _real_part(np_dtype):
    """The real dtype of a complex one: torch samples a complex tensor as its interleaved
    real and imaginary parts."""
    return np.dtype(_F32) if np_dtype == np.complex64 else np.dtype(_F64)


def _uniform_fill(g: Generator, n: int, np_dtype, low: float, high: float):
    category = _category(np_dtype)
    if category == _dtype.COMPLEX:
        return _uniform_fill(g, 2 * n, _real_part(np_dtype), low, high).view(np_dtype)
    if category != _dtype.FLOAT:
        raise _unsupported("check_uniform_bounds", np_dtype)
    if _half(np_dtype):
        # torch draws float32 uniforms and rounds them to half; one that rounds up to the
        # (excluded) upper bound becomes the lower bound.
        r = _uniform_fill(g, n, np.dtype(_F32), low, high).astype(np_dtype)
        r[r == np_dtype.type(high)] = low
        return r
    if np_dtype == _F64:
        u = g._uniform64(n)
        if low == 0.0 and high == 1.0:
            return u
        return fma64(u, high - low, low)
    u = g._uniform32(n)
    if low == 0.0 and high == 1.0:
        return u
    return fma32(u, _F32(high) - _F32(low), _F32(low))


def _normal_blocks(u, np_dtype, mean: float, std: float):
    """Box-Muller on whole blocks of 16 uniforms (element j pairs with j + 8)."""
    blocks = u.reshape(-1, 2, 8)
    out = np.empty_like(blocks)
    if np_dtype == _F32:
        radius = np.sqrt(_F32(-2) * _cephes_log(_F32(1) - blocks[:, 0]))
        sin, cos = _cephes_sincos(_F32(2 * math.pi) * blocks[:, 1])
        out[:, 0] = fma32(radius * cos, _F32(std), _F32(mean))
        out[:, 1] = fma32(radius * sin, _F32(std), _F32(mean))
    else:
        radius = np.sqrt(-2.0 * _libm("log", 1.0 - blocks[:, 0]))
        theta = 2.0 * math.pi * blocks[:, 1]
        out[:, 0] = fma64(radius * np.cos(theta), std, mean)
        out[:, 1] = fma64(radius * np.sin(theta), std, mean)
    return out.reshape(-1)


def _normal_fill(g: Generator, n: int, np_dtype, mean: float, std: float,
                 contiguous: bool = True):
    category = _category(np_dtype)
    if category == _dtype.COMPLEX:
        # both parts share the variance: each real normal has std / sqrt(2)
        return _normal_fill(g, 2 * n, _real_part(np_dtype), mean, std / math.sqrt(2),
                            contiguous).view(np_dtype)
    if category != _dtype.FLOAT:
        raise _unsupported("normal_kernel_cpu", np_dtype)
    if n < 16 or not contiguous:
        return _narrow(fma64(g._normals(n), std, mean), np_dtype)
    if _half(np_dtype):
        # torch transforms float32 uniforms padded to whole blocks of 16, then lets the last
        # block's normals overwrite the last 16 elements (NOTE [torch's CPU stream]).
        padded = _normal_fill(g, -(-n // 16) * 16, np.dtype(_F32), mean, std)
        return np.concatenate([padded[:n - 16], padded[-16:]]).astype(np_dtype)
    draw = g._uniform32 if np_dtype == _F32 else g._uniform64
    data = draw(n)
    whole = n // 16 * 16
    data[:whole] = _normal_blocks(data[:whole], np_dtype, mean, std)
    if whole != n:
        data[n - 16:] = _normal_blocks(draw(16), np_dtype, mean, std)
    return data


def _int_fill(g: Generator, n: int, np_dtype, low: int, high: int):
    """``random_(low, high)``: the draw modulo the range. torch 2.13 takes a 64-bit draw for
    ranges of 2**28 or more (found by experiment: 2**28 - 1 still takes one word)."""
    span = high - low
    if span >= 2 ** 28:
        words = g._words64(n)
    else:
        words = g._words(n)
    # uint64 arithmetic wraps as torch's int64 does for ranges past 2**63
    values = (words % _U64(span) + _U64(low % 2 ** 64)).view(np.int64)
    return _narrow(values, np_dtype)


# Integers a floating dtype holds exactly: torch warns outside +-2**digits.
_FLOAT_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _in_dtype(value: int, np_dtype) -> int:
    """``value`` rounded to a floating dtype as C++ converts an int64 (to half through
    float) and back; past float16's range, the infinity converts to x86's lowest int64."""
    rounded = float(_narrow(np.array(value, np.int64), np_dtype).astype(_F64))
    return int(rounded) if math.isfinite(rounded) else _INT64_MIN


def _representable_range(np_dtype, low: int, high: int) -> tuple[int, int]:
    """torch's adjustment of ``random_(from, to)`` for a floating dtype: where ``from``
    rounds below itself it moves up to the next value the dtype holds; where ``to - 1``
    rounds to ``to`` or above, ``to`` moves down to the value the dtype holds below it."""
    digits = _FLOAT_DIGITS[_dtype.from_np(np_dtype).name]
    rounded = _in_dtype(low + 1, np_dtype)
    if rounded < low:
        low = rounded + (1 << ((abs(low + 1).bit_length() - 1) - digits + 1))
    rounded = _in_dtype(high - 1, np_dtype)
    if rounded >= high:
        high = rounded - (1 << ((abs(high - 1).bit_length() - 1) - digits + 1))
    if low >= high:
        raise RuntimeError("random_ expects 'from' casted to dtype to be less than 'to' casted "
                           f"to dtype, but got from={low} >= to={high}")
    return low, high


def _check_random_bounds(np_dtype, low: int, high: int) -> tuple[int, int]:
    """torch's checks on ``random_(from, to)``'s bounds for the destination dtype; returns
    the bounds torch then samples between."""
    dt = _dtype.from_np(np_dtype)
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if dt.category == _dtype.COMPLEX:
        raise RuntimeError(
            "check_random_bounds handles only integral, floating-point and boolean types")
    cpp = _dtype.cpp_type_name(dt)
    if dt.category == _dtype.FLOAT:
        low, high = _representable_range(np_dtype, low, high)
        # of the floating dtypes only float16 ends below int64's range
        largest = 65504 if dt.name == "float16" else math.inf
        for what, value in (("from", low), ("to - 1", high - 1)):
            if not -largest <= value <= largest:
                raise RuntimeError(f"{what} is out of bounds for {cpp}")
        digits = _FLOAT_DIGITS[dt.name]
        for what, value in (("from", low), ("to - 1", high - 1)):
            if not -2 ** digits <= value <= 2 ** digits:
                warnings.warn(
                    f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                    f"limitations {cpp} can support discrete uniform distribution only within "
                    "this range. This warning will become an error in version 1.7 release, "
                    "please fix the code in advance", UserWarning, stacklevel=3)
        return low, high
    info = np.iinfo(np_dtype) if dt.category == _dtype.INT else None
    lowest, highest = (int(info.min), int(info.max)) if info is not None else (0, 1)
    if not lowest <= low <= highest:
        raise RuntimeError(f"from is out of bounds for {cpp}")
    if not lowest <= high - 1 <= highest:
        raise RuntimeError(f"to - 1 is out of bounds for {cpp}")
    return low, high


# Without bounds, random_ draws over the dtype's exactly representable integers.
_FULL_RANGE = {"int64": (64, 2 ** 63), "float64": (64, 2 ** 53 + 1), "float32": (32, 2 ** 24 + 1),
               "float16": (32, 2 ** 11 + 1), "bfloat16": (32, 2 ** 8 + 1), "int32": (32, 2 ** 31),
               "int16": (32, 2 ** 15), "int8": (32, 2 ** 7), "uint8": (32, 2 ** 8), "bool": (32, 2)}


def _random_fill(g: Generator, n: int, np_dtype):
    name = _dtype.from_np(np_dtype).name
    if name not in _FULL_RANGE:
        raise _unsupported("random_kernel_cpu", np_dtype)
    bits, modulus = _FULL_RANGE[name]
    words = g._words64(n) if bits == 64 else g._words(n)
    return _narrow(words % _U64(modulus), np_dtype)


# ---- public sampling functions -------------------------------------------------------------


def _float_dtype(dtype) -> _dtype.dtype:
    return dtype or _dtype.get_default_dtype()


def _result(data, requires_grad: bool) -> Tensor:
    t = make(data)
    if requires_grad:
        t._requires_grad = True
    return t


def _shape_size(sizes: tuple, name: str, size=None) -> tuple:
    shape = sizes_or_size(sizes, size, name)
    if _lead[0]:  # a factory drawing for a vmap batch (NOTE [Random ops inside vmap])
        shape = _lead[0] + tuple(shape)
    return shape, math.prod(shape)


@_vmap_random("factory")
def rand(*sizes, size=None, generator: Generator | None = None, dtype=None, layout=None,
         device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.rand``: uniforms in [0, 1), torch's numbers for the same seed (the
    shape as positionals or ``size=``)."""
    if not sizes and size is None:
        raise first_missing("rand", _GENERATOR_OVERLOADS["rand"], "size", dict(
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory))
    _check_generator("rand", generator, sizes, size=size, dtype=dtype)
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("rand", layout, pin_memory)
    shape, n = _shape_size(sizes, "rand", size)
    np_dtype = _float_dtype(dtype).np
    return _result(_uniform_fill(_gen(generator), n, np_dtype, 0.0, 1.0).reshape(shape),
                   requires_grad)


@_vmap_random("factory")
def randn(*sizes, size=None, generator: Generator | None = None, dtype=None, layout=None,
          device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.randn``: standard normals, torch's numbers for the same seed (the
    shape as positionals or ``size=``)."""
    if not sizes and size is None:
        raise first_missing("randn", _GENERATOR_OVERLOADS["randn"], "size", dict(
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory))
    _check_generator("randn", generator, sizes, size=size, dtype=dtype)
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("randn", layout, pin_memory)
    shape, n = _shape_size(sizes, "randn", size)
    np_dtype = _float_dtype(dtype).np
    return _result(_normal_fill(_gen(generator), n, np_dtype, 0.0, 1.0).reshape(shape),
                   requires_grad)


def _is_int(value) -> bool:
    """An argument torch's parser takes as an int: a Python or NumPy integer, or an integer
    tensor of one element (not a bool, not a float)."""
    if isinstance(value, Tensor):
        return value._data.size == 1 and value._data.dtype.kind in "iu"
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _parser_type(value) -> str:
    """How torch's argument parser names an argument's type in its messages."""
    if isinstance(value, Tensor):
        return "Tensor"
    if isinstance(value, Generator):
        return "torch._C.Generator"
    if isinstance(value, _dtype.dtype):
        return "torch.dtype"
    return type(value).__name__


_RANDINT_OVERLOADS = "".join(
    f" * ({first}tuple of ints size, *, {generator}Tensor out = None, torch.dtype dtype = None, "
    "torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool "
    "requires_grad = False)\n"
    for first in ("int high, ", "int low, int high, ")
    for generator in ("torch.Generator generator, ", ""))


def _check_randint_arguments(args: tuple, by_keyword: bool, generator, dtype, device,
                             requires_grad) -> None:
    """torch's TypeErrors for bounds that are not ints and a size that is not a sequence
    of ints."""
    *bounds, size = args
    size_ok = isinstance(size, (tuple, list)) and all(_is_int(v) for v in size)
    bad_bound = next((i for i, b in enumerate(bounds) if not _is_int(b)), None)
    if size_ok and bad_bound is None:
        return
    if len(args) == 2 and not by_keyword:  # the two-argument overloads, named by position
        if bad_bound is not None:
            raise TypeError("randint(): argument 'high' (position 1) must be int, not "
                            f"{_parser_type(bounds[0])}")
        if isinstance(size, (tuple, list)):
            at = next(i for i, v in enumerate(size) if not _is_int(v))
            raise TypeError("randint(): argument 'size' (position 2) must be tuple of ints, "
                            f"but found element of type {_parser_type(size[at])} at pos {at}")
        raise TypeError("randint(): argument 'size' (position 2) must be tuple of ints, not "
                        f"{_parser_type(size)}")
    raise _randint_refusal(args, generator, dtype, device, requires_grad)


def _randint_refusal(args: tuple, generator, dtype, device, requires_grad) -> TypeError:
    """torch's TypeError listing randint's overloads, with the types it was given."""
    keywords = [(name, value) for name, value, default in (
        ("generator", generator, None), ("requires_grad", requires_grad, False),
        ("device", device, None), ("dtype", dtype, None)) if value is not default]
    if len(args) == 1 and keywords:  # a keyword picks the two-argument overload
        return missing_arguments("randint", "size")
    got = ", ".join([_parser_type(a) for a in args]
                    + [f"{name}={_parser_type(value)}" for name, value in keywords])
    if keywords and not args:  # torch's list ends so when it holds keywords only
        got += ", "
    return TypeError(f"randint() received an invalid combination of arguments - got ({got}), "
                     f"but expected one of:\n{_RANDINT_OVERLOADS}")


@_vmap_random("factory")
def randint(*args, generator: Generator | None = None, dtype=None, device=None,
            requires_grad: bool = False, **bounds) -> Tensor:
    """Mirrors ``torch.randint(high, size)`` and ``torch.randint(low, high, size)``, each
    argument also by keyword (``low=``, ``high=``, ``size=``): int64 unless ``dtype`` says
    otherwise."""
    _check_generator("randint", generator, args, dtype=dtype, **bounds)
    _place(device)
    if bounds:
        unknown = set(bounds) - {"low", "high", "size"}
        if unknown:
            raise TypeError(f"randint() got an unexpected keyword argument '{unknown.pop()}'")
        three = "low" in bounds or len(args) + len(bounds) == 3
        names = ("low", "high", "size") if three else ("high", "size")
        given = dict(zip(names, args))
        if any(k in given for k in bounds) or not set(bounds) <= set(names):
            raise TypeError("randint() received an invalid combination of arguments")
        given.update(bounds)
        if set(given) != set(names):
            if not args and len(bounds) == 1 and generator is None and dtype is None \
                    and device is None and not requires_grad:
                # one keyword alone matches none of the overloads
                raise overloads_refusal("randint", _GENERATOR_OVERLOADS["randint"], (), bounds)
            first = next(i for i, k in enumerate(names) if k not in given)
            raise missing_arguments("randint", *names[first:])  # torch names all from there
        args = tuple(given[k] for k in names)
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise _randint_refusal(args, generator, dtype, device, requires_grad)
    _check_randint_arguments(args, bool(bounds), generator, dtype, device, requires_grad)
    low, high = int(low), int(high)
    np_dtype = (dtype or _dtype.int64).np
    low, high = _check_random_bounds(np_dtype, low, high)
    shape, n = _shape_size((size,), "randint")
    return _result(_int_fill(_gen(generator), n, np_dtype, low, high).reshape(shape),
                   requires_grad)


# randperm's n from which torch shuffles inside out with 64-bit draws
_RANDPERM_WIDE = (2 ** 32 - 1) // 20
# The largest n whose values a floating dtype holds exactly (torch refuses more).
_RANDPERM_FLOAT_LIMIT = {"float16": (2049, "2049", "Half"),
                         "float32": (2 ** 24 + 1, "2^24+1", "Float"),
                         "float64": (2 ** 53 + 1, "2^53+1", "Double")}


_CHUNK = 1 << 22  # draws reduced at a time, so that a huge n's words never all sit in memory


def _randperm_targets(g: Generator, n: int):
    """torch's swap targets for ``randperm(n)`` below ``_RANDPERM_WIDE``: step ``i`` swaps
    positions ``i`` and ``i + word % (n - i)``; a last step ``n - 1`` onto itself is added (the
    last position keeps what the steps left there)."""
    targets = np.empty(n, np.int32)
    for start in range(0, n - 1, _CHUNK):
        stop = min(start + _CHUNK, n - 1)
        offsets = g._words(stop - start) % np.arange(n - start, n - stop, -1, dtype=_U64)
        targets[start:stop] = offsets.astype(np.int64) + np.arange(start, stop)
    targets[-1] = n - 1
    return targets


def _inside_out_draws(g: Generator, n: int):
    """From ``_RANDPERM_WIDE`` on, torch shuffles "inside out": step ``i`` (``0 <= i < n``)
    swaps positions ``i`` and ``draw64 % (i + 1)`` of the identity."""
    picks = np.empty(n, np.int32 if n < 2 ** 31 else np.int64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        picks[start:stop] = g._words64(stop - start) % np.arange(start + 1, stop + 1, dtype=_U64)
    return picks


def _inside_out(picks):
    """The permutation of the inside-out pass (``_inside_out_draws``). Its inverse is the
    same swaps applied last to first; mirrored (position ``p`` read as ``n - 1 - p``), those
    are a forward pass whose step ``s`` swaps ``s`` with ``n - 1 - picks[n - 1 - s] >= s``,
    which ``_fisher_yates`` runs."""
    n = picks.size
    targets = (n - 1) - picks[::-1]
    inverse = (n - 1) - _fisher_yates(targets)[::-1]
    perm = np.empty(n, np.int64)
    perm[inverse] = np.arange(n, dtype=np.int64)
    return perm


def _fisher_yates(targets):
    """The values torch's forward Fisher-Yates pass leaves at positions ``0 .. m-1``, where
    step ``i < m`` swaps positions ``i`` and ``targets[i] >= i``, without running the steps
    one by one. Position ``i`` is final after step ``i``, so the first ``m`` steps fix the
    first ``m`` values: a prefix of the steps gives a prefix of the permutation.

    NOTE [Fisher-Yates without a loop]: let ``a_p`` be the value at position ``p`` just before
    step ``p``: it was put there by the last earlier step ``k`` with ``targets[k] = p`` (so
    ``a_p = a_k``), or is ``p`` itself. Step ``i`` leaves at ``i`` the value then at its
    target: ``a_k`` for the last earlier step ``k`` with the same target, or the target
    itself. Grouping the steps by target (a stable sort) gives both "last earlier" steps;
    the chains ``a_p = a_k`` are resolved by pointer jumping: O(m log m) vectorised work."""
    m = targets.size
    index = targets.dtype
    steps = np.arange(m, dtype=index)
    order = np.argsort(targets, kind="stable").astype(index)
    grouped = targets[order]
    same = grouped[1:] == grouped[:-1]
    # the previous step with the same target, or -1
    previous = np.full(m, -1, index)
    previous[order[1:][same]] = order[:-1][same]
    # the last step targeting each position below m, or -1
    last = np.full(m, -1, index)
    ends = np.ones(m, bool)
    ends[:-1] = ~same
    ends &= grouped < m
    last[grouped[ends]] = order[ends]
    del order, grouped, same, ends
    # the last step before p that targeted p: skip p's own step when it targeted p itself
    source = np.where(last == steps, previous, last)
    del last
    root = np.where(source >= 0, source, steps)
    del source
    while True:
        jumped = root[root]
        if np.array_equal(jumped, root):
            break
        root = jumped
    del jumped
    return np.where(previous >= 0, root[np.maximum(previous, 0)], targets).astype(np.int64)


def _check_randperm_dtype(n: int, np_dtype) -> None:
    dt = _dtype.from_np(np_dtype)
    if dt.category in (_dtype.BOOL, _dtype.COMPLEX):
        raise _unsupported("randperm", np_dtype)
    if dt.name in _RANDPERM_FLOAT_LIMIT:
        limit, text, name = _RANDPERM_FLOAT_LIMIT[dt.name]
        if n > limit:
            raise RuntimeError(f"n cannot be greater than {text} for {name} type.")
    elif dt.category == _dtype.INT and n - 1 > np.iinfo(np_dtype).max:
        raise RuntimeError(
            f"value cannot be converted to type {np_dtype.name}_t without overflow")


@_vmap_random("perm")
def randperm(n: int = _NOT_GIVEN, *, generator: Generator | None = None, dtype=None,
             layout=None, device=None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.randperm``: torch's Fisher-Yates pass swapping element ``i`` with
    ``i + word % (n - i)`` below ``n = (2**32 - 1) // 20``, and from there on its
    "inside-out" pass on 64-bit draws. Both run vectorised (NOTE [Fisher-Yates without a
    loop])."""
    if n is _NOT_GIVEN:
        raise first_missing("randperm", _GENERATOR_OVERLOADS["randperm"], "n", dict(
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory))
    if type(n) is not int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer, Tensor)):
            raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not "
                            f"{c_type_name(n)}")
        n = operator.index(n)
    _check_generator("randperm", generator, (n,), dtype=dtype)
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("randperm", layout, pin_memory)
    n = int(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    np_dtype = (dtype or _dtype.int64).np
    _check_randperm_dtype(n, np_dtype)
    if n < 2:
        perm = np.arange(n, dtype=np.int64)
    elif n >= _RANDPERM_WIDE:
        perm = _inside_out(_inside_out_draws(_gen(generator), n))
    else:
        perm = _fisher_yates(_randperm_targets(_gen(generator), n))
    return _result(_narrow(perm, np_dtype), requires_grad)


def _fill_memory_order(data, values):
    """``data`` (fresh, dense) with the flat ``values`` stored in its memory order, as torch's
    kernels fill a tensor laid out in another order (see ``_write``)."""
    order = sorted(range(data.ndim), key=lambda d: -data.strides[d])
    data.transpose(order)[...] = values.reshape([data.shape[d] for d in order])
    return data


@_vmap_random("like")
def rand_like(input: Tensor = _NOT_GIVEN, *, generator: Generator | None = None, dtype=None,
              layout=None, device=None, pin_memory: bool = False, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    """Mirrors ``torch.rand_like``: laid out as ``memory_format`` says (preserving
    ``input``'s strides by default), the numbers drawn in memory order as torch's."""
    if input is _NOT_GIVEN:
        raise first_missing("rand_like", _GENERATOR_OVERLOADS["rand_like"], "input", dict(
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory, memory_format=memory_format))
    tensor_argument("rand_like", "input", input, 1)
    _check_generator("rand_like", generator, (input,), dtype=dtype)
    device = _serve(device)
    if layout is not None or pin_memory:
        check_tensor_options("rand_like", layout, pin_memory)
    np_dtype = _float_dtype(dtype or input.dtype).np
    data = like_layout(input, np_dtype, memory_format, "rand_like")
    if data is None:
        return rand(input._data.shape, generator=generator, dtype=dtype or input.dtype,
                    device=device, requires_grad=requires_grad)
    values = _uniform_fill(_gen(generator), data.size, np_dtype, 0.0, 1.0)
    return _result(_fill_memory_order(data, values), requires_grad)


@_vmap_random("like")
def randn_like(input: Tensor = _NOT_GIVEN, *, generator: Generator | None = None, dtype=None,
               layout=None, device=None, pin_memory: bool = False, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Mirrors ``torch.randn_like``: laid out as ``memory_format`` says (preserving
    ``input``'s strides by default); a layout other than C order draws one sample at a time
    in memory order, as torch's kernel does for a non-contiguous tensor."""
    if input is _NOT_GIVEN:
        raise first_missing("randn_like", _GENERATOR_OVERLOADS["randn_like"], "input", dict(
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory, memory_format=memory_format))
    tensor_argument("randn_like", "input", input, 1)
    _check_generator("randn_like", generator, (input,), dtype=dtype)
    device = _serve(device)
    if layout is not None or pin_memory:
        check_tensor_options("randn_like", layout, pin_memory)
    np_dtype = _float_dtype(dtype or input.dtype).np
    data = like_layout(input, np_dtype, memory_format, "randn_like")
    if data is None:
        return randn(input._data.shape, generator=generator, dtype=dtype or input.dtype,
                     device=device, requires_grad=requires_grad)
    values = _normal_fill(_gen(generator), data.size, np_dtype, 0.0, 1.0,
                          data.flags.c_contiguous)
    return _result(_fill_memory_order(data, values), requires_grad)


@_vmap_random("like")
def randint_like(input: Tensor, low: int, high: int | None = None, *,
                 generator: Generator | None = None, dtype=None, layout=None, device=None,
                 pin_memory: bool = False, requires_grad: bool = False,
                 memory_format=None) -> Tensor:
    """Mirrors ``torch.randint_like(input, high)`` / ``(input, low, high)``: the input's
    dtype unless given, laid out as ``memory_format`` says (preserving ``input``'s strides by
    default), the numbers drawn in memory order as torch's."""
    device = _serve(device)
    if layout is not None or pin_memory:
        check_tensor_options("randint_like", layout, pin_memory)
    if high is None:
        low, high = 0, low
    dtype = dtype or input.dtype
    data = like_layout(input, dtype.np, memory_format, "randint_like")
    drawn = randint(low, high, input._data.shape if data is None else (input._data.size,),
                    generator=generator, dtype=dtype, device=device,
                    requires_grad=requires_grad)
    if data is None:
        return drawn
    return _result(_fill_memory_order(data, drawn._data), requires_grad)


@_vmap_random("data")
def normal(mean=_NOT_GIVEN, std=1.0, size=None, *, generator: Generator | None = None,
           dtype=None, layout=None, device=None, pin_memory: bool = False,
           requires_grad: bool = False) -> Tensor:
    """Mirrors ``torch.normal``'s overloads: ``(Tensor, Tensor)``, ``(Tensor, float)``,
    ``(float, Tensor)`` and ``(float, float, size)``. As torch does, tensor overloads draw
    standard normals of the broadcast shape and then scale and shift them; a ``mean`` or
    ``std`` that requires grad gets a zero gradient (NOTE [Draws in the graph])."""
    if mean is _NOT_GIVEN:
        raise first_missing("normal", _GENERATOR_OVERLOADS["normal"], "mean", dict(
            std=None if type(std) is float and std == 1.0 else std, size=size,
            generator=generator, dtype=dtype, layout=layout, device=device,
            requires_grad=requires_grad, pin_memory=pin_memory))
    _check_generator("normal", generator, (mean, std) + (() if size is None else (size,)),
                     dtype=dtype)
    _place(device)
    if layout is not None or pin_memory:
        check_tensor_options("normal", layout, pin_memory)
    mean_t = isinstance(mean, Tensor)
    std_t = isinstance(std, Tensor)
    g = _gen(generator)
    if not mean_t and not std_t:
        if size is None and std == 1.0:  # normal(3.0): the parser wants a mean tensor
            raise TypeError(f"normal(): argument 'mean' (position 1) must be Tensor, not "
                            f"{c_type_name(mean)}")
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments")
        shape, n = _shape_size((size,), "normal")
        np_dtype = _float_dtype(dtype).np
        _check_std(std)
        return _result(_normal_fill(g, n, np_dtype, float(mean), float(std)).reshape(shape),
                       requires_grad)
    if std_t:
        std_data = std._data
        if _category(std_data.dtype) == _dtype.COMPLEX:
            raise RuntimeError("normal expects standard deviation to be non-complex")
        if not (std_data >= 0).all():  # NaN too, as torch's check
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        _check_std(std)
    if mean_t and std_t:
        shape = np.broadcast_shapes(mean._data.shape, std._data.shape)
        np_dtype = _promote.result_types((mean, std), (0, 1), KEEP)[1]
    else:
        shape = (mean if mean_t else std)._data.shape
        np_dtype = (mean if mean_t else std)._data.dtype
    n = math.prod(shape)
    if mean_t and not std_t:
        draws = _normal_fill(g, n, np_dtype, 0.0, float(std)).reshape(shape)
        return drawn((draws + mean._data).astype(np_dtype), _NORMAL_MEAN, mean)
    draws = _normal_fill(g, n, np_dtype, 0.0, 1.0).reshape(shape)
    shift = mean._data if mean_t else mean
    values = (draws * std._data.astype(np_dtype) + shift).astype(np_dtype)
    return drawn(values, _NORMAL_BOTH, mean, std) if mean_t else \
        drawn(values, _NORMAL_STD, std)


def _check_std(std: float) -> None:
    if not std >= 0:  # NaN too, as torch's check
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


@_vmap_random("data")
def bernoulli(input: Tensor = _NOT_GIVEN, p: float | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch.bernoulli``: 1 where a uniform falls below the probability (the
    input's elements, or ``p``); float64 probabilities compare with float64 uniforms,
    others with float32 ones."""
    if input is _NOT_GIVEN:
        raise first_missing("bernoulli", _GENERATOR_OVERLOADS["bernoulli"], "input", dict(
            p=p, generator=generator))
    _check_generator("bernoulli", generator, (input,) if p is None else (input, p))
    data = input._data
    # the draws read only the shape and dtype of the tensor they fill: the input's
    values = _bernoulli_values(input, input if p is None else p, generator)
    return drawn(values.astype(data.dtype).reshape(data.shape),
                 _BERNOULLI if p is None else _BERNOULLI_P, input)


_SUM_ERROR = "invalid multinomial distribution (sum of probabilities <= 0)"


def _check_distributions(rows) -> None:
    """torch's checks of the probabilities before drawing one sample, or several without
    replacement: every entry finite and non-negative (a nan fails), no row of zeros."""
    if rows.size == 0:  # torch takes their max and min first
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if not (rows.max() < np.inf and rows.min() >= 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if not (rows != 0).any(axis=-1).all():  # a sum of non-negative numbers is 0 only so
        raise RuntimeError(_SUM_ERROR)


def _check_rows(rows) -> None:
    """torch's checks as it draws with replacement, row by row, entry by entry: an entry
    that is not >= 0 (a nan included), then one that is not finite, then a row of zeros."""
    negative = ~(rows >= 0)
    infinite = ~negative & ~np.isfinite(rows)
    bad = negative | infinite
    problem = bad.any(axis=-1) | ~(rows != 0).any(axis=-1)
    if not problem.any():
        return
    row = int(np.argmax(problem))
    if not bad[row].any():
        raise RuntimeError(_SUM_ERROR)
    first = int(np.argmax(bad[row]))
    if negative[row, first]:
        raise RuntimeError("invalid multinomial distribution (encountering probability entry "
                           "< 0)")
    raise RuntimeError("invalid multinomial distribution (encountering probability entry = "
                       "infinity or NaN)")


@_vmap_random("data")
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch.multinomial``. With replacement: a float64 uniform per sample,
    searched in the row's normalised cumulative sum. Without (or one sample): the largest
    ``p / q`` with ``q`` exponential draws, as torch does."""
    data = input._data
    if data.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if _category(data.dtype) != _dtype.FLOAT:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{_dtype.scalar_type_name(input.dtype)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > data.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if data.shape[-1] > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = data.reshape(data.shape[0] if data.ndim == 2 else 1, data.shape[-1])
    g = _gen(generator, "multinomial")
    if rows.shape[0] == 0:  # no distribution to draw from: nothing drawn, as in torch
        result = np.empty((0, num_samples), np.int64)
    elif not replacement or num_samples == 1:
        _check_distributions(rows)
        q = _exponential_fill(g, rows.size, data.dtype, 1.0).reshape(rows.shape)
        with np.errstate(over="ignore"):  # huge probabilities: inf keys, as torch's
            keys = rows / q
        # topk's order: largest first, ties by the lower index
        order = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
        result = order.astype(np.int64)
    else:
        _check_rows(rows)
        with np.errstate(over="ignore", invalid="ignore"):  # a sum past float32's range
            cumulative = np.cumsum(rows.astype(_F64 if data.dtype == _F64 else _F32),
                                   axis=-1)
            cumulative = cumulative / cumulative[:, -1:]
        u = g._uniform64(rows.shape[0] * num_samples).reshape(rows.shape[0], num_samples)
        result = np.stack([np.searchsorted(c, s, side="left") for c, s in zip(cumulative, u)])
        result = np.minimum(result, rows.shape[1] - 1).astype(np.int64)
    return make(result.reshape(data.shape[:-1] + (num_samples,)))


_INT64_MIN = -2 ** 63
_lgamma = None


def _c_lgamma():
    """The C library's ``lgamma``, which torch's Poisson sampler calls. CPython's
    ``math.lgamma`` is its own approximation, a few ulps away, and the rejection test for
    huge rates subtracts numbers near 1e16 whose difference magnifies that. Falls back to
    ``math.lgamma`` where no C library is found."""
    global _lgamma
    if _lgamma is None:
        _lgamma = math.lgamma
        try:
            import ctypes
            import ctypes.util

            libm = ctypes.CDLL(ctypes.util.find_library("m"))
            libm.lgamma.restype = ctypes.c_double
            libm.lgamma.argtypes = [ctypes.c_double]
            _lgamma = libm.lgamma
        except (OSError, AttributeError, TypeError):
            pass
    return _lgamma


def _poisson_ptrs(uniforms, at: int, rate: float) -> tuple[int, int]:
    """One Poisson sample by transformed rejection with squeeze (W. Hormann, "The
    transformed rejection method for generating Poisson random variables", 1993), from the
    float64 uniforms ``uniforms[at:]`` two per try; returns the sample and the next unused
    position."""
    lgamma = _c_lgamma()
    root = math.sqrt(rate)
    log_rate = math.log(rate)
    b = 0.931 + 2.53 * root
    a = -0.059 + 0.02483 * b
    log_inv_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = uniforms[at] - 0.5
        v = uniforms[at + 1]
        at += 2
        us = 0.5 - abs(u)
        x = (2 * a / us + b) * u + rate + 0.43
        # torch truncates to int64: an infinite or NaN x (an infinite rate) gives x86's
        # "integer indefinite" value, the lowest int64
        k = math.floor(x) if -2.0 ** 63 <= x < 2.0 ** 63 else _INT64_MIN
        if us >= 0.07 and v <= v_r:
            return k, at
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + log_inv_alpha - math.log(a / (us * us) + b)
                <= -rate + k * log_rate - lgamma(k + 1)):
            return k, at


def _poisson_product(uniforms, at: int, rate: float) -> tuple[int, int]:
    """One Poisson sample below rate 10: how many uniforms multiply to more than
    ``exp(-rate)`` before one product falls to it."""
    limit = math.exp(-rate)
    count, product = 0, 1.0
    while True:
        product *= uniforms[at]
        at += 1
        if product <= limit:
            return count, at
        count += 1


@_vmap_random("data")
def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch.poisson``: the product-of-uniforms method for rates under 10 and
    Hormann's transformed rejection with squeeze (PTRS, 1993) from 10 on, as torch, element
    after element in memory order (each draws until it stops).

    The uniforms are drawn ahead in batches (a sample's draws depend on their values), and
    the generator is then wound back to just after the last one used."""
    tensor_argument("poisson", "input", input, 1)
    data = input._data
    _require_float(data.dtype, "poisson_cpu")
    rates = np.ascontiguousarray(data).reshape(-1).astype(_F64)
    if not (rates >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    g = _gen(generator, "poisson")
    if not rates.size:  # nothing drawn: the generator stays where it is, as torch's
        return drawn(np.zeros(data.shape, data.dtype), _POISSON, input)
    start = g._bits.state
    fresh = g._fresh
    # about rate + 1 draws under 10, about 2.3 from 10 on; topped up when short
    budget = int(np.minimum(rates, 10.0).sum()) + 3 * rates.size + 64
    uniforms = g._uniform64(budget).tolist()
    at = 0
    samples = []
    for rate in rates.tolist():
        while len(uniforms) - at < 4096:  # room for any one sample's rejections
            uniforms.extend(g._uniform64(max(budget, 4096)).tolist())
        if rate >= 10:
            k, at = _poisson_ptrs(uniforms, at, rate)
        elif rate == 0:
            k = 0
        else:
            k, at = _poisson_product(uniforms, at, rate)
        samples.append(k)
    g._bits.state = start
    g._fresh = fresh
    for done in range(0, at, 1 << 22):  # two words per float64 uniform
        g._words(2 * min(1 << 22, at - done))
    out = _narrow(np.array(samples, np.int64), data.dtype)
    return drawn(out.reshape(data.shape), _POISSON, input)


# ---- draws in the graph ---------------------------------------------------------------------

# NOTE [Draws in the graph]
# A draw depends on no input's values, and torch defines its gradient so. Written into a
# tensor that requires grad (``(a * 1).uniform_()``), it becomes that tensor's history as a
# node of torch's name whose gradient to the old values is zero: they no longer reach the
# result. A draw from probabilities, means or rates that require grad requires grad too and
# sends them zeros (``bernoulli(p)``, ``normal(mean, std)``, ``poisson(rates)``), or, where
# torch defines no gradient (``bernoulli(p, 0.5)``, ``binomial``), carries torch's
# NotImplemented node. The values are drawn first, as when nothing is recorded, so the
# generator advances the same way; the record's forward only hands them on (its last
# argument).


def _hand_on(xp, *args):
    return args[-1]


def _draw(name: str, node: str, nin: int = 1) -> Op:
    """The record of a draw over ``nin`` inputs (NOTE [Draws in the graph])."""
    if node != "NotImplemented":
        return defop(name, node=node, nin=nin, kind=KEEP, forward=_hand_on,
                     backward=zero_gradient if nin == 1 else (zero_gradient,) * nin)
    op = defop(name, node=node, nin=nin, kind=KEEP, forward=_hand_on,
               backward=not_implemented(name) if nin == 1 else (not_implemented(name),) * nin)
    op.node_cls.name = lambda self: "torch::autograd::NotImplemented"
    return op


_UNIFORM_ = _draw("uniform_", "UniformBackward0")
_NORMAL_ = _draw("normal_", "NormalBackward0")
_RANDOM_FROM_TO = _draw("random_", "RandomBackward0")
_RANDOM_TO = _draw("random_", "RandomBackward1")
_RANDOM_ = _draw("random_", "RandomBackward2")
_EXPONENTIAL_ = _draw("exponential_", "ExponentialBackward0")
_BERNOULLI_TENSOR_ = _draw("bernoulli_", "BernoulliBackward1", nin=2)
_BERNOULLI_FLOAT_ = _draw("bernoulli_", "BernoulliBackward2")
_GEOMETRIC_ = _draw("geometric_", "GeometricBackward0")
_CAUCHY_ = _draw("cauchy_", "CauchyBackward0")
_LOG_NORMAL_ = _draw("log_normal_", "LogNormalBackward0")
_BERNOULLI = _draw("bernoulli", "BernoulliBackward0")
_BERNOULLI_P = _draw("bernoulli", "NotImplemented")
_NORMAL_MEAN = _draw("normal", "NormalBackward1")
_NORMAL_STD = _draw("normal", "NormalBackward2")
_NORMAL_BOTH = _draw("normal", "NormalBackward3", nin=2)
_POISSON = _draw("poisson", "PoissonBackward0")
BINOMIAL = _draw("binomial", "NotImplemented", nin=2)


def drawn(values, op: Op, *inputs: Tensor) -> Tensor:
    """The tensor of a draw's ``values``: ``op``'s result over ``inputs`` when one of them
    requires grad (NOTE [Draws in the graph])."""
    if grad_mode.state.enabled and any(t._requires_grad for t in inputs):
        return run(op, *inputs, values)
    return make(values)


# ---- in-place Tensor methods ---------------------------------------------------------------


def _write(self: Tensor, values, op: Op, *inputs: Tensor) -> Tensor:
    """Store ``values`` in ``self``'s memory order (torch's serial kernels walk a strided
    tensor in the order of its strides, not of its indices), as ``op``'s node over ``self``
    and ``inputs`` when one of them requires grad (NOTE [Draws in the graph])."""
    check_inplace(self)
    data = self._data
    order = sorted(range(data.ndim), key=lambda d: -abs(data.strides[d]))
    if grad_mode.state.enabled and (self._requires_grad or any(
            t._requires_grad for t in inputs)):
        laid = np.empty(data.shape, data.dtype)
        view = laid.transpose(order)
        view[...] = values.reshape(view.shape)
        return run_inplace(op, self, *inputs, laid)
    view = data.transpose(order)
    view[...] = values.reshape(view.shape)
    self._vc[0] += 1
    return self


@_vmap_random("inplace")
def _uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
              generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.uniform_``."""
    check_inplace(self)
    if _category(self._data.dtype) == _dtype.FLOAT and from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={from_:g} > to={to:g}")
    g = _gen(generator, "uniform_")
    return _write(self, _uniform_fill(g, self._data.size, self._data.dtype, float(from_),
                                      float(to)), _UNIFORM_)


@_vmap_random("inplace")
def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.normal_``."""
    check_inplace(self)
    _check_std(std)
    data = self._data
    return _write(self, _normal_fill(_gen(generator, "normal_"), data.size, data.dtype,
                                     float(mean), float(std), data.flags.c_contiguous), _NORMAL_)


@_vmap_random("inplace")
def _random_(self: Tensor, from_: int | None = None, to: int | None = None, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.random_()``, ``random_(to)`` and ``random_(from, to)``."""
    if to is None:
        _check_generator("random_", generator, () if from_ is None else (from_,))
    check_inplace(self)
    g = _gen(generator, "random_")
    n = self._data.size
    if from_ is None and to is None:
        return _write(self, _random_fill(g, n, self._data.dtype), _RANDOM_)
    op = _RANDOM_FROM_TO
    if to is None:
        from_, to = 0, from_
        op = _RANDOM_TO
    from_, to = int(from_), int(to)
    from_, to = _check_random_bounds(self._data.dtype, from_, to)
    return _write(self, _int_fill(g, n, self._data.dtype, from_, to), op)


def _exponential_fill(g: Generator, n: int, np_dtype, lambd: float):
    u = g._uniform64(n)
    return _narrow(-1.0 / lambd * _libm("log1p", -u), np_dtype)


@_vmap_random("inplace")
def _exponential_(self: Tensor, lambd: float = 1.0, *,
                  generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.exponential_``: ``-log1p(-u) / lambd`` on float64 uniforms."""
    check_inplace(self)
    _continuous_only(self._data.dtype, "Exponential",
                     _dtype.scalar_type_name(_dtype.from_np(self._data.dtype)))
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    g = _gen(generator, "exponential_")
    return _write(self, _exponential_fill(g, self._data.size, self._data.dtype, float(lambd)),
                  _EXPONENTIAL_)


def _bernoulli_values(self: Tensor, p, generator: Generator | None):
    """``bernoulli_``'s draws for a tensor of ``self``'s shape and dtype (as a flat bool
    array), after torch's checks."""
    g = _gen(generator)
    shape = self._data.shape
    if isinstance(p, Tensor):
        if _category(self._data.dtype) == _dtype.COMPLEX:
            raise _unsupported("bernoulli_tensor_cpu_self_", self._data.dtype)
        _require_float(p._data.dtype, "bernoulli_tensor_cpu_p_")
        probs = np.broadcast_to(p._data, shape).reshape(-1)
        if p._data.dtype == _F64:
            u = g._uniform64(probs.size)
        else:
            u = g._uniform32(probs.size)
            probs = probs.astype(_F32)
        return u < probs
    if _category(self._data.dtype) == _dtype.COMPLEX:
        raise _unsupported("bernoulli_scalar_cpu_", self._data.dtype)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    return g._uniform64(self._data.size) < p


@_vmap_random("inplace")
def _bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.bernoulli_(p)`` for a float or a tensor of probabilities."""
    _check_generator("bernoulli_", generator, (p,))
    check_inplace(self)
    values = _bernoulli_values(self, p, generator).astype(self._data.dtype)
    if isinstance(p, Tensor):
        return _write(self, values, _BERNOULLI_TENSOR_, p)
    return _write(self, values, _BERNOULLI_FLOAT_)


@_vmap_random("inplace")
def _geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.geometric_``: ``ceil(log(u) / log1p(-p))`` on float64 uniforms."""
    check_inplace(self)
    if _category(self._data.dtype) in (_dtype.BOOL, _dtype.COMPLEX):
        raise _unsupported("geometric_cpu", self._data.dtype)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    u = _gen(generator, "geometric_")._uniform64(self._data.size)
    return _write(self, _narrow(np.ceil(_libm("log", u) / math.log1p(-p)), self._data.dtype),
                  _GEOMETRIC_)


@_vmap_random("inplace")
def _cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.cauchy_``: ``median + sigma * tan(pi * (u - 1/2))``."""
    check_inplace(self)
    _continuous_only(self._data.dtype, "Cauchy", _dtype.cpp_type_name(self._data.dtype))
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    u = _gen(generator, "cauchy_")._uniform64(self._data.size)
    values = median + sigma * _libm("tan", math.pi * (u - 0.5))
    return _write(self, _narrow(values, self._data.dtype), _CAUCHY_)


@_vmap_random("inplace")
def _log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                 generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.log_normal_``: ``exp`` of single float64 normal samples."""
    check_inplace(self)
    _require_float(self._data.dtype, "log_normal_cpu")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    z = _gen(generator, "log_normal_")._normals(self._data.size)
    return _write(self, _narrow(_libm("exp", z * std + mean), self._data.dtype), _LOG_NORMAL_)


attach({
    "uniform_": _uniform_, "normal_": _normal_, "random_": _random_,
    "exponential_": _exponential_, "bernoulli_": _bernoulli_, "geometric_": _geometric_,
    "cauchy_": _cauchy_, "log_normal_": _log_normal_, "bernoulli": bernoulli,
    "multinomial": multinomial,
})
