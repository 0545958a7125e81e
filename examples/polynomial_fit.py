"""Fit y = a + b * P3(c + d * x) to sin(x) with a custom autograd.Function and plain SGD.

Shows: subclassing torch.autograd.Function with its own forward/backward (the Legendre
polynomial P3), ctx.save_for_backward, Function.apply, and a hand-written SGD update under
torch.no_grad(). The only change from a PyTorch program is `import ember as torch`.

Run: python examples/polynomial_fit.py [--quick]
"""

import argparse
import math

import ember as torch


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5x^3 - 3x) / 2, with its derivative 1.5 (5x^2 - 1) as the backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    args = parser.parse_args()
    steps = 200 if args.quick else 2000

    torch.manual_seed(0)
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float64)
    y = torch.sin(x)

    # Start near a sensible fit so that plain SGD converges in a few thousand steps.
    a = torch.full((), 0.0, dtype=torch.float64, requires_grad=True)
    b = torch.full((), -1.0, dtype=torch.float64, requires_grad=True)
    c = torch.full((), 0.0, dtype=torch.float64, requires_grad=True)
    d = torch.full((), 0.3, dtype=torch.float64, requires_grad=True)

    learning_rate = 5e-6
    for step in range(steps):
        y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if step % (steps // 10) == 0 or step == steps - 1:
            print(f"loss {step} {loss.item():.6f}")
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None

    print(f"Result: y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")


if __name__ == "__main__":
    main()
