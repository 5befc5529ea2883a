"""Beam's portable ``FlinkRunner`` with one fix the Flink batch translation needs.

Flink's batch API can only union data sets of one type, so the Beam Flink job server rejects a
``Flatten`` whose inputs were encoded with different coders ("Cannot union inputs of different
types", seen on the demo sample: ``WriteLedger/FlattenCounts`` joins a typed ``KV[str, int]``
count with untyped ones, and Beam's own ``CoGroupByKey`` flattens its tagged inputs, typed or
not).  The in-process runner and Dataflow accept such a Flatten.  Before submission this runner
inserts an identity ``ParDo`` in front of every Flatten input whose coder differs from the
Flatten's output coder, so that input is re-encoded with the output coder (what Beam's own
``fix_flatten_coders`` phase does for its in-process runner).  Elements are not changed: the
output coder already had to encode every one of them.

Use it by its import path: ``pipeline.runner: tailguard.pipelines.flink_runner.FlinkRunner``
(``configs/flink-local.yaml``); every ``FlinkRunner`` option applies unchanged.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability import flink_runner

__all__ = ["FlinkJobServerOptions", "FlinkRunner", "unify_flatten_coders"]

_FLATTEN = common_urns.primitives.FLATTEN.urn
_PAR_DO = common_urns.primitives.PAR_DO.urn


class _IdentityFn(beam.DoFn):
    """Emit every element unchanged (its output PCollection carries the Flatten's coder)."""

    def process(self, element: Any) -> Any:
        yield element


def _identity_spec() -> beam_runner_api_pb2.FunctionSpec:
    """The ParDo spec of ``_IdentityFn``, taken from a throwaway pipeline's proto."""
    pipeline = beam.Pipeline(runner="FnApiRunner")
    _ = pipeline | beam.Impulse() | "TailguardIdentity" >> beam.ParDo(_IdentityFn())
    proto = pipeline.to_runner_api()
    for transform in proto.components.transforms.values():
        if transform.unique_name.endswith("TailguardIdentity") and transform.spec.urn == _PAR_DO:
            return transform.spec
    raise RuntimeError("identity ParDo not found in its own pipeline proto")


def _unique(existing: Any, base: str) -> str:
    name, n = base, 0
    while name in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def unify_flatten_coders(proto: beam_runner_api_pb2.Pipeline) -> beam_runner_api_pb2.Pipeline:
    """Return ``proto`` with every Flatten input re-encoded with the Flatten's output coder.

    Args:
        proto: A pipeline proto as the portable runner submits it.

    Returns:
        A copy in which each Flatten input whose coder differs from the output's passes
        through an identity ParDo (same environment as the input's producer) first.
    """
    result = beam_runner_api_pb2.Pipeline()
    result.CopyFrom(proto)
    components = result.components
    producers = {pc: tid for tid, t in components.transforms.items() for pc in t.outputs.values()}
    parents = {child: tid for tid, t in components.transforms.items() for child in t.subtransforms}
    python_envs = [
        t.environment_id for t in components.transforms.values() if t.spec.urn == _PAR_DO and t.environment_id
    ]
    spec: beam_runner_api_pb2.FunctionSpec | None = None
    for flatten_id, flatten in list(components.transforms.items()):
        if flatten.spec.urn != _FLATTEN or not flatten.outputs:
            continue
        output_coder = components.pcollections[next(iter(flatten.outputs.values()))].coder_id
        for tag, input_id in list(flatten.inputs.items()):
            source = components.pcollections[input_id]
            if source.coder_id == output_coder:
                continue
            spec = spec or _identity_spec()
            producer = components.transforms.get(producers.get(input_id, ""))
            environment = producer.environment_id if producer is not None and producer.environment_id else ""
            environment = environment or (python_envs[0] if python_envs else "")
            new_pc = _unique(components.pcollections, f"{input_id}/unified")
            components.pcollections[new_pc].CopyFrom(source)
            components.pcollections[new_pc].unique_name = f"{source.unique_name}/Unified{tag}"
            components.pcollections[new_pc].coder_id = output_coder
            new_id = _unique(components.transforms, f"{flatten_id}/Unify{tag}")
            transform = components.transforms[new_id]
            transform.unique_name = f"{flatten.unique_name}/Unify{tag}"
            transform.spec.CopyFrom(spec)
            transform.inputs["input"] = input_id
            transform.outputs["out"] = new_pc
            transform.environment_id = environment
            components.transforms[flatten_id].inputs[tag] = new_pc
            parent = parents.get(flatten_id)
            if parent is not None:
                components.transforms[parent].subtransforms.append(new_id)
            else:
                result.root_transform_ids.append(new_id)
    return result


class FlinkJobServerOptions(PipelineOptions):
    """Flink runner options of the Java job server that Beam's Python SDK does not declare.

    The portable runner sends only the options some Python class declares; declaring these here
    lets ``--use_data_stream_for_batch`` (Java ``useDataStreamForBatch``) and
    ``--execution_mode_for_batch`` (Java ``executionModeForBatch``) reach the job server.
    """

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--use_data_stream_for_batch",
            default=False,
            action="store_true",
            help="translate a batch pipeline with Flink's DataStream API in BATCH mode instead of the "
            "DataSet API, whose plan optimizer ran over 10 CPU-minutes without finishing on the curate "
            "phase (its many joins: dedup's unrolled connected-components rounds)",
        )
        parser.add_argument(
            "--execution_mode_for_batch",
            default=None,
            choices=["PIPELINED", "PIPELINED_FORCED", "BATCH", "BATCH_FORCED"],
            help="Flink's data exchange mode for batch jobs (Java executionModeForBatch; the job "
            "server's default is PIPELINED). BATCH_FORCED makes every exchange blocking (spilled to "
            "disk), Beam's remedy for FLINK-10672; it did not fix the 1M-document curation hang of "
            "deploy/SCALING.md and made the demo Flink test ~1.5x slower",
        )


class FlinkRunner(flink_runner.FlinkRunner):
    """``FlinkRunner`` whose submitted pipeline has one coder per Flatten (see the module docstring)."""

    @staticmethod
    def _optimize_pipeline(
        proto_pipeline: beam_runner_api_pb2.Pipeline, options: PipelineOptions
    ) -> beam_runner_api_pb2.Pipeline:
        optimized = flink_runner.FlinkRunner._optimize_pipeline(proto_pipeline, options)
        return unify_flatten_coders(optimized)
