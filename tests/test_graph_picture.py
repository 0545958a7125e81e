"""``ember.autograd.graph.to_dot``: the DOT text describes exactly the graph torch records
for the same code (node names and edges), and renders to SVG when Graphviz is present."""
from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest

import ember
from ember.autograd.graph import to_dot
from tests.helpers import torch


def neuron(L):
    x = L.tensor([6.7, 8.1, 9.0])
    y = L.tensor([0.0, 1.0, 1.0])
    w = L.tensor(1.0, requires_grad=True)
    b = L.tensor(0.0, requires_grad=True)
    p = L.sigmoid(w * x + b)
    loss = -(y * L.log(p) + (1 - y) * L.log(1 - p))
    return loss.sum(), w, b


def torch_graph(t) -> tuple[Counter, int]:
    names, edges, seen, stack = Counter(), 0, set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        names[node.name()] += 1
        for child, _ in node.next_functions:
            if child is not None:
                edges += 1
                stack.append(child)
    return names, edges


def parse_dot(source: str) -> tuple[dict, list]:
    labels = dict(re.findall(r"^\s+(\w+) \[label=\"([^\"]*)\"", source, re.M))
    edges = re.findall(r"^\s+(\w+) -> (\w+)", source, re.M)
    return labels, edges


def test_dot_text_matches_torchs_graph() -> None:
    t_loss, _, _ = neuron(torch)
    e_loss, w, b = neuron(ember)
    source = str(to_dot(e_loss, params={"w": w, "b": b}))
    assert source.startswith("digraph {") and source.rstrip().endswith("}")
    labels, edges = parse_dot(source)
    names, n_edges = torch_graph(t_loss)
    node_labels = Counter(label for key, label in labels.items() if key.startswith("n"))
    leaves = names.pop("torch::autograd::AccumulateGrad")
    assert sum(1 for lab in node_labels if lab in ("w\\n()", "b\\n()")) == leaves == 2
    for lab in ("w\\n()", "b\\n()"):
        del node_labels[lab]
    assert node_labels == names
    node_edges = [e for e in edges if not e[1].startswith("out")]
    assert len(node_edges) == n_edges
    assert all(a in labels and b in labels for a, b in edges)


def test_show_saved_lists_saved_tensors() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    labels, edges = parse_dot(str(to_dot(y, show_saved=True)))
    saved = sorted(label for key, label in labels.items() if key.startswith("s"))
    assert saved == ["other (2)", "result (2)", "self (2)"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_svg(tmp_path) -> None:
    loss, w, b = neuron(ember)
    out = to_dot(loss, params={"w": w, "b": b}).render(str(tmp_path / "neuron"), format="svg")
    text = open(out, encoding="utf-8").read()
    assert "<svg" in text and "SigmoidBackward0" in text


def test_render_without_dot_names_the_program(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, _, _ = neuron(ember)
    with pytest.raises(RuntimeError, match="'dot' program"):
        to_dot(loss).render(str(tmp_path / "g"))


def test_show_saved_with_several_outputs() -> None:
    a = ember.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    s = ember.linalg.svd(a)[1].sum()
    labels, _ = parse_dot(str(to_dot(s, show_saved=True)))
    saved = sorted(label for key, label in labels.items() if key.startswith("s"))
    assert saved == ["result0 (2, 2)", "result1 (2)", "result2 (2, 2)"]


def test_show_saved_skips_outputs_a_node_does_not_keep() -> None:
    # GELU's node keeps its input and its workspace (output 1), not its result
    x = ember.tensor([1.0, -2.0, 0.5], requires_grad=True)
    s = ember.nn.functional.gelu(x).sum()
    labels, _ = parse_dot(str(to_dot(s, show_saved=True)))
    saved = sorted(label for key, label in labels.items() if key.startswith("s"))
    assert saved == ["result1 (3)", "self (3)"]
