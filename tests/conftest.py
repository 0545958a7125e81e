"""Suite-wide settings: hypothesis profiles, the oracle's presence under CI, and the
coverage test's place at the end of the run (tests/test_coverage.py).

Profiles: "ci" (the default) draws a fixed set of examples, so every run tests the same
inputs; ``--hypothesis-profile=thorough`` draws many more, at random, to hunt for new
failures (``--hypothesis-seed=N`` replays one); "random" draws as many as "ci", at random.
"""
from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=400,
                          suppress_health_check=[HealthCheck.too_slow])
# As many examples as "ci", drawn at random (``--hypothesis-seed=N`` picks the draw): what
# tools/planted_bugs.py runs besides "ci", to show a bug is caught whatever the draw.
settings.register_profile("random", deadline=None, max_examples=25, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


def in_ci() -> bool:
    """True under CI (``CI=true``): no test may skip for want of the oracle there."""
    return os.environ.get("CI", "").lower() in ("true", "1")


def pytest_configure(config) -> None:
    if in_ci() and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError(
            "CI=true but torch is not installed: the tests compare ember with torch, and "
            "without it they would all skip. Install the test extra: pip install -e '.[test]'")


def pytest_deselected(items) -> None:
    if items:
        items[0].config.stash[PARTIAL_RUN] = True


PARTIAL_RUN = pytest.StashKey[bool]()


def pytest_collection_modifyitems(session, config, items) -> None:
    # The coverage test reads what the other tests compared: it runs last.
    items.sort(key=lambda item: item.path.name == "test_coverage.py")
    test_dir = os.path.dirname(os.path.abspath(__file__))
    every_file = {name for name in os.listdir(test_dir)
                  if name.startswith("test_") and name.endswith(".py")}
    collected = {item.path.name for item in items}
    config.stash[FULL_SUITE] = (collected >= every_file - {"test_coverage.py"}
                                and not config.getoption("keyword")
                                and not config.getoption("markexpr"))


FULL_SUITE = pytest.StashKey[bool]()
