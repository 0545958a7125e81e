"""torch's argument parsing at the tensor core compared with torch: sizes given to factories
(ints only, with torch's wording for each way of getting them wrong), and what the same calls
accept."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, check_raises_like, recording_compared, torch

_BAD_SIZES = [
    "zeros(2.0, 3)", "zeros(2, 3.0)", "zeros((2, 3.0))", "zeros([2.0])", "zeros(size=2.0)",
    "zeros(size=(2.0,))", "zeros(size=(2, 3.0))", "zeros(size=2)", "zeros(size=(True, 2))",
    "zeros(np.float64(2))", "zeros(L.tensor(2.))", "zeros((L.tensor(2.),))",
    "zeros(L.tensor([2, 3]))", "zeros(None)", "zeros((2, None))", "zeros('ab')",
    "zeros((True,))", "zeros(np.array([2, 3]))", "zeros(2, np.float32(3))",
    "zeros(2, L.tensor(3.))", "zeros(2, np.bool_(True))", "zeros(L.Size([2]), 3)",
    "zeros([2], [3])", "zeros(2, -1)", "ones(-1)",
    "ones(2.0, 3.0)", "empty(2.0, memory_format=L.contiguous_format)", "full(2.0, 1.)",
    "full((2, 3.0), 1.)", "full(2, 1.)", "randn(2, 3.0)",
    "rand(size=(2.0,))", "randn(L.tensor(2.))", "tensor(1.).new_zeros(2, 3.0)",
    "tensor(1.).new_ones((2.0,))", "tensor(1.).new_full((2.0,), 1)",
    "tensor(1.).new_full(2, 1)", "tensor(1.).new_empty(2.0)",
    "tensor(1.).new_zeros(size=(2, 3.))", "tensor(1.).new_zeros(size=2)",
]


@pytest.mark.parametrize("call", _BAD_SIZES)
def test_factory_sizes_refused(call):
    check_raises_like(lambda lib: eval(f"L.{call}", {"L": lib, "np": np}))


@pytest.mark.parametrize("call", ["zeros(2 ** 70)", "zeros(2, 2 ** 63)", "full((2 ** 70,), 1.)"])
def test_factory_sizes_overflow(call):
    # torch's message goes on with its C++ stack after the first line
    with pytest.raises(TypeError) as t_info:
        eval(f"L.{call}", {"L": torch})
    with pytest.raises(TypeError) as e_info:
        eval(f"L.{call}", {"L": ember})
    assert str(e_info.value) == str(t_info.value).split("\n")[0]


@pytest.mark.parametrize("call", [
    "zeros(np.int64(2))", "zeros(L.tensor(2))", "zeros(2, True)", "zeros((2, True))",
    "zeros(2, L.tensor(3))", "zeros(size=L.Size([2]))", "zeros(L.tensor([2]))",
    "zeros((L.tensor(2),))", "zeros(2, L.tensor([3]))", "zeros(np.int32(2), 3)",
    "zeros(())", "full([2, 3], 1.)", "tensor(1.).new_zeros(size=(2, 3))", "empty(2, 3)",
])
def test_factory_sizes_accepted(call):
    with recording_compared() as run:
        fn = lambda lib: eval(f"L.{call}", {"L": lib, "np": np}).zero_()  # noqa: E731
        assert_same(run(ember, fn), run(torch, fn))
