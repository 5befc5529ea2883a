"""Ingest benchmark: extraction F1, language-ID accuracy on UDHR, ingest throughput.

Prints ONE JSON object to stdout (logs go to stderr):

* ``extraction_f1`` — F1 of the default extractor on the ScrapingHub article-extraction
  benchmark (181 pages), scored with the benchmark's own ``evaluate.py`` (shingle F1,
  no bootstrap); ``extractors`` has F1/precision/recall/docs_per_s per backend.
* ``lid_accuracy_udhr`` — lid.176 top-1 accuracy over UDHR translations whose language
  lid.176 supports (one prediction per whole file); ``lid`` has the line-level accuracy,
  the number of files scored and of unsupported languages.
* ``docs_per_s``, ``mb_per_s``, ``peak_rss_mb`` — the whole ingest chain (read → extract
  → normalise → langid → quality, the same pure functions the Beam DoFns call, in one
  process) over ``crawl/derived/trafilatura-eval-pages.warc.gz``; ``stages`` has per-stage
  seconds and docs/s, ``whole_to_extraction_ratio`` = whole-ingest time / extraction time.

Usage: ``python benchmarks/ingest.py [--shared ../shared/data] [--extractor trafilatura]``
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import logging
import resource
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from tailguard.filters.document import Document
from tailguard.filters.extract import EXTRACTORS, decode_html, make_extractor
from tailguard.filters.langid import LanguageIdentifier
from tailguard.filters.normalize import TextNormalizer
from tailguard.filters.quality.c4 import C4Config, c4_clean_lines, c4_page_filter
from tailguard.filters.quality.fineweb import FineWebConfig, fineweb_quality
from tailguard.filters.quality.gopher import (
    GopherQualityConfig,
    GopherRepetitionConfig,
    gopher_quality,
    gopher_repetition,
)
from tailguard.filters.readers import ReaderOptions, read_records

_LOG = logging.getLogger("benchmarks.ingest")
REPO = Path(__file__).resolve().parents[1]

# ISO 639-3 individual languages in UDHR whose lid.176 label is their macrolanguage's
# ISO 639-1 code (and "als", which lid.176 uses for Alemannic, not Tosk Albanian).
_MACRO = {
    "arb": "ar", "cmn": "zh", "pes": "fa", "swh": "sw", "uzn": "uz", "azj": "az", "khk": "mn",
    "plt": "mg", "ydd": "yi", "gug": "gn", "quy": "qu", "quz": "qu", "mly": "ms", "zsm": "ms",
    "pbu": "ps", "gax": "om", "als": "sq", "lvs": "lv", "ekk": "et", "nob": "no", "bho": "bh", "nhn": "nah",
}  # fmt: skip


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- ingest throughput


def bench_ingest(warc: Path, extractor_name: str) -> dict[str, Any]:
    """Time each ingest stage over one WARC file."""
    extractor = make_extractor(extractor_name)
    normalizer = TextNormalizer()
    model = LanguageIdentifier()
    gq, gr, c4, fw = (
        GopherQualityConfig(),
        GopherRepetitionConfig(),
        C4Config(require_terminal_punctuation=False),
        FineWebConfig(),
    )
    seconds: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    drops: Counter[str] = Counter()
    kept = 0
    start = time.perf_counter()
    with warc.open("rb") as handle:
        t = time.perf_counter()
        items = list(read_records(str(warc), handle, ReaderOptions()))
        seconds["read"] += time.perf_counter() - t
    docs = [i for i in items if isinstance(i, Document)]
    entered["read"] = len(items)
    for doc in docs:
        entered["extract"] += 1
        t = time.perf_counter()
        decoded = decode_html(doc.html or b"", doc.provenance.charset)
        text = extractor(decoded.html, doc.url)
        seconds["extract"] += time.perf_counter() - t
        if not text.strip():
            drops["extract/extraction_empty"] += 1
            continue
        entered["normalize"] += 1
        t = time.perf_counter()
        text = normalizer.normalize(text).text
        seconds["normalize"] += time.perf_counter() - t
        entered["langid"] += 1
        t = time.perf_counter()
        guess = model.identify(text)
        seconds["langid"] += time.perf_counter() - t
        if guess.lang != "en" or guess.score < 0.65:
            drops["langid/not_en_or_low_score"] += 1
            continue
        entered["quality"] += 1
        t = time.perf_counter()
        verdict = gopher_repetition(text, gr)
        if verdict.keep:
            verdict = gopher_quality(text, gq)
        if verdict.keep:
            text = c4_clean_lines(text, c4).text
            verdict = c4_page_filter(text, c4)
        if verdict.keep:
            verdict = fineweb_quality(text, fw)
        seconds["quality"] += time.perf_counter() - t
        if verdict.keep:
            kept += 1
        else:
            drops[f"quality/{verdict.reason}"] += 1
    whole = time.perf_counter() - start
    size_mb = warc.stat().st_size / 1e6
    stages = {
        name: {"seconds": round(seconds[name], 3), "docs": entered[name],
               "docs_per_s": round(entered[name] / seconds[name], 1) if seconds[name] else None}
        for name in ("read", "extract", "normalize", "langid", "quality")
    }  # fmt: skip
    return {
        "file": str(warc.name),
        "file_mb": round(size_mb, 2),
        "extractor": extractor_name,
        "documents": len(docs),
        "kept": kept,
        "drops": dict(sorted(drops.items())),
        "seconds": round(whole, 2),
        "docs_per_s": round(len(docs) / whole, 2),
        "mb_per_s": round(size_mb / whole, 3),
        "stages": stages,
        "whole_to_extraction_ratio": round(whole / seconds["extract"], 3),
        "peak_rss_mb": round(_rss_mb(), 1),
    }


# ----------------------------------------------------------------------------- extraction F1


def _load_evaluate(folder: Path) -> Any:
    spec = importlib.util.spec_from_file_location("aeb_evaluate", folder / "evaluate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_extraction(tarball: Path) -> dict[str, Any]:
    """F1 and speed of every extractor on the ScrapingHub article benchmark."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with tarfile.open(tarball) as tar:
            tar.extractall(folder, filter="data")
        evaluate = _load_evaluate(folder)
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        pages = {key: gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()) for key in truth}
        for name in EXTRACTORS:
            extractor = make_extractor(name)
            predictions: dict[str, dict[str, str]] = {}
            start = time.perf_counter()
            for key, raw in pages.items():
                html = decode_html(raw).html
                predictions[key] = {"articleBody": extractor(html, truth[key].get("url"))}
            elapsed = time.perf_counter() - start
            metrics = evaluate.evaluate(truth, predictions, 0)
            results[name] = {
                "f1": round(metrics["f1"], 4),
                "precision": round(metrics["precision"], 4),
                "recall": round(metrics["recall"], 4),
                "accuracy": round(metrics["accuracy"], 4),
                "pages": len(pages),
                "docs_per_s": round(len(pages) / elapsed, 2),
            }
            _LOG.info("extraction %s: %s", name, results[name])
    return results


