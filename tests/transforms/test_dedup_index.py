"""Incremental dedup across dumps: index_out / index_in of DedupExact and DedupNearDuplicates.

Two overlapping dumps of real text (the Python language reference shipped with
Python, ``pydoc_data.topics``): dump B holds exact copies and near copies of
dump A's documents, near copies of a document A itself removed, new documents and
duplicates among its own documents.  Deduplicating B against A's indexes must give
the result of deduplicating A ∪ B in one run, except that a cluster holding an A
document keeps that document (so every B member of it is dropped as
``duplicate_of_previous_run``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from pydoc_data.topics import topics

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from tailguard.filters.document import Document
from tailguard.filters.errors import ConfigError
from tailguard.filters.layout import OutputLayout
from tailguard.transforms.dedup_exact import DedupExact, DedupExactConfig
from tailguard.transforms.dedup_near import DedupNearConfig, DedupNearDuplicates

_PREVIOUS = "duplicate_of_previous_run"


def _texts() -> list[str]:
    texts = [" ".join(t.split()[:400]) for _, t in sorted(topics.items()) if len(t.split()) >= 150]
    return texts[:40]


def _near(text: str, seed: int, changes: int = 3) -> str:
    rng = random.Random(seed)
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = f"changed{rng.randrange(10**6)}"
    return " ".join(words)


def _dumps() -> tuple[list[Document], list[Document]]:
    t = _texts()
    # A: 20 documents, one near pair inside (m10 ~ m11)
    a = [Document(f"m{i:02d}", t[i]) for i in range(10)] + [Document("m10", t[10]), Document("m11", _near(t[10], 1))]
    a += [Document(f"m{i:02d}", t[i]) for i in range(12, 20)]
    # B: ids sort before A's, so a one-run union would keep B's copies: the exception under test
    b = [Document(f"b{i:02d}", t[i]) for i in range(3)]  # exact copies of A documents
    b += [Document(f"b{i:02d}", _near(t[i], 100 + i)) for i in range(3, 6)]  # near copies
    b += [Document("b06", _near(_near(t[10], 1), 7))]  # near copy of m11, which A itself removed
    b += [Document(f"b{i:02d}", t[i + 20]) for i in range(7, 17)]  # new documents (texts A does not have)
    b += [Document("b17", t[20].upper()), Document("b18", _near(t[21], 9)), Document("b19", t[21])]
    b += [Document("b20", t[20])]  # an exact pair inside B (b17 ~ b20) and a near pair (b18 ~ b19)
    return a, b


def _pipeline() -> TestPipeline:
    return TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]), blocking=True)


def _run(docs: list[Document], out: Path, exact: DedupExactConfig, near: DedupNearConfig) -> dict[str, tuple]:
    """Run both stages; return {id: ("kept", cluster id) | (stage, reason, detail, previous run)}."""
    layout = OutputLayout(str(out))
    result_path = out / "result"
    with _pipeline() as p:
        first = p | beam.Create(docs) | "Exact" >> DedupExact(exact, layout)
        second = first.docs | "Near" >> DedupNearDuplicates(near, layout)
        kept = second.docs | "Kept" >> beam.Map(lambda d: json.dumps([d.id, "kept", d.dup_cluster_id]))
        dropped = (first.rejected, second.rejected) | "Rejected" >> beam.Flatten()
        lines = dropped | "Why" >> beam.Map(
            lambda r: json.dumps([r.id, r.stage, r.reason, r.detail, r.document.lineage.get(f"{r.stage}.previous_run")])
        )
        _ = (kept, lines) | beam.Flatten() | beam.io.WriteToText(str(result_path))
    out_rows: dict[str, tuple] = {}
    for path in out.glob("result*"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            out_rows[row[0]] = tuple(row[1:])
    return out_rows


def _root(rows: dict[str, tuple], doc_id: str) -> str:
    for _ in range(10):  # exact → near chains
        row = rows[doc_id]
        nxt = row[1] if row[0] == "kept" else row[2]
        if nxt == doc_id or nxt not in rows:
            return nxt
        doc_id = nxt
    return doc_id


@pytest.mark.slow
def test_second_dump_against_the_first_dumps_indexes_equals_one_run_over_both(tmp_path: Path) -> None:
    a, b = _dumps()
    run_a, run_b, union = tmp_path / "run-a", tmp_path / "run-b", tmp_path / "union"
    index_exact, index_near = str(tmp_path / "index-exact-a"), str(tmp_path / "index-near-a")
    rows_a = _run(a, run_a, DedupExactConfig(index_out=index_exact), DedupNearConfig(index_out=index_near))
    rows_b = _run(b, run_b, DedupExactConfig(index_in=(index_exact,)), DedupNearConfig(index_in=(index_near,)))
    rows_u = _run(a + b, union, DedupExactConfig(), DedupNearConfig())
    assert rows_a["m11"][:2] == ("dedup_near", "near_duplicate")  # A removed its own near copy

    a_ids = {d.id for d in a}
    roots_u = {d: _root(rows_u, d) for d in rows_u}
    clusters_with_a = {roots_u[d] for d in a_ids}
    for doc in b:
        if roots_u[doc.id] in clusters_with_a:  # the cluster keeps its A document instead
            stage, reason, detail, previous = rows_b[doc.id]
            assert reason == _PREVIOUS and previous == str(run_a), doc.id
            assert detail in a_ids, doc.id
        else:
            assert rows_b[doc.id][0] == rows_u[doc.id][0], doc.id  # kept / dropped as in the union run
            if rows_b[doc.id][0] != "kept":
                assert rows_b[doc.id][1:3] == rows_u[doc.id][1:3], doc.id
    dropped_b = {d for d, row in rows_b.items() if row[0] != "kept"}
    assert {"b00", "b01", "b02", "b03", "b04", "b05", "b06"} <= dropped_b
    assert rows_b["b00"][:2] == ("dedup_exact", _PREVIOUS) and rows_b["b03"][:2] == ("dedup_near", _PREVIOUS)
    assert rows_b["b06"][2] == "m10"  # the representative of the earlier cluster, not the removed member
    assert json.loads((tmp_path / "index-near-a" / "index.json").read_text())["entries"] == len(a)
    stats = json.loads(Path(OutputLayout(str(run_b)).stats("dedup_near")).read_text())
    assert stats["index_in"] == [{"path": index_near, "run_id": str(run_a)}] and stats[_PREVIOUS] == 4


def test_an_index_written_with_other_parameters_is_refused(tmp_path: Path) -> None:
    a, _ = _dumps()
    index_near = str(tmp_path / "index-near")
    _run(a[:5], tmp_path / "run", DedupExactConfig(), DedupNearConfig(index_out=index_near))
    with pytest.raises(ConfigError, match="dedup_near.index_in.*ngram"):
        DedupNearDuplicates(DedupNearConfig(ngram=3, index_in=(index_near,)))
    with pytest.raises(ConfigError, match="dedup_exact.index_in"):
        DedupExact(DedupExactConfig(index_in=(str(tmp_path / "missing"),)))
