"""Shared memory (ember/_shared_memory.py; ``Module.share_memory``) against torch: which
tensors are shared, values, views and versions kept, and a forked child's writes seen by
the parent."""
from __future__ import annotations

import multiprocessing
import sys

import numpy as np
import pytest

import ember
from ember._shared_memory import is_shared, share_memory_
from tests.helpers import assert_same, torch

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork start method")


def _share(t):
    return t.share_memory_() if isinstance(t, torch.Tensor) else share_memory_(t)


def _is_shared(t) -> bool:
    return t.is_shared() if isinstance(t, torch.Tensor) else is_shared(t)


def _views(lib):
    base = lib.arange(12.0).reshape(3, 4)
    base.add_(1)
    return base, base[1:, ::2], base.detach(), base.t(), lib.ones(2)


def test_share_memory_keeps_values_views_and_versions():
    t_all, e_all = _views(torch), _views(ember)
    for t, e in zip(t_all, e_all):
        assert _is_shared(e) == _is_shared(t) is False
    versions = [t._version for t in e_all]
    assert _share(e_all[1]) is e_all[1]
    _share(t_all[1])
    assert [_is_shared(e) for e in e_all] == [_is_shared(t) for t in t_all]
    assert [t._version for t in e_all] == versions
    for tensors in (t_all, e_all):
        tensors[1].mul_(10)  # a write through the view reaches the base and its other views
        tensors[3][0, 2] = -1
        assert _share(tensors[0]) is tensors[0]  # already shared: nothing moves
    for t, e in zip(t_all, e_all):
        assert_same(e, t)
    empty = ember.ones(0, 3)
    share_memory_(empty)
    assert is_shared(empty) and empty.shape == (0, 3)


def _fork_and_run(fn) -> int:
    process = multiprocessing.get_context("fork").Process(target=fn)
    process.start()
    process.join(30)
    if process.is_alive():
        process.kill()
        pytest.fail("the child process did not finish")
    return process.exitcode


def test_forked_child_writes_reach_the_parent():
    base = ember.zeros(3, 4)
    column = base[:, 1]
    share_memory_(base)

    def child():
        column.fill_(5.0)
        base[2, 3] = 7.0

    assert _fork_and_run(child) == 0
    expected = np.zeros((3, 4), np.float32)
    expected[:, 1] = 5.0
    expected[2, 3] = 7.0
    np.testing.assert_array_equal(base.numpy(), expected)
    unshared = ember.zeros(2)

    def child_unshared():
        unshared.fill_(1.0)

    assert _fork_and_run(child_unshared) == 0
    assert unshared.sum().item() == 0.0  # without share_memory_ the child has a copy


def test_module_share_memory_like_torch():
    modules = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
        m[0].weight.grad = lib.ones(3, 2)
        assert m.share_memory() is m
        modules.append(m)
    t_m, e_m = modules
    t_state = {k: _is_shared(v) for k, v in t_m.state_dict(keep_vars=True).items()}
    e_state = {k: _is_shared(v) for k, v in e_m.state_dict(keep_vars=True).items()}
    assert e_state == t_state and all(e_state.values())
    assert is_shared(e_m[0].weight.grad) and t_m[0].weight.grad.is_shared()
    for (_, e), (_, t) in zip(e_m.state_dict().items(), t_m.state_dict().items()):
        assert_same(e, t)

    def hogwild_step():
        with ember.no_grad():
            e_m[0].weight.sub_(e_m[0].weight.grad)
            e_m[1].running_mean.fill_(2.0)

    assert _fork_and_run(hogwild_step) == 0
    with torch.no_grad():
        t_m[0].weight.sub_(t_m[0].weight.grad)
        t_m[1].running_mean.fill_(2.0)
    assert_same(e_m[0].weight.detach(), t_m[0].weight.detach())
    assert_same(e_m[1].running_mean, t_m[1].running_mean)