# ----------------------------------------------------------------------------- language ID


def _lid_label(stem: str, labels: set[str]) -> str | None:
    import pycountry

    code = stem.split("_", 1)[0].split("-", 1)[0].lower()
    if code.isdigit():
        return None
    if code in _MACRO:
        return _MACRO[code] if _MACRO[code] in labels else None
    if code in labels:
        return code
    language = pycountry.languages.get(alpha_3=code)
    alpha_2 = getattr(language, "alpha_2", None) if language is not None else None
    return alpha_2 if alpha_2 in labels else None


def bench_lid(udhr_zip: Path) -> dict[str, Any]:
    """lid.176 accuracy on UDHR translations (file name = ISO 639-3 code)."""
    model = LanguageIdentifier()
    labels = set(model.labels())
    correct = total = unsupported = lines_correct = lines_total = 0
    confusions: Counter[str] = Counter()
    with zipfile.ZipFile(udhr_zip) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".txt")):
            stem = name.rsplit("/", 1)[-1][:-4]
            label = _lid_label(stem, labels)
            if label is None:
                unsupported += 1
                continue
            text = archive.read(name).decode("utf-8", "replace")
            guess = model.identify(text)
            total += 1
            correct += guess.lang == label
            if guess.lang != label:
                confusions[f"{stem}->{guess.lang}"] += 1
            for line in text.splitlines():
                if len(line.strip()) >= 40:
                    lines_total += 1
                    lines_correct += model.identify(line).lang == label
    return {
        "accuracy": round(correct / total, 4),
        "files_scored": total,
        "files_unsupported": unsupported,
        "line_accuracy": round(lines_correct / lines_total, 4),
        "lines_scored": lines_total,
        "misclassified_examples": sorted(confusions)[:25],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--extractor", default="trafilatura", choices=EXTRACTORS, help="extractor of the ingest run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    shared = args.shared.resolve()
    ingest = bench_ingest(shared / "crawl" / "derived" / "trafilatura-eval-pages.warc.gz", args.extractor)
    _LOG.info("ingest: %s", ingest)
    extraction = bench_extraction(shared / "html" / "article-extraction-benchmark.tar.xz")
    lid = bench_lid(shared / "human" / "nltk_data" / "udhr2.zip")
    out = {
        "extraction_f1": extraction[args.extractor]["f1"],
        "extraction_default": args.extractor,
        "extractors": extraction,
        "lid_accuracy_udhr": lid["accuracy"],
        "lid": lid,
        "docs_per_s": ingest["docs_per_s"],
        "mb_per_s": ingest["mb_per_s"],
        "peak_rss_mb": ingest["peak_rss_mb"],
        "whole_to_extraction_ratio": ingest["whole_to_extraction_ratio"],
        "ingest": ingest,
        "peak_rss_mb_all_benchmarks": round(_rss_mb(), 1),
    }
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
