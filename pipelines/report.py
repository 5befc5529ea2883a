"""``OUTPUT/report.json`` and a self-contained ``OUTPUT/report.html`` from ``manifest.json``.

Called by the driver after the manifest is written (``write_report(output_dir)``).
Every section is optional: a run without tiers, mixing, AI scores or a
reference still gets a report with what it has, and says what is missing.
The "AI decisions" section (issue 16 §3) appears only when ``decide_ai`` ran: what it dropped,
down-weighted and tagged by domain and by length, beside each bucket's share of the stage's input
and of the kept corpus (the reference snapshot holds word and trigram counts only, no length or
domain distribution, so no reference share is shown).
Plots are matplotlib PNGs embedded as base64, so the page needs no network
and no other file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from apache_beam.io.filesystems import FileSystems

from tailguard.filters.layout import OutputLayout, join_path

__all__ = ["INDICATORS", "build_report", "render_html", "write_report"]

_OK, _ALARM, _MISSING = "#2e7d32", "#c62828", "#757575"

#: Every indicator the report shows: what it measures, and which way is good.
INDICATORS: dict[str, tuple[str, str]] = {
    "docs": ("documents measured", "context"),
    "tokens": ("word tokens measured", "context"),
    "types": ("distinct word types", "higher"),
    "sample_tokens": ("tokens in the fixed-size sample that the sample metrics use", "context"),
    "distinct_1": ("distinct words / words in the sample (type-token ratio)", "higher"),
    "distinct_2": ("distinct word pairs / word pairs in the sample", "higher"),
    "distinct_3": ("distinct word triples / word triples in the sample", "higher"),
    "mattr": ("moving-average type-token ratio: vocabulary richness that does not shrink with length", "higher"),
    "gzip_ratio": ("gzip size / raw size of the sample: repetitive text compresses more", "higher"),
    "near_dup_rate_sample": ("share of sampled documents with a near-duplicate in the sample", "lower"),
    "unigram_entropy": ("entropy of the word distribution (bits)", "higher"),
    "exact_dup_rate": ("share of documents whose text exactly repeats another's", "lower"),
    "dup_cluster_share": ("share of documents in a near-duplicate cluster of more than one", "lower"),
    "ai_scored_docs": ("documents with an AI score", "context"),
    "ai_above_threshold_share": ("share of scored documents above the collapse AI-score threshold", "lower"),
    "verified_human_token_share": ("token share of documents from the human tiers", "higher"),
    "upweighted_token_share": ("token share of documents mixing up-weighted as rare", "context"),
    "ref_vocab_coverage": ("share of the human reference's word types present", "higher"),
    "rare_type_survival": ("share of the reference's rare word types still present", "higher"),
    "tail_mass": ("token share of the reference's tail (rare) word types", "higher, up to ref_tail_mass"),
    "ref_tail_mass": ("tail token share of the reference itself", "context: the target of tail_mass"),
    "jsd_to_reference": ("Jensen-Shannon divergence of the word distribution from the reference", "lower"),
    "ref_ppl_mean": ("mean perplexity under the reference's n-gram model", "lower"),
    "ref_ppl_p95": ("95th-percentile document perplexity under the reference model", "lower"),
}


def _read_json(path: str) -> dict[str, Any] | None:
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def _funnel(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    ledger = manifest.get("ledger") or {}
    if "input_records" not in ledger:
        return []
    rows, flowing = [], int(ledger["input_records"])
    for stage in manifest.get("stages") or ["read"]:
        drops = (ledger.get("dropped") or {}).get(stage, {})
        dead = (ledger.get("dead_letter_by_stage") or {}).get(stage, 0)
        kept = flowing - sum(drops.values()) - dead
        rows.append({"stage": stage, "in": flowing, "kept": kept, "dropped": dict(drops), "dead_letter": dead})
        flowing = kept
    return rows


def _numeric_map(value: Any) -> dict[str, float] | None:
    if isinstance(value, Mapping) and value and all(isinstance(v, (int, float)) for v in value.values()):
        return {str(k): float(v) for k, v in value.items()}
    return None


_SHARE_KEYS = ("share", "target", "fraction", "tokens", "documents")
_SKIP_KEYS = ("error", "pool_", "max_", "repeated", "downsampled", "upweighted")


def _wanted(key: str) -> bool:
    low = key.lower()
    return any(s in low for s in _SHARE_KEYS) and not any(s in low for s in _SKIP_KEYS)


def _transposed(node: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{name: {metric: x}}`` (e.g. per tier or per mixing component) → ``{metric: {name: x}}``."""
    out: dict[str, dict[str, float]] = {}
    for name, stats in node.items():
        if not isinstance(stats, Mapping):
            return {}
        for metric, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and _wanted(metric):
                out.setdefault(metric, {})[str(name)] = float(value)
    return out


