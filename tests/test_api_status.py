"""docs/api_status.md lists what ember has of torch's tensor API; it must match the code."""
from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_api_status_table_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "api_status", os.path.join(ROOT, "docs", "api_status.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.path.join(ROOT, "docs", "api_status.md"), encoding="utf-8") as f:
        committed = f.read()
    assert committed == module.table(), "run: python docs/api_status.py"
