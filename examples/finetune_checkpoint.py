"""Pretrain a small model, checkpoint it with torch.save, reload it with torch.load, fine-tune.

Shows: saving a checkpoint dictionary (model state_dict, optimizer state_dict, step count) with
torch.save; loading it with torch.load into a freshly built model and optimizer; checking the
reloaded model computes exactly what the saved one did; then fine-tuning on a new but related
task with the feature layers frozen (requires_grad_(False)) and a new optimizer over the head.
The checkpoint file is in torch's own format, so real PyTorch can load it too. The only
change from a PyTorch program is `import ember as torch`.

Run: python examples/finetune_checkpoint.py [--quick] [--checkpoint PATH]
"""

import argparse
import math
import tempfile
from pathlib import Path

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)
    )


def make_data(n: int, shift: float, generator: torch.Generator) -> TensorDataset:
    x = torch.rand(n, 2, generator=generator) * 2 * math.pi - math.pi
    y = torch.sin(x[:, :1]) * torch.cos(x[:, 1:]) + shift * x[:, :1]
    return TensorDataset(x, y)


def train(model, optimizer, loader, epochs: int, label: str, max_steps=None) -> None:
    step = 0
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            if step % 25 == 0 or max_steps is not None:
                print(f"{label} {step} {loss.item():.5f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="where to write the checkpoint (default: a temporary folder)")
    args = parser.parse_args()
    pre_epochs, fine_epochs = (1, 1) if args.quick else (40, 15)
    max_steps = 10 if args.quick else None

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    pretrain_data = make_data(2000, 0.0, generator)
    finetune_data = make_data(300, 0.3, generator)
    probe = torch.linspace(-3, 3, 10).unsqueeze(1).repeat(1, 2)

    # 1. Pretrain on the original task and save a checkpoint.
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(pretrain_data, batch_size=100, shuffle=True)
    train(model, optimizer, loader, pre_epochs, "pretrain loss", max_steps)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or Path(tmp) / "pretrained.pt"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epochs": pre_epochs}, path)
        print(f"saved checkpoint to {path.name}")

        # 2. Reload into brand-new objects.
        checkpoint = torch.load(path)
    fresh = build_model()
    fresh.load_state_dict(checkpoint["model"])
    resumed = torch.optim.Adam(fresh.parameters(), lr=3e-3)
    resumed.load_state_dict(checkpoint["optimizer"])
    with torch.no_grad():
        same = torch.equal(fresh(probe), model(probe))
    print(f"reloaded model after {checkpoint['epochs']} epochs matches the saved one: {same}")
    print(f"optimizer restored after {int(resumed.state_dict()['state'][0]['step'])} steps")

    # 3. Fine-tune on the new task: freeze the feature layers, train only the head.
    for layer in list(fresh)[:-1]:
        layer.requires_grad_(False)
    head_optimizer = torch.optim.SGD(fresh[-1].parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(finetune_data, batch_size=50, shuffle=True)
    train(fresh, head_optimizer, loader, fine_epochs, "loss", max_steps)

    with torch.no_grad():
        x, y = finetune_data.tensors
        print(f"loss final {F.mse_loss(fresh(x), y).item():.5f}")
    trainable = sum(p.numel() for p in fresh.parameters() if p.requires_grad)
    print(f"fine-tuned {trainable} of {sum(p.numel() for p in fresh.parameters())} parameters")


if __name__ == "__main__":
    main()