def _shares_vs_targets(section: Any) -> dict[str, dict[str, float]]:
    """Find ``{name: share}`` maps (actual and target shares, tokens) in a tiers/mixing section (best effort).

    Accepts both ``{metric: {name: x}}`` and ``{name: {metric: x}}`` layouts, at any depth.
    """
    if not isinstance(section, Mapping):
        return {}
    found: dict[str, dict[str, float]] = {}
    stack: list[tuple[str, Any]] = [("", section)]
    while stack:
        prefix, node = stack.pop()
        transposed = _transposed(node)
        if transposed:
            found.update({f"{prefix}{metric}": values for metric, values in transposed.items()})
            continue
        for key, value in node.items():
            name = f"{prefix}{key}"
            nums = _numeric_map(value)
            if nums is not None and _wanted(key):
                found[name] = nums
            elif isinstance(value, Mapping):
                stack.append((f"{name}.", value))
    return found


def _alarm_words(alarm: Mapping[str, Any]) -> str:
    """One plain sentence for a crossed alarm."""
    name = str(alarm.get("indicator"))
    meaning = INDICATORS.get(name, (name, ""))[0]
    side = "below the minimum" if alarm.get("rule") == "min" else "above the maximum"
    better = "higher" if alarm.get("rule") == "min" else "lower"
    return (
        f"In {alarm.get('group')}, {name} ({meaning}) is {_fmt(alarm.get('value'))}, {side} of "
        f"{_fmt(alarm.get('bound'))}; {better} is better."
    )


def _component_words(manifest: Mapping[str, Any]) -> list[str]:
    """Plain sentences for empty or short mixing components."""
    from tailguard.pipelines.manifest import SHORT_COMPONENT_MARGIN

    out = []
    for name, comp in ((manifest.get("mixing") or {}).get("components") or {}).items():
        target, realized = comp.get("target_token_share"), comp.get("realized_token_share")
        if comp.get("empty") or comp.get("documents") == 0:
            out.append(
                f"Component {name} is empty: no document was selected for it, so the corpus holds none of its "
                f"target share of {_fmt(target)} of the tokens (the other components were rescaled)."
            )
        elif isinstance(target, float) and isinstance(realized, float) and realized < target - SHORT_COMPONENT_MARGIN:
            out.append(
                f"Component {name} is short: {_fmt(realized)} of the tokens instead of {_fmt(target)}; its pool "
                "did not hold enough text within the repeat cap."
            )
    return out


