"""The curation DAG and the ``tailguard run`` driver.

::

    ReadCrawl ─► [enabled stages, in STAGES order] ─► WriteCorpus
        │  every stage: rejected ─► OUTPUT/rejected/<stage>/   dead letter ─► OUTPUT/dead_letter/
        └─ all streams ─► WriteLedger ─► OUTPUT/_work/ledger.jsonl ─► manifest.json (after the run)

Resumable runs (``resume.enabled``, the default) run the same DAG in two phases:

1. **ingest**, per batch of input files: ReadCrawl + the leading per-document
   stages (extraction, language ID, quality), written to
   ``_work/ingest/batch-NNNNN-<key>/`` and closed by a ``_DONE`` completion record;
2. **curate**, once: the corpus-wide stages (dedup, detection, tiers, mixing) over
   all checkpoints, then the corpus.

A run that is killed and restarted with the same config and output skips the
batches that have a completion record; the batch key hashes the config and the
batch's files, so a changed config never reuses stale checkpoints.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from tailguard.filters.errors import ConfigError
from tailguard.filters.layout import OutputLayout, join_path
from tailguard.pipelines.config import CurationConfig, load_config, option_flags
from tailguard.pipelines.manifest import (
    Manifest,
    build_manifest,
    counters_of,
    print_summary,
    run_warnings,
    tailguard_version,
    write_manifest,
)
from tailguard.pipelines.report import write_report
from tailguard.pipelines.stages import RunContext, StageSpec
from tailguard.transforms import _coders  # noqa: F401  (registers the Document coder for every stage)
from tailguard.transforms.accounting import StageOutputs, WriteAccounting
from tailguard.transforms.collapse import MeasureCollapse
from tailguard.transforms.read_crawl import READ_STAGE, ReadCrawl
from tailguard.transforms.unique_ids import STAGE as UNIQUE_IDS_STAGE
from tailguard.transforms.unique_ids import AssignUniqueIds
from tailguard.transforms.write_corpus import WriteConfig, WriteCorpus

__all__ = [
    "JobNotFinishedError",
    "RunResult",
    "build_pipeline",
    "check_output",
    "claim_output",
    "finalize",
    "parse_run_args",
    "run",
    "run_config",
]

_LOG = logging.getLogger("tailguard")


def _build_dag(
    p: beam.Pipeline,
    cfg: CurationConfig,
    stages_to_run: Sequence[tuple[StageSpec, Any]],
    inputs: Sequence[str],
    write: WriteConfig,
    context: RunContext,
    total_files: int | None,
    final: bool = True,
    report_inputs: bool = True,
) -> dict[str, StageOutputs]:
    """ReadCrawl → ``stages_to_run`` → WriteCorpus, with rejected/dead-letter sinks and the ledger.

    ``final`` marks the phase that writes the real corpus: only it measures collapse indicators.
    """
    layout = context.layout
    read = ReadCrawl(cfg.read, inputs, layout, total_files, report_inputs)
    stages: dict[str, StageOutputs] = {READ_STAGE: p | "ReadCrawl" >> read}
    docs = stages[READ_STAGE].docs
    # Ids must be unique before the first stage that keys on them (dedup, mixing) and in the
    # corpus; the per-document stages before it do not care, so a resumable run renames in its
    # curate phase, where every batch's documents meet.
    unique_ids = AssignUniqueIds(layout.stats(UNIQUE_IDS_STAGE))
    for spec, stage_cfg in stages_to_run:
        if final and unique_ids is not None and not spec.per_document:
            docs, unique_ids = docs | "AssignUniqueIds" >> unique_ids, None
        stages[spec.name] = docs | spec.label >> spec.build(stage_cfg, context)
        docs = stages[spec.name].docs
    if final and unique_ids is not None:
        docs = docs | "AssignUniqueIds" >> unique_ids
    _ = docs | "WriteCorpus" >> WriteCorpus(write, layout, context.num_shards, context.seed, report_progress=final)
    if final and cfg.collapse.enabled:
        _ = docs | "MeasureCollapse" >> MeasureCollapse(cfg.collapse, layout)
    # Every stage's rejected and dead-letter streams, and the ledger counts of all of them.
    _ = stages | "WriteAccounting" >> WriteAccounting(layout, docs, write.rejected_text, READ_STAGE)
    return stages


def build_pipeline(p: beam.Pipeline, cfg: CurationConfig, context: RunContext, total_files: int | None) -> None:
    """Add the whole curation DAG (one phase, every enabled stage) to ``p``."""
    _build_dag(p, cfg, cfg.enabled_stages(), cfg.inputs, cfg.write, context, total_files)


@dataclass(frozen=True)
class RunResult:
    """What a finished run produced."""

    manifest: Manifest
    output_dir: str

    @property
    def balanced(self) -> bool:
        """Whether the ledger balances exactly."""
        return bool(self.manifest.data["ledger"]["balanced"])


def _match_inputs(patterns: Sequence[str]) -> list[tuple[str, int]]:
    """Match every pattern at launch; return sorted unique ``(path, size)``.

    Fails (exit 2) when a pattern matches nothing or names a directory: a
    directory is not expanded (which of its files are input is the user's call),
    and reading it as a file would only dead-letter an ``IsADirectoryError``.
    """
    found: dict[str, int] = {}
    for pattern in patterns:
        try:
            result = FileSystems.match([pattern])[0]
        except Exception as exc:  # Beam raises BeamIOError with per-pattern causes
            raise ConfigError(f"input pattern {pattern!r} cannot be matched: {exc}") from exc
        if not result.metadata_list:
            raise ConfigError(f"input pattern {pattern!r} matches no files")
        directories = [m.path for m in result.metadata_list if "://" not in m.path and os.path.isdir(m.path)]
        if directories:
            raise ConfigError(
                f"--input {pattern!r} is a directory ({directories[0]}); give a glob of its files, "
                f"e.g. '{directories[0].rstrip('/')}/*' or '{directories[0].rstrip('/')}/**'"
            )
        found.update((m.path, m.size_in_bytes) for m in result.metadata_list)
    return sorted(found.items())


def _delete(*paths: str) -> None:
    for path in paths:
        if FileSystems.exists(path):
            FileSystems.delete([path])


def _output_entries(layout: OutputLayout) -> list[str]:
    """What the output folder holds already (top-level names locally; every object for ``gs://``)."""
    if "://" not in layout.root:
        return sorted(os.listdir(layout.root)) if os.path.isdir(layout.root) else []
    try:
        return [m.path for m in FileSystems.match([join_path(layout.root, "**")])[0].metadata_list]
    except Exception:  # noqa: BLE001 - an unreachable bucket is reported by the write probe
        return []


def check_output(layout: OutputLayout, overwrite: bool) -> None:
    """Refuse (exit 2) an output folder tailguard must not write into.

    A finished run (``manifest.json``) needs ``--overwrite``; so does a
    non-empty folder without tailguard's marker (``_work/tailguard-run.json``):
    it is not a tailguard run, and nothing in it may be deleted.  An empty or
    missing folder, or an unfinished tailguard run (which is resumed), is fine.

    Raises:
        ConfigError: Naming ``--output`` and what to do.
    """
    try:
        finished = FileSystems.exists(layout.manifest)
        marked = FileSystems.exists(layout.run_marker)
    except Exception as exc:  # noqa: BLE001 - e.g. a bucket that does not exist or no credentials
        raise ConfigError(f"--output: cannot reach {layout.root}: {type(exc).__name__}: {exc}") from exc
    if finished:
        if not overwrite:
            raise ConfigError(
                f"--output: {layout.root} already holds a finished run (manifest.json); pass --overwrite to replace it"
            )
        return
    entries = _output_entries(layout)
    if entries and not marked and not overwrite:
        raise ConfigError(
            f"--output: {layout.root} is not empty and is not a tailguard run (no {layout.run_marker}); "
            "choose an empty or new folder, or pass --overwrite (only tailguard's own files are replaced)"
        )


def claim_output(layout: OutputLayout) -> None:
    """Write tailguard's marker; this is also the check that the output is writable (exit 2 when not)."""
    marker = json.dumps({"tool": "tailguard", "version": tailguard_version(), "layout": "OutputLayout"})
    try:
        if "://" not in layout.root:
            os.makedirs(layout.work_dir, exist_ok=True)
        with FileSystems.create(layout.run_marker) as handle:
            handle.write(marker.encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any failure to write is the same config error
        raise ConfigError(f"--output: cannot write to {layout.root}: {type(exc).__name__}: {exc}") from exc


def _tailguard_files(layout: OutputLayout) -> list[str]:
    """Files tailguard wrote in the output's data folders (never a file someone else put there)."""
    patterns = [
        join_path(layout.corpus_dir, "part-*"),
        join_path(layout.corpus_dir, ".tmp-part-*"),
        join_path(layout.tiers_dir, "*", "part-*"),
        join_path(layout.tiers_dir, "*", ".tmp-part-*"),
        join_path(layout.rejected_dir, "*", "part-*"),
        join_path(layout.rejected_dir, "*", "beam-temp-*"),
        join_path(layout.dead_letter_dir, "part-*"),
        join_path(layout.dead_letter_dir, "beam-temp-*"),
        layout.manifest,
        layout.report_json,
        layout.report_html,
    ]
    found: list[str] = []
    for pattern in patterns:
        try:
            found += [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception:  # noqa: BLE001 - a folder that does not exist matches nothing
            continue
    if "://" not in layout.root:  # WriteToText's temporary folders are directories
        import glob

        for pattern in (
            join_path(layout.rejected_dir, "*", "beam-temp-*"),
            join_path(layout.dead_letter_dir, "beam-temp-*"),
        ):
            found += [path for path in glob.glob(pattern) if os.path.isdir(path)]
    return sorted(set(found))


def _prepare_output(layout: OutputLayout, overwrite: bool, keep_ingest: bool) -> None:
    check_output(layout, overwrite)
    finished = FileSystems.exists(layout.manifest)
    # Only tailguard's own files go: a user's file inside corpus/ (or anywhere) survives.
    doomed = _tailguard_files(layout)
    if doomed:
        FileSystems.delete(doomed)
    if finished or not keep_ingest:
        _delete(layout.work_dir)
    elif FileSystems.exists(layout.work_dir):
        # An interrupted run: its final outputs are rebuilt; completed ingest batches are reused.
        stale = [m.path for m in FileSystems.match([FileSystems.join(layout.work_dir, "*")])[0].metadata_list]
        stale = [path for path in stale if not path.startswith(layout.ingest_dir)]
        if stale:
            FileSystems.delete(stale)
    claim_output(layout)


def _pipeline(options: PipelineOptions) -> beam.Pipeline:
    return beam.Pipeline(options=options)


class JobNotFinishedError(RuntimeError):
    """The runner returned before the job finished (template staging, dry run, a failed job)."""


def _run_one(p: beam.Pipeline) -> Any:
    result = p.run()
    state = result.wait_until_finish()
    if state != PipelineState.DONE:
        # Never write a manifest for a job that did not run to completion: its ledger would be empty.
        raise JobNotFinishedError(
            f"the pipeline ended in state {state}; no manifest was written. After a job submitted "
            "without waiting finishes, run `tailguard finalize --config C --output O`."
        )
    return result


def _split_stages(cfg: CurationConfig) -> tuple[list[tuple[StageSpec, Any]], list[tuple[StageSpec, Any]]]:
    """Leading per-document stages (ingest phase) and the rest (curate phase)."""
    stages = cfg.enabled_stages()
    cut = 0
    while cut < len(stages) and stages[cut][0].per_document:
        cut += 1
    return stages[:cut], stages[cut:]


def _batch_layout(cfg: CurationConfig, index: int, paths: Sequence[str]) -> OutputLayout:
    # The key hashes the config and the batch's files: a changed config never reuses a stale checkpoint.
    # resume.curate_options only changes the curate job, so it is left out of the key.
    ingest_cfg = replace(cfg, resume=replace(cfg.resume, curate_options={}))
    key = hashlib.sha256((ingest_cfg.sha256() + "\n" + "\n".join(paths)).encode()).hexdigest()[:16]
    return OutputLayout(cfg.output).batch(index, key)


def _run_resumable(
    cfg: CurationConfig, options: PipelineOptions, files: list[tuple[str, int]], beam_args: Sequence[str] = ()
) -> tuple[list[Any], list[OutputLayout]]:
    """Run the ingest batches that are not done yet, then the curate phase; return results and batch dirs."""
    ingest_stages, curate_stages = _split_stages(cfg)
    size = cfg.resume.batch_files or len(files)
    batches = [files[i : i + size] for i in range(0, len(files), size)]
    results: list[Any] = []
    batch_layouts: list[OutputLayout] = []
    for index, batch in enumerate(batches):
        paths = [path for path, _ in batch]
        batch_layout = _batch_layout(cfg, index, paths)
        batch_layouts.append(batch_layout)
        done = batch_layout.batch_done
        if FileSystems.exists(done):
            _LOG.info("ingest batch %d/%d: already complete, skipped (%d files)", index + 1, len(batches), len(paths))
            continue
        _delete(batch_layout.root)
        _LOG.info("ingest batch %d/%d: %d files -> %s", index + 1, len(batches), len(paths), batch_layout.root)
        checkpoint = WriteConfig(format="jsonl.zst", num_shards=len(paths), rejected_text=cfg.write.rejected_text)
        context = RunContext(batch_layout, cfg.seed, len(paths))
        p = _pipeline(options)
        _build_dag(p, cfg, ingest_stages, paths, checkpoint, context, len(files), final=False)
        result = _run_one(p)
        results.append(result)
        # The completion record is written last: its presence means the batch is whole.  It keeps
        # the batch's counters, so the manifest sums every batch once, also across resumes.
        with FileSystems.create(done) as handle:
            handle.write(json.dumps({"files": paths, "counters": counters_of(result)}).encode("utf-8"))
    checkpoints = [b.corpus_glob("jsonl.zst") for b in batch_layouts]
    total_bytes = sum(size for _, size in files)
    context = RunContext(OutputLayout(cfg.output), cfg.seed, cfg.write.resolve_shards(total_bytes))
    _LOG.info("curate phase: %d stage(s) over %d ingest batch(es) -> %s", len(curate_stages), len(batches), cfg.output)
    if cfg.resume.curate_options:
        curate = option_flags(cfg.resume.curate_options)
        options = PipelineOptions([*cfg.pipeline.beam_args(), *beam_args, *curate])
        _LOG.info("curate phase: options %s (resume.curate_options)", " ".join(curate))
    p = _pipeline(options)
    _build_dag(p, cfg, curate_stages, checkpoints, cfg.write, context, None, report_inputs=False)
    results.append(_run_one(p))
    return results, batch_layouts


def _collect_side_outputs(layout: OutputLayout, batches: Sequence[OutputLayout]) -> None:
    """Copy the ingest batches' rejected and dead-letter files next to the curate phase's."""
    for batch in batches:
        for source_dir, target_root in (
            (batch.rejected_dir, layout.rejected_dir),
            (batch.dead_letter_dir, layout.dead_letter_dir),
        ):
            for meta in FileSystems.match([FileSystems.join(source_dir, "**")])[0].metadata_list:
                relative = meta.path[len(source_dir) :].lstrip("/")
                folder, _, file_name = relative.rpartition("/")
                target_dir = FileSystems.join(target_root, *([folder] if folder else []))
                if not FileSystems.exists(target_dir):
                    FileSystems.mkdirs(target_dir)  # local filesystems need it; object stores ignore it
                FileSystems.copy([meta.path], [FileSystems.join(target_dir, f"{batch.name}-{file_name}")])


def run_config(cfg: CurationConfig, beam_args: Sequence[str] = (), overwrite: bool = False) -> RunResult:
    """Run the curation pipeline described by ``cfg`` and write the manifest.

    Args:
        cfg: Validated config with ``inputs`` and ``output`` set.
        beam_args: Extra Beam flags (override the config's ``pipeline`` section).
        overwrite: Replace a finished run in the output directory.

    Returns:
        The run's manifest and output directory.

    Raises:
        ConfigError: For missing inputs/output or an output that holds a finished run.
    """
    if not cfg.inputs:
        raise ConfigError("no inputs: give --input GLOB or set inputs: in the config")
    if not cfg.output:
        raise ConfigError("no output directory: give --output DIR or set output: in the config")
    started = time.monotonic()
    files = _match_inputs(cfg.inputs)
    layout = OutputLayout(cfg.output)
    # Before any pipeline is built: a refused or unwritable output is a config error (exit 2).
    _prepare_output(layout, overwrite, keep_ingest=cfg.resume.enabled)
    runner_module = cfg.pipeline.runner.rpartition(".")[0]
    if runner_module:
        # A runner given by dotted path may declare its own options (pipelines/flink_runner.py): import
        # it first, or Beam logs its flags as "unparseable" before it loads the runner itself.
        importlib.import_module(runner_module)
    options = PipelineOptions([*cfg.pipeline.beam_args(), *beam_args])
    unfilled = sorted(k for k, v in options.get_all_options().items() if isinstance(v, str) and "FILL" in v)
    if unfilled:
        raise ConfigError(
            f"pipeline options still hold FILL placeholders: {', '.join(unfilled)} (set them in the "
            "config or on the command line, e.g. --project=my-project)"
        )
    total_bytes = sum(size for _, size in files)
    context = RunContext(layout, cfg.seed, cfg.write.resolve_shards(total_bytes))
    _LOG.info(
        "tailguard run: %d input file(s), %.1f MB -> %s (%d shards)",
        len(files),
        total_bytes / 1e6,
        cfg.output,
        context.num_shards,
    )
    # Without a per-document stage the ingest phase would only read and checkpoint: run one pipeline.
    if cfg.resume.enabled and _split_stages(cfg)[0]:
        results, batches = _run_resumable(cfg, options, files, beam_args)
        _collect_side_outputs(layout, batches)
    else:
        if cfg.resume.curate_options:
            _LOG.warning("resume.curate_options ignored: this run is one pipeline (no resumable curate phase)")
        p = _pipeline(options)
        build_pipeline(p, replace(cfg, inputs=tuple(path for path, _ in files)), context, len(files))
        results, batches = [_run_one(p)], []
    manifest = build_manifest(cfg, context, results, batches)
    manifest.data["run"]["duration_s"] = round(time.monotonic() - started, 1)
    write_manifest(manifest, cfg.output)
    _, report = write_report(cfg.output)
    _LOG.info("report: %s", report)
    if batches and not cfg.resume.keep_checkpoints:
        _delete(layout.ingest_dir)
    return RunResult(manifest, cfg.output)


def finalize(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tailguard finalize``: write manifest and report for a job that was not waited for.

    A Flex Template launch (deploy/dataflow/main.py) submits the one-phase pipeline and
    returns; once the job has finished, this builds ``manifest.json`` and the report
    from ``OUTPUT/_work`` exactly as ``tailguard run`` does after waiting.
    """
    args, _ = parse_run_args(argv)
    cfg = load_config(args.config)
    if args.output:
        cfg = cfg.replace(output=args.output)
    if not cfg.output:
        raise ConfigError("no output directory: give --output DIR or set output: in the config")
    layout = OutputLayout(cfg.output)
    if FileSystems.exists(layout.manifest) and not args.overwrite:
        raise ConfigError(f"{cfg.output} already has a manifest.json; pass --overwrite to rebuild it")
    shards_file = layout.shard_list
    if not FileSystems.exists(shards_file):
        raise ConfigError(f"{cfg.output} has no _work/shards.jsonl: the job has not finished writing its corpus")
    with FileSystems.open(shards_file) as handle:
        num_shards = sum(1 for line in handle.read().splitlines() if line.strip())
    manifest = build_manifest(cfg, RunContext(layout, cfg.seed, num_shards), [], [])
    write_manifest(manifest, cfg.output)
    write_report(cfg.output)
    print_summary(manifest, cfg.output)
    return 0 if manifest.data["ledger"]["balanced"] else 3


def parse_run_args(argv: Sequence[str] | None, *, require_config: bool = True) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` into tailguard flags and Beam flags (``parse_known_args``)."""
    parser = argparse.ArgumentParser(prog="tailguard run", description="Run the curation pipeline.")
    parser.add_argument("--config", required=require_config, help="YAML config (e.g. configs/local.yaml)")
    parser.add_argument("--input", action="append", default=None, help="input glob; repeat for more (overrides config)")
    parser.add_argument("--output", help="output directory (overrides config)")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 4 when the run ends with a WARNING (empty/short mix component, collapse alarm, "
        "failed input file, empty corpus)",
    )
    return parser.parse_known_args(argv)


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tailguard run``; returns the process exit code."""
    args, beam_args = parse_run_args(argv)
    cfg = load_config(args.config)
    if args.input:
        cfg = cfg.replace(inputs=tuple(args.input))
    if args.output:
        cfg = cfg.replace(output=args.output)
    result = run_config(cfg, beam_args, overwrite=args.overwrite)
    print_summary(result.manifest, result.output_dir)
    if not result.balanced:
        _LOG.error("the ledger does not balance: records were lost or double-counted (see manifest.json)")
        return 3
    warnings = run_warnings(result.manifest)
    for warning in warnings:
        _LOG.warning(warning)
    if warnings and getattr(args, "strict", False):
        _LOG.error("--strict: %d warning(s); exit 4", len(warnings))
        return 4
    return 0
