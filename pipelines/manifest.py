"""Assemble ``manifest.json`` after a run, and print the end-of-run summary table.

The pipeline writes small files under ``OUTPUT/_work/`` (matched inputs, shard
descriptions, ledger counts, per-section stats); this module, run by the
driver after the pipeline finished, turns them into the single summary of the
run.  Beam counters are added for reference; the ledger comes from the data
streams, so it is exact on every runner.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from apache_beam.io.filesystems import FileSystems

from tailguard.filters.document import SCHEMA_VERSION
from tailguard.filters.errors import ConfigError
from tailguard.filters.layout import OutputLayout
from tailguard.filters.mixing import violation_message
from tailguard.pipelines.config import CurationConfig
from tailguard.pipelines.stages import RunContext

__all__ = [
    "Manifest",
    "build_manifest",
    "counters_of",
    "ledger_from_counts",
    "print_summary",
    "run_warnings",
    "tailguard_version",
    "write_manifest",
]


@dataclass(frozen=True)
class Manifest:
    """The manifest's JSON data."""

    data: dict[str, Any]


def tailguard_version() -> str:
    """Return the installed tailguard version."""
    try:
        return version("tailguard")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0+unknown"


def _read_lines(path: str) -> list[str]:
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return [line for line in handle.read().decode("utf-8").splitlines() if line.strip()]


def ledger_from_counts(counts: list[dict[str, Any]], stage_order: list[str]) -> dict[str, Any]:
    """Build the ledger object from the ``_work/ledger.jsonl`` counts.

    Args:
        counts: ``{"key": [...], "count": n}`` entries written by ``WriteLedger``.
        stage_order: Stage names in pipeline order (``read`` first).

    Returns:
        ``{"input_records", "kept", "dropped": {stage: {reason: n}}, "dead_letter",
        "dead_letter_by_stage", "file_failures", "balanced"}``.  ``file_failures``
        counts files the reader could not read to the end — as files, with the
        stored bytes and (where the format tells) records they did not yield;
        they are outside the record balance, which covers the records read.
    """
    inputs = kept = dead = 0
    dropped: dict[str, dict[str, int]] = {}
    dead_by_stage: dict[str, int] = {}
    failures = {"files": 0, "bytes_not_read": 0, "records_not_read": 0, "records_not_read_unknown": 0}
    for entry in counts:
        key, n = entry["key"], int(entry["count"])
        if key[0] == "file_failure":
            failures[key[1]] = failures.get(key[1], 0) + n
        elif key[0] == "input":
            inputs += n
        elif key[0] == "kept":
            kept += n
        elif key[0] == "dropped":
            dropped.setdefault(key[1], {})[key[2]] = dropped.get(key[1], {}).get(key[2], 0) + n
        elif key[0] == "dead_letter":
            dead += n
            dead_by_stage[key[1]] = dead_by_stage.get(key[1], 0) + n
    order = {name: i for i, name in enumerate(stage_order)}
    dropped = {
        stage: dict(sorted(reasons.items()))
        for stage, reasons in sorted(dropped.items(), key=lambda kv: order.get(kv[0], len(order)))
    }
    total_dropped = sum(sum(r.values()) for r in dropped.values())
    return {
        "input_records": inputs,
        "kept": kept,
        "dropped": dropped,
        "dead_letter": dead,
        "dead_letter_by_stage": dead_by_stage,
        "file_failures": failures,
        "balanced": inputs == kept + total_dropped + dead,
    }