def _dead_letter_kinds(output_dir: str) -> list[dict[str, Any]]:
    """Dead letters grouped by stage, unit and kind of error, with the files holding them."""
    layout = OutputLayout(output_dir)
    pattern = join_path(layout.dead_letter_dir, f"*{layout.side_suffix}")
    try:
        matches = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # noqa: BLE001 - no dead-letter folder: no table
        return []
    kinds: dict[tuple[str, str, str], dict[str, Any]] = {}
    for meta in sorted(matches, key=lambda m: m.path):
        with FileSystems.open(meta.path) as handle:
            text = handle.read().decode("utf-8", "replace")
        for line in text.splitlines():
            if not line.strip():
                continue
            letter = json.loads(line)
            kind = re.split(r"[:(]", str(letter.get("error", "")), maxsplit=1)[0].strip()[:80] or "unknown"
            key = (str(letter.get("stage")), str(letter.get("unit", "record")), kind)
            entry = kinds.setdefault(
                key, {"stage": key[0], "unit": key[1], "kind": kind, "count": 0, "files": [], "inputs": []}
            )
            entry["count"] += 1
            name = meta.path.rsplit("/", 1)[-1]
            if name not in entry["files"]:
                entry["files"].append(name)
            source = str(letter.get("source", ""))
            if source and source not in entry["inputs"] and len(entry["inputs"]) < 5:
                entry["inputs"].append(source)
    return sorted(kinds.values(), key=lambda e: (-e["count"], e["stage"], e["kind"]))


#: Why the AI-decisions tables show no reference share (see filters/collapse/reference.py).
_NO_REFERENCE_SHARE = (
    "the reference snapshot stores word and trigram counts only, no length or domain distribution; "
    "each bucket's share of the input and of the kept corpus stands beside it instead"
)


def _ai_decisions(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The decide_ai section: thresholds used and the breakdown by domain and length (``None``: it did not run)."""
    section = manifest.get("decide_ai")
    if not isinstance(section, Mapping) or not isinstance(section.get("breakdown"), Mapping):
        return None
    config = (manifest.get("config") or {}).get("decide_ai") or {}
    snapshot = (manifest.get("collapse") or {}).get("reference_snapshot")
    return {
        "action": config.get("action"),
        "uncertain_action": config.get("uncertain_action"),
        "thresholds": {
            k: section.get(k)
            for k in ("threshold", "confident_threshold", "source", "calibration", "calibration_docs", "note")
            if k in section
        },
        "reference_snapshot": snapshot,
        "reference_share": None,
        "reference_note": _NO_REFERENCE_SHARE if snapshot else "no collapse reference configured",
        **dict(section["breakdown"]),
    }


def build_report(manifest: Mapping[str, Any], output_dir: str | None = None) -> dict[str, Any]:
    """The report's data: funnel, tier/mixing shares, collapse indicators and alarms.

    Args:
        manifest: The parsed ``manifest.json``.
        output_dir: The run's output folder; when given, dead letters are read
            from it and grouped by kind.
    """
    from tailguard.pipelines.manifest import Manifest, run_warnings

    collapse = manifest.get("collapse") or {}
    groups = collapse.get("groups") or {}
    run = manifest.get("run") or {}
    ai_decisions = _ai_decisions(manifest)
    report = {
        "created": manifest.get("created"),
        "duration_s": run.get("duration_s"),
        "inputs": [{"path": i.get("path"), "bytes": i.get("bytes")} for i in manifest.get("inputs") or []],
        "warnings": run_warnings(Manifest(dict(manifest))) if "ledger" in manifest and "outputs" in manifest else [],
        "alarm_words": [_alarm_words(a) for a in collapse.get("alarms") or []],
        "component_words": _component_words(manifest),
        "dead_letter_kinds": _dead_letter_kinds(output_dir) if output_dir else [],
        "indicator_definitions": {k: {"definition": d, "good": g} for k, (d, g) in INDICATORS.items()},
        "tailguard_version": manifest.get("tailguard_version"),
        "config_sha256": manifest.get("config_sha256"),
        "ledger_balanced": (manifest.get("ledger") or {}).get("balanced"),
        "funnel": _funnel(manifest),
        "tiers": _shares_vs_targets(manifest.get("tiers")),
        "mixing": _shares_vs_targets(manifest.get("mixing")),
        "collapse": {
            "reference": collapse.get("reference"),
            "reference_snapshot": collapse.get("reference_snapshot"),
            "groups": groups,
            "alarm_rules": collapse.get("alarm_rules") or [],
            "alarms": collapse.get("alarms") or [],
        },
        "tiers_written": _views(manifest),
        "missing": [s for s in ("ledger", "tiers", "mixing", "collapse") if not manifest.get(s)],
    }
    if ai_decisions is not None:
        report["ai_decisions"] = ai_decisions
    return report


#: Indicators of the per-tier table (the rest are in the full indicator table).
_VIEW_INDICATORS = ("distinct_2", "mattr", "unigram_entropy", "rare_type_survival", "tail_mass", "ref_ppl_mean")


def _views(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per per-tier / recipe corpus (``write.per_tier``): rows, tokens, shards, key indicators."""
    rows = []
    for name, view in sorted((manifest.get("tiers_written") or {}).items()):
        indicators = view.get("indicators") or {}
        rows.append({
            "name": name,
            "kind": view.get("kind"),
            "tiers": view.get("tiers"),
            "dir": view.get("dir"),
            "rows": view.get("rows"),
            "tokens": view.get("tokens"),
            "shards": len(view.get("shards") or []),
            **{k: indicators.get(k) for k in _VIEW_INDICATORS},
        })  # fmt: skip
    return rows


def _views_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="missing">No per-tier corpora in this run (write.per_tier is off).</p>'
    keys = ("kind", "dir", "rows", "tokens", "shards", *_VIEW_INDICATORS)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        f"<tr><th>{html.escape(r['name'])}</th>{''.join(f'<td>{_fmt(r.get(k))}</td>' for k in keys)}</tr>" for r in rows
    )
    return (
        f"<table><tr><th>corpus</th>{head}</tr>{body}</table><p>Views of kept documents (each once), "
        "not new records: the ledger counts every document once, in the mixed corpus. Recipe indicators "
        "are not measured (only tiers').</p>"
    )


