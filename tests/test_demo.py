"""The digits demo (ember/examples/digits.py): it runs as ``python -m``, trains, and writes a
checkpoint that real PyTorch loads into the same CNN written with torch.nn, with the same
logits and test accuracy as ember's model.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ember
from ember.examples import digits
from tests.helpers import assert_same, torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[Path, str]:
    """One ``python -m ember.examples.digits --quick`` run: its output folder and stdout."""
    folder = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "ember.examples.digits", "--quick", "--seed", "1",
         "--out", str(folder / "out")],
        cwd=folder, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return folder / "out", done.stdout


def test_quick_run_trains_and_reports(quick_run) -> None:
    _, stdout = quick_run
    losses = [float(x) for x in re.findall(r"^epoch +\d+/2: loss ([\d.]+)", stdout, re.M)]
    assert len(losses) == 2
    assert losses[1] < losses[0]
    assert re.search(r"^test accuracy: [\d.]+% \(\d+/359\)$", stdout, re.M)
    matrix = re.search(r"^confusion matrix.*\n.*\n((?: +\d+(?: +\d+){10}\n){10})", stdout, re.M)
    assert matrix is not None
    counts = [[int(n) for n in row.split()[1:]] for row in matrix.group(1).splitlines()]
    assert sum(map(sum, counts)) == 359
    assert "evaluate_with_torch(" in stdout


def test_checkpoint_loads_in_torch_with_ember_logits(quick_run) -> None:
    out, stdout = quick_run
    checkpoint = out / digits.CHECKPOINT
    assert checkpoint.is_file()

    ember_model = digits.build_model(ember.nn)
    ember_model.load_state_dict(ember.load(checkpoint))
    torch_model = digits.build_model(torch.nn)
    torch_model.load_state_dict(torch.load(checkpoint, weights_only=True))
    assert list(torch_model.state_dict()) == list(ember_model.state_dict())

    ember_test = digits.split(digits.load_digits(ember), 1, ember)[1]
    torch_test = digits.split(digits.load_digits(torch), 1, torch)[1]
    assert ember_test.indices == torch_test.indices
    ember_images, ember_labels = (ember.stack(c) for c in zip(*ember_test))
    torch_images, torch_labels = (torch.stack(c) for c in zip(*torch_test))
    ember_model.eval()
    torch_model.eval()
    with ember.no_grad(), torch.no_grad():
        assert_same(ember_model(ember_images), torch_model(torch_images))

    printed = re.search(r"^test accuracy: [\d.]+% \((\d+)/359\)$", stdout, re.M).group(1)
    correct = (torch_model(torch_images).argmax(1) == torch_labels).sum().item()
    assert correct == int(printed)
    accuracy = digits.evaluate_with_torch(checkpoint, seed=1)  # a float32 mean, as a float
    assert accuracy == pytest.approx(correct / len(torch_labels), rel=1e-6)


class FakeTqdm:
    """Records what the demo tells its progress bar (tqdm itself is an optional extra)."""

    bars: list = []

    def __init__(self, total: int, **kwargs) -> None:
        self.total, self.done, self.postfix = total, 0, None
        self.bars.append(self)

    def update(self, count: int) -> None:
        self.done += count

    def set_postfix(self, **kwargs) -> None:
        self.postfix = kwargs

    def close(self) -> None:
        pass


def test_same_seed_same_numbers_with_a_progress_bar(quick_run, tmp_path, monkeypatch) -> None:
    out, _ = quick_run
    monkeypatch.setattr(digits, "tqdm", FakeTqdm)
    history = digits.run(digits.parse_args(["--quick", "--seed", "1", "--out", str(tmp_path)]))
    assert [(bar.total, bar.done) for bar in FakeTqdm.bars] == [(1438, 1438)] * 2
    assert set(FakeTqdm.bars[-1].postfix) == {"loss"}
    first = ember.load(out / digits.CHECKPOINT)
    again = ember.load(history["checkpoint"])
    assert list(first) == list(again)
    for name in first:
        assert ember.equal(first[name], again[name]), name


def test_help_lists_options(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        digits.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--epochs", "--batch-size", "--lr", "--seed", "--out", "--workers",
                   "--quick"):
        assert option in text
