"""Helpers for pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
import zstandard

from tailguard.pipelines.stages import STAGES


def minimal_config(tmp_path: Path, *, enable: tuple[str, ...] = (), **sections: Any) -> Path:
    """Write a config with every stage disabled except ``enable``; return its path."""
    data: dict[str, Any] = {"pipeline": {"runner": "FnApiRunner"}, "write": {"num_shards": 2}}
    for spec in STAGES:
        data[spec.name] = {"enabled": spec.name in enable}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def read_jsonl_zst_dir(directory: Path) -> list[dict[str, Any]]:
    """Read every ``*.jsonl.zst`` file under ``directory``."""
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.jsonl.zst")):
        data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
        rows.extend(json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip())
    return rows
