"""The Parquet corpus loads where models are trained: HF datasets, DuckDB, pyarrow (issue 14)."""

from __future__ import annotations

import json
from glob import glob
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tailguard.pipelines.curate import run
from tests.pipelines.helpers import minimal_config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("loaders")
    (tmp / "in.jsonl").write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": f"document {i} of the loader test", "score": i}) + "\n"
            for i in range(12)
        )
    )
    out = tmp / "out"
    # 12 documents over 16 shards: some shards are empty, and an empty shard must load too.
    config = minimal_config(tmp, write={"num_shards": 16})
    assert run(["--config", str(config), "--input", str(tmp / "in.jsonl"), "--output", str(out)]) == 0
    return str(out)


def test_hf_datasets_loads_the_corpus(corpus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    datasets = pytest.importorskip("datasets", reason="HF datasets is in the test extra")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    O = corpus  # noqa: E741, N806 - the exact call of the issue's interface
    loaded = datasets.load_dataset(
        "parquet", data_files=sorted(glob(O + "/corpus/*.parquet")), cache_dir=str(tmp_path / "hf")
    )
    train = loaded["train"]
    assert sorted(train["id"]) == sorted(f"d{i}" for i in range(12))
    assert len(glob(O + "/corpus/*.parquet")) == 16
    row = train[0]
    assert isinstance(row["metadata"], list) and set(row["metadata"][0]) == {"key", "value"}
    assert {m["key"]: m["value"] for m in row["metadata"]}["score"] == row["id"][1:]


def test_duckdb_reads_maps_as_key_value_lists(corpus: str):
    duckdb = pytest.importorskip("duckdb", reason="DuckDB is in the test extra")
    rows = duckdb.sql(
        f"SELECT id, list_filter(metadata, lambda m: m.key = 'score')[1].value AS score "
        f"FROM read_parquet('{corpus}/corpus/*.parquet') ORDER BY id"
    ).fetchall()
    assert len(rows) == 12 and all(score == doc_id[1:] for doc_id, score in rows)


def test_shards_record_the_schema_version(corpus: str):
    for shard in sorted(glob(corpus + "/corpus/*.parquet")):
        meta = pq.read_schema(shard).metadata
        assert meta[b"tailguard.schema"] == b"document_v2"
        assert meta[b"tailguard.map_encoding"] == b"list<struct<key,value>>"
