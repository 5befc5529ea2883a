"""The output folder layout: one frozen object owns every path under ``OUTPUT/``.

Writers (the stage transforms, the driver) and readers (manifest, report,
``finalize``, ``report compare``) ask :class:`OutputLayout` for a path instead
of spelling folder names themselves, so the layout is written down once::

    OUTPUT/
    ├── corpus/part-SSSSS-of-NNNNN.<ext>      the mixed corpus
    ├── tiers/<tier>/part-SSSSS-of-NNNNN.<ext> per-tier views (write.per_tier)
    ├── rejected/<stage>/part-*.jsonl.zst      dropped documents, per stage
    ├── dead_letter/part-*.jsonl.zst           records that raised
    ├── manifest.json                          written last: marks a finished run
    ├── report.json, report.html
    ├── _demo/                                 tailguard demo only: the sample and its models
    └── _work/                                 small files the manifest is built from
        ├── tailguard-run.json                 marks a folder tailguard owns
        ├── inputs.jsonl, input_records.jsonl, shards.jsonl, ledger.jsonl
        ├── stats/<section>.json               one manifest section per stage
        └── ingest/batch-NNNNN-<key>/          a resumable run's checkpoints: each
                                               batch is an OutputLayout of its own

Paths are plain strings joined the way Beam's ``FileSystems.join`` joins them
(``os.path.join`` locally, ``/`` for ``gs://`` and other schemes), so this
module stays Beam-free and every path may be remote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["OutputLayout", "join_path", "shard_name"]

# Folder and file names.  Only this module spells them.
_CORPUS = "corpus"
_TIERS = "tiers"
_REJECTED = "rejected"
_DEAD_LETTER = "dead_letter"
_WORK = "_work"
_STATS = "stats"
_INGEST = "ingest"
_MANIFEST = "manifest.json"
_REPORT_JSON = "report.json"
_REPORT_HTML = "report.html"
_RUN_MARKER = "tailguard-run.json"
_BATCH_DONE = "_DONE"
_DEMO = "_demo"
_SIDE_PREFIX = "part"
_SIDE_SUFFIX = ".jsonl.zst"


def join_path(base: str, *parts: str) -> str:
    """Join ``parts`` onto ``base`` as Beam's ``FileSystems.join`` would.

    Args:
        base: A local path or a URL with a scheme (``gs://bucket/dir``).
        parts: Path components.

    Returns:
        The joined path.
    """
    if "://" in base:
        return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])
    return os.path.join(base, *parts)


def shard_name(shard: int, num_shards: int, ext: str) -> str:
    """Return ``part-SSSSS-of-NNNNN.<ext>``, the corpus shard naming of STYLE §17."""
    return f"part-{shard:05d}-of-{num_shards:05d}.{ext}"


@dataclass(frozen=True)
class OutputLayout:
    """Every path of one run's output folder (or of one ingest batch's checkpoint).

    Attributes:
        root: The output directory (local or ``gs://``).
    """

    root: str

    # ------------------------------------------------------------------ final outputs
    @property
    def corpus_dir(self) -> str:
        """Folder of the mixed corpus shards."""
        return join_path(self.root, _CORPUS)

    def corpus_shard(self, shard: int, num_shards: int, ext: str) -> str:
        """Path of one corpus shard."""
        return join_path(self.corpus_dir, shard_name(shard, num_shards, ext))

    def corpus_glob(self, ext: str) -> str:
        """Glob matching every corpus shard with extension ``ext``."""
        return join_path(self.corpus_dir, f"*.{ext}")

    @property
    def tiers_dir(self) -> str:
        """Folder holding one sub-folder of shards per provenance tier."""
        return join_path(self.root, _TIERS)

    def tier_dir(self, tier: str) -> str:
        """Folder of one tier's (or ensemble recipe's) corpus."""
        return join_path(self.tiers_dir, tier)

    @property
    def rejected_dir(self) -> str:
        """Folder with one sub-folder of rejected records per stage."""
        return join_path(self.root, _REJECTED)

    def rejected_prefix(self, stage: str) -> str:
        """File prefix of ``stage``'s rejected records (``WriteToText`` adds shard + suffix)."""
        return join_path(self.rejected_dir, stage, _SIDE_PREFIX)

    @property
    def dead_letter_dir(self) -> str:
        """Folder of dead-letter records."""
        return join_path(self.root, _DEAD_LETTER)

    @property
    def dead_letter_prefix(self) -> str:
        """File prefix of dead-letter records."""
        return join_path(self.dead_letter_dir, _SIDE_PREFIX)

    @property
    def side_suffix(self) -> str:
        """File suffix of rejected and dead-letter files."""
        return _SIDE_SUFFIX

    @property
    def manifest(self) -> str:
        """``manifest.json``; written last, its presence marks a finished run."""
        return join_path(self.root, _MANIFEST)

    @property
    def report_json(self) -> str:
        """``report.json``."""
        return join_path(self.root, _REPORT_JSON)

    @property
    def report_html(self) -> str:
        """``report.html``."""
        return join_path(self.root, _REPORT_HTML)

    # ------------------------------------------------------------------ _work
    @property
    def work_dir(self) -> str:
        """Folder of the small intermediate files the manifest is built from."""
        return join_path(self.root, _WORK)

    @property
    def run_marker(self) -> str:
        """File that marks the folder as a tailguard run (finished or not)."""
        return join_path(self.work_dir, _RUN_MARKER)

    @property
    def inputs_list(self) -> str:
        """One JSON line per matched input file."""
        return join_path(self.work_dir, "inputs.jsonl")

    @property
    def input_records(self) -> str:
        """Records read, counted by the reader independently of the three outputs."""
        return join_path(self.work_dir, "input_records.jsonl")

    @property
    def shard_list(self) -> str:
        """One JSON line per written corpus shard."""
        return join_path(self.work_dir, "shards.jsonl")

    @property
    def ledger_counts(self) -> str:
        """Kept / dropped / dead-letter counts the ledger is built from."""
        return join_path(self.work_dir, "ledger.jsonl")

    @property
    def stats_dir(self) -> str:
        """Folder of per-stage statistics, one manifest section per file."""
        return join_path(self.work_dir, _STATS)

    def stats(self, section: str) -> str:
        """Statistics file of one manifest section (``dedup_near``, ``tiers``, ``mixing`` ...)."""
        return join_path(self.stats_dir, f"{section}.json")

    @property
    def stats_glob(self) -> str:
        """Glob matching every statistics file."""
        return join_path(self.stats_dir, "*.json")

    def work(self, *parts: str) -> str:
        """A stage-private path under ``_work/`` (e.g. ``work("dedup_near", "edges")``)."""
        return join_path(self.work_dir, *parts)

    # ------------------------------------------------------------------ resumable runs
    @property
    def ingest_dir(self) -> str:
        """Folder of a resumable run's ingest checkpoints."""
        return join_path(self.work_dir, _INGEST)

    def batch(self, index: int, key: str) -> OutputLayout:
        """The layout of ingest batch ``index`` (``key`` hashes the config and the batch's files)."""
        return OutputLayout(join_path(self.ingest_dir, f"batch-{index:05d}-{key}"))

    @property
    def batch_done(self) -> str:
        """Completion record of an ingest batch (this layout being the batch's)."""
        return join_path(self.root, _BATCH_DONE)

    @property
    def name(self) -> str:
        """Last component of ``root`` (an ingest batch's name)."""
        return self.root.rstrip("/").rsplit("/", 1)[-1]

    @property
    def demo_name(self) -> str:
        """Name of the demo's folder (sample + models) relative to ``root`` (the demo reads it relatively)."""
        return _DEMO

    @property
    def demo_dir(self) -> str:
        """``tailguard demo``'s folder of the generated sample and the models trained on it."""
        return join_path(self.root, _DEMO)

    def owned_top_level(self) -> tuple[str, ...]:
        """Every top-level path tailguard writes (what ``--overwrite`` may delete)."""
        return (
            self.corpus_dir,
            self.tiers_dir,
            self.rejected_dir,
            self.dead_letter_dir,
            self.work_dir,
            self.manifest,
            self.report_json,
            self.report_html,
        )
