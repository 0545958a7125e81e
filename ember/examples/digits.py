"""Train a small CNN on handwritten digits with ember, then load the checkpoint in PyTorch.

Run it with ``python -m ember.examples.digits`` (``--help`` lists the options). The code is
an ordinary PyTorch training script: ``import ember as torch`` is the only difference.

The data are the 1,797 8x8 digits bundled in ``ember/data/digits.csv.gz``: the test set of
"Optical Recognition of Handwritten Digits" by E. Alpaydin and C. Kaynak (1998), UCI Machine
Learning Repository, licensed under CC BY 4.0 (see ``ember/data/README.md``).

Optional extras: ``tqdm`` draws a progress bar per epoch (plain lines without it), and
``matplotlib`` draws the loss/accuracy curves and the misclassified digits into a PNG.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType

import numpy as np

import ember as torch
from ember import nn
from ember.utils.data import DataLoader, Dataset

try:
    from tqdm import tqdm
except ImportError:  # the demo runs without its extras
    tqdm = None

CHECKPOINT = "digits_cnn.pt"
TEST_FRACTION = 0.2


def load_digits(library: ModuleType = torch) -> Dataset:
    """The bundled digits as a TensorDataset of (1x8x8 float32 image in [0, 1], label).

    ``library`` is ``ember`` (the default) or ``torch``: both read the same tensors.
    """
    path = resources.files("ember") / "data" / "digits.csv.gz"
    with gzip.open(path.open("rb"), "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    images = (table[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    return library.utils.data.TensorDataset(
        library.from_numpy(images), library.from_numpy(table[:, 64]))


def split(dataset: Dataset, seed: int, library: ModuleType = torch) -> list:
    """Splits off the test set; the same seed gives the same split in ember and torch."""
    generator = library.Generator().manual_seed(seed)
    return library.utils.data.random_split(
        dataset, [1 - TEST_FRACTION, TEST_FRACTION], generator=generator)


def build_model(nn: ModuleType = nn) -> nn.Module:
    """The CNN, made of ``nn``'s layers: ember.nn by default, ``torch.nn`` for PyTorch."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),                                    # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),                                    # 32 x 2 x 2
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 10),
    )


def predict(model: nn.Module, loader: DataLoader) -> tuple:
    """All logits and labels of ``loader``, in its order, without recording a graph."""
    model.eval()
    with torch.no_grad():
        batches = [(model(images), labels) for images, labels in loader]
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, epoch: int,
                epochs: int) -> tuple:
    """One pass over ``loader``; returns the mean training loss and the images per second."""
    model.train()
    total_loss, seen, start = 0.0, 0, time.perf_counter()
    bar = tqdm(total=len(loader.dataset), unit="img", desc=f"epoch {epoch}/{epochs}",
               leave=False) if tqdm else None
    for images, labels in loader:
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(labels)
        seen += len(labels)
        if bar:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            bar.update(len(labels))
    if bar:
        bar.close()
    return total_loss / seen, seen / (time.perf_counter() - start)


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor,
                     classes: int = 10) -> torch.Tensor:
    """``matrix[true, predicted]`` counts."""
    return torch.bincount(labels * classes + predicted, minlength=classes**2).view(
        classes, classes)


def print_confusion(matrix: torch.Tensor) -> None:
    """The confusion matrix as a text table: rows are true digits, columns predictions."""
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("     " + "".join(f"{c:4d}" for c in range(matrix.shape[1])))
    for row, counts in enumerate(matrix.tolist()):
        print(f"{row:4d} " + "".join(f"{n:4d}" for n in counts))


def plot(history: dict, images: torch.Tensor, labels: torch.Tensor,
         predicted: torch.Tensor, path: Path) -> bool:
    """Saves the curves and up to 24 misclassified digits as a PNG; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    wrong = (predicted != labels).nonzero().flatten().tolist()[:24]
    fig = plt.figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.3, 1])
    loss_ax, acc_ax = left.subplots(1, 2)
    epochs = range(1, len(history["loss"]) + 1)
    loss_ax.plot(epochs, history["loss"], marker="o")
    loss_ax.set(title="training loss", xlabel="epoch", yscale="log")
    acc_ax.plot(epochs, [100 * a for a in history["accuracy"]], marker="o", color="C2")
    acc_ax.set(title="test accuracy (%)", xlabel="epoch")
    right.suptitle(f"misclassified test digits ({len(wrong)} shown): true -> predicted")
    for ax, i in zip(right.subplots(4, 6).flat, [*wrong, *[None] * 24]):
        ax.axis("off")
        if i is not None:
            ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"{labels[i].item()} -> {predicted[i].item()}", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def evaluate_with_torch(checkpoint: str | Path, seed: int = 0) -> float:
    """Loads an ember checkpoint into the same CNN built with real ``torch.nn``.

    Prints and returns its accuracy on the same test split (PyTorch must be installed).
    """
    import torch as pytorch

    model = build_model(pytorch.nn)
    model.load_state_dict(pytorch.load(checkpoint, weights_only=True))
    model.eval()
    test_set = split(load_digits(pytorch), seed, pytorch)[1]
    images, labels = (pytorch.stack(column) for column in zip(*test_set))
    with pytorch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    print(f"PyTorch {pytorch.__version__}: test accuracy {accuracy:.2%}")
    return accuracy


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m ember.examples.digits",
        description="Train a small CNN on 8x8 handwritten digits with ember.")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size")
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate (OneCycle)")
    parser.add_argument("--seed", type=int, default=0, help="seed of split, weights, order")
    parser.add_argument("--out", type=Path, default=Path("ember-demo-out"),
                        help="output folder for the checkpoint and the plot")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs: a smoke test, not a trained model")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 2
    return args


def run(args: argparse.Namespace) -> dict:
    """Trains, evaluates, saves; returns the loss/accuracy history and the checkpoint path."""
    torch.manual_seed(args.seed)
    train_set, test_set = split(load_digits(), args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers,
                              generator=torch.Generator().manual_seed(args.seed))
    test_loader = DataLoader(test_set, batch_size=512)
    print(f"{len(train_set)} training and {len(test_set)} test digits")

    model = build_model()
    print(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))

    history = {"loss": [], "accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss, rate = train_epoch(model, train_loader, optimizer, scheduler, epoch, args.epochs)
        logits, labels = predict(model, test_loader)
        accuracy = (logits.argmax(1) == labels).float().mean().item()
        print(f"epoch {epoch:2d}/{args.epochs}: loss {loss:.4f}, {rate:,.0f} img/s, "
              f"test accuracy {accuracy:.2%}")
        history["loss"].append(loss)
        history["accuracy"].append(accuracy)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    predicted = logits.argmax(1)
    print(f"test accuracy: {history['accuracy'][-1]:.2%} "
          f"({(predicted == labels).sum().item()}/{len(labels)})")
    print_confusion(confusion_matrix(labels, predicted))

    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / CHECKPOINT
    torch.save(model.state_dict(), checkpoint)
    print(f"checkpoint (state_dict, PyTorch's format): {checkpoint}")
    images = torch.stack([image for image, _ in test_set])
    figure = args.out / "digits.png"
    if plot(history, images, labels, predicted, figure):
        print(f"curves and misclassified digits: {figure}")
    print("load it in PyTorch and evaluate it on the same test digits with:")
    print(f'  python -c "from ember.examples.digits import evaluate_with_torch; '
          f'evaluate_with_torch({str(checkpoint)!r}, seed={args.seed})"')
    return {**history, "checkpoint": checkpoint}


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``python -m ember.examples.digits [options]``."""
    run(parse_args(argv))


if __name__ == "__main__":
    main()
