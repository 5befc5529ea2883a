"""report.json / report.html from a manifest; the page renders in headless chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tailguard.pipelines.report import build_report, write_report

CHROMIUM = "/usr/bin/chromium"


def _manifest() -> dict:
    return {
        "created": "2026-01-01T00:00:00+00:00",
        "tailguard_version": "0.1.0",
        "config_sha256": "ab" * 32,
        "stages": ["read", "quality", "dedup_exact", "tiers"],
        "ledger": {
            "input_records": 100,
            "kept": 70,
            "dropped": {"quality": {"too_short": 20}, "dedup_exact": {"duplicate": 8}},
            "dead_letter": 2,
            "dead_letter_by_stage": {"read": 2},
            "balanced": True,
        },
        "mixing": {"target_shares": {"human": 0.7, "web": 0.3}, "token_shares": {"human": 0.68, "web": 0.32}},
        "collapse": {
            "reference": "/refs/shakespeare",
            "reference_snapshot": "0123456789abcdef",
            "groups": {
                "all": {
                    "docs": 70,
                    "tail_mass": 0.02,
                    "ref_tail_mass": 0.1,
                    "distinct_2": 0.7,
                    "rare_type_survival": 0.3,
                    "ai_hist": [10, 5, 0, 0, 1],
                },
                "tier1": {"docs": 40, "tail_mass": 0.08, "ai_hist": [8, 1, 0, 0, 0]},
            },
            "alarms": [{"group": "all", "indicator": "tail_mass", "value": 0.02, "rule": "min", "bound": 0.05}],
        },
    }


def _write(tmp_path: Path, manifest: dict) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(manifest))
    write_report(str(out))
    return out


def test_report_json_has_funnel_shares_and_alarms(tmp_path: Path) -> None:
    out = _write(tmp_path, _manifest())
    report = json.loads((out / "report.json").read_text())
    assert [r["stage"] for r in report["funnel"]] == ["read", "quality", "dedup_exact", "tiers"]
    assert [r["kept"] for r in report["funnel"]] == [98, 78, 70, 70]
    assert report["mixing"]["target_shares"] == {"human": 0.7, "web": 0.3}
    assert report["collapse"]["alarms"][0]["indicator"] == "tail_mass"
    assert report["missing"] == ["tiers"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # funnel, mixing, AI histogram, indicators
    assert 'class="alarm"' in html and "http://" not in html and "https://" not in html


def test_report_degrades_gracefully_without_sections(tmp_path: Path) -> None:
    out = _write(tmp_path, {"stages": ["read"]})
    html = (out / "report.html").read_text()
    assert "No ledger in the manifest." in html and "No collapse indicators" in html
    assert build_report({})["funnel"] == []


def test_report_without_manifest_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_report(str(tmp_path))


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium): cannot render report.html")
    out = _write(tmp_path, _manifest())
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1000,2400",
        f"--screenshot={shot}",
        (out / "report.html").as_uri(),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page with plots, not a blank screenshot
    shutil.copy(shot, tmp_path / "kept-screenshot.png")
