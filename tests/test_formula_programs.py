"""Formula programs (NOTE [Formula programs] in ember/autograd/programs.py): a backward
formula replayed from its program gives what the eager formula gives, bit for bit, with the
same dtype and strides, and torch's gradients; a formula that a program could not replay
faithfully stays eager."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import ember
from ember.autograd import programs
from tests import test_nn_activation, test_ops, test_pointwise
from tests.helpers import SHAPE_CASES, _check_row_op, assert_same, make_inputs, torch

# the rows of the families whose formulas run as programs (registry's _REPLAYED_FAMILIES),
# and the arithmetic table, which reaches them through the dunders
ROWS = [r for r in test_pointwise.ROWS + test_ops.ROWS + test_nn_activation.ROWS if r.grad]
KINDS = ("0-d", "size-1", "noncontiguous")


@pytest.fixture(autouse=True)
def _fresh_programs():
    saved, direct = dict(programs._programs), set(programs._direct)
    programs._programs.clear()
    programs.graphs = False  # whole backwards as programs: tests/test_graph_programs.py
    yield
    programs.graphs = True
    programs._programs.clear()
    programs._programs.update(saved)
    programs._direct.clear()
    programs._direct.update(direct)
    programs.enabled = True


class _Op:
    """What ``programs.call`` reads of an op record: its formulas, whether it asks."""

    def __init__(self, *formulas) -> None:
        self.backward = formulas
        self.replayed = True


def _gradients(row, shapes, dtype: str, noncontiguous: bool) -> list:
    _, leaves, _, args = make_inputs(shapes, dtype, low=row.domain[0], high=row.domain[1],
                                     noncontiguous=noncontiguous)
    out = row.fn(ember, *args)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if o.requires_grad]
    rng = np.random.default_rng(1)
    cotangents = [ember.tensor(rng.standard_normal(tuple(o.shape))).to(o.dtype) for o in outs]
    ember.autograd.backward(outs, cotangents)
    return [leaf.grad for leaf in leaves]


def outcome(gradients, *args):
    """(``gradients(*args)``, None), or (None, the exception's type and text)."""
    try:
        return gradients(*args), None
    except Exception as exc:  # compared by the callers: the same error each way
        return None, (type(exc), str(exc))


def _assert_same_bits(a, b, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert a.stride() == b.stride(), f"{what}: strides {a.stride()} != {b.stride()}"
    assert a._data.tobytes() == b._data.tobytes(), what


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_replay_is_eager_bit_for_bit(row, kind):
    shapes = SHAPE_CASES[kind][0](row.nargs)
    noncontiguous = SHAPE_CASES[kind][1]
    for dtype in row.dtypes:
        programs.enabled = False
        eager, error = outcome(_gradients, row, shapes, dtype, noncontiguous)
        programs.enabled = True
        for run in ("first sighting", "trace", "replay"):
            got, got_error = outcome(_gradients, row, shapes, dtype, noncontiguous)
            assert got_error == error, f"{run}: {got_error} != {error}"
            if error is None:
                for i, (e, g) in enumerate(zip(eager, got)):
                    _assert_same_bits(g, e, f"{run}, {dtype}, grad of input {i}")
        # and the replay against torch, values, dtypes and errors (tests/helpers.py)
        _check_row_op(row, shapes, dtype=dtype, noncontiguous=noncontiguous)


def _counted() -> dict:
    """Wrap every program made so far so its replays are counted."""
    counts = {}
    for key, program in list(programs._programs.items()):
        if not callable(program):
            continue

        def counting(g, args, program=program, key=key):
            counts[key] = counts.get(key, 0) + 1
            return program(g, args)

        programs._programs[key] = counting
    return counts


def _seed_cell(lib, x):
    y = x ** 3
    z = lib.sin(y)
    z.backward()
    return x.grad


@pytest.mark.bitexact
def test_seed_cell_replays_its_formulas_with_torchs_bits():
    x = ember.tensor(0.7, requires_grad=True)
    for _ in range(2):  # seen, then traced
        x.grad = None
        _seed_cell(ember, x)
    made = [k for k, v in programs._programs.items() if callable(v)]
    assert len(made) == 2  # sin's and pow's formulas
    counts = _counted()
    for _ in range(3):
        x.grad = None
        _seed_cell(ember, x)
    assert sorted(counts.values()) == [3, 3]
    assert type(x.grad._data) is np.ndarray  # a ufunc on 0-d arrays gives a NumPy scalar
    t = torch.tensor(0.7, requires_grad=True)
    _seed_cell(torch, t)
    assert x.grad._data.tobytes() == t.grad.numpy().tobytes()


def test_watched_backward_runs_the_formulas_eagerly():
    x = ember.tensor(0.7, requires_grad=True)
    for _ in range(2):
        x.grad = None
        _seed_cell(ember, x)
    counts = _counted()
    # create_graph records the formulas; the profiler sees their ops: no replay
    x.grad = None
    y = ember.sin(x ** 3)
    (g,) = ember.autograd.grad(y, x, create_graph=True)
    with ember.profiler.profile() as prof:
        x.grad = None
        _seed_cell(ember, x)
    assert not counts
    assert {"aten::cos", "aten::pow"} <= {e.name for e in prof.events()}
    t = torch.tensor(0.7, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.sin(t ** 3), t, create_graph=True)
    assert_same(g, tg)
    assert g.requires_grad and g.grad_fn.name() == tg.grad_fn.name()


@pytest.mark.bitexact
def test_a_zero_factor_keeps_its_sign():
    # x * 0.0 and x * -0.0 share everything but the sign of the number the formula reads
    for lib in (ember, torch):
        got = []
        for factor in (0.0, -0.0) * 3:  # each seen, traced, replayed
            x = lib.tensor([1.5, -2.0], requires_grad=True)
            (x * factor).backward(lib.tensor([1.0, 1.0]))
            got.append(np.signbit(x.grad.detach().numpy()).tolist())
        if lib is ember:
            mine = got
    assert mine == got == [[False, False], [True, True]] * 3


@pytest.mark.bitexact
def test_saved_tensors_dtypes_are_part_of_the_signature():
    # grad * other with other int32 computes in float32 after a cast; with other float32,
    # without one: 3 * float32(16777217) = 50331648, where a float64 product would round
    # to 50331652
    got = {}
    for lib in (ember, torch):
        got[lib] = []
        for dtype in ("float32",) * 3 + ("int32",) * 3:  # each seen, traced, replayed
            x = lib.tensor([2.0], requires_grad=True)
            other = lib.tensor([16777217]).to(getattr(lib, dtype))
            (x * other).backward(lib.tensor([3.0]))
            got[lib].append(x.grad.detach().numpy().tobytes())
    assert got[ember] == got[torch]


def test_nan_factor_stays_eager():
    for _ in range(2):
        x = ember.tensor([1.5, -2.0], requires_grad=True)
        (x * float("nan")).backward(ember.tensor([1.0, 1.0]))
        assert np.isnan(x.grad._data).all()
    assert not programs._programs  # nan equals nothing: never a signature


@pytest.mark.bitexact
@pytest.mark.parametrize("first", ["distinct", "aliased"])
def test_one_array_twice(first):
    # x * x saves x twice: its trace could not tell the two apart and stays eager; a
    # program traced on two tensors replays on one given twice
    def run(lib, aliased):
        a = lib.tensor([1.5, -2.0, 0.25], requires_grad=True)
        b = a if aliased else lib.tensor([0.5, 3.0, -1.0], requires_grad=True)
        ((a * b) * 1.5).backward(lib.tensor([1.0, 2.0, 3.0]))
        return a.grad, b.grad

    # seen and traced on the first kind, replayed (or eager) on the other
    order = [first == "aliased"] * 2 + [first != "aliased"] * 2
    for aliased in order:
        for e, t in zip(run(ember, aliased), run(torch, aliased)):
            assert e._data.tobytes() == t.detach().numpy().tobytes()


def _formula_calls(formula, grad, args, times: int = 3) -> list:
    op = _Op(formula)
    return [programs.call(op, formula, grad, args) for _ in range(times)]


def test_what_a_replay_would_miss_stays_eager():
    g = ember.tensor([1.0, -2.0, 0.5])
    s = ember.tensor([0.5, 0.25, 4.0])

    def in_place(grad, self):
        r = grad * self
        r.add_(1)
        return r

    def factory(grad, self):
        return grad * ember.ones(3)

    def view(grad, self):
        return (grad * self).view(3, 1)

    def passthrough(grad, self):
        return grad

    expected = {in_place: (g._data * s._data) + 1, factory: g._data * 1,
                view: (g._data * s._data).reshape(3, 1), passthrough: g._data}
    for formula, want in expected.items():
        for r in _formula_calls(formula, g, (s,)):
            assert r._data.tobytes() == want.astype(np.float32).tobytes()
        assert list(programs._programs.values()) == [programs._EAGER]
        programs._programs.clear()
    # the passthrough returns the gradient itself, as eager does; a formula that runs no op
    # is called directly from then on, and an op whose formulas all are stops asking
    def hand_on(grad, self):
        return grad

    op = _Op(hand_on, None)
    for _ in range(3):
        assert programs.call(op, hand_on, g, (s,)) is g
    assert hand_on in programs._direct and not op.replayed
    assert in_place not in programs._direct and factory not in programs._direct


def test_a_formula_that_raises_raises_every_time():
    for lib in (torch, ember):
        for _ in range(2):
            a = lib.tensor([3.0, -5.0], requires_grad=True)
            b = lib.tensor([2.0, 4.0], requires_grad=True)
            with pytest.raises(RuntimeError) as info:
                lib.floor_divide(a, b).sum().backward()
            if lib is torch:
                message = str(info.value)
            else:
                assert str(info.value) == message
    assert not [v for v in programs._programs.values() if callable(v)]


def test_concurrent_backward_passes():
    # traces in one thread while others replay or trace: every gradient is the one eager
    # formulas give in one thread, bit for bit, and torch's within tolerance
    def work(lib, seed, out):
        rng = np.random.default_rng(seed)
        for _ in range(30):
            x = lib.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
            y = (x.sin() * x.exp() + x ** 2).tanh().sum()
            y.backward()
            out.append(x.grad)

    results = {seed: [] for seed in range(4)}
    threads = [threading.Thread(target=work, args=(ember, seed, results[seed]))
               for seed in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    for seed, got in results.items():
        programs.enabled = False
        eager, expected = [], []
        work(ember, seed, eager)
        work(torch, seed, expected)
        assert len(got) == 30
        for g, e, t in zip(got, eager, expected):
            _assert_same_bits(g, e, f"seed {seed}")
            assert_same(g, t)
