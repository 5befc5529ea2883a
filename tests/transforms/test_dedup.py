"""DedupExact and DedupNearDuplicates on the in-process FnApiRunner."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tailguard.filters.dedup import MinHasher, estimate_jaccard, word_shingles
from tailguard.filters.document import Document, Provenance
from tailguard.transforms._components import ConnectedComponents
from tailguard.transforms.dedup_exact import DedupExact, DedupExactConfig
from tailguard.transforms.dedup_near import DedupNearConfig, DedupNearDuplicates

_VOCAB = [f"w{i}" for i in range(5000)]


def _words(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_VOCAB) for _ in range(n)]


def _pipeline(*extra: str) -> TestPipeline:
    return TestPipeline(options=PipelineOptions(["--runner=FnApiRunner", *extra]), blocking=True)


def _kept(docs: beam.PCollection) -> beam.PCollection:
    return docs | "KeptIds" >> beam.Map(lambda d: (d.id, d.dup_cluster_id, d.dup_cluster_size))


def _rejected(rejected: beam.PCollection) -> beam.PCollection:
    return rejected | "RejectedIds" >> beam.Map(lambda r: (r.id, r.reason, r.detail))


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    counters = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed for c in counters)


def test_chain_a_b_c_is_one_cluster_even_when_a_and_c_are_not_similar() -> None:
    words = _words(1, 240)
    a, b, c = (" ".join(words[s : s + 200]) for s in (0, 20, 40))
    config = DedupNearConfig(threshold=0.8)
    hasher = MinHasher(config.num_perm, config.seed)
    sig = {k: hasher.signature(word_shingles(t)) for k, t in (("a", a), ("c", c))}
    assert estimate_jaccard(sig["a"], sig["c"]) < config.cutoff()  # A and C alone would not merge
    docs = [Document("a", a), Document("b", b), Document("c", c), Document("z", " ".join(_words(2, 200)))]
    p = _pipeline()
    out = p | beam.Create(docs) | DedupNearDuplicates(config)
    assert_that(_kept(out.docs), equal_to([("a", "a", 3), ("z", "z", 1)]), label="Kept")
    assert_that(
        _rejected(out.rejected),
        equal_to([("b", "near_duplicate", "a"), ("c", "near_duplicate", "a")]),
        label="Rejected",
    )
    result = p.run()
    assert _counter(result, "near_duplicate") == 2 and _counter(result, "passed") == 2


def test_star_of_variants_around_a_hub_is_one_cluster_with_the_best_quality_survivor() -> None:
    hub = _words(3, 300)
    docs = [Document("hub", " ".join(hub), quality={"score": 0.1})]
    for i in range(6):  # each variant replaces a different 5-word span: similar to the hub
        variant = list(hub)
        variant[40 * i : 40 * i + 5] = _words(100 + i, 5)
        docs.append(Document(f"v{i}", " ".join(variant), quality={"score": 0.5 if i == 3 else 0.2}))
    p = _pipeline()
    out = p | beam.Create(docs) | DedupNearDuplicates(DedupNearConfig())
    assert_that(_kept(out.docs), equal_to([("v3", "v3", 7)]), label="Kept")
    expected = [(d.id, "near_duplicate", "v3") for d in docs if d.id != "v3"]
    assert_that(_rejected(out.rejected), equal_to(expected), label="Rejected")
    p.run()


def test_hot_buckets_are_capped_counted_and_lose_no_record() -> None:
    base = _words(4, 100)
    docs = [Document(f"d{i}", " ".join([*base, f"tail{i}"])) for i in range(12)]
    p = _pipeline()
    out = p | beam.Create(docs) | DedupNearDuplicates(DedupNearConfig(hot_bucket_cap=3))
    all_ids = (
        out.docs | "DocIds" >> beam.Map(lambda d: d.id),
        out.rejected | "RejIds" >> beam.Map(lambda r: r.id),
    ) | beam.Flatten()
    assert_that(all_ids, equal_to([d.id for d in docs]), label="EveryRecordOnce")
    result = p.run()
    assert _counter(result, "hot_buckets") > 0
    assert _counter(result, "hot_bucket_members_skipped") > 0


def test_exact_duplicates_urls_and_revisits_are_dropped_with_reasons() -> None:
    text = "Some page text that repeats.\nSecond line."
    docs = [
        Document("t1", text),
        Document("t2", "  some PAGE text that repeats. second line. ".replace(". s", ".\ns")),
        Document("u-old", "old version", url="https://www.example.com/p?utm_source=x", crawl_date="2019-05-01"),
        Document("u-new", "new version", url="http://example.com/p", crawl_date="2023-05-01"),
        Document("rv", "anything", provenance=Provenance(record_type="revisit", revisit_of="sha1:ABC")),
        Document("solo", "unique text"),
    ]
    p = _pipeline()
    out = p | beam.Create(docs) | DedupExact(DedupExactConfig())
    assert_that(out.docs | beam.Map(lambda d: d.id), equal_to(["t1", "u-new", "solo"]), label="Kept")
    expected = [
        ("t2", "exact_duplicate", "t1"),
        ("u-old", "duplicate_url", "u-new"),
        ("rv", "exact_duplicate", "revisit_of:sha1:ABC"),
    ]
    assert_that(_rejected(out.rejected), equal_to(expected), label="Rejected")
    result = p.run()
    assert _counter(result, "duplicate_url") == 1


def test_line_dedup_drop_all_removes_repeated_lines_and_empty_documents() -> None:
    docs = [
        Document("a", "Cookie banner\nUnique A line"),
        Document("b", "Cookie banner\nUnique B line"),
        Document("c", "Cookie banner"),
    ]
    p = _pipeline()
    out = p | beam.Create(docs) | DedupExact(DedupExactConfig(line_dedup="drop_all"))
    assert_that(
        out.docs | beam.Map(lambda d: (d.id, d.text)), equal_to([("a", "Unique A line"), ("b", "Unique B line")])
    )
    assert_that(
        out.rejected | beam.Map(lambda r: (r.id, r.reason)), equal_to([("c", "duplicate_lines")]), label="Rejected"
    )
    p.run()


def _random_graph(seed: int, nodes: int, edges: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    names = [f"n{rng.getrandbits(40):012x}" for _ in range(nodes)]
    out = set()
    while len(out) < edges:
        a, b = rng.sample(names, 2)
        out.add((max(a, b), min(a, b)))
    return sorted(out)


def _components(edges: list[tuple[str, str]]) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


def test_connected_components_match_union_find_on_a_random_graph() -> None:
    edges = _random_graph(5, 400, 380)
    truth = _components(edges)
    expected = [(node, root) for node, root in truth.items() if node != root]
    p = _pipeline()
    assigned, _ = p | beam.Create(edges) | ConnectedComponents(12, "keep_separate")
    assert_that(assigned, equal_to(expected))
    p.run()


def test_unconverged_components_stay_separate_and_never_merge_wrongly() -> None:
    edges = _random_graph(6, 300, 290)
    truth = _components(edges)
    p = _pipeline()
    assigned, _ = p | beam.Create(edges) | ConnectedComponents(1, "keep_separate")
    assigned = assigned | beam.combiners.ToList()

    def check(pairs: list[list[tuple[str, str]]]) -> None:
        pairs_list = pairs[0]
        roots = {root for _, root in pairs_list}
        children = {child for child, _ in pairs_list}
        assert len(children) == len(pairs_list), "a node was assigned twice"
        assert not roots & children, "a removed node was named as a survivor"
        assert all(truth[child] == truth[root] for child, root in pairs_list), "merged across components"
        assert len(pairs_list) < sum(1 for n, r in truth.items() if n != r), "expected some unconverged nodes"

    assert_that(assigned, check)
    result = p.run()
    assert _counter(result, "unconverged_nodes") > 0


def test_unconverged_components_fail_the_run_when_configured() -> None:
    p = _pipeline()
    _ = p | beam.Create(_random_graph(6, 300, 290)) | ConnectedComponents(1, "fail")
    with pytest.raises(Exception, match="did not converge"):
        p.run()


def _corpus() -> list[Document]:
    docs = []
    for cluster in range(15):
        base = _words(1000 + cluster, 150)
        for copy in range(3):
            variant = list(base)
            variant[30 * copy : 30 * copy + 3] = _words(5000 + 10 * cluster + copy, 3)
            docs.append(Document(f"c{cluster:02d}-{copy}", " ".join(variant), quality={"score": float(copy % 2)}))
    docs += [Document(f"s{i:02d}", " ".join(_words(9000 + i, 150))) for i in range(20)]
    return docs


def _run_and_collect(tmp_path: Path, name: str, *flags: str, config: DedupNearConfig | None = None) -> list[str]:
    out_prefix = str(tmp_path / name / "out")
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", *flags])) as p:
        outs = p | beam.Create(_corpus()) | DedupNearDuplicates(config or DedupNearConfig())
        kept = outs.docs | "K" >> beam.Map(lambda d: json.dumps(["kept", d.id, d.dup_cluster_id, d.dup_cluster_size]))
        dropped = outs.rejected | "R" >> beam.Map(lambda r: json.dumps(["dropped", r.id, r.reason, r.detail]))
        _ = (kept, dropped) | beam.Flatten() | beam.io.WriteToText(out_prefix)
    lines = []
    for path in sorted((tmp_path / name).glob("out*")):
        lines += path.read_text().splitlines()
    return sorted(lines)


def test_band_shard_count_does_not_change_the_result(tmp_path: Path) -> None:
    default = _run_and_collect(tmp_path, "one-shard")  # 65 documents x 20 bands: a single shard
    many = _run_and_collect(tmp_path, "many-shards", config=DedupNearConfig(band_shard_size=7))  # ~186 shards
    assert default == many
    unverified = _run_and_collect(tmp_path, "unverified", config=DedupNearConfig(verify_jaccard=False))
    assert sum(1 for line in unverified if line.startswith('["kept"')) == 35  # same clusters without verification


def test_survivors_are_identical_across_runs_and_running_modes(tmp_path: Path) -> None:
    first = _run_and_collect(tmp_path, "a")
    again = _run_and_collect(tmp_path, "b")
    threaded = _run_and_collect(tmp_path, "c", "--direct_running_mode=multi_threading", "--direct_num_workers=2")
    assert first == again == threaded
    kept = [json.loads(x) for x in first if x.startswith('["kept"')]
    assert len(kept) == 35  # 15 clusters + 20 singletons
    assert sorted(k[1] for k in kept if k[3] == 3) == [f"c{c:02d}-1" for c in range(15)]  # best quality wins