# ----------------------------------------------------------------------------- plots


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless: never open a window
    import matplotlib.pyplot as plt

    return plt


def _plot_funnel(rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(rows)))
    names = [r["stage"] for r in rows][::-1]
    ax.barh(names, [r["in"] for r in rows][::-1], color="#cfd8dc", label="in")
    ax.barh(names, [r["kept"] for r in rows][::-1], color="#1565c0", label="kept")
    for i, r in enumerate(rows[::-1]):
        ax.text(r["kept"], i, f" {r['kept']:,}", va="center", fontsize=8)
    ax.set_xlabel("documents")
    ax.set_title("Per-stage funnel")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _plot_shares(title: str, maps: dict[str, dict[str, float]]) -> str | None:
    maps = {k: v for k, v in maps.items() if not set(v) <= {"min", "max", "mean"}}  # summary stats, not shares
    shares = {k: v for k, v in maps.items() if "share" in k.rsplit(".", 1)[-1]}
    maps = shares or maps
    if not maps:
        return None
    plt = _plt()
    keys = sorted({k for m in maps.values() for k in m})
    fig, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / len(maps)
    for j, (name, m) in enumerate(sorted(maps.items())):
        total = sum(m.values()) or 1.0
        vals = [m.get(k, 0.0) / total for k in keys]
        xs = [i + j * width for i in range(len(keys))]
        ax.bar(xs, vals, width=width, label=name)
        for x, v in zip(xs, vals, strict=True):
            ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], keys, rotation=20, fontsize=8)
    ax.set_ylabel("share (normalised)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _png(fig)


def _plot_ai_hist(groups: Mapping[str, Mapping[str, Any]]) -> str | None:
    hists = {g: v["ai_hist"] for g, v in groups.items() if v.get("ai_hist") and sum(v["ai_hist"]) > 0}
    if not hists:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    for g, h in sorted(hists.items()):
        n = len(h)
        total = sum(h)
        ax.step([(i + 0.5) / n for i in range(n)], [c / total for c in h], where="mid", label=f"{g} ({total:,})")
    ax.set_xlabel("ai_score")
    ax.set_ylabel("share of documents")
    ax.set_title("AI-score histogram per tier")
    ax.legend(fontsize=7)
    return _png(fig)


_PLOTTED = (
    "ref_vocab_coverage",
    "rare_type_survival",
    "tail_mass",
    "jsd_to_reference",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "mattr",
    "gzip_ratio",
    "exact_dup_rate",
)


def _plot_indicators(groups: Mapping[str, Mapping[str, Any]], alarms: list[dict[str, Any]]) -> str | None:
    values = groups.get("all")
    if not values:
        return None
    names = [n for n in _PLOTTED if isinstance(values.get(n), (int, float))]
    if not names:
        return None
    plt = _plt()
    alarmed = {a["indicator"] for a in alarms if a["group"] == "all"}
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.35 * len(names)))
    colors = [_ALARM if n in alarmed else _OK for n in names]
    ax.barh(names[::-1], [values[n] for n in names][::-1], color=colors[::-1])
    for i, n in enumerate(names[::-1]):
        ax.text(min(values[n], 0.92), i, f" {values[n]:.3g}", va="center", fontsize=8)
    ref_tail = values.get("ref_tail_mass")
    if ref_tail is not None and "tail_mass" in names:
        ax.plot([ref_tail], [names[::-1].index("tail_mass")], "k|", markersize=14, label="reference tail mass")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlim(0, 1)
    ax.set_title("Collapse indicators (all documents; red = alarm)")
    return _png(fig)


