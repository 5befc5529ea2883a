"""ReadCrawl and WriteCorpus in real (in-process) Beam pipelines."""

from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.read_crawl import ReadConfig, ReadCrawl
from tailguard.transforms.write_corpus import WriteConfig, WriteCorpus
from tests.conftest import beam_options


def _counter(result, namespace, name):
    counters = result.metrics().query(MetricsFilter().with_namespace(namespace).with_name(name))["counters"]
    return sum(c.committed for c in counters)


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "a1", "text": "alpha"}\n{"id": "a2", "text": ""}\n{oops\n')
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b'{"id": "b1", "text": "beta"}\n'))
    (tmp_path / "c.txt").write_text("unsupported")
    return tmp_path


def test_read_crawl_routes_kept_rejected_and_dead_letter(inputs, tmp_path):
    out = str(tmp_path / "out")
    with beam.Pipeline(options=beam_options()) as p:
        result = p | ReadCrawl(ReadConfig(), [str(inputs / "*")], OutputLayout(out))
        assert_that(result.docs | "Ids" >> beam.Map(lambda d: d.id), equal_to(["a1", "b1"]), label="Kept")
        assert_that(
            result.rejected | "Reasons" >> beam.Map(lambda r: (r.id, r.reason)),
            equal_to([("a2", "empty_text")]),
            label="Rejected",
        )
        assert_that(
            result.dead_letter
            | "Errors" >> beam.Map(lambda d: (d.source.rsplit("/", 1)[-1], d.position, d.error[:12])),
            equal_to([("a.jsonl", 3, "invalid JSON"), ("c.txt", 0, "UnsupportedF")]),
            label="DeadLetter",
        )
    counts = [
        json.loads(line) for line in (tmp_path / "out" / "_work" / "input_records.jsonl").read_text().splitlines()
    ]
    # c.txt has no reader: a failed file, counted as a file and not as an input record (issue 14)
    assert counts == [{"key": ["input"], "count": 4}]


def test_read_crawl_counters(inputs, tmp_path):
    p = beam.Pipeline(options=beam_options())
    _ = p | ReadCrawl(ReadConfig(), [str(inputs / "*.jsonl*")], OutputLayout(str(tmp_path / "out")))
    result = p.run()
    result.wait_until_finish()
    assert _counter(result, "tailguard.read", "passed") == 2
    assert _counter(result, "tailguard.read", "empty_text") == 1
    assert _counter(result, "tailguard.read", "dead_letter") == 1
    assert _counter(result, "tailguard.read", "files") == 2


def _docs(n):
    return [Document(id=f"doc-{i:04d}", text=f"text {i}", repeats=2 if i % 10 == 0 else None) for i in range(n)]


def _write(tmp_path, name, docs, fmt, shards, *extra, config=None):
    out = str(tmp_path / name)
    config = config or WriteConfig(format=fmt)
    with beam.Pipeline(options=beam_options(*extra)) as p:
        _ = p | beam.Create(docs) | WriteCorpus(config, OutputLayout(out), shards)
    return tmp_path / name / "corpus"


def test_write_corpus_writes_every_shard_with_all_copies(tmp_path):
    corpus = _write(tmp_path, "o", _docs(100), "parquet", 4)
    files = sorted(p.name for p in corpus.iterdir())
    assert files == [f"part-{i:05d}-of-00004.parquet" for i in range(4)]
    ids = [r for f in sorted(corpus.iterdir()) for r in pq.read_table(f).column("id").to_pylist()]
    assert len(ids) == 110  # 10 documents have repeats=2
    assert sorted(set(ids)) == [f"doc-{i:04d}" for i in range(100)]


def test_write_corpus_writes_empty_shards(tmp_path):
    corpus = _write(tmp_path, "o", [Document(id="only", text="t")], "jsonl.zst", 3)
    sizes = sorted(
        len(zstandard.ZstdDecompressor().stream_reader(f.open("rb")).read().splitlines()) for f in corpus.iterdir()
    )
    assert len(sizes) == 3 and sum(sizes) == 1


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.zst"])
def test_write_corpus_bytes_do_not_depend_on_input_order_or_worker_count(tmp_path, fmt):
    docs = _docs(300)
    first = _write(tmp_path, "a", docs, fmt, 3)
    second = _write(
        tmp_path, "b", list(reversed(docs)), fmt, 3, "--direct_running_mode=multi_threading", "--direct_num_workers=2"
    )
    for left in sorted(first.iterdir()):
        assert left.read_bytes() == (second / left.name).read_bytes(), left.name


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.zst"])
def test_write_corpus_bytes_do_not_depend_on_the_chunk_count(tmp_path, fmt):
    # A shard is grouped, sorted and spilled in chunks (no shuffle record holds a whole shard:
    # Flink's batch GroupByKey needs each key's values to fit a sort buffer); the merge must give
    # the same bytes as one chunk, with row groups (7 rows here) cut across chunk edges.
    docs = _docs(300)  # ~2.4 KB of text: 1 chunk per shard by default, ~6 at chunk_mb=0.0002
    one = _write(tmp_path, "one", docs, fmt, 2, config=WriteConfig(format=fmt, parquet_row_group_rows=7))
    config = WriteConfig(format=fmt, parquet_row_group_rows=7, chunk_mb=0.0002)
    assert config.chunks_for(1200) == 6
    many = _write(tmp_path, "many", docs, fmt, 2, config=config)
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in many.iterdir()) and len(names) == 2
    for name in names:
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
    if fmt == "parquet":
        meta = pq.ParquetFile(many / names[0]).metadata
        assert meta.num_row_groups == -(-meta.num_rows // 7)
    # The spilled chunks are gone once the shards are written.
    assert list((tmp_path / "many" / "_work" / "write_chunks" / "corpus").glob("*")) == []


def test_write_config_chunks_follow_text_bytes():
    config = WriteConfig(chunk_mb=1)
    assert config.chunks_for(0) == 1
    assert config.chunks_for(10 * 1024 * 1024 + 1) == 11
    with pytest.raises(ValueError, match="chunk_mb"):
        WriteConfig(chunk_mb=0)


def test_write_config_rejects_unknown_format():
    with pytest.raises(ValueError, match="write.format"):
        WriteConfig(format="csv")  # type: ignore[arg-type]
