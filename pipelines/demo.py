"""``tailguard demo``: generate the embedded sample and run the full pipeline on it.

Needs nothing but an installed tailguard: the sample is generated from text
shipped with Python (see :mod:`tailguard.pipelines.sample`), the packaged
``configs/local.yaml`` is the base config, and every stage that needs a model
gets one trained here on the sample's own labelled split.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tailguard.filters.collapse.reference import build_reference, save_reference
from tailguard.filters.detect.ensemble import train_detector
from tailguard.filters.layout import OutputLayout
from tailguard.pipelines.config import CurationConfig, config_from_dict
from tailguard.pipelines.curate import check_output, claim_output, run_config
from tailguard.pipelines.manifest import print_summary
from tailguard.pipelines.sample import SampleInfo, write_sample

__all__ = ["demo_config", "run_demo"]

_LOG = logging.getLogger("tailguard.demo")


def packaged_config(name: str) -> dict[str, Any]:
    """Return the parsed YAML of a config shipped in ``tailguard.configs``."""
    text = importlib.resources.files("tailguard.configs").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def demo_config(sample: SampleInfo, output_dir: str, work_dir: Path) -> CurationConfig:
    """Build the demo's config: ``local.yaml`` pointed at the sample, plus demo-only models.

    Args:
        sample: The generated sample.
        output_dir: Where the run writes its output.
        work_dir: Where models trained for the demo are written.

    Returns:
        The validated config.
    """
    data = packaged_config("local.yaml")
    data["inputs"] = [sample.crawl_glob, str(sample.curated_synthetic), str(sample.verified_human)]
    data["output"] = output_dir
    data.setdefault("write", {})["num_shards"] = 2
    # Provenance the user declares: a verified-human source and a curated synthetic source.
    labels = data.setdefault("tiers", {}).setdefault("source_labels", {})
    labels["verified_human"] = [str(sample.verified_human)]
    labels["curated_synthetic"] = [str(sample.curated_synthetic)]
    # The AI-text detector, trained on the sample's own labelled split (disjoint from the crawl).
    model_dir = work_dir / "detector"
    _LOG.info("training the demo's AI-text detector on %s", sample.labelled_train)
    train_detector([str(sample.labelled_train)], str(model_dir))
    data.setdefault("detect_ai", {}).update({"enabled": True, "model_dir": str(model_dir)})
    data.setdefault("decide_ai", {}).update({"enabled": True, "action": "tag", "model_dir": str(model_dir)})
    # A human reference snapshot, so the report shows tail-loss indicators against it.
    reference_dir = work_dir / "reference"
    human_texts = [json.loads(line)["text"] for line in sample.verified_human.open(encoding="utf-8")]
    save_reference(build_reference(human_texts, [str(sample.verified_human)]), reference_dir)
    data.setdefault("collapse", {})["reference"] = str(reference_dir)
    return config_from_dict(data)


def run_demo(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tailguard demo``; returns the exit code.

    The same command gives byte-identical shards on every run and for every
    ``--output``: the sample is generated deterministically and the run reads it
    through paths relative to the output folder (the documents' ``source``
    column never holds the output path).  Like ``tailguard run``, a finished
    output is never replaced without ``--overwrite``.
    """
    parser = argparse.ArgumentParser(prog="tailguard demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="tailguard-demo", help="output directory (default: ./tailguard-demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample generator")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    args, beam_args = parser.parse_known_args(argv)
    output = str(Path(args.output).resolve()) if "://" not in args.output else args.output
    layout = OutputLayout(output)
    # The same rule as `tailguard run`, checked before the sample is written: a finished run or
    # a folder that is not a tailguard run is refused without --overwrite, and nothing in it is touched.
    check_output(layout, args.overwrite)
    claim_output(layout)
    # The sample and the demo's models live under BASE/_demo; the run reads them relative to BASE.
    base = Path(output) if "://" not in output else Path(tempfile.mkdtemp(prefix="tailguard-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    os.chdir(base)
    try:
        work = Path(layout.demo_name)  # relative: the run reads the sample relative to BASE
        _LOG.info("generating the embedded sample under %s", base / work / "sample")
        sample = write_sample(work / "sample", seed=args.seed)
        cfg = demo_config(sample, output, work)
        result = run_config(cfg, beam_args, overwrite=args.overwrite)
    finally:
        os.chdir(previous)
    print_summary(result.manifest, result.output_dir)
    if not result.balanced:
        _LOG.error("the ledger does not balance (see manifest.json)")
        return 3
    return 0