def counters_of(result: Any) -> dict[str, dict[str, int]]:
    """Beam counters in tailguard namespaces (``{stage: {name: n}}``), when the runner reports them."""
    out: dict[str, dict[str, int]] = {}
    try:
        query = result.metrics().query()
    except Exception:  # some runners do not support metrics queries; the ledger does not need them
        return out
    for counter in query.get("counters", []):
        namespace = counter.key.metric.namespace
        if not namespace.startswith("tailguard."):
            continue
        value = counter.committed if counter.committed is not None else counter.attempted
        stage = namespace.split(".", 1)[1]
        out.setdefault(stage, {})
        out[stage][counter.key.metric.name] = out[stage].get(counter.key.metric.name, 0) + int(value or 0)
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def _merge_counters(parts: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for part in parts:
        for stage, values in part.items():
            for name, value in values.items():
                merged.setdefault(stage, {})[name] = merged.get(stage, {}).get(name, 0) + value
    return {k: dict(sorted(v.items())) for k, v in sorted(merged.items())}


def _run_counters(results: list[Any], ingest_dirs: list[OutputLayout]) -> dict[str, dict[str, int]]:
    """Counters of the whole run, each pipeline's counted once (also across resumes).

    A resumable run stores each ingest batch's counters in its completion record
    (a batch finished by an earlier process counts too); the curate phase
    (``results[-1]``) adds its own, except ``read``, which there re-reads the
    checkpoints rather than the input.  A batch's ``write`` counters count
    checkpoint rows, not corpus rows, and are left out.
    """
    if not ingest_dirs:
        return _merge_counters([counters_of(r) for r in results])
    parts: list[dict[str, dict[str, int]]] = []
    for batch in ingest_dirs:
        lines = _read_lines(batch.batch_done)
        stored = json.loads(lines[0]).get("counters", {}) if lines else {}
        parts.append({stage: values for stage, values in stored.items() if stage != "write"})
    if results:
        parts.append({stage: values for stage, values in counters_of(results[-1]).items() if stage != "read"})
    return _merge_counters(parts)


def _ledger_counts(layout: OutputLayout) -> list[dict[str, Any]]:
    if not FileSystems.exists(layout.ledger_counts):
        # A run that did not finish must never produce an (empty, "balanced") ledger.
        raise FileNotFoundError(f"{layout.ledger_counts} is missing: the pipeline did not finish")
    counts = [json.loads(line) for line in _read_lines(layout.ledger_counts)]
    return counts + [json.loads(line) for line in _read_lines(layout.input_records)]


def build_manifest(
    cfg: CurationConfig, context: RunContext, results: list[Any], ingest_dirs: list[OutputLayout] | None = None
) -> Manifest:
    """Collect the run's ``_work`` files and counters into the manifest.

    Args:
        cfg: The run's config.
        context: Run context of the (final) curate phase (output dir, shard count).
        results: The Beam ``PipelineResult`` of every pipeline the run ran (for counters).
        ingest_dirs: Checkpoint layouts of the ingest batches of a resumable run;
            their ledgers count the inputs, the curate phase's counts the rest.

    Returns:
        The manifest.
    """
    out = context.layout
    ingest_dirs = list(ingest_dirs or [])
    stage_order = ["read", *(spec.name for spec, _ in cfg.enabled_stages())]
    counts: list[dict[str, Any]] = []
    input_lines: list[str] = []
    for batch_dir in ingest_dirs:
        # "kept" of a batch = documents handed to the curate phase, which counts them again.
        counts += [c for c in _ledger_counts(batch_dir) if c["key"][0] != "kept"]
        input_lines += _read_lines(batch_dir.inputs_list)
    final_counts = _ledger_counts(out)
    if ingest_dirs:
        # The curate phase re-reads checkpoints: its "input" is not new input.
        final_counts = [c for c in final_counts if c["key"][0] != "input"]
    else:
        input_lines = _read_lines(out.inputs_list)
    counts += final_counts
    inputs = sorted((json.loads(line) for line in input_lines), key=lambda r: r["path"])
    shards = sorted((json.loads(line) for line in _read_lines(out.shard_list)), key=lambda r: r["path"])
    data: dict[str, Any] = {
        "tailguard_version": tailguard_version(),
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": cfg.to_dict(),
        "config_sha256": cfg.sha256(),
        "stages": stage_order,
        "inputs": inputs,
        "outputs": {
            "corpus_dir": out.corpus_dir[len(out.root) :].lstrip("/"),
            "format": cfg.write.format,
            "num_shards": context.num_shards,
            "records": sum(s["records"] for s in shards),
            "shards": shards,
        },
        "ledger": ledger_from_counts(counts, stage_order),
        "counters": _run_counters(results, ingest_dirs),
        "run": {
            "mode": "resumable" if ingest_dirs else "single",
            "ingest_batches": len(ingest_dirs),
            "pipelines_run": len(results),
        },
    }
    if FileSystems.exists(out.stats_dir):
        # One manifest section per statistics file a stage wrote (dedup_near, tiers, mixing, collapse ...).
        for match in FileSystems.match([out.stats_glob])[0].metadata_list:
            section = match.path.rsplit("/", 1)[-1][: -len(".json")]
            lines = _read_lines(match.path)
            data[section] = json.loads(lines[0]) if lines else {}
    _annotate_views(data)
    _enforce_curriculum(data)
    return Manifest(data)


def _annotate_views(data: dict[str, Any]) -> None:
    """Per-tier views (``write.per_tier``): their collapse indicators, and the ledger's note that they are views."""
    views = data.get("tiers_written")
    if not views:
        return
    groups = (data.get("collapse") or {}).get("groups") or {}
    for name, view in views.items():
        # A tier view holds exactly the kept documents of that tier, each once: MeasureCollapse's group.
        if view.get("kind") == "tier" and name in groups:
            view["indicators"] = groups[name]
    data["ledger"]["views"] = {
        "tiers_written": sorted(views),
        "rows": sum(v["rows"] for v in views.values()),
        "counted_in_ledger": False,
        "note": "per-tier and recipe corpora are views of kept documents (each once), not new records",
    }


def _enforce_curriculum(data: dict[str, Any]) -> None:
    """Refuse a run whose mixed corpus breaks an enforced curriculum spread (``mix.curriculum.enforce``)."""
    spread = (data.get("mixing") or {}).get("curriculum") or {}
    if spread.get("enforced") and spread.get("violations"):
        raise ConfigError(violation_message(spread))


def write_manifest(manifest: Manifest, output_dir: str) -> str:
    """Write ``manifest.json`` (last, so its presence marks a finished run); return its path."""
    path = OutputLayout(output_dir).manifest
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(manifest.data, indent=2, sort_keys=False).encode("utf-8"))
    return path


