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
- integers are the raw draw modulo the range.

The functions run on the vectorised NumPy arrays of words; only samplers whose draws
depend on earlier values (``randperm``'s swaps, ``poisson``'s rejection loops) walk
elements in Python.
"""
from __future__ import annotations

import math
import os

from ember import _dtype
from ember._backend import np
from ember._ops.creation import parse_size
from ember._ops.registry import attach, check_inplace
from ember._tensor import Tensor, make

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
        radius = np.sqrt(-2.0 * np.log1p(-u[1::2]))
        both = np.empty(2 * pairs, _F64)
        both[0::2] = radius * np.cos(theta)
        both[1::2] = radius * np.sin(theta)
        out[start:] = both[:m]
        if m % 2:
            self._normal = float(both[-1])
        return out


default_generator = Generator()


def _gen(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator


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
    default_generator.set_state(new_state)


# ---- float32 arithmetic as torch's vectorised kernels do it ----------------------------------


def _fma32(a, b, c):
    """Single-precision fused multiply-add, rounded once. The float64 product of two
    float32s is exact; rounding its float64 sum to float32 is a double rounding only where
    that sum lands exactly halfway between two float32s, so only there is the sum's own
    error consulted to break the tie (float32 subnormal results aside)."""
    p = np.asarray(a, _F64) * np.asarray(b, _F64)
    c = np.asarray(c, _F64)
    s = p + c
    tie = (s.view(np.int64) & 0x1FFFFFFF) == 0x10000000
    if tie.any():
        p, c = np.broadcast_arrays(p, c)
        at = np.nonzero(tie)
        p_t, c_t, s_t = p[at], c[at], s[at]
        back = s_t - p_t
        err = (p_t - (s_t - back)) + (c_t - back)
        s[at] = np.where(err == 0, s_t, np.nextafter(s_t, np.where(err > 0, np.inf, -np.inf)))
    return s.astype(_F32)


_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def _fma64(a, b, c):
    """Double-precision fused multiply-add (torch's kernels are compiled with contraction):
    the product's rounding error is recovered exactly (Dekker) and added back with the
    sum's. Equal to a single rounding except in astronomically rare double-rounding ties."""
    a = np.asarray(a, _F64)
    b = np.asarray(b, _F64)
    p = a * b
    a_hi = a * _SPLIT - (a * _SPLIT - a)
    b_hi = b * _SPLIT - (b * _SPLIT - b)
    a_lo = a - a_hi
    b_lo = b - b_hi
    p_err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s = p + c
    back = s - p
    s_err = (p - (s - back)) + (c - back)
    fused = s + (p_err + s_err)
    # the error terms are NaN where the product or sum overflows: the plain result is right
    return np.where(np.isfinite(fused), fused, s)


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
        y = _fma32(y, f, _F32(coef))
    y = _fma32(y * f, z, e * _F32(-2.12194440e-4))
    y = _fma32(z, _F32(-0.5), y)
    return _fma32(e, _F32(0.693359375), f + y)


def _cephes_sincos(x):
    """(sin, cos) of float32s, Cephes single precision, as torch's AVX2 normal kernel."""
    negative = np.signbit(x)
    x = np.abs(x)
    octant = ((x * _F32(1.27323954473516)).astype(np.int32) + 1) & ~1
    y = octant.astype(_F32)
    x = _fma32(y, _F32(-0.78515625), x)
    x = _fma32(y, _F32(-2.4187564849853515625e-4), x)
    x = _fma32(y, _F32(-3.77489497744594108e-8), x)
    sin_sign = negative ^ ((octant & 4) != 0)
    cos_sign = ((~(octant - 2)) & 4) != 0
    use_sin_poly = (octant & 2) == 0
    z = x * x
    cos_poly = _fma32(_F32(2.443315711809948e-5), z, _F32(-1.388731625493765e-3))
    cos_poly = _fma32(cos_poly, z, _F32(4.166664568298827e-2))
    cos_poly = _fma32(cos_poly * z, z, -(z * _F32(0.5))) + _F32(1)
    sin_poly = _fma32(_F32(-1.9515295891e-4), z, _F32(8.3321608736e-3))
    sin_poly = _fma32(sin_poly, z, _F32(-1.6666654611e-1))
    sin_poly = _fma32(sin_poly * z, x, x)
    s = np.where(use_sin_poly, sin_poly, cos_poly)
    c = np.where(use_sin_poly, cos_poly, sin_poly)
    return np.where(sin_sign, -s, s), np.where(cos_sign, -c, c)


# ---- the samplers on raw arrays -----------------------------------------------------------


def _check_float(np_dtype, name: str) -> None:
    if np_dtype not in (np.dtype(_F32), np.dtype(_F64)):
        raise NotImplementedError(
            f"ember's {name} supports float32 and float64 (torch also has {np_dtype})")


def _half(np_dtype) -> bool:
    return np_dtype.itemsize == 2 and np_dtype.kind != "i"  # float16 or bfloat16


def _uniform_fill(g: Generator, n: int, np_dtype, low: float, high: float):
    if _half(np_dtype):
        # torch draws float32 uniforms and rounds them to half; one that rounds up to the
        # (excluded) upper bound becomes the lower bound.
        r = _uniform_fill(g, n, np.dtype(_F32), low, high).astype(np_dtype)
        r[r == np_dtype.type(high)] = low
        return r
    _check_float(np_dtype, "uniform sampling")
    if np_dtype == _F64:
        u = g._uniform64(n)
        if low == 0.0 and high == 1.0:
            return u
        return _fma64(u, high - low, low)
    u = g._uniform32(n)
    if low == 0.0 and high == 1.0:
        return u
    return _fma32(u, _F32(high) - _F32(low), _F32(low))


def _normal_blocks(u, np_dtype, mean: float, std: float):
    """Box-Muller on whole blocks of 16 uniforms (element j pairs with j + 8)."""
    blocks = u.reshape(-1, 2, 8)
    out = np.empty_like(blocks)
    if np_dtype == _F32:
        radius = np.sqrt(_F32(-2) * _cephes_log(_F32(1) - blocks[:, 0]))
        sin, cos = _cephes_sincos(_F32(2 * math.pi) * blocks[:, 1])
        out[:, 0] = _fma32(radius * cos, _F32(std), _F32(mean))
        out[:, 1] = _fma32(radius * sin, _F32(std), _F32(mean))
    else:
        radius = np.sqrt(-2.0 * np.log(1.0 - blocks[:, 0]))
        theta = 2.0 * math.pi * blocks[:, 1]
        out[:, 0] = _fma64(radius * np.cos(theta), std, mean)
        out[:, 1] = _fma64(radius * np.sin(theta), std, mean)
    return out.reshape(-1)


def _normal_fill(g: Generator, n: int, np_dtype, mean: float, std: float,
                 contiguous: bool = True):
    _check_float(np_dtype, "normal sampling")
    if n < 16 or not contiguous:
        return _fma64(g._normals(n), std, mean).astype(np_dtype)
    draw = g._uniform32 if np_dtype == _F32 else g._uniform64
    data = draw(n)
    whole = n // 16 * 16
    data[:whole] = _normal_blocks(data[:whole], np_dtype, mean, std)
    if whole != n:
        data[n - 16:] = _normal_blocks(draw(16), np_dtype, mean, std)
    return data


def _int_fill(g: Generator, n: int, np_dtype, low: int, high: int):
    """``random_(low, high)``: the draw modulo the range, 64-bit draws for ranges of 2**32
    or more."""
    span = high - low
    if span >= 2 ** 32:
        words = g._words64(n)
    else:
        words = g._words(n)
    # uint64 arithmetic wraps as torch's int64 does for ranges past 2**63
    values = (words % _U64(span) + _U64(low % 2 ** 64)).view(np.int64)
    return values.astype(np_dtype)


# Without bounds, random_ draws over the dtype's exactly representable integers.
_FULL_RANGE = {"int64": (64, 2 ** 63), "float64": (64, 2 ** 53 + 1), "float32": (32, 2 ** 24 + 1),
               "float16": (32, 2 ** 11 + 1), "int32": (32, 2 ** 31), "int16": (32, 2 ** 15),
               "int8": (32, 2 ** 7), "uint8": (32, 2 ** 8), "bool": (32, 2)}


def _random_fill(g: Generator, n: int, np_dtype):
    bits, modulus = _FULL_RANGE[np.dtype(np_dtype).name]
    words = g._words64(n) if bits == 64 else g._words(n)
    return (words % _U64(modulus)).astype(np_dtype)


# ---- public sampling functions -------------------------------------------------------------


def _float_dtype(dtype) -> _dtype.dtype:
    return dtype or _dtype.get_default_dtype()


def _result(data, requires_grad: bool) -> Tensor:
    t = make(data)
    if requires_grad:
        t._requires_grad = True
    return t


def _shape_size(size: tuple, name: str) -> tuple:
    shape = parse_size(size, name)
    return shape, math.prod(shape)


def rand(*size, generator: Generator | None = None, dtype=None, device=None,
         requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.rand``: uniforms in [0, 1), torch's numbers for the same seed."""
    shape, n = _shape_size(size, "rand")
    np_dtype = _float_dtype(dtype).np
    return _result(_uniform_fill(_gen(generator), n, np_dtype, 0.0, 1.0).reshape(shape),
                   requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, device=None,
          requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.randn``: standard normals, torch's numbers for the same seed."""
    shape, n = _shape_size(size, "randn")
    np_dtype = _float_dtype(dtype).np
    return _result(_normal_fill(_gen(generator), n, np_dtype, 0.0, 1.0).reshape(shape),
                   requires_grad)


def randint(*args, generator: Generator | None = None, dtype=None, device=None,
            requires_grad: bool = False, out=None) -> Tensor:
    """Mirrors ``torch.randint(high, size)`` and ``torch.randint(low, high, size)``:
    int64 unless ``dtype`` says otherwise."""
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("randint() received an invalid combination of arguments")
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    shape, n = _shape_size((size,), "randint")
    np_dtype = (dtype or _dtype.int64).np
    return _result(_int_fill(_gen(generator), n, np_dtype, low, high).reshape(shape),
                   requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None,
             requires_grad: bool = False, out=None, pin_memory: bool = False) -> Tensor:
    """Mirrors ``torch.randperm``: torch's Fisher-Yates pass, swapping element ``i`` with
    ``i + word % (n - i)``. ember supports ``n`` below 2**32 / 20 (torch draws differently
    above)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    if n >= 2 ** 32 // 20:
        raise NotImplementedError("ember's randperm supports n < 2**32 / 20")
    perm = np.arange(n, dtype=np.int64)
    if n > 1:
        offsets = (_gen(generator)._words(n - 1)
                   % np.arange(n, 1, -1, dtype=np.uint64)).astype(np.int64)
        targets = (offsets + np.arange(n - 1)).tolist()
        values = perm.tolist()
        for i, j in enumerate(targets):  # each swap reads the last: inherently sequential
            values[i], values[j] = values[j], values[i]
        perm = np.array(values, dtype=np.int64)
    return _result(perm.astype((dtype or _dtype.int64).np), requires_grad)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``torch.rand_like``."""
    return rand(input._data.shape, generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``torch.randn_like``."""
    return randn(input._data.shape, generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad)


def randint_like(input: Tensor, low: int, high: int | None = None, *,
                 generator: Generator | None = None, dtype=None, device=None,
                 requires_grad: bool = False, memory_format=None) -> Tensor:
    """Mirrors ``torch.randint_like(input, high)`` / ``(input, low, high)``: the input's
    dtype unless given."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, generator=generator,
                   dtype=dtype or input.dtype, requires_grad=requires_grad)


def normal(mean, std=1.0, size=None, *, generator: Generator | None = None, dtype=None,
           device=None, requires_grad: bool = False, out=None) -> Tensor:
    """Mirrors ``torch.normal``'s overloads: ``(Tensor, Tensor)``, ``(Tensor, float)``,
    ``(float, Tensor)`` and ``(float, float, size)``. As torch does, tensor overloads draw
    standard normals of the broadcast shape and then scale and shift them. ember records no
    gradient through ``mean``/``std``."""
    mean_t = isinstance(mean, Tensor)
    std_t = isinstance(std, Tensor)
    g = _gen(generator)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments")
        shape, n = _shape_size((size,), "normal")
        np_dtype = _float_dtype(dtype).np
        _check_std(std)
        return _result(_normal_fill(g, n, np_dtype, float(mean), float(std)).reshape(shape),
                       requires_grad)
    if std_t:
        std_data = std._data
        if (std_data < 0).any():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        _check_std(std)
    if mean_t and std_t:
        shape = np.broadcast_shapes(mean._data.shape, std._data.shape)
        np_dtype = np.result_type(mean._data.dtype, std._data.dtype)
    else:
        shape = (mean if mean_t else std)._data.shape
        np_dtype = (mean if mean_t else std)._data.dtype
    n = math.prod(shape)
    if mean_t and not std_t:
        draws = _normal_fill(g, n, np_dtype, 0.0, float(std)).reshape(shape)
        return make((draws + mean._data).astype(np_dtype))
    draws = _normal_fill(g, n, np_dtype, 0.0, 1.0).reshape(shape)
    shift = mean._data if mean_t else mean
    return make((draws * std._data.astype(np_dtype) + shift).astype(np_dtype))


def _check_std(std: float) -> None:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None,
              out=None) -> Tensor:
    """Mirrors ``torch.bernoulli``: 1 where a uniform falls below the probability (the
    input's elements, or ``p``); float64 probabilities compare with float64 uniforms,
    others with float32 ones."""
    result = make(np.zeros(input._data.shape, input._data.dtype))
    return _bernoulli_(result, input if p is None else p, generator=generator)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None, out=None) -> Tensor:
    """Mirrors ``torch.multinomial``. With replacement: a float64 uniform per sample,
    searched in the row's normalised cumulative sum. Without (or one sample): the largest
    ``p / q`` with ``q`` exponential draws, as torch does."""
    data = input._data
    if data.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    rows = data.reshape(-1, data.shape[-1])
    g = _gen(generator)
    if not replacement or num_samples == 1:
        if num_samples > rows.shape[1]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        q = _exponential_fill(g, rows.size, data.dtype, 1.0).reshape(rows.shape)
        keys = rows / q
        # topk's order: largest first, ties by the lower index
        order = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
        result = order.astype(np.int64)
    else:
        cumulative = np.cumsum(rows.astype(_F64 if data.dtype == _F64 else _F32), axis=-1)
        cumulative = cumulative / cumulative[:, -1:]
        u = g._uniform64(rows.shape[0] * num_samples).reshape(rows.shape[0], num_samples)
        result = np.stack([np.searchsorted(c, s, side="left") for c, s in zip(cumulative, u)])
        result = np.minimum(result, rows.shape[1] - 1).astype(np.int64)
    return make(result.reshape(data.shape[:-1] + (num_samples,)))


def _poisson_ptrs(g: Generator, rate: float) -> int:
    """One Poisson sample by transformed rejection with squeeze (W. Hormann, "The
    transformed rejection method for generating Poisson random variables", 1993)."""
    root = math.sqrt(rate)
    log_rate = math.log(rate)
    b = 0.931 + 2.53 * root
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = float(g._uniform64(1)[0]) - 0.5
        v = float(g._uniform64(1)[0])
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + rate + 0.43)
        if us >= 0.07 and v <= v_r:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)
                <= -rate + k * log_rate - math.lgamma(k + 1)):
            return k


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Mirrors ``torch.poisson``: the product-of-uniforms method for rates under 10 and
    Hormann's transformed rejection with squeeze (PTRS, 1993) from 10 on, as torch."""
    g = _gen(generator)
    rates = input._data.reshape(-1)
    out = np.zeros(rates.shape, input._data.dtype)
    for i, rate in enumerate(rates.tolist()):  # each element draws until it stops
        if rate >= 10:
            out[i] = _poisson_ptrs(g, rate)
            continue
        if rate == 0:
            continue
        limit = math.exp(-rate)
        count, product = 0, 1.0
        while True:
            product *= float(g._uniform64(1)[0])
            if product > limit:
                count += 1
            else:
                break
        out[i] = count
    return make(out.reshape(input._data.shape))