# ----------------------------------------------------------------------------- html


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return html.escape(str(value))


def _img(b64: str | None, alt: str, missing: str) -> str:
    if b64 is None:
        return f'<p class="missing">{html.escape(missing)}</p>'
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _indicator_table(groups: Mapping[str, Mapping[str, Any]], alarms: list[dict[str, Any]]) -> str:
    if not groups:
        return '<p class="missing">No collapse indicators in this run (MeasureCollapse did not run).</p>'
    alarmed = {(a["group"], a["indicator"]) for a in alarms}
    names = sorted({k for v in groups.values() for k, x in v.items() if not isinstance(x, list)})
    head = "".join(f"<th>{html.escape(g)}</th>" for g in groups)
    rows = []
    for n in names:
        cells = []
        for g, v in groups.items():
            cls = ' class="alarm"' if (g, n) in alarmed else ""
            cells.append(f"<td{cls}>{_fmt(v.get(n, ''))}</td>")
        definition, good = INDICATORS.get(n, ("", ""))
        rows.append(
            f"<tr><th>{html.escape(n)}</th><td>{html.escape(definition)}</td><td>{html.escape(good)}</td>"
            f"{''.join(cells)}</tr>"
        )
    return f"<table><tr><th>indicator</th><th>what it measures</th><th>good</th>{head}</tr>{''.join(rows)}</table>"


def _dead_letter_table(kinds: list[dict[str, Any]]) -> str:
    if not kinds:
        return '<p class="ok">No dead letters.</p>'
    rows = "".join(
        f"<tr><td>{html.escape(k['stage'])}</td><td>{html.escape(k['unit'])}</td><td>{html.escape(k['kind'])}</td>"
        f"<td>{k['count']:,}</td><td>"
        + " ".join(f'<a href="dead_letter/{html.escape(f)}">{html.escape(f)}</a>' for f in k["files"])
        + f"</td><td>{html.escape(', '.join(k['inputs']))}</td></tr>"
        for k in kinds
    )
    return (
        "<table><tr><th>stage</th><th>unit</th><th>error</th><th>count</th><th>dead-letter files</th>"
        f"<th>inputs (first 5)</th></tr>{rows}</table><p>unit <i>file</i>: the rest of an input file could not "
        "be read (counted as a failed file, not as records).</p>"
    )


#: Columns of the AI-decisions tables: (row key, heading).
_AI_COLUMNS = (
    ("docs", "docs seen"),
    ("dropped", "dropped"),
    ("downweighted", "down-weighted"),
    ("tagged", "tagged"),
    ("calibration_human", "calibration (exempt)"),
    ("share_removed_docs", "share removed"),
    ("share_of_input_docs", "input share (docs)"),
    ("share_of_input_words", "input share (words)"),
    ("share_of_kept_words", "kept corpus share (words)"),
)


