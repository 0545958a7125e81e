"""The examples/ programs: each runs with --quick, finishes, and its loss falls; and, run as
real PyTorch (the same file with `import ember as torch` turned back into `import torch`), it
prints the same losses, since an example is an ordinary torch program.

Each example prints its losses as lines ``loss <step> <value>``; other lines are free text.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py"))
LOSS_LINE = re.compile(r"^loss (\S+) (\S+)$", re.MULTILINE)
TIMEOUT = 60

# OpenBLAS spins its threads while waiting; on a small, shared machine that makes the small
# matrix products of these examples many times slower with two threads than with one.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run_example(path: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, str(path), "--quick", *args], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stderr[-3000:]}"
    return result.stdout


@functools.cache
def quick_output(name: str) -> str:
    """The example's --quick output under ember, run once for the tests that read it."""
    return run_example(EXAMPLES / f"{name}.py")


def losses(output: str) -> list[float]:
    return [float(value) for _, value in LOSS_LINE.findall(output)]


def as_torch_program(name: str, where: Path) -> Path:
    """The example with ember's imports turned into torch's, laid out like the repository
    so that its paths to the bundled data still resolve."""
    source = (EXAMPLES / f"{name}.py").read_text()
    source = re.sub(r"^import ember as torch$", "import torch", source, flags=re.MULTILINE)
    source = re.sub(r"^(import|from) ember\b", r"\1 torch", source, flags=re.MULTILINE)
    assert not re.search(r"^\s*(import|from) ember\b", source, flags=re.MULTILINE), name
    (where / "examples").mkdir()
    (where / "ember").mkdir()
    (where / "examples" / "data").symlink_to(EXAMPLES / "data")
    (where / "ember" / "data").symlink_to(ROOT / "ember" / "data")
    target = where / "examples" / f"{name}.py"
    target.write_text(source)
    return target


def test_examples_found() -> None:
    assert {"polynomial_fit", "per_sample_gradients", "physics_informed", "lstm_classifier",
            "char_gpt", "finetune_checkpoint"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_is_a_torch_program(name: str) -> None:
    source = (EXAMPLES / f"{name}.py").read_text()
    assert source.startswith('"""'), "each example opens with a docstring saying what it shows"
    assert re.search(r"^import ember as torch$", source, re.MULTILINE)
    assert "--quick" in source


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_and_learns(name: str) -> None:
    values = losses(quick_output(name))
    assert len(values) >= 2, f"{name} printed fewer than two 'loss <step> <value>' lines"
    assert all(v == v for v in values), f"{name} printed a NaN loss"
    assert values[-1] < values[0], f"{name}: loss did not fall: {values}"


@pytest.mark.parametrize("name", NAMES)
def test_example_matches_torch(name: str, tmp_path: Path) -> None:
    from tests.helpers import torch  # noqa: F401 - skips cleanly without the oracle

    ours = losses(quick_output(name))
    theirs = losses(run_example(as_torch_program(name, tmp_path)))
    assert len(ours) == len(theirs)
    # Printed to 4-6 decimals after a few float32 steps: allow for the last printed digit
    # and for float32 summation order differing from torch's.
    assert ours == pytest.approx(theirs, rel=2e-3, abs=2e-4)


def test_finetune_checkpoint_loads_in_torch(tmp_path: Path) -> None:
    import ember
    from tests.helpers import torch

    path = tmp_path / "pretrained.pt"
    run_example(EXAMPLES / "finetune_checkpoint.py", "--checkpoint", str(path))
    theirs = torch.load(path, weights_only=True)
    ours = ember.load(path)
    assert theirs["epochs"] == ours["epochs"] == 1
    assert list(theirs["model"]) == list(ours["model"])
    for key, value in theirs["model"].items():
        assert value.dtype == torch.float32
        assert torch.equal(value, torch.from_numpy(ours["model"][key].numpy()))
    model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                                torch.nn.Tanh(), torch.nn.Linear(64, 1))
    model.load_state_dict(theirs["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    optimizer.load_state_dict(theirs["optimizer"])
    assert int(optimizer.state_dict()["state"][0]["step"]) == 10