# ---- in-place Tensor methods ---------------------------------------------------------------


def _write(self: Tensor, values) -> Tensor:
    """Store ``values`` in ``self``'s memory order: torch's serial kernels walk a strided
    tensor in the order of its strides, not of its indices."""
    check_inplace(self)
    data = self._data
    order = sorted(range(data.ndim), key=lambda d: -abs(data.strides[d]))
    view = data.transpose(order)
    view[...] = values.reshape(view.shape)
    self._vc[0] += 1
    return self


def _uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
              generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.uniform_``."""
    check_inplace(self)
    return _write(self, _uniform_fill(_gen(generator), self._data.size, self._data.dtype,
                                      float(from_), float(to)))


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.normal_``."""
    check_inplace(self)
    _check_std(std)
    data = self._data
    return _write(self, _normal_fill(_gen(generator), data.size, data.dtype, float(mean),
                                     float(std), data.flags.c_contiguous))


def _random_(self: Tensor, from_: int | None = None, to: int | None = None, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.random_()``, ``random_(to)`` and ``random_(from, to)``."""
    check_inplace(self)
    g = _gen(generator)
    n = self._data.size
    if from_ is None and to is None:
        return _write(self, _random_fill(g, n, self._data.dtype))
    if to is None:
        from_, to = 0, from_
    from_, to = int(from_), int(to)
    if from_ >= to:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _write(self, _int_fill(g, n, self._data.dtype, from_, to))


def _exponential_fill(g: Generator, n: int, np_dtype, lambd: float):
    _check_float(np_dtype, "exponential_")
    u = g._uniform64(n)
    return (-1.0 / lambd * np.log1p(-u)).astype(np_dtype)


def _exponential_(self: Tensor, lambd: float = 1.0, *,
                  generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.exponential_``: ``-log1p(-u) / lambd`` on float64 uniforms."""
    check_inplace(self)
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    return _write(self, _exponential_fill(_gen(generator), self._data.size, self._data.dtype,
                                          float(lambd)))


def _bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.bernoulli_(p)`` for a float or a tensor of probabilities."""
    check_inplace(self)
    g = _gen(generator)
    shape = self._data.shape
    if isinstance(p, Tensor):
        probs = np.broadcast_to(p._data, shape).reshape(-1)
        if p._data.dtype == _F64:
            u = g._uniform64(probs.size)
        else:
            u = g._uniform32(probs.size)
            probs = probs.astype(_F32)
        values = u < probs
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
        values = g._uniform64(self._data.size) < p
    return _write(self, values.astype(self._data.dtype))


def _geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.geometric_``: ``ceil(log(u) / log1p(-p))`` on float64 uniforms."""
    check_inplace(self)
    u = _gen(generator)._uniform64(self._data.size)
    return _write(self, np.ceil(np.log(u) / math.log1p(-p)).astype(self._data.dtype))


def _cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.cauchy_``: ``median + sigma * tan(pi * (u - 1/2))``."""
    check_inplace(self)
    u = _gen(generator)._uniform64(self._data.size)
    values = median + sigma * np.tan(math.pi * (u - 0.5))
    return _write(self, values.astype(self._data.dtype))


def _log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                 generator: Generator | None = None) -> Tensor:
    """Mirrors ``Tensor.log_normal_``: ``exp`` of single float64 normal samples."""
    check_inplace(self)
    z = _gen(generator)._normals(self._data.size)
    return _write(self, np.exp(z * std + mean).astype(self._data.dtype))


attach({
    "uniform_": _uniform_, "normal_": _normal_, "random_": _random_,
    "exponential_": _exponential_, "bernoulli_": _bernoulli_, "geometric_": _geometric_,
    "cauchy_": _cauchy_, "log_normal_": _log_normal_, "bernoulli": bernoulli,
    "multinomial": multinomial,
})