def _ai_table(title: str, rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in _AI_COLUMNS)
    body = "".join(
        f"<tr><th>{html.escape(str(r.get('key')))}"
        + (f" ({r['domains']:,} domains)" if r.get("domains") else "")
        + "</th>"
        + "".join(f"<td>{_fmt(r.get(k)) if r.get(k) is not None else '-'}</td>" for k, _ in _AI_COLUMNS)
        + "</tr>"
        for r in rows
    )
    return f"<table><tr><th>{html.escape(title)}</th>{head}</tr>{body}</table>"


def _ai_section(ai: Mapping[str, Any] | None) -> str:
    if ai is None:
        return ""
    t = ai.get("thresholds") or {}
    totals = ai.get("totals") or {}
    edges = ", ".join(str(e) for e in ai.get("length_edges") or [])
    reference = ai.get("reference_snapshot")
    ref = (
        f"reference {html.escape(str(reference))}: {html.escape(ai.get('reference_note') or '')}"
        if reference
        else (html.escape(ai.get("reference_note") or ""))
    )
    return f"""<h2>AI decisions</h2>
<p>action {_fmt(ai.get("action"))} (uncertain band: {_fmt(ai.get("uncertain_action"))}) · threshold
{_fmt(t.get("threshold"))} · confident threshold {_fmt(t.get("confident_threshold"))} · source {_fmt(t.get("source"))}
· in-run calibration documents {_fmt(t.get("calibration_docs", 0))} · {_fmt(totals.get("docs"))} documents decided,
{_fmt(totals.get("dropped"))} dropped, {_fmt(totals.get("downweighted"))} down-weighted, {_fmt(totals.get("tagged"))}
tagged.</p>
<p>Lengths in {html.escape(str(ai.get("length_unit")))} (bucket edges {html.escape(edges)}); {ref}.</p>
{_ai_table("domain", ai.get("by_domain") or [])}
<p></p>
{_ai_table("length", ai.get("by_length") or [])}
<p>share removed = dropped / docs seen; input share = the row's share of every document (or word) decide_ai saw;
kept corpus share = its share of the words decide_ai passed on (down-weighted and tagged documents count in full).
Calibration (exempt): in-run calibration documents, which pass undecided.</p>
"""


def _inputs_table(inputs: list[dict[str, Any]]) -> str:
    if not inputs:
        return '<p class="missing">No input list in the manifest.</p>'
    shown = inputs[:50]
    rows = "".join(f"<tr><td>{html.escape(str(i['path']))}</td><td>{_fmt(i['bytes'])}</td></tr>" for i in shown)
    more = f"<p>… and {len(inputs) - len(shown):,} more (see manifest.json).</p>" if len(inputs) > len(shown) else ""
    return f"<table><tr><th>input file</th><th>bytes</th></tr>{rows}</table>{more}"


def render_html(report: Mapping[str, Any]) -> str:
    """Render the report as one self-contained HTML page."""
    col = report["collapse"]
    groups, alarms = col["groups"], col["alarms"]
    alarm_items = "".join(
        f"<li><b>{html.escape(a['group'])}</b>: {html.escape(a['indicator'])} = {_fmt(a['value'])} "
        f"({a['rule']} {a['bound']})</li>"
        for a in alarms
    )
    status = (
        f'<p class="alarm">{len(alarms)} alarm(s):</p><ul>{alarm_items}</ul>'
        if alarms
        else ('<p class="ok">No indicator crossed its alarm bound.</p>' if groups else "")
    )
    funnel_rows = "".join(
        f"<tr><td>{html.escape(r['stage'])}</td><td>{r['in']:,}</td><td>{r['kept']:,}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in r['dropped'].items()) or '-')}</td>"
        f"<td>{r['dead_letter']}</td></tr>"
        for r in report["funnel"]
    )
    missing = ", ".join(report["missing"]) or "none"
    plain = [*report.get("component_words", []), *report.get("alarm_words", [])]
    warning_items = "".join(f"<li>{html.escape(w)}</li>" for w in report.get("warnings", []))
    warnings = (
        f'<p class="alarm">{len(report["warnings"])} warning(s) (tailguard run --strict exits 4 on these):</p>'
        f"<ul>{warning_items}</ul>"
        if report.get("warnings")
        else '<p class="ok">No warnings.</p>'
    )
    plain_items = "".join(f"<li>{html.escape(w)}</li>" for w in plain)
    duration = report.get("duration_s")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tailguard report</title>
