"""A physics-informed network: a small MLP learns u(t) with u'' = -u, u(0) = 0, u'(0) = 1.

Shows: derivatives of a network's output with respect to its input via
torch.autograd.grad(..., create_graph=True) (twice, for u''), a loss built from those
derivatives, and backpropagation through them (third-order gradients into the weights),
with Adam. The exact solution is sin(t); the script prints the error against it. The only
change from a PyTorch program is `import ember as torch`.

Run: python examples/physics_informed.py [--quick]
"""

import argparse
import math

import ember as torch
import ember.nn as nn


def derivative(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """dy/dx for a batch of independent points, kept in the graph for higher derivatives."""
    (dy,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y), create_graph=True)
    return dy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    args = parser.parse_args()
    steps = 60 if args.quick else 1500

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=500, gamma=0.3)

    t = torch.linspace(0, 2 * math.pi, 100).unsqueeze(1).requires_grad_()
    t0 = torch.zeros(1, 1, requires_grad=True)

    for step in range(steps):
        optimizer.zero_grad()
        u = model(t)
        u_tt = derivative(derivative(u, t), t)
        residual = (u_tt + u).pow(2).mean()

        u0 = model(t0)
        du0 = derivative(u0, t0)
        boundary = u0.pow(2).mean() + (du0 - 1).pow(2).mean()

        loss = residual + boundary
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % max(1, steps // 15) == 0 or step == steps - 1:
            print(f"loss {step} {loss.item():.6f}")

    with torch.no_grad():
        grid = torch.linspace(0, 2 * math.pi, 9).unsqueeze(1)
        error = (model(grid) - torch.sin(grid)).abs().max()
    print(f"max |u - sin| on [0, 2pi]: {error.item():.4f}")


if __name__ == "__main__":
    main()
