"""Shared test helpers: the ../shared data location, in-process Beam options, and test order.

The suite runs on two workers (pytest-xdist, ``-n 2 --dist loadscope`` in setup.cfg; ``-n 0`` runs
it in one process).  ``loadscope`` sends each test module whole to one worker, so a module-scoped
fixture is built once; with ``--no-loadscope-reorder`` modules go out in collection order, which
``pytest_collection_modifyitems`` below makes "modules with a ``slow`` test first".  (xdist 3.8's
``loadgroup`` cannot be used: it renames node ids through ``item._nodeid``, which pytest 9 ignores.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def shared_data(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: tests on real third-party data need ../shared/data next to the checkout")
    return path


def beam_options(*extra: str) -> PipelineOptions:
    """In-process runner options (never the Prism-downloading DirectRunner)."""
    return PipelineOptions(["--runner=FnApiRunner", *extra])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the slow tests' modules first, so none of them is left to run alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: else as collected
