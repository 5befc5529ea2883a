"""Stages that are off are never imported (issue 13: no work for stages that are off).

Each check runs in a fresh interpreter, because this test session has long imported every stage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tailguard.pipelines.stages import STAGES

# stage name -> its PTransform module
STAGE_MODULES = {
    "extract": "tailguard.transforms.extract",
    "langid": "tailguard.transforms.langid",
    "quality": "tailguard.transforms.quality",
    "dedup_exact": "tailguard.transforms.dedup_exact",
    "dedup_near": "tailguard.transforms.dedup_near",
    "detect_ai": "tailguard.transforms.ai_score",
    "decide_ai": "tailguard.transforms.ai_decide",
    "tiers": "tailguard.transforms.tiers",
    "mix": "tailguard.transforms.mix",
}

_PROBE = textwrap.dedent(
    """
    import json, sys
    import apache_beam as beam
    from tailguard.filters.layout import OutputLayout
    from tailguard.pipelines import curate  # noqa: F401  (the driver, as `tailguard run` loads it)
    from tailguard.pipelines.config import config_from_dict
    from tailguard.pipelines.stages import STAGES, RunContext

    sections = json.loads(sys.argv[1])
    cfg = config_from_dict({s.name: sections.get(s.name, {"enabled": False}) for s in STAGES})
    p = beam.Pipeline()
    docs = p | beam.Create([])
    for spec, stage_cfg in cfg.enabled_stages():
        docs = (docs | spec.label >> spec.build(stage_cfg, RunContext(OutputLayout(sys.argv[2]), 0, 1))).docs
    print(json.dumps(sorted(m for m in sys.modules if m.startswith(("tailguard", "apache_beam.ml")))))
    """
)


def _loaded(enabled: set[str], tmp: str) -> set[str]:
    # decide_ai needs a threshold (or a model) to be valid; detect_ai needs a trained model, so it is
    # not probed here (tests/transforms/test_ai_stages.py builds it with one)
    sections = {name: {"enabled": True, **({"threshold": 0.5} if name == "decide_ai" else {})} for name in enabled}
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sections), tmp], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_every_stage_has_a_module_in_this_table() -> None:
    assert set(STAGE_MODULES) == {spec.name for spec in STAGES}


@pytest.mark.parametrize(
    "enabled",
    [set(), {"dedup_exact", "dedup_near"}, {"extract", "langid", "quality"}, {"decide_ai"}, {"tiers", "mix"}],
    ids=lambda s: "+".join(sorted(s)) or "none",
)
def test_only_enabled_stage_modules_are_imported(enabled: set[str], tmp_path) -> None:
    loaded = _loaded(enabled, str(tmp_path))
    for name, module in STAGE_MODULES.items():
        assert (module in loaded) == (name in enabled), f"{name}: {module} loaded={module in loaded}"
    if not enabled & {"detect_ai", "decide_ai"}:
        # the detector ensemble (fastText, n-gram, LM tiers) and Beam's RunInference stay unloaded
        assert "tailguard.filters.detect.ensemble" not in loaded
        assert not any(m.startswith("apache_beam.ml") for m in loaded)
