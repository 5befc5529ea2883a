"""Config validation fails at launch with messages that name the key and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailguard.pipelines.config import ConfigError, config_from_dict, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["local.yaml", "smoke.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = load_config(REPO / "configs" / name)
    assert cfg.pipeline.runner == "FnApiRunner"


def test_unknown_key_names_the_key_and_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"write: unknown key\(s\) shards; allowed keys: format, num_shards"):
        config_from_dict({"write": {"shards": 3}})


def test_unknown_section_lists_allowed_sections():
    with pytest.raises(ConfigError, match=r"unknown section\(s\) dedupe; allowed sections:"):
        config_from_dict({"dedupe": {}})


def test_literal_value_lists_allowed_values():
    with pytest.raises(
        ConfigError, match=r"write.format: 'csv' is not allowed; allowed values: 'parquet', 'jsonl.zst'"
    ):
        config_from_dict({"write": {"format": "csv"}})


def test_wrong_type_is_reported_with_its_path():
    with pytest.raises(ConfigError, match=r"write.num_shards: expected an integer, got 'two'"):
        config_from_dict({"write": {"num_shards": "two"}})


def test_post_init_checks_become_config_errors():
    with pytest.raises(ConfigError, match=r"read: read.max_record_bytes must be > 0"):
        config_from_dict({"read": {"max_record_bytes": 0}})


def test_direct_runner_without_prism_location_is_refused():
    with pytest.raises(ConfigError, match="Prism"):
        config_from_dict({"pipeline": {"runner": "DirectRunner"}})


def test_runner_settings_become_beam_flags():
    cfg = config_from_dict({"pipeline": {"direct_num_workers": 2, "options": {"save_main_session": False}}})
    assert cfg.pipeline.beam_args() == [
        "--runner=FnApiRunner",
        "--direct_running_mode=in_memory",
        "--direct_num_workers=2",
        "--no_save_main_session",
    ]


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("write: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_config_hash_ignores_paths_but_not_settings():
    a = config_from_dict({"inputs": ["a"], "output": "x"})
    b = config_from_dict({"inputs": ["b"], "output": "y"})
    c = config_from_dict({"seed": 1})
    assert a.sha256() == b.sha256() != c.sha256()
