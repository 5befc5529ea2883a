"""`tailguard finalize` writes the manifest of a job that was submitted without waiting (Flex Template path)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
import pytest

from tailguard.filters.layout import OutputLayout
from tailguard.pipelines.config import ConfigError, load_config
from tailguard.pipelines.curate import build_pipeline, finalize
from tailguard.pipelines.stages import RunContext
from tests.conftest import beam_options
from tests.pipelines.helpers import minimal_config


def test_finalize_builds_manifest_and_report_from_work_files(tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "one"}\n{"id": "b", "text": ""}\n{broken\n')
    config = minimal_config(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="has not finished"):
        finalize(["--config", str(config), "--output", str(out)])
    cfg = replace(load_config(config), inputs=(str(src),), output=str(out))
    p = beam.Pipeline(options=beam_options())
    build_pipeline(p, cfg, RunContext(OutputLayout(str(out)), cfg.seed, 2), None)
    p.run().wait_until_finish()  # like deploy/dataflow/main.py: no manifest yet
    assert not (out / "manifest.json").exists()
    assert finalize(["--config", str(config), "--output", str(out)]) == 0
    ledger = json.loads((out / "manifest.json").read_text())["ledger"]
    assert ledger == {**ledger, "input_records": 3, "kept": 1, "dead_letter": 1, "balanced": True}
    assert ledger["dropped"] == {"read": {"empty_text": 1}}
    assert (out / "report.html").exists()
