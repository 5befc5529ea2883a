"""The curation DAG and the ``tailguard run`` driver.

::

    ReadCrawl ─► [enabled stages, in STAGES order] ─► WriteCorpus
        │  every stage: rejected ─► OUTPUT/rejected/<stage>/   dead letter ─► OUTPUT/dead_letter/
        └─ all streams ─► WriteLedger ─► OUTPUT/_work/ledger.jsonl ─► manifest.json (after the run)
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from tailguard.pipelines.config import ConfigError, CurationConfig, load_config
from tailguard.pipelines.manifest import Manifest, build_manifest, print_summary, write_manifest
from tailguard.pipelines.stages import RunContext
from tailguard.transforms.accounting import StageOutputs
from tailguard.transforms.io import ReadCrawl, WriteCorpus, WriteDeadLetter, WriteLedger, WriteRejected

__all__ = ["RunResult", "build_pipeline", "parse_run_args", "run", "run_config"]

_LOG = logging.getLogger("tailguard")


def build_pipeline(p: beam.Pipeline, cfg: CurationConfig, context: RunContext, total_files: int | None) -> None:
    """Add the whole curation DAG to ``p``."""
    out = context.output_dir
    stages: dict[str, StageOutputs] = {"read": p | "ReadCrawl" >> ReadCrawl(cfg.read, cfg.inputs, out, total_files)}
    docs = stages["read"].docs
    for spec, stage_cfg in cfg.enabled_stages():
        stages[spec.name] = docs | spec.label >> spec.build(stage_cfg, context)
        docs = stages[spec.name].docs
    _ = docs | "WriteCorpus" >> WriteCorpus(cfg.write, out, context.num_shards)
    for name, result in stages.items():
        _ = result.rejected | f"WriteRejected{name.title()}" >> WriteRejected(out, name, cfg.write.rejected_text)
    dead = [result.dead_letter for result in stages.values()] | "AllDeadLetters" >> beam.Flatten()
    _ = dead | "WriteDeadLetter" >> WriteDeadLetter(out)
    _ = stages | "WriteLedger" >> WriteLedger(out, docs)


@dataclass(frozen=True)
class RunResult:
    """What a finished run produced."""

    manifest: Manifest
    output_dir: str

    @property
    def balanced(self) -> bool:
        """Whether the ledger balances exactly."""
        return bool(self.manifest.data["ledger"]["balanced"])


def _match_inputs(patterns: Sequence[str]) -> tuple[int | None, int]:
    """Match local patterns at launch: fail early when nothing matches; return (files, bytes)."""
    files, size = 0, 0
    for pattern in patterns:
        if "://" in pattern:  # remote globs are matched by the pipeline (no build-time listing)
            return None, 0
        try:
            result = FileSystems.match([pattern])[0]
        except Exception as exc:  # Beam raises BeamIOError with per-pattern causes
            raise ConfigError(f"input pattern {pattern!r} cannot be matched: {exc}") from exc
        if not result.metadata_list:
            raise ConfigError(f"input pattern {pattern!r} matches no files")
        files += len(result.metadata_list)
        size += sum(m.size_in_bytes for m in result.metadata_list)
    return files, size


def _prepare_output(output_dir: str, overwrite: bool) -> None:
    manifest = FileSystems.join(output_dir, "manifest.json")
    if FileSystems.exists(manifest):
        if not overwrite:
            raise ConfigError(f"{output_dir} already holds a finished run (manifest.json); pass --overwrite to replace it")
        for sub in ("corpus", "rejected", "dead_letter", "_work", "manifest.json", "report.json", "report.html"):
            path = FileSystems.join(output_dir, sub)
            if FileSystems.exists(path):
                FileSystems.delete([path])
    else:
        # Leftovers of an interrupted run would be mixed with this run's output.
        for sub in ("corpus", "rejected", "dead_letter", "_work"):
            path = FileSystems.join(output_dir, sub)
            if FileSystems.exists(path):
                FileSystems.delete([path])


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
    total_files, input_bytes = _match_inputs(cfg.inputs)
    _prepare_output(cfg.output, overwrite)
    context = RunContext(cfg.output, cfg.seed, cfg.write.resolve_shards(input_bytes))
    options = PipelineOptions([*cfg.pipeline.beam_args(), *beam_args])
    _LOG.info("tailguard run: %d input pattern(s) -> %s (%d shards)", len(cfg.inputs), cfg.output, context.num_shards)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, cfg, context, total_files)
    result = pipeline.run()
    result.wait_until_finish()
    manifest = build_manifest(cfg, context, result)
    write_manifest(manifest, cfg.output)
    return RunResult(manifest, cfg.output)


def parse_run_args(argv: Sequence[str] | None, *, require_config: bool = True) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` into tailguard flags and Beam flags (``parse_known_args``)."""
    parser = argparse.ArgumentParser(prog="tailguard run", description="Run the curation pipeline.")
    parser.add_argument("--config", required=require_config, help="YAML config (e.g. configs/local.yaml)")
    parser.add_argument("--input", action="append", default=None, help="input glob; repeat for more (overrides config)")
    parser.add_argument("--output", help="output directory (overrides config)")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
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
    return 0
