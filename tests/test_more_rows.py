"""One differential row per public name that no other test compares with torch: aliases,
in-place forms, Tensor-method spellings, creation functions and the library's switches.

Each alias and each in-place form has its own row, so an alias bound to the wrong function
fails. In-place rows work on a clone of the input, so that the gradient flows back through
the in-place node to the leaf and is compared too. Rows go through ``check_op`` (values,
dtype, shape, node name, gradients for a random cotangent, torch's errors), which records
the names compared (NOTE [Compared names] in tests/helpers.py).
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import (
    assert_same,
    check_op,
    check_raises_like,
    recording_compared,
    torch,
)

POS = (0.2, 3.0)
UNIT = (-0.9, 0.9)

# name -> value domain of the input (the op's own domain, away from its poles)
UNARY = {
    "abs": None, "absolute": None, "acos": UNIT, "arccos": UNIT, "acosh": (1.1, 3.0),
    "arccosh": (1.1, 3.0), "asin": UNIT, "arcsin": UNIT, "asinh": None, "arcsinh": None,
    "atan": None, "arctan": None, "atanh": UNIT, "arctanh": UNIT, "ceil": (-3.0, 3.0),
    "cos": None, "cosh": None, "deg2rad": None, "rad2deg": None, "erf": None, "erfc": None,
    "erfinv": UNIT, "exp": None, "exp2": None, "expm1": None, "fix": (-3.0, 3.0),
    "floor": (-3.0, 3.0), "frac": (-3.0, 3.0), "i0": None, "log": POS, "log10": POS,
    "log1p": POS, "log2": POS, "logit": (0.05, 0.95), "nan_to_num": None, "neg": None,
    "negative": None, "positive": None, "reciprocal": POS, "relu": None,
    "round": (-3.0, 3.0), "rsqrt": POS, "sigmoid": None, "sign": None, "sgn": None,
    "signbit": None, "sin": None, "sinc": None, "sinh": None, "sqrt": POS, "square": None,
    "tan": (-1.2, 1.2), "tanh": None, "trunc": (-3.0, 3.0), "conj": None,
    "conj_physical": None, "resolve_conj": None, "resolve_neg": None, "digamma": POS,
    "lgamma": POS, "isfinite": None, "isnan": None, "isinf": None, "isposinf": None,
    "isneginf": None, "angle": None, "selu": None, "celu": None, "real": None,
}

# name -> value domain of both inputs
BINARY = {
    "add": None, "sub": None, "subtract": None, "mul": None, "multiply": None, "div": POS,
    "divide": POS, "true_divide": POS, "rsub": None, "atan2": None, "arctan2": None,
    "copysign": None, "float_power": POS, "floor_divide": POS, "fmod": POS, "remainder": POS,
    "hypot": None, "heaviside": None, "nextafter": None, "xlogy": POS, "ldexp": None,
    "fmax": None, "fmin": None, "maximum": None, "minimum": None, "pow": POS,
    "logical_and": None, "logical_or": None, "logical_xor": None, "eq": None, "ne": None,
    "ge": None, "gt": None, "le": None, "lt": None, "less": None, "less_equal": None,
    "greater": None, "greater_equal": None, "not_equal": None, "clamp_min": None,
    "clamp_max": None,
}

# ember names the out-of-place op in an in-place form's "no derivative" error (torch:
# "derivative for aten::heaviside_ is not implemented"); the message is registry.py's.
ERROR_MATCH = {"Tensor.heaviside_": "is not implemented", "Tensor.floor_divide_":
               "is not implemented", "Tensor.nextafter_": "is not implemented"}

INT_BINARY = ["gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
              "bitwise_right_shift"]


def _forms(name: str) -> list[tuple[str, object]]:
    """(id, how to call it) for each spelling torch has: function, method, and the in-place
    function and method (on a clone, which carries the gradient back to the leaf)."""
    forms = []
    if callable(getattr(torch, name, None)) and hasattr(ember, name):
        forms.append((f"torch.{name}", lambda L, x, *a: getattr(L, name)(x, *a)))
    static = inspect.getattr_static(torch.Tensor, name, None)
    if callable(static):
        forms.append((f"Tensor.{name}", lambda L, x, *a: getattr(x, name)(*a)))
    elif static is not None:  # a property such as ``real``
        forms.append((f"Tensor.{name}", lambda L, x: getattr(x, name)))
    if callable(getattr(torch, name + "_", None)) and hasattr(ember, name + "_"):
        forms.append((f"torch.{name}_",
                      lambda L, x, *a: getattr(L, name + "_")(x.clone(), *a)))
    if hasattr(torch.Tensor, name + "_"):
        forms.append((f"Tensor.{name}_", lambda L, x, *a: getattr(x.clone(), name + "_")(*a)))
    return forms


def _rows(table: dict, nargs: int) -> list:
    params = []
    for name, domain in table.items():
        low, high = domain or (-2.0, 2.0)
        for form_id, fn in _forms(name):
            params.append(pytest.param(fn, nargs, low, high, ERROR_MATCH.get(form_id),
                                       id=form_id))
    return params


@pytest.mark.parametrize("fn,nargs,low,high,error_match", _rows(UNARY, 1) + _rows(BINARY, 2))
def test_pointwise_spellings(fn, nargs: int, low: float, high: float, error_match) -> None:
    check_op(fn, [(2, 3)] * nargs, low=low, high=high, error_match=error_match)
    check_op(fn, [(3, 2)] * nargs, dtype="float64", low=low, high=high, noncontiguous=True,
             error_match=error_match)


@pytest.mark.parametrize("fn", [f for name in INT_BINARY for _, f in _forms(name)],
                         ids=[i for name in INT_BINARY for i, _ in _forms(name)])
def test_integer_spellings(fn) -> None:
    check_op(fn, [(2, 5), (2, 5)], dtype="int64", low=0.0, high=6.0)
    check_op(fn, [(3,), (3,)], dtype="int32", low=-9.0, high=9.0)


@pytest.mark.parametrize("fn", [f for _, f in _forms("bitwise_not")],
                         ids=[i for i, _ in _forms("bitwise_not")])
def test_bitwise_not_spellings(fn) -> None:
    check_op(fn, [(2, 5)], dtype="int64", low=-9.0, high=9.0)
    check_op(fn, [(4,)], dtype="bool")


def _spd(L, x):
    return x @ x.mT + L.eye(x.shape[-1], dtype=x.dtype)


def _svd(L, x):
    u, s, v = L.svd(x)
    # U and V are fixed up to a sign per column, which cancels in U diag(S) V^T
    return s, (u * s.unsqueeze(-2)) @ v.mT, u.abs()


def _c(L, a, b):
    return L.complex(a, b)


def _conversion(name: str):
    return lambda L, x: getattr(x * 3, name)()


ROWS = [
    # clamps, fills, copies and the library's other in-place methods
    ("torch.clamp_", lambda L, x: L.clamp_(x.clone(), -0.5, 0.7), [(2, 3)], {}),
    ("Tensor.clamp_", lambda L, x: x.clone().clamp_(min=-0.5), [(2, 3)], {}),
    ("torch.clip_", lambda L, x: L.clip_(x.clone(), -0.5, 0.7), [(2, 3)], {}),
    ("Tensor.clip", lambda L, x: x.clip(-0.5, 0.7), [(2, 3)], {}),
    ("Tensor.clip_", lambda L, x: x.clone().clip_(max=0.7), [(2, 3)], {}),
    ("torch.clamp_max_", lambda L, x: L.clamp_max_(x.clone(), 0.3), [(2, 3)], {}),
    ("torch.clamp_min_", lambda L, x: L.clamp_min_(x.clone(), 0.3), [(2, 3)], {}),
    ("torch.clamp_max", lambda L, x: L.clamp_max(x, 0.3), [(2, 3)], {}),
    ("torch.threshold_", lambda L, x: L.threshold_(x.clone(), 0.1, -3.0), [(2, 3)], {}),
    ("torch.fill_", lambda L, x: L.fill_(x.clone(), 1.5), [(2, 3)], {}),
    ("Tensor.fill_", lambda L, x, v: x.clone().fill_(v.sum()), [(2, 3), ()], {}),
    ("Tensor.fill_-leaf", lambda L, x, v: L.zeros(2).fill_(v), [(2, 3), ()], {}),
    ("Tensor.fill_-1d", lambda L, x: x.clone().fill_(x[0]), [(2, 3)], {}),
    ("torch.zero_", lambda L, x: L.zero_(x.clone()), [(2, 3)], {}),
    ("Tensor.zero_", lambda L, x: x.clone().zero_(), [(2, 3)], {}),
    ("Tensor.copy_", lambda L, x, y: x.clone().copy_(y), [(2, 3), (3,)], {}),
    ("Tensor.copy_-dtype", lambda L, x, y: x.clone().copy_(y.double()), [(2, 3), (2, 3)], {}),
    ("torch.clone", lambda L, x: L.clone(x), [(2, 3)], {}),
    ("torch.detach", lambda L, x: L.detach(x) * x, [(2, 3)], {}),
    ("torch.detach_", lambda L, x: L.detach_(x * 2) + x, [(2, 3)], {}),
    ("torch.nan_to_num_", lambda L, x: L.nan_to_num_(L.log(x), neginf=-5.0), [(2, 3)], {}),
    ("torch.xlogy_", lambda L, x, y: L.xlogy_(x.clone(), y), [(2, 3), (2, 3)],
     {"low": 0.2}),
    ("torch.ldexp_", lambda L, x, y: L.ldexp_(x.clone(), y), [(2, 3), (2, 3)], {}),
    ("Tensor.cumprod_", lambda L, x: x.clone().cumprod_(1), [(2, 3)], {}),
    ("Tensor.addcdiv_", lambda L, x, a, b: x.clone().addcdiv_(a, b, value=0.5),
     [(2, 3), (2, 3), (2, 3)], {"low": 0.5}),
    ("Tensor.addcmul_", lambda L, x, a, b: x.clone().addcmul_(a, b, value=-2),
     [(2, 3), (2, 3), (1, 3)], {}),
    ("Tensor.addmm_", lambda L, x, a, b: x.clone().addmm_(a, b, beta=0.5, alpha=2),
     [(2, 3), (2, 4), (4, 3)], {}),
    ("Tensor.addmv", lambda L, x, a, b: x.addmv(a, b, beta=0.5), [(2,), (2, 4), (4,)], {}),
    ("Tensor.addmv_", lambda L, x, a, b: x.clone().addmv_(a, b), [(2,), (2, 4), (4,)], {}),
    ("torch.addmv_", lambda L, x, a, b: L.addmv_(x.clone(), a, b, alpha=3),
     [(2,), (2, 4), (4,)], {}),
    ("Tensor.addbmm", lambda L, x, a, b: x.addbmm(a, b), [(2, 3), (5, 2, 4), (5, 4, 3)], {}),
    ("Tensor.addbmm_", lambda L, x, a, b: x.clone().addbmm_(a, b, alpha=0.5),
     [(2, 3), (5, 2, 4), (5, 4, 3)], {}),
    ("Tensor.baddbmm", lambda L, x, a, b: x.baddbmm(a, b, beta=2),
     [(5, 2, 3), (5, 2, 4), (5, 4, 3)], {}),
    ("Tensor.baddbmm_", lambda L, x, a, b: x.clone().baddbmm_(a, b),
     [(5, 2, 3), (5, 2, 4), (5, 4, 3)], {}),
    ("Tensor.tril_", lambda L, x: x.clone().tril_(-1), [(3, 4)], {}),
    ("Tensor.triu_", lambda L, x: x.clone().triu_(1), [(3, 4)], {}),
    ("Tensor.index_copy", lambda L, x, s: x.index_copy(1, L.tensor([2, 0]), s),
     [(3, 4), (3, 2)], {}),
    ("torch.index_put_", lambda L, x, v: L.index_put_(
        x.clone(), (L.tensor([0, 2]), L.tensor([1, 3])), v), [(3, 4), (2,)], {}),
    ("torch.index_put_-acc", lambda L, x, v: L.index_put_(
        x.clone(), (L.tensor([0, 0]),), v, accumulate=True), [(3, 4), (2, 4)], {}),
    ("torch.as_strided_", lambda L, x: L.as_strided_(x.clone(), (2, 2), (1, 2), 1),
     [(3, 4)], {}),
    ("Tensor.as_strided_", lambda L, x: x.clone().as_strided_((3,), (4,)), [(3, 4)], {}),
    ("Tensor.slice_scatter", lambda L, x, s: x.slice_scatter(s, dim=1, start=1, step=2),
     [(3, 4), (3, 2)], {}),
    ("Tensor.where", lambda L, x, y: x.where(x > 0, y), [(2, 3), (3,)], {}),
    ("Tensor.type_as", lambda L, x, y: x.type_as(y.double()), [(2, 3), (1,)], {}),
    ("Tensor.adjoint", lambda L, x: x.adjoint(), [(2, 3, 4)], {}),
    ("Tensor.adjoint-complex", lambda L, x, y: _c(L, x, y).adjoint(), [(3, 4), (3, 4)], {}),
    # views and shapes under their other spellings
    ("torch.permute", lambda L, x: L.permute(x, (2, 0, 1)), [(2, 3, 4)], {}),
    ("Tensor.permute", lambda L, x: x.permute(1, 2, 0), [(2, 3, 4)], {}),
    ("torch.reshape", lambda L, x: L.reshape(x, (4, -1)), [(2, 3, 4)], {}),
    ("torch.select", lambda L, x: L.select(x, 1, -1), [(2, 3, 4)], {}),
    ("Tensor.select", lambda L, x: x.select(2, 1), [(2, 3, 4)], {}),
    ("torch.swapaxes", lambda L, x: L.swapaxes(x, 0, 2), [(2, 3, 4)], {}),
    ("Tensor.swapaxes", lambda L, x: x.swapaxes(1, -1), [(2, 3, 4)], {}),
    ("Tensor.swapaxes_", lambda L, x: x.clone().swapaxes_(0, 1), [(2, 3, 4)], {}),
    ("Tensor.swapdims_", lambda L, x: x.clone().swapdims_(0, 2), [(2, 3, 4)], {}),
    ("torch.transpose", lambda L, x: L.transpose(x, 0, 1), [(2, 3, 4)], {}),
    ("Tensor.transpose_", lambda L, x: x.clone().transpose_(1, 2), [(2, 3, 4)], {}),
    ("torch.t", lambda L, x: L.t(x), [(2, 3)], {}),
    ("Tensor.t_", lambda L, x: x.clone().t_(), [(2, 3)], {}),
    ("Tensor.squeeze_", lambda L, x: x.clone().squeeze_(0), [(1, 3)], {}),
    ("Tensor.unsqueeze_", lambda L, x: x.clone().unsqueeze_(-1), [(2, 3)], {}),
    ("Tensor.moveaxis", lambda L, x: x.moveaxis(0, -1), [(2, 3, 4)], {}),
    ("Tensor.fliplr", lambda L, x: x.fliplr(), [(2, 3, 4)], {}),
    ("Tensor.flipud", lambda L, x: x.flipud(), [(2, 3, 4)], {}),
    ("Tensor.dsplit", lambda L, x: x.dsplit([1, 3]), [(2, 3, 4)], {}),
    ("Tensor.vsplit", lambda L, x: x.vsplit(2), [(4, 3)], {}),
    ("torch.split_with_sizes", lambda L, x: L.split_with_sizes(x, [1, 2], 1), [(2, 3)], {}),
    # reductions and scans
    ("Tensor.amin", lambda L, x: x.amin((0, 2)), [(2, 3, 4)], {}),
    ("Tensor.nanmedian", lambda L, x: x.nanmedian(1), [(2, 3, 4)], {}),
    ("Tensor.nanmedian-all", lambda L, x: L.where(x > 1, x.log(), x).nanmedian(), [(3, 5)],
     {}),
    ("torch.cummax", lambda L, x: L.cummax(x, 1), [(2, 5)], {}),
    ("Tensor.cummin", lambda L, x: x.cummin(0), [(2, 5)], {}),
    ("Tensor.trace", lambda L, x: x.trace(), [(3, 4)], {}),
    ("Tensor.corrcoef", lambda L, x: x.corrcoef(), [(3, 5)], {"dtype": "float64"}),
    ("Tensor.cov", lambda L, x: x.cov(correction=0), [(3, 5)], {"dtype": "float64"}),
    ("Tensor.argwhere", lambda L, x: x.argwhere(), [(3, 4)], {}),
    ("Tensor.isclose", lambda L, x, y: x.isclose(y, atol=0.5), [(3, 4), (3, 4)], {}),
    ("Tensor.equal", lambda L, x, y: L.tensor(x.equal(y)), [(3, 4), (3, 4)], {}),
    ("torch.equal", lambda L, x: L.tensor(L.equal(x, x.clone())), [(3, 4)], {}),
    ("torch.allclose", lambda L, x, y: L.tensor(L.allclose(x, y + 1e-9)), [(3, 4), (3, 4)],
     {}),
    ("Tensor.allclose", lambda L, x, y: L.tensor(x.allclose(y, atol=5.0)), [(3, 4), (3, 4)],
     {}),
    ("Tensor.is_same_size", lambda L, x, y: L.tensor([x.is_same_size(y),
                                                    x.is_same_size(y.mT)]), [(3, 4)] * 2, {}),
    ("torch.is_conj", lambda L, x: L.tensor(L.is_conj(x)), [(3, 4)], {}),
    ("torch.is_neg", lambda L, x: L.tensor(L.is_neg(x)), [(3, 4)], {}),
    ("Tensor.histc", lambda L, x: x.histc(5, -1, 1), [(20,)], {"grad": False}),
    ("torch.histc", lambda L, x: L.histc(x, 4), [(20,)], {"grad": False}),
    ("torch.bincount", lambda L, x: L.bincount(x), [(12,)], {"dtype": "int64", "low": 0,
                                                              "high": 6}),
    ("Tensor.bincount", lambda L, x, w: x.long().bincount(w, minlength=8),
     [(12,), (12,)], {"low": 0, "high": 6}),
    ("torch.bucketize", lambda L, x: L.bucketize(x, L.tensor([-1.0, 0.0, 0.5])), [(3, 4)],
     {}),
    ("torch.bucketize-right", lambda L, x: L.bucketize(x, L.tensor([-1.0, 0.0, 0.5]),
                                                       right=True, out_int32=True),
     [(3, 4)], {}),
    ("torch.searchsorted", lambda L, s, v: L.searchsorted(s.sort().values, v),
     [(3, 5), (3, 2)], {}),
    ("torch.searchsorted-side", lambda L, v: L.searchsorted(L.tensor([0.0, 0.5, 1.0]), v,
                                                            side="right"), [(4,)], {}),
    ("torch.unique", lambda L, x: L.unique(x, return_inverse=True, return_counts=True),
     [(3, 4)], {"dtype": "int64"}),
    ("torch.unique-dim", lambda L, x: L.unique(x.round(), dim=0), [(5, 2)], {"grad": False}),
    ("torch.isin", lambda L, x, y: L.isin(x, y), [(3, 4), (5,)], {"dtype": "int64"}),
    ("torch.unravel_index", lambda L, i: L.unravel_index(i.abs(), (3, 4)), [(5,)],
     {"dtype": "int64", "high": 11}),
    # linear algebra under its other spellings
    ("torch.det", lambda L, x: L.det(x), [(2, 3, 3)], {"dtype": "float64"}),
    ("Tensor.logdet", lambda L, x: _spd(L, x).logdet(), [(3, 3)], {"dtype": "float64"}),
    ("torch.slogdet", lambda L, x: L.slogdet(x), [(2, 3, 3)], {"dtype": "float64"}),
    ("Tensor.slogdet", lambda L, x: x.slogdet(), [(3, 3)], {"dtype": "float64"}),
    ("torch.inverse", lambda L, x: L.inverse(_spd(L, x)), [(2, 3, 3)], {"dtype": "float64"}),
    ("torch.pinverse", lambda L, x: L.pinverse(x), [(3, 2)], {"dtype": "float64"}),
    ("Tensor.pinverse", lambda L, x: x.pinverse(), [(2, 4)], {"dtype": "float64"}),
    ("torch.matrix_exp", lambda L, x: L.matrix_exp(x), [(2, 3, 3)], {"dtype": "float64"}),
    ("torch.matrix_power", lambda L, x: L.matrix_power(x, 3), [(3, 3)], {}),
    ("Tensor.matrix_power", lambda L, x: _spd(L, x).matrix_power(-2), [(3, 3)],
     {"dtype": "float64"}),
    ("torch.svd", _svd, [(4, 3)], {"dtype": "float64", "grad": False}),
    ("torch.ger", lambda L, x, y: L.ger(x, y), [(3,), (4,)], {}),
    ("Tensor.outer", lambda L, x, y: x.outer(y), [(3,), (4,)], {}),
    ("Tensor.inner", lambda L, x, y: x.inner(y), [(2, 4), (3, 4)], {}),
    ("Tensor.kron", lambda L, x, y: x.kron(y), [(2, 3), (2, 2)], {}),
    ("Tensor.dot", lambda L, x, y: x.dot(y), [(4,), (4,)], {}),
    ("Tensor.vdot", lambda L, x, y: x.vdot(y), [(4,), (4,)], {}),
    ("Tensor.vdot-complex", lambda L, a, b, c, d: _c(L, a, b).vdot(_c(L, c, d)),
     [(4,)] * 4, {}),
    ("Tensor.mv", lambda L, x, y: x.mv(y), [(3, 4), (4,)], {}),
    ("Tensor.bmm", lambda L, x, y: x.bmm(y), [(2, 3, 4), (2, 4, 5)], {}),
    ("Tensor.matmul", lambda L, x, y: x.matmul(y), [(2, 3, 4), (4,)], {}),
    ("linalg.matmul", lambda L, x, y: L.linalg.matmul(x, y), [(3, 4), (2, 4, 5)], {}),
    ("Tensor.cross", lambda L, x, y: x.cross(y, dim=1), [(2, 3), (2, 3)], {}),
    # complex parts
    ("torch.real", lambda L, a, b: L.real(_c(L, a, b)), [(2, 3)] * 2, {}),
    ("Tensor.real", lambda L, a, b: _c(L, a, b).real, [(2, 3)] * 2, {}),
    ("torch.imag", lambda L, a, b: L.imag(_c(L, a, b)), [(2, 3)] * 2, {}),
    ("Tensor.imag", lambda L, a, b: _c(L, a, b).imag, [(2, 3)] * 2, {}),
    ("torch.imag-real", lambda L, a: L.imag(a), [(2, 3)], {}),
    ("torch.angle", lambda L, a, b: L.angle(_c(L, a, b)), [(2, 3)] * 2, {}),
    ("Tensor.angle", lambda L, a, b: _c(L, a, b).angle(), [(2, 3)] * 2, {}),
    ("torch.conj", lambda L, a, b: L.conj(_c(L, a, b)), [(2, 3)] * 2, {}),
    ("Tensor.conj", lambda L, a, b: _c(L, a, b).conj(), [(2, 3)] * 2, {}),
    ("torch.conj_physical", lambda L, a, b: L.conj_physical(_c(L, a, b)), [(2, 3)] * 2, {}),
    ("Tensor.conj_physical", lambda L, a, b: _c(L, a, b).conj_physical(), [(2, 3)] * 2, {}),
    ("torch.conj_physical_", lambda L, a, b: L.conj_physical_(_c(L, a, b)), [(2, 3)] * 2,
     {}),
    # ember has no lazy conjugate bit (its conj computes at once): no conj-bit input here
    ("torch.resolve_conj", lambda L, a, b: L.resolve_conj(_c(L, a, b) * 2), [(2, 3)] * 2,
     {}),
    ("Tensor.resolve_conj", lambda L, a, b: (_c(L, a, b) * 2).resolve_conj(), [(2, 3)] * 2,
     {}),
    ("Tensor.sgn_", lambda L, a, b: _c(L, a, b).sgn_(), [(2, 3)] * 2, {}),
    # conversions
    *[(f"Tensor.{n}", _conversion(n), [(2, 3)], {})
      for n in ("bfloat16", "bool", "byte", "cdouble", "cfloat", "char", "float", "half",
                "int", "short")],
]


@pytest.mark.parametrize("fn,shapes,kw", [pytest.param(f, s, k, id=i) for i, f, s, k in ROWS])
def test_rows(fn, shapes, kw) -> None:
    check_op(fn, shapes, **kw)


SPECIAL_ALIASES = {  # special name -> domain
    "digamma": POS, "psi": POS, "erfc": None, "erfinv": UNIT, "exp2": None, "expm1": None,
    "log1p": POS, "sinc": None,
}  # special.round: see SPECIAL_ROWS


@pytest.mark.parametrize("name", sorted(SPECIAL_ALIASES))
def test_special_aliases(name: str) -> None:
    low, high = SPECIAL_ALIASES[name] or (-2.0, 2.0)
    check_op(lambda L, x: getattr(L.special, name)(x), [(2, 3)], low=low, high=high)


SPECIAL_ROWS = [
    ("polygamma", lambda L, x: L.special.polygamma(2, x), [(2, 3)], {"low": 0.3}),
    ("xlogy", lambda L, x, y: L.special.xlogy(x, y), [(2, 3), (3,)], {"low": 0.1}),
    ("xlogy-scalar", lambda L, y: L.special.xlogy(2.0, y), [(2, 3)], {"low": 0.1}),
    # ember's special.round without decimals is torch.round (RoundBackward0), torch's the
    # decimals overload (RoundBackward1): ember/special.py's import, reported
    ("round-decimals", lambda L, x: L.special.round(x * 10, decimals=1), [(2, 3)], {}),
]


CREATION_ROWS = [
    ("torch.logical_not", lambda L, x: L.logical_not(x), [(2, 3)], {}),
    ("torch.logical_not-int", lambda L, x: L.logical_not(x), [(2, 3)], {"dtype": "int64"}),
    ("Tensor.logical_not_", lambda L, x: x.clone().logical_not_(), [(2, 3)],
     {"dtype": "int64"}),
    ("Tensor.logical_not_-float", lambda L, x: x.clone().logical_not_(), [(2, 3)], {}),
    ("torch.arange", lambda L: L.arange(5), [], {}),
    ("torch.arange-float", lambda L: L.arange(-1, 2, 0.25, dtype=L.float64), [], {}),
    ("torch.arange-grad", lambda L: L.arange(1.0, 3.5, requires_grad=True) * 2, [], {}),
    ("torch.arange-error", lambda L: L.arange(0, 3, 0), [], {}),
    ("torch.logspace", lambda L: L.logspace(-1, 2, 7), [], {}),
    ("torch.logspace-base", lambda L: L.logspace(0, 3, 4, base=2, dtype=L.float64), [], {}),
    ("torch.scalar_tensor", lambda L: L.scalar_tensor(3), [], {}),
    ("torch.scalar_tensor-dtype", lambda L: L.scalar_tensor(2.5, dtype=L.float64), [], {}),
    ("torch.tril_indices", lambda L: L.tril_indices(3, 4, 1), [], {}),
    ("torch.triu_indices", lambda L: L.triu_indices(4, 3, -1), [], {}),
    ("torch.zeros_like", lambda L, x: L.zeros_like(x) + x, [(2, 3)], {}),
    ("torch.zeros_like-dtype", lambda L, x: L.zeros_like(x, dtype=L.int32), [(2, 3)], {}),
    ("torch.full_like", lambda L, x: L.full_like(x, 2.5) * x, [(2, 3)], {}),
    ("torch.full_like-int", lambda L, x: L.full_like(x, 7), [(2, 3)], {"dtype": "int64"}),
    ("torch.empty_like", lambda L, x: L.empty_like(x).fill_(1.0) * x, [(2, 3)], {}),
    ("torch.empty_like-dtype", lambda L, x: L.empty_like(x, dtype=L.int8).zero_(), [(2, 3)],
     {}),
    ("torch.as_tensor", lambda L, x: L.as_tensor(x) * 2, [(2, 3)], {}),
    ("torch.as_tensor-list", lambda L: L.as_tensor([[1, 2], [3, 4]], dtype=L.float32), [], {}),
    ("torch.as_tensor-cast", lambda L, x: L.as_tensor(x, dtype=L.float64), [(2, 3)], {}),
    ("Tensor.new_zeros", lambda L, x: x.new_zeros(2, 3), [(2,)], {"dtype": "float64"}),
    ("Tensor.new_full", lambda L, x: x.new_full((3,), 1.5), [(2,)], {"dtype": "float64"}),
    ("Tensor.new_full-dtype", lambda L, x: x.new_full((2, 2), 4, dtype=L.int16), [(2,)], {}),
    ("Tensor.new_tensor", lambda L, x: x.new_tensor([1, 2]), [(2,)], {"dtype": "float64"}),
    ("Tensor.new_empty", lambda L, x: x.new_empty((2, 0, 3)), [(2,)], {"dtype": "float64"}),
    ("Tensor.new_empty-fill", lambda L, x: x.new_empty(3).fill_(2.0), [(2,)], {}),
    ("Tensor.new_empty_strided", lambda L, x: x.new_empty_strided((2, 3), (1, 2)).zero_(),
     [(2,)], {"dtype": "int32"}),
]


@pytest.mark.parametrize("fn,shapes,kw", [pytest.param(f, s, k, id=i) for i, f, s, k in
                                          SPECIAL_ROWS + CREATION_ROWS])
def test_special_and_creation_rows(fn, shapes, kw) -> None:
    check_op(fn, shapes, **kw)


def test_from_numpy_and_broadcast_shapes() -> None:
    arrays = [np.arange(6.0).reshape(2, 3), np.arange(4, dtype=np.int32),
              np.ones((3, 2), dtype=np.float32).T, np.ones(5)[::2], np.array(True)]
    with recording_compared("torch.from_numpy", "torch.broadcast_shapes"):
        for arr in arrays:
            e, t = ember.from_numpy(arr), torch.from_numpy(arr)
            assert_same(e, t)
            e[...] = 0  # shares the array's memory, as torch's does
            assert not arr.any()
        for shapes in [((2, 1), (3,)), ((), (4, 1, 2), (2,)), ((0, 1), (1, 5))]:
            assert ember.broadcast_shapes(*shapes) == torch.broadcast_shapes(*shapes)
            assert type(ember.broadcast_shapes(*shapes)).__name__ == "Size"
        check_raises_like(lambda L: L.broadcast_shapes((2,), (3,)))
        check_raises_like(lambda L: L.from_numpy([1.0]))
        check_raises_like(lambda L: L.from_numpy(np.ones((3, 2))[:, ::-1]))


def test_device_methods() -> None:
    with recording_compared() as run:
        for fn in [lambda L: L.ones(2).get_device(), lambda L: L.ones(2).is_pinned()]:
            assert run(ember, fn) == run(torch, fn)
        # no accelerator here: torch's refusals
        check_raises_like(lambda L: run(L, lambda L: L.ones(2).pin_memory()))
        check_raises_like(lambda L: run(L, lambda L: L.ones(2).xpu()))


# (getter, setter, values to set); each setter is compared by reading back through its
# getter on both libraries, then the setting is restored.
SWITCHES = [
    ("get_num_threads", "set_num_threads", [1, 3]),
    ("get_float32_matmul_precision", "set_float32_matmul_precision", ["high", "medium"]),
    ("are_deterministic_algorithms_enabled", "use_deterministic_algorithms", [True]),
]


@pytest.mark.parametrize("getter,setter,values", SWITCHES, ids=[s[1] for s in SWITCHES])
def test_switches(getter: str, setter: str, values: list) -> None:
    with recording_compared(f"torch.{getter}", f"torch.{setter}"):
        saved = [getattr(lib, getter)() for lib in (torch, ember)]
        assert saved[0] == saved[1]
        try:
            for value in values:
                for lib in (torch, ember):
                    getattr(lib, setter)(value)
                assert getattr(ember, getter)() == getattr(torch, getter)()
        finally:
            for lib, value in zip((torch, ember), saved):
                getattr(lib, setter)(value)
        assert getattr(ember, getter)() == saved[1]


def test_deterministic_and_anomaly_flags() -> None:
    names = ["torch.is_deterministic_algorithms_warn_only_enabled", "torch.is_anomaly_enabled",
             "torch.is_anomaly_check_nan_enabled", "torch.get_num_interop_threads",
             "torch.set_num_interop_threads"]
    with recording_compared(*names):
        def flags(lib):
            return (lib.are_deterministic_algorithms_enabled(),
                    lib.is_deterministic_algorithms_warn_only_enabled(),
                    lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled())
        assert flags(ember) == flags(torch)
        try:
            for lib in (torch, ember):
                lib.use_deterministic_algorithms(True, warn_only=True)
            assert flags(ember) == flags(torch)
        finally:
            for lib in (torch, ember):
                lib.use_deterministic_algorithms(False)
        for lib in (torch, ember):
            with lib.autograd.detect_anomaly(check_nan=False):
                inside = flags(lib)
            assert inside[2:] == (True, False) and flags(lib)[2:] == (False, True)
        check_raises_like(lambda L: L.use_deterministic_algorithms(1))
        check_raises_like(lambda L: L.set_num_threads(0))
        assert ember.get_num_interop_threads() == torch.get_num_interop_threads()
        # torch allows one call before its first parallel work: only ember's round trip
        # and torch's refusal of a non-positive count are compared
        with pytest.raises(RuntimeError) as t_info:
            torch.set_num_interop_threads(0)
        with pytest.raises(RuntimeError):
            ember.set_num_interop_threads(0)
        assert "positive" in str(t_info.value)
        saved = ember.get_num_interop_threads()
        ember.set_num_interop_threads(saved + 1)
        assert ember.get_num_interop_threads() == saved + 1
        ember.set_num_interop_threads(saved)


INPLACE_DROPOUTS = [
    ("torch.dropout_", lambda L, x: L.dropout_(x.clone(), 0.4, True)),
    ("torch.dropout_-eval", lambda L, x: L.dropout_(x.clone(), 0.4, False)),
    ("torch.alpha_dropout_", lambda L, x: L.alpha_dropout_(x.clone(), 0.3, True)),
    ("torch.feature_alpha_dropout_",
     lambda L, x: L.feature_alpha_dropout_(x.clone(), 0.5, True)),
    ("torch.rrelu_", lambda L, x: L.rrelu_(x.clone(), 0.1, 0.3, True)),
    ("torch.rrelu_-eval", lambda L, x: L.rrelu_(x.clone())),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=i) for i, f in INPLACE_DROPOUTS])
def test_random_inplace_functions(fn) -> None:
    # the same seed in both libraries draws the same mask (tests/test_random.py)
    def seeded(L, x):
        L.manual_seed(5)
        return fn(L, x)
    check_op(seeded, [(4, 6, 2)])


def test_chain_matmul_row():
    # torch warns once per process that chain_matmul is deprecated (the warning's text is
    # compared in tests/test_namespace.py); this row compares values and gradients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_op(lambda L, a, b, c: L.chain_matmul(a, b, c), [(2, 3), (3, 4), (4, 2)])