<style>
body {{ font-family: sans-serif; max-width: 980px; margin: 1em auto; color: #212121; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.15em; border-bottom: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 0.85em; }} td, th {{ border: 1px solid #ddd; padding: 2px 6px; }}
td.alarm, p.alarm {{ color: {_ALARM}; font-weight: bold; }} p.ok {{ color: {_OK}; }}
p.missing {{ color: {_MISSING}; font-style: italic; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>tailguard run report</h1>
<p>created {_fmt(report.get("created"))} · run took {_fmt(duration) + " s" if duration is not None else "unknown"} ·
{len(report.get("inputs") or [])} input file(s) · tailguard {_fmt(report.get("tailguard_version"))} ·
config {_fmt((report.get("config_sha256") or "")[:12])} · ledger balanced: {_fmt(report.get("ledger_balanced"))} ·
sections absent: {html.escape(missing)}</p>
<h2>Warnings</h2>{warnings}
<h2>Collapse alarms</h2>{status}
{f"<ul>{plain_items}</ul>" if plain_items else ""}
<h2>Per-stage funnel</h2>
{_img(_plot_funnel(report["funnel"]), "funnel", "No ledger in the manifest.")}
<table><tr><th>stage</th><th>in</th><th>kept</th><th>dropped</th><th>dead letter</th></tr>{funnel_rows}</table>
<h2>Tier and token shares vs targets</h2>
{_img(_plot_shares("Tier shares", report["tiers"]), "tiers", "No tiers section in the manifest.")}
{_img(_plot_shares("Mixing shares vs targets", report["mixing"]), "mixing", "No mixing section in the manifest.")}
{_ai_section(report.get("ai_decisions"))}
<h2>Per-tier corpora (ensembles)</h2>
{_views_table(report.get("tiers_written") or [])}
<h2>AI-score histograms per tier</h2>
{_img(_plot_ai_hist(groups), "ai histogram", "No AI scores in the written corpus.")}
<h2>Collapse indicators vs reference</h2>
<p>reference: {_fmt(col.get("reference") or "none (reference-free indicators only)")}
snapshot {_fmt(col.get("reference_snapshot"))}</p>
{_img(_plot_indicators(groups, alarms), "indicators", "No indicators to plot.")}
{_indicator_table(groups, alarms)}
<h2>Dead letters by kind</h2>
{_dead_letter_table(report.get("dead_letter_kinds") or [])}
<h2>Inputs</h2>
{_inputs_table(report.get("inputs") or [])}
</body></html>
"""


def write_report(output_dir: str) -> tuple[str, str]:
    """Read ``OUTPUT/manifest.json``; write ``report.json`` and ``report.html``; return their paths."""
    layout = OutputLayout(output_dir)
    manifest = _read_json(layout.manifest)
    if manifest is None:
        raise FileNotFoundError(f"{output_dir}/manifest.json not found: the run did not finish")
    report = build_report(manifest, output_dir)
    json_path = layout.report_json
    html_path = layout.report_html
    with FileSystems.create(json_path) as fh:
        fh.write(json.dumps(report, indent=2).encode("utf-8"))
    with FileSystems.create(html_path) as fh:
        fh.write(render_html(report).encode("utf-8"))
    return json_path, html_path
