"""The `tailguard` command line: dispatch, exit codes, error messages."""

from __future__ import annotations

import subprocess
import sys

from tailguard.pipelines.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "run" in out and "demo" in out


def test_unknown_command_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_config_error_exits_2_with_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("write:\n  format: csv\n")
    code = main(["run", "--config", str(cfg), "--input", str(tmp_path / "x.jsonl"), "--output", str(tmp_path / "o")])
    assert code == 2
    assert "write.format: 'csv' is not allowed" in capsys.readouterr().err


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "tailguard.pipelines.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "commands:" in out.stdout