#: A mix component is "short" when its realised token share is this far (absolute) below its target.
SHORT_COMPONENT_MARGIN = 0.01


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_warnings(manifest: Manifest) -> list[str]:
    """The outcomes a user must not miss, one plain line each (``tailguard run --strict`` exits 4 on any).

    Empty or short mix components, crossed collapse alarms, input files that
    could not be read to the end, and an empty corpus.
    """
    data = manifest.data
    out: list[str] = []
    for name, comp in ((data.get("mixing") or {}).get("components") or {}).items():
        target, realized = comp.get("target_token_share"), comp.get("realized_token_share")
        if comp.get("empty") or comp.get("documents") == 0:
            out.append(f"mix component {name!r} is empty: no document selected (target share {_number(target)})")
        elif isinstance(target, float) and isinstance(realized, float) and realized < target - SHORT_COMPONENT_MARGIN:
            out.append(
                f"mix component {name!r} is short: {realized:.3f} of the tokens against a target of {target:.3f}"
            )
    for alarm in (data.get("collapse") or {}).get("alarms") or []:
        out.append(
            f"collapse alarm: {alarm.get('indicator')} = {_number(alarm.get('value'))} in {alarm.get('group')} "
            f"(alarm when {alarm.get('rule')} {_number(alarm.get('bound'))})"
        )
    failures = data["ledger"].get("file_failures") or {}
    if failures.get("files"):
        unknown = failures.get("records_not_read_unknown", 0)
        out.append(
            f"{failures['files']} input file(s) could not be read to the end: "
            f"{failures.get('bytes_not_read', 0):,} stored bytes and {failures.get('records_not_read', 0):,} records "
            f"not read"
            + (f" (+ an unknown number in {unknown} file(s))" if unknown else "")
            + "; see dead_letter/ (unit: file)"
        )
    if not data.get("outputs", {}).get("records"):
        out.append("the corpus is empty: no document reached corpus/")
    return out


def stage_rows(ledger: dict[str, Any], stage_order: list[str]) -> list[tuple[str, int, int, dict[str, int], int]]:
    """Return ``(stage, in, kept, drops_by_reason, dead_letter)`` per stage, in order."""
    rows = []
    flowing = ledger["input_records"]
    for stage in stage_order:
        drops = ledger["dropped"].get(stage, {})
        dead = ledger["dead_letter_by_stage"].get(stage, 0)
        kept = flowing - sum(drops.values()) - dead
        rows.append((stage, flowing, kept, drops, dead))
        flowing = kept
    return rows


def print_summary(manifest: Manifest, output_dir: str, stream: TextIO | None = None) -> None:
    """Print a per-stage table (in, kept, drop reasons, dead letter) and the output path."""
    stream = stream or sys.stdout  # looked up per call, so redirected stdout is honoured
    data = manifest.data
    ledger = data["ledger"]
    rows = stage_rows(ledger, data["stages"])
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{'stage':<{width}}{'in':>10}{'kept':>10}{'dead':>7}  dropped (reason=count)", file=stream)
    print("-" * (width + 60), file=stream)
    for stage, n_in, kept, drops, dead in rows:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(drops.items(), key=lambda kv: -kv[1])) or "-"
        print(f"{stage:<{width}}{n_in:>10,}{kept:>10,}{dead:>7,}  {reasons}", file=stream)
    print("-" * (width + 60), file=stream)
    status = "balanced" if ledger["balanced"] else "NOT BALANCED"
    dropped = sum(sum(r.values()) for r in ledger["dropped"].values())
    print(
        f"ledger: {ledger['input_records']:,} in = {ledger['kept']:,} kept + {dropped:,} dropped + "
        f"{ledger['dead_letter']:,} dead-letter  [{status}]",
        file=stream,
    )
    failures = ledger.get("file_failures") or {}
    if failures.get("files"):
        print(
            f"failed files: {failures['files']:,} not read to the end ({failures.get('bytes_not_read', 0):,} bytes, "
            f"{failures.get('records_not_read', 0):,} records known not read; records read before the damage are "
            "in the ledger)",
            file=stream,
        )
    outputs = data["outputs"]
    layout = OutputLayout(output_dir)
    print(
        f"corpus: {outputs['records']:,} rows in {outputs['num_shards']} shard(s) under {layout.corpus_dir}",
        file=stream,
    )
    print(f"manifest: {layout.manifest}", file=stream)
    for warning in run_warnings(manifest):
        print(f"WARNING: {warning}", file=stream)
