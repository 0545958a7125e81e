"""The user's seed notebook, replayed cell by cell with ember serving ``import torch``:
every cell must print exactly what the notebook shows (it was recorded with torch)."""
from __future__ import annotations

import ast
import contextlib
import io
import sys

import pytest

import ember
from tests.data.seed_notebook import CELLS


def _run_cell(source: str, namespace: dict) -> str:
    """What Jupyter shows under a cell: its printed text, then the repr of its last
    expression when that is not None."""
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    return out.getvalue()


@pytest.fixture
def ember_as_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", ember)
    yield


def test_notebook_replays_exactly(ember_as_torch) -> None:
    namespace = {"__name__": "__main__"}
    mismatches = []
    for number, (source, expected) in enumerate(CELLS, 1):
        got = _run_cell(source, namespace)
        if got != expected:
            mismatches.append(f"cell {number}:\n{source}\n--- expected\n{expected}--- got\n{got}")
    assert not mismatches, "\n".join(mismatches)
    assert len(CELLS) == 25
