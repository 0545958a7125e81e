"""A short walk through ember's autograd, ending with a small classifier.

Run it with ``python -m ember.demo``. Every tensor printed below prints exactly as the same
tensor would in PyTorch; ``import ember as torch`` runs the same code unchanged.

The first sections follow the ideas of a classic autograd tutorial: a derivative by
``backward()``, the chain rule, one sigmoid neuron with a binary cross-entropy loss,
gradient accumulation, and the ways to stop tracking. The last section trains a
softmax-regression classifier on the handwritten digits bundled in ``ember/data`` with
nothing but ember ops, ``backward()`` and plain gradient descent.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

import ember
from ember import Tensor

NUM_CLASSES = 10
TEST_SIZE = 397  # leaves 1,400 of the 1,797 digits for training


def section(title: str) -> None:
    """Prints a section heading."""
    print(f"\n== {title} ==")


def derivative_by_backward() -> None:
    """d(x**3)/dx at x = 2 is 3 * 2**2 = 12, found by ``backward()``."""
    section("The derivative of x**3 at x = 2")
    x = ember.tensor(2.0, requires_grad=True)
    y = x**3
    print("x =", x)
    print("y =", y)
    y.backward()
    print("dy/dx =", x.grad)
    (dydx,) = ember.autograd.grad(x**3, x)  # the same, returned instead of accumulated
    print("ember.autograd.grad(x**3, x) =", dydx)


def chain_rule() -> None:
    """d(sin(x**3))/dx = cos(x**3) * 3 * x**2, assembled by the engine."""
    section("The chain rule through sin")
    x = ember.tensor(2.0, requires_grad=True)
    z = ember.sin(x**3)
    print("z = sin(x**3) =", z)
    z.backward()
    print("dz/dx =", x.grad)
    print("by hand: cos(8) * 12 =", ember.cos(ember.tensor(8.0)) * 12)


def binary_cross_entropy(prediction: Tensor, target: Tensor) -> Tensor:
    """The loss of a predicted probability against a 0/1 target, elementwise."""
    return -(target * ember.log(prediction) + (1 - target) * ember.log(1 - prediction))


def sigmoid_neuron() -> None:
    """One neuron ``sigmoid(w * x + b)``: its loss and the gradients of w and b."""
    section("A single sigmoid neuron")
    x = ember.tensor([6.7, 8.1, 9.0])
    y = ember.tensor([0.0, 1.0, 1.0])
    w = ember.tensor(1.0, requires_grad=True)
    b = ember.tensor(0.0, requires_grad=True)
    prediction = ember.sigmoid(w * x + b)
    loss = binary_cross_entropy(prediction, y).sum()
    print("prediction =", prediction)
    print("loss =", loss)
    loss.backward()
    print("dloss/dw =", w.grad)
    print("dloss/db =", b.grad)


def gradient_accumulation() -> None:
    """Gradients add up over backward calls until ``.grad`` is reset."""
    section("Gradient accumulation")
    x = ember.tensor(2.0, requires_grad=True)
    for step in range(3):
        (x**3).backward()
        print(f"after backward {step + 1}: x.grad = {x.grad}")
    x = ember.tensor(2.0, requires_grad=True)
    for step in range(3):
        (x**3).backward()
        print(f"backward {step + 1}, then x.grad.zero_(): x.grad = {x.grad}")
        x.grad.zero_()


def stop_tracking() -> None:
    """Three ways to compute without recording a graph."""
    section("Stopping gradient tracking")
    x = ember.tensor(2.0, requires_grad=True)
    print("x.requires_grad_(False) ->", x.requires_grad_(False))
    x = ember.tensor(2.0, requires_grad=True)
    print("x.detach() ->", x.detach())
    with ember.no_grad():
        print("x**3 under no_grad() ->", x**3)
    print("x**3 outside it ->", x**3)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Returns the bundled digits: 1,797 images of 64 pixels (0..16) and their labels."""
    path = resources.files("ember") / "data" / "digits.csv.gz"
    with gzip.open(path.open("rb"), "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    return table[:, :-1], table[:, -1]


def log_softmax(logits: Tensor) -> Tensor:
    """Row-wise log-probabilities, computed stably.

    Subtracting each row's largest logit keeps ``exp`` from overflowing; the shift is a
    constant, so it changes neither the result nor the gradient.
    """
    shift = ember.tensor(logits.detach().numpy().max(axis=1, keepdims=True))
    shifted = logits - shift
    return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """The mean negative log-probability of the true labels."""
    rows = ember.arange(labels.shape[0])
    return -log_softmax(logits)[rows, labels].mean()


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """The fraction of rows whose largest logit is at the true label."""
    predicted = logits.detach().numpy().argmax(axis=1)
    return float((predicted == labels.numpy()).mean())


def train_digit_classifier(steps: int = 300, learning_rate: float = 0.5) -> float:
    """Trains softmax regression on the digits; returns the test accuracy."""
    section("Classifying handwritten digits")
    images, labels = load_digits()
    print("the first digit, as 8x8 pixels, is a", labels[0])
    print(ember.tensor(images[0].reshape(8, 8)))

    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    pixels = (images / 16).astype(np.float32)  # scale 0..16 to [0, 1]
    x_train, y_train = ember.tensor(pixels[train]), ember.tensor(labels[train])
    x_test, y_test = ember.tensor(pixels[test]), ember.tensor(labels[test])
    print(f"{len(train)} digits to train on, {len(test)} to test on")

    init = np.random.default_rng(0).normal(0.0, 0.01, size=(64, NUM_CLASSES))
    weight = ember.tensor(init.astype(np.float32), requires_grad=True)
    bias = ember.zeros(NUM_CLASSES, requires_grad=True)
    for step in range(steps + 1):
        loss = cross_entropy(x_train @ weight + bias, y_train)
        if step % 50 == 0:
            print(f"step {step:3d}: training loss {loss.item():.4f}")
        if step == steps:
            break
        loss.backward()
        with ember.no_grad():  # the update itself is not part of the model
            weight -= learning_rate * weight.grad
            bias -= learning_rate * bias.grad
        weight.grad.zero_()
        bias.grad.zero_()

    with ember.no_grad():
        test_logits = x_test @ weight + bias
    probabilities = log_softmax(test_logits[:1]).exp()
    print(f"the first test digit is a {y_test[0].item()}; predicted probabilities:")
    print(probabilities)
    test_accuracy = accuracy(test_logits, y_test)
    print(f"test accuracy: {test_accuracy:.1%}")
    return test_accuracy


def main() -> None:
    """Runs every section in order."""
    derivative_by_backward()
    chain_rule()
    sigmoid_neuron()
    gradient_accumulation()
    stop_tracking()
    train_digit_classifier()


if __name__ == "__main__":
    main()
