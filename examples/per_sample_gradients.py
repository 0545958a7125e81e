"""DP-SGD-style training on handwritten digits with per-sample gradients from torch.func.

Shows: torch.func.functional_call over a small nn model's parameters, vmap(grad(...)) to get
one gradient per example in a single batched call, then a differentially-private-SGD-style
step: clip each example's gradient to a maximum norm, add Gaussian noise, average. The data
is the 8x8 digits bundled with ember (64 pixels then the label per CSV row). The only change
from a PyTorch program is `import ember as torch`.

Run: python examples/per_sample_gradients.py [--quick]
"""

import argparse
import gzip
from pathlib import Path

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.func import functional_call, grad, vmap

# The digits ship inside the ember package, next to this folder.
DIGITS = Path(__file__).resolve().parent.parent / "ember" / "data" / "digits.csv.gz"


def load_digits() -> tuple:
    with gzip.open(DIGITS, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float32)
    images = torch.from_numpy(table[:, :64] / 16.0)
    labels = torch.from_numpy(table[:, 64].astype(np.int64))
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    args = parser.parse_args()
    epochs = 1 if args.quick else 8
    max_steps = 12 if args.quick else None

    torch.manual_seed(0)
    images, labels = load_digits()
    train_x, train_y = images[:1500], labels[:1500]
    test_x, test_y = images[1500:], labels[1500:]

    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_of_one(params, x, y):
        # functional_call sees a single example; add the batch dimension the model expects.
        logits = functional_call(model, params, (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    per_sample_grads = vmap(grad(loss_of_one), in_dims=(None, 0, 0))

    batch_size, lr, max_norm, noise_multiplier = 64, 0.5, 1.0, 0.5
    step = 0
    for _epoch in range(epochs):
        order = torch.randperm(len(train_x))
        for start in range(0, len(train_x), batch_size):
            idx = order[start:start + batch_size]
            x, y = train_x[idx], train_y[idx]
            grads = per_sample_grads(params, x, y)

            # Clip every example's whole gradient (all parameters together) to max_norm.
            norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads.values()]).norm(dim=0)
            scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
            for name, g in grads.items():
                clipped = (g * scale.view(-1, *[1] * (g.dim() - 1))).sum(0)
                noise = torch.randn_like(clipped) * noise_multiplier * max_norm
                params[name] = params[name] - lr * (clipped + noise) / len(x)

            if step % 10 == 0:
                with torch.no_grad():
                    loss = F.cross_entropy(functional_call(model, params, (x,)), y)
                print(f"loss {step} {loss.item():.4f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                break

    with torch.no_grad():
        logits = functional_call(model, params, (train_x,))
        print(f"loss {step} {F.cross_entropy(logits, train_y).item():.4f}")
        test_logits = functional_call(model, params, (test_x,))
        accuracy = (test_logits.argmax(1) == test_y).float().mean().item()
    print(f"test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
