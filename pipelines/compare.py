"""``tailguard report compare RUN1 RUN2 [...] --out DIR``: collapse monitoring across corpus versions.

Reads ``manifest.json`` of two or more finished runs (oldest first), compares
their collapse indicators per run and per tier with
``filters/collapse/compare.py``, and writes ``DIR/compare.json`` (``runs``,
``indicators``, ``alarms``) and a self-contained ``DIR/compare.html`` (tables,
deltas, trends, alarms; matplotlib plots inline as base64 PNG).  Exit code 0,
or 4 with ``--fail-on-alarm`` when an alarm fires — for data teams' CI.

Imports no Beam: local run folders are read with plain file IO; a ``gs://``
(or other scheme) path imports Beam's ``FileSystems`` only for that read.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tailguard.filters.collapse.compare import DEFAULT_MAX_DROP, CompareSettings, compare_runs, run_indicators
from tailguard.filters.errors import ConfigError
from tailguard.filters.layout import OutputLayout, join_path

__all__ = ["EXIT_ALARM", "compare", "render_compare_html", "run_report"]

#: Exit code of ``--fail-on-alarm`` when at least one alarm fired (0 ok, 2 config error, 3 ledger).
EXIT_ALARM = 4
_COMPARE_JSON = "compare.json"
_COMPARE_HTML = "compare.html"
_ALARM, _OK = "#c62828", "#2e7d32"


def _read_text(path: str) -> str | None:
    if "://" in path:  # remote run folder: only then is Beam's filesystem layer imported
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as fh:
            return str(fh.read().decode("utf-8"))
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _load_run(path: str, name: str) -> Any:
    text = _read_text(OutputLayout(path).manifest)
    if text is None:
        raise ConfigError(f"RUN {path!r}: no manifest.json (not a finished tailguard run)")
    try:
        return run_indicators(name, path, json.loads(text))
    except ValueError as exc:
        raise ConfigError(f"RUN {path!r}: {exc}") from exc


def compare(runs: Sequence[str], out_dir: str, settings: CompareSettings, names: Sequence[str] = ()) -> dict[str, Any]:
    """Compare the runs in ``runs`` (oldest first); write compare.json and compare.html into ``out_dir``.

    Args:
        runs: Output folders of finished runs.
        out_dir: Folder for the two files (created).
        settings: Alarm rules.
        names: Labels of the runs (default: each folder's name).

    Returns:
        The comparison (the content of compare.json).
    """
    if len(runs) < 2:
        raise ConfigError("RUN: report compare needs at least two run folders")
    if names and len(names) != len(runs):
        raise ConfigError(f"--name: {len(names)} names for {len(runs)} runs")
    labels = list(names) or [os.path.basename(r.rstrip("/")) or r for r in runs]
    if len(set(labels)) != len(labels):
        labels = [f"{i + 1}:{label}" for i, label in enumerate(labels)]  # two folders with the same name
    result = compare_runs([_load_run(r, n) for r, n in zip(runs, labels, strict=True)], settings)
    os.makedirs(out_dir, exist_ok=True)
    with open(join_path(out_dir, _COMPARE_JSON), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=_json_default)
    with open(join_path(out_dir, _COMPARE_HTML), "w", encoding="utf-8") as fh:
        fh.write(render_compare_html(result))
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON-serialisable: {value!r}")


# ----------------------------------------------------------------------------- HTML


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:+.1%}"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plot_watched(result: Mapping[str, Any]) -> str | None:
    """One panel per watched indicator: a line per group over the versions; alarmed points in red."""
    runs = [r["name"] for r in result["runs"]]
    watched = sorted({n for g in result["indicators"].values() for n, e in g.items() if e["watched"]})
    if not watched:
        return None
    alarmed = {(a["group"], a["indicator"], a["to_run"]) for a in result["alarms"]}
    plt = _plt()
    cols = min(4, len(watched))
    rows = math.ceil(len(watched) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, watched, strict=False):
        for group, entries in result["indicators"].items():
            entry = entries.get(name)
            if entry is None or not entry["watched"]:
                continue
            xs = [i for i, v in enumerate(entry["values"]) if v is not None]
            ys = [entry["values"][i] for i in xs]
            ax.plot(xs, ys, "-o", markersize=3, label=group, lw=2 if group == "all" else 1)
            bad = [i for i in xs if (group, name, runs[i]) in alarmed]
            ax.plot(bad, [entry["values"][i] for i in bad], "o", color=_ALARM, markersize=8, fillstyle="none")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels(runs, rotation=30, fontsize=7, ha="right")
    for ax in list(axes.flat)[len(watched) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _plot_deltas(result: Mapping[str, Any]) -> str | None:
    """Relative change of every watched indicator of the ``all`` group between consecutive versions."""
    entries = {n: e for n, e in result["indicators"].get("all", {}).items() if e["watched"]}
    runs = [r["name"] for r in result["runs"]]
    if not entries or len(runs) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    steps = len(runs) - 1
    width = 0.8 / len(entries)
    bounds = result["settings"]["max_drop"]
    for k, (name, entry) in enumerate(sorted(entries.items())):
        rel = [x if x is not None and not math.isnan(x) else 0.0 for x in entry["relative_deltas"]]
        colors = [_ALARM if r < -bounds.get(name, 1.0) else "#607d8b" for r in rel]
        ax.bar([i + k * width for i in range(steps)], rel, width, color=colors, label=name)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(steps)])
    ax.set_xticklabels([f"{a} → {b}" for a, b in zip(runs, runs[1:], strict=False)], fontsize=7)
    ax.set_ylabel("relative change (all)")
    ax.set_title("change between consecutive versions (red: beyond the drop bound)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _img(b64: str | None, alt: str) -> str:
    if b64 is None:
        return f'<p class="missing">No {html.escape(alt)} to plot.</p>'
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _group_table(group: str, entries: Mapping[str, Any], runs: Sequence[str], alarmed: set[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(r)}</th>" for r in runs)
    delta_head = "".join(f"<th>Δ {html.escape(b)}</th>" for b in runs[1:])
    rows = []
    for name, e in entries.items():
        if name.endswith("_hist"):
            continue
        cls = ' class="alarm"' if (group, name) in alarmed else (' class="watched"' if e["watched"] else "")
        values = "".join(f"<td>{_fmt(v)}</td>" for v in e["values"])
        deltas = "".join(f"<td>{_pct(r)}</td>" for r in e["relative_deltas"])
        rows.append(f"<tr{cls}><th>{html.escape(name)}</th>{values}{deltas}<td>{html.escape(e['trend'])}</td></tr>")
    return (
        f"<h3>{html.escape(group)}</h3><table><tr><th>indicator</th>{head}{delta_head}<th>trend</th></tr>"
        f"{''.join(rows)}</table>"
    )


def render_compare_html(result: Mapping[str, Any]) -> str:
    """The comparison as one self-contained HTML page (no network, no other file)."""
    runs = [r["name"] for r in result["runs"]]
    alarms = result["alarms"]
    alarmed = {(a["group"], a["indicator"]) for a in alarms}
    items = "".join(f"<li>{html.escape(a['kind'])}: {html.escape(a['message'])}</li>" for a in alarms)
    status = (
        f'<p class="alarm">{len(alarms)} alarm(s):</p><ul>{items}</ul>'
        if alarms
        else '<p class="ok">No watched indicator fell beyond its bound.</p>'
    )
    run_rows = "".join(
        f"<tr><td>{html.escape(r['name'])}</td><td>{_fmt(r['path'])}</td><td>{_fmt(r['created'])}</td>"
        f"<td>{_fmt((r['config_sha256'] or '')[:12])}</td><td>{_fmt(r['reference_snapshot'])}</td>"
        f"<td>{html.escape(', '.join(r['groups']))}</td></tr>"
        for r in result["runs"]
    )
    settings = result["settings"]
    rules = ", ".join(f"{k} {v:.0%}" for k, v in sorted(settings["max_drop"].items()))
    ref_note = (
        '<p class="alarm">The runs used different reference snapshots: reference indicators are not comparable.</p>'
        if result.get("reference_snapshots_differ")
        else ""
    )
    tables = "".join(_group_table(g, e, runs, alarmed) for g, e in result["indicators"].items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tailguard compare</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 1em auto; color: #212121; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.15em; border-bottom: 1px solid #ccc; }} h3 {{ font-size: 1em; }}
table {{ border-collapse: collapse; font-size: 0.8em; }} td, th {{ border: 1px solid #ddd; padding: 2px 6px; }}
tr.alarm th, tr.alarm td, p.alarm {{ color: {_ALARM}; font-weight: bold; }} p.ok {{ color: {_OK}; }}
tr.watched th {{ font-style: italic; }} p.missing {{ color: #757575; font-style: italic; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>tailguard: collapse indicators across {len(runs)} versions</h1>
<h2>Alarms</h2>{status}
<p>Rules: a watched indicator (italic) alarms when it falls between consecutive versions by more than
{html.escape(rules)}; or when it falls at every step over at least {settings["steady_versions"]} versions by
more than {settings["steady_min_drop"]:.0%} in total. Groups not alarmed: {html.escape(", ".join(settings["skip_groups"]))}.</p>
{ref_note}
<h2>Runs (oldest first)</h2>
<table><tr><th>name</th><th>path</th><th>created</th><th>config</th><th>reference</th><th>groups</th></tr>{run_rows}</table>
<h2>Watched indicators over the versions</h2>
{_img(_plot_watched(result), "watched indicators")}
{_img(_plot_deltas(result), "changes between versions")}
<h2>Every indicator per run and per tier</h2>
<p>Δ = relative change from the previous version; trend = falling / rising at every step, else the sign of the
least-squares slope.</p>
{tables}
</body></html>
"""


# ----------------------------------------------------------------------------- CLI


def _parse_drop(items: Sequence[str]) -> dict[str, float]:
    out = dict(DEFAULT_MAX_DROP)
    for item in items:
        name, sep, value = item.partition("=")
        try:
            bound = float(value)
        except ValueError:
            bound = float("nan")
        if not sep or name not in DEFAULT_MAX_DROP or not 0.0 < bound < 1.0:
            raise ConfigError(
                f"--max-drop {item!r}: expected INDICATOR=FRACTION with FRACTION in (0, 1) and INDICATOR one of "
                f"{sorted(DEFAULT_MAX_DROP)}"
            )
        out[name] = bound
    return out


def run_report(argv: Sequence[str]) -> int:
    """Entry point of ``tailguard report``; its one subcommand is ``compare``."""
    parser = argparse.ArgumentParser(prog="tailguard report", description="reports over finished runs")
    sub = parser.add_subparsers(dest="subcommand", required=True)
    cmp = sub.add_parser("compare", help="collapse indicators across runs (oldest first)")
    cmp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="output folders of finished runs, oldest first")
    cmp.add_argument("--out", required=True, help="folder for compare.json and compare.html")
    cmp.add_argument("--name", action="append", default=[], help="label of each run, in order (repeatable)")
    cmp.add_argument("--max-drop", action="append", default=[], metavar="INDICATOR=FRACTION",
                     help="relative fall between versions that alarms (default 0.10 for every watched indicator)")  # fmt: skip
    cmp.add_argument("--steady-versions", type=int, default=3, help="versions of steady decline that alarm (>= 3)")
    cmp.add_argument("--steady-min-drop", type=float, default=0.05, help="total fall a steady decline must exceed")
    cmp.add_argument("--fail-on-alarm", action="store_true", help=f"exit {EXIT_ALARM} when any alarm fires")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        settings = CompareSettings(
            max_drop=_parse_drop(args.max_drop),
            steady_versions=args.steady_versions,
            steady_min_drop=args.steady_min_drop,
        )
    except ValueError as exc:
        raise ConfigError(f"--steady-versions/--steady-min-drop: {exc}") from exc
    result = compare(args.runs, args.out, settings, args.name)
    for alarm in result["alarms"]:
        print(f"ALARM {alarm['kind']}: {alarm['message']}")
    print(f"compared {len(args.runs)} runs: {len(result['alarms'])} alarm(s) -> {args.out}/{_COMPARE_HTML}")
    return EXIT_ALARM if (args.fail_on_alarm and result["alarms"]) else 0
