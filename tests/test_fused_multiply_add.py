"""The ops torch's CPU kernels compute with a fused multiply-add (NOTE [Fused multiply-adds]
in ember/_ops/pointwise.py) give torch's bits: ``add``/``sub``/``rsub`` with an ``alpha``,
``lerp`` (a number and a tensor weight, both branches), ``addcmul``, and ``addcdiv``'s
order of operations, in float32 and float64 (and half types where torch's loops agree)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import torch

pytestmark = pytest.mark.bitexact

CASES = {
    "add_alpha": lambda L, a, b, c: L.add(a, b, alpha=0.37),
    "sub_alpha": lambda L, a, b, c: L.sub(a, b, alpha=-2.3),
    "rsub_alpha": lambda L, a, b, c: L.rsub(a, b, alpha=0.37),
    "add_number_alpha": lambda L, a, b, c: L.add(a, 1.7, alpha=0.37),
    "rsub_number": lambda L, a, b, c: L.rsub(a, 1.7, alpha=0.37),
    "method_add_": lambda L, a, b, c: a.clone().add_(b, alpha=1.9),
    "lerp_near_self": lambda L, a, b, c: L.lerp(a, b, 0.3),
    "lerp_near_end": lambda L, a, b, c: L.lerp(a, b, 0.7),
    "lerp_half": lambda L, a, b, c: L.lerp(a, b, 0.5),
    "lerp_tensor_weight": lambda L, a, b, c: L.lerp(a, b, c),
    "addcmul": lambda L, a, b, c: L.addcmul(c, a, b, value=0.37),
    "addcmul_value_1": lambda L, a, b, c: L.addcmul(c, a, b),
    "addcdiv": lambda L, a, b, c: L.addcdiv(c, a, b, value=0.37),
}
# torch's scalar loop (tensors of a few elements, and the last few of longer ones) rounds
# a number operand's product, and half types' alpha, otherwise than its vectorised loop,
# which ember follows: those cases are compared on whole vectors only.
VECTOR_ONLY = {"add_number_alpha"}
HALF_VECTOR_ONLY = {"add_alpha", "sub_alpha", "rsub_alpha", "method_add_", "rsub_number"}


def _compared(name: str, n: int, dtype: str) -> bool:
    half = dtype in ("float16", "bfloat16")
    return not (n % 32 and (name in VECTOR_ONLY or (half and name in HALF_VECTOR_ONLY)))


@pytest.mark.parametrize("name,n,dtype", [
    (name, n, dtype) for name in sorted(CASES) for n in (7, 64, 4099)
    for dtype in ("float32", "float64", "float16", "bfloat16") if _compared(name, n, dtype)])
def test_fused_ops_give_torchs_bits(name, n, dtype):
    rng = np.random.default_rng(n)
    arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    arrays[2][::5] = 0.5  # a tensor weight of exactly 0.5 takes lerp's second branch
    out = {}
    for lib in (torch, ember):
        ts = [lib.tensor(a).to(getattr(lib, dtype)) for a in arrays]
        r = CASES[name](lib, *ts)
        assert str(r.dtype).split(".")[-1] == dtype
        out[lib] = r.to(lib.float64).numpy() if lib is ember else r.double().numpy()
    # bit patterns of the exact float64 values: a zero's sign counts
    np.testing.assert_array_equal(out[ember].view(np.int64), out[torch].view(np.int64),
                                  err_msg=f"{name} {dtype} n={n}")


def test_noncontiguous_and_broadcast_operands():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((64, 33)).astype(np.float32)
    b = rng.standard_normal((33,)).astype(np.float32)
    out = {}
    for lib in (torch, ember):
        ta, tb = lib.tensor(a), lib.tensor(b)
        out[lib] = [lib.add(ta.t(), tb[:, None], alpha=0.37).numpy(),
                    lib.lerp(ta.t(), tb[:, None].expand(33, 64), 0.3).numpy(),
                    lib.addcmul(ta, ta, tb, value=-1.5).numpy()]
    for e, t in zip(out[ember], out[torch]):
        np.testing.assert_array_equal(e.view(np.int32), t.view(np.int32))
