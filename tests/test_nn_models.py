"""Whole models against torch: the same code builds, prints, initialises, trains and
differentiates per sample the same in ember as in torch."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from tests.helpers import assert_same, torch


def _lenet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(12, 10))


def _same_state(e_model, t_model) -> None:
    """Same state_dict keys in the same order, and the same values bit for bit."""
    e_state, t_state = e_model.state_dict(), t_model.state_dict()
    assert list(e_state) == list(t_state)
    for key in t_state:
        np.testing.assert_array_equal(e_state[key].numpy(), t_state[key].numpy(), err_msg=key)


def test_lenet_trains_like_torch() -> None:
    # 50 plain-SGD steps in train mode (batch norm statistics, dropout masks from the
    # generator), from the same seed on the same batches: losses within 1e-4 relative.
    torch.manual_seed(0)
    t_model = _lenet(torch)
    ember.manual_seed(0)
    e_model = _lenet(ember)
    assert repr(e_model) == repr(t_model)
    _same_state(e_model, t_model)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(64, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    torch.manual_seed(1)
    ember.manual_seed(1)
    losses = {"torch": [], "ember": []}
    for step in range(50):
        batch = slice(step % 4 * 16, step % 4 * 16 + 16)
        for lib, model in ((torch, t_model), (ember, e_model)):
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(images[batch])),
                                                   lib.tensor(labels[batch]))
            model.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p -= 0.05 * p.grad
            losses[lib.__name__].append(loss.item())
    np.testing.assert_allclose(losses["ember"], losses["torch"], rtol=1e-4)
    t_model.eval()
    e_model.eval()
    x = rng.normal(size=(5, 1, 8, 8)).astype(np.float32)
    assert_same(e_model(ember.tensor(x)), t_model(torch.tensor(x)).detach(), atol=1e-4)
    for name in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert_same(e_model.state_dict()[name], t_model.state_dict()[name], atol=1e-5)


def _zoo(lib):
    """A model holding every container and more than 40 layer types."""
    nn = lib.nn
    blocks = nn.ModuleDict({
        "conv": nn.Sequential(
            nn.Conv1d(2, 4, 3, stride=2, padding=1, bias=False), nn.BatchNorm1d(4),
            nn.Conv2d(2, 4, (3, 2), dilation=2, groups=2, padding_mode="reflect"),
            nn.Conv3d(2, 2, 1), nn.ConvTranspose1d(2, 3, 2), nn.ConvTranspose2d(2, 2, 3,
                                                                               stride=2,
                                                                               output_padding=1),
            nn.ConvTranspose3d(2, 2, 1), nn.BatchNorm2d(4, momentum=None),
            nn.BatchNorm3d(2, affine=False), nn.GroupNorm(2, 4), nn.LayerNorm([4, 3]),
            nn.InstanceNorm2d(4, affine=True), nn.LocalResponseNorm(2), nn.RMSNorm(3)),
        "pool": nn.Sequential(
            nn.MaxPool1d(2), nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.MaxPool3d(2),
            nn.AvgPool1d(3), nn.AvgPool2d(2, count_include_pad=False), nn.AvgPool3d(2),
            nn.AdaptiveAvgPool2d((1, 2)), nn.AdaptiveMaxPool1d(3), nn.LPPool2d(2, 3),
            nn.MaxUnpool2d(2), nn.ZeroPad2d(1), nn.ReflectionPad1d(2),
            nn.ReplicationPad2d((1, 0, 2, 1)), nn.ConstantPad1d(2, 3.5),
            nn.CircularPad2d(1), nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.PixelShuffle(2), nn.PixelUnshuffle(2), nn.Unfold(2), nn.Fold((4, 4), 2)),
        "act": nn.Sequential(
            nn.ReLU(), nn.ReLU6(inplace=True), nn.LeakyReLU(0.2), nn.PReLU(3), nn.RReLU(),
            nn.ELU(alpha=0.5), nn.SELU(), nn.CELU(), nn.GELU(approximate="tanh"), nn.SiLU(),
            nn.Mish(), nn.Sigmoid(), nn.Tanh(), nn.Hardtanh(-2, 2), nn.Hardsigmoid(),
            nn.Hardswish(), nn.Softplus(beta=2), nn.Softsign(), nn.Softshrink(), nn.Hardshrink(),
            nn.Tanhshrink(), nn.Threshold(0.1, 20), nn.LogSigmoid(), nn.Softmax(dim=1),
            nn.Softmax2d(), nn.LogSoftmax(dim=-1), nn.Softmin(1), nn.GLU()),
    })
    return nn.Sequential(
        nn.Embedding(10, 3, padding_idx=0), nn.EmbeddingBag(10, 3, mode="max"),
        nn.Flatten(), nn.Unflatten(1, (2, 3)), nn.Identity(), nn.Linear(3, 4),
        nn.Bilinear(3, 3, 2, bias=False), nn.Dropout(0.1), nn.Dropout2d(), nn.AlphaDropout(0.2),
        nn.ModuleList([nn.Linear(4, 4) for _ in range(3)] + [nn.Tanh()]), blocks,
        nn.ParameterList([nn.Parameter(lib.zeros(2)), nn.Parameter(lib.ones(1, 2))]),
        nn.ParameterDict({"scale": nn.Parameter(lib.ones(3))}),
        nn.CosineSimilarity(), nn.PairwiseDistance(p=1.0), nn.CrossEntropyLoss(
            label_smoothing=0.1), nn.MSELoss(reduction="sum"))


def test_zoo_prints_initialises_and_loads_like_torch() -> None:
    torch.manual_seed(3)
    t_model = _zoo(torch)
    ember.manual_seed(3)
    e_model = _zoo(ember)
    assert repr(e_model) == repr(t_model)
    assert [n for n, _ in e_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    _same_state(e_model, t_model)
    # a state dict made by torch (through NumPy) loads into a differently seeded model
    ember.manual_seed(4)
    other = _zoo(ember)
    result = other.load_state_dict({k: ember.tensor(v.numpy())
                                    for k, v in t_model.state_dict().items()})
    assert repr(result) == "<All keys matched successfully>"
    _same_state(other, t_model)


def _small_cnn_loss(lib, params, x, y):
    F = lib.nn.functional
    h = F.relu(F.conv2d(x, params["conv.weight"], params["conv.bias"], padding=1))
    h = F.max_pool2d(h, 2).flatten(1)
    return F.cross_entropy(F.linear(h, params["fc.weight"], params["fc.bias"]), y)


def test_per_sample_gradients_of_a_small_cnn_match_torch_func() -> None:
    rng = np.random.default_rng(5)
    arrays = {"conv.weight": rng.normal(size=(3, 1, 3, 3)), "conv.bias": rng.normal(size=3),
              "fc.weight": rng.normal(size=(4, 12)), "fc.bias": rng.normal(size=4)}
    images = rng.normal(size=(6, 1, 1, 4, 4))  # 6 samples of a batch of one
    labels = rng.integers(0, 4, size=(6, 1))
    results = {}
    for lib in (torch, ember):
        params = {k: lib.tensor(v, dtype=lib.float32) for k, v in arrays.items()}

        def loss(p, x, y, lib=lib):
            return _small_cnn_loss(lib, p, x, y)
        per_sample = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))(
            params, lib.tensor(images, dtype=lib.float32), lib.tensor(labels))
        results[lib.__name__] = per_sample
    for key in arrays:
        assert_same(results["ember"][key], results["torch"][key], atol=1e-5)


@pytest.mark.parametrize("module", ["Linear", "Conv2d"])
def test_functional_call_gradients_of_a_module(module) -> None:
    # func.grad through functional_call on a real module: gradients of its parameters
    rng = np.random.default_rng(6)
    shape = (2, 3) if module == "Linear" else (2, 2, 5, 5)
    x = rng.normal(size=shape)
    grads = {}
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 4) if module == "Linear" else lib.nn.Conv2d(2, 3, 3)
        params = dict(m.named_parameters())

        def loss(p, m=m, lib=lib):
            return lib.func.functional_call(m, p, (lib.tensor(x, dtype=lib.float32),)).pow(
                2).sum()
        grads[lib.__name__] = lib.func.grad(loss)(params)
    for key, t in grads["torch"].items():
        assert_same(grads["ember"][key], t, atol=1e-5)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_vmap_of_nll_loss_with_per_sample_targets(reduction, weighted) -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(5, 3, 4))
    targets = rng.integers(0, 4, size=(5, 3))
    targets[1, 2] = targets[3, 0] = -100  # ignored positions
    weight = rng.uniform(0.5, 2.0, size=4)
    results = []
    for lib in (torch, ember):
        w = lib.tensor(weight) if weighted else None

        def loss(x, y, lib=lib, w=w):
            return lib.nn.functional.nll_loss(x.log_softmax(1), y, weight=w,
                                              reduction=reduction).sum()
        results.append(lib.func.vmap(lib.func.grad_and_value(loss))(
            lib.tensor(logits), lib.tensor(targets)))
    (t_grad, t_value), (e_grad, e_value) = results
    assert_same(e_grad, t_grad)
    assert_same(e_value, t_value)


def test_data_parallel_on_a_cpu_build() -> None:
    x = np.random.default_rng(8).normal(size=(4, 2)).astype(np.float32)
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = lib.nn.DataParallel(lib.nn.Linear(2, 3), device_ids=[0], dim=0)
        out = model(lib.tensor(x))
        results.append((repr(model), list(model.state_dict()), model.device_ids, out))
    (t_repr, t_keys, t_ids, t_out), (e_repr, e_keys, e_ids, e_out) = results
    assert (e_repr, e_keys, e_ids) == (t_repr, t_keys, t_ids)
    assert e_out.grad_fn.name() == t_out.grad_fn.name()
    assert_same(e_out, t_out.detach())
