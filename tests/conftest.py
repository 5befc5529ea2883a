"""Shared test helpers: the ../shared data location and in-process Beam options."""

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
