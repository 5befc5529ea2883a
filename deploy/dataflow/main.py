"""Dataflow Flex Template entry point: build the tailguard pipeline and submit it, without waiting.

The template launcher runs ``python main.py --input=... --output=... [--config=...]
[--overwrite=true]`` plus Dataflow's own options (project, region, temp_location,
sdk_container_image, ...), which pass through to Beam.  The launcher only has to submit
the job, so this entry point does not wait for it and does not write ``manifest.json``
(``tailguard run`` waits and writes it when submitting directly; see docs/deploy.md).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tailguard.filters.layout import OutputLayout
from tailguard.pipelines.config import load_config
from tailguard.pipelines.curate import build_pipeline, parse_run_args
from tailguard.pipelines.stages import RunContext

DEFAULT_CONFIG = "/template/configs/dataflow.yaml"
_LOG = logging.getLogger("tailguard")


def _template_args(argv: Sequence[str]) -> list[str]:
    """Template parameters are all ``--name=value`` strings: map ``--overwrite=true`` to the flag."""
    out = []
    for arg in argv:
        if arg.startswith("--overwrite="):
            if arg.split("=", 1)[1].lower() in ("true", "1", "yes"):
                out.append("--overwrite")
        else:
            out.append(arg)
    if not any(a == "--config" or a.startswith("--config=") for a in out):
        out.append(f"--config={DEFAULT_CONFIG}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Submit the pipeline described by the template parameters; return the exit code."""
    logging.basicConfig(level=logging.INFO)
    args, beam_args = parse_run_args(_template_args(sys.argv[1:] if argv is None else argv))
    cfg = load_config(args.config)
    if args.input:
        cfg = cfg.replace(inputs=tuple(args.input))
    if args.output:
        cfg = cfg.replace(output=args.output)
    if not cfg.inputs or not cfg.output:
        _LOG.error("the template needs the input and output parameters")
        return 2
    # gs:// inputs are not listed at launch: the shard count comes from write.num_shards.
    context = RunContext(OutputLayout(cfg.output), cfg.seed, cfg.write.resolve_shards(0))
    pipeline = beam.Pipeline(options=PipelineOptions([*cfg.pipeline.beam_args(), *beam_args]))
    build_pipeline(pipeline, cfg, context, total_files=None)
    pipeline.run()
    _LOG.info("tailguard job submitted: %d input pattern(s) -> %s", len(cfg.inputs), cfg.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
