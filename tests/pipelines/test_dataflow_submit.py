"""Dataflow submission path, verified without a cloud: dry-run translation and local template staging.

Both tests build the whole DAG from ``configs/dataflow.yaml`` (every stage the config
enables) with fake GCP settings and a socket guard: Beam must not open a network
connection (no bucket listing, no bucket creation, no Dataflow API call).

* ``--dry_run=True`` runs the complete Runner v2 translation and returns before submission.
* ``--template_location`` + a local ``--staging_location`` + ``--no_auth`` + an unreachable
  ``--dataflow_endpoint`` writes the job JSON and stages ``pipeline.pb`` and the
  ``--setup_file`` sdist to a local folder, which we then inspect.

What only a real Dataflow job can show (workers install the sdist, gs:// IO with ADC,
autoscaling, Dataflow Shuffle) is listed in docs/deploy.md.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from tailguard.filters.layout import OutputLayout
from tailguard.pipelines.config import CurationConfig, load_config
from tailguard.pipelines.curate import build_pipeline
from tailguard.pipelines.stages import RunContext

pytestmark = pytest.mark.dataflow

REPO = Path(__file__).resolve().parents[2]
SDK_IMAGE = "beam_python3.11_sdk:2.77.0"
FAKE_GCP = [
    "--project=tailguard-ci-fake",
    "--region=us-central1",
    # A valid bucket name: an invalid one makes Beam try to create a default bucket over the network.
    "--temp_location=gs://tailguard-ci-fake/tmp",
    f"--setup_file={REPO / 'setup.py'}",
]
# Labels every full pipeline has, besides one per enabled stage.
# Rejected records, dead letters and the ledger are written by one composite (transforms/accounting.py).
FIXED_LABELS = {
    "ReadCrawl",
    "WriteCorpus",
    "WriteAccounting",
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse (and record) every outgoing connection and DNS lookup from this process."""
    attempts: list[Any] = []

    def refuse_connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network disabled in this test (tried {address!r})")

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(("dns", host))
        raise socket.gaierror(f"network disabled in this test (looked up {host!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    yield attempts


def _dataflow_config() -> CurationConfig:
    # Inputs on gs:// are matched by the pipeline at run time, never listed at construction.
    return load_config(REPO / "configs" / "dataflow.yaml").replace(
        inputs=("gs://tailguard-ci-fake/crawl/*.warc.gz",),
        output="gs://tailguard-ci-fake/runs/ci",
    )


def _build(cfg: CurationConfig, *flags: str) -> beam.Pipeline:
    """Build (not run) the full DAG the way ``tailguard run`` does, with ``flags`` overriding the config."""
    options = PipelineOptions([*cfg.pipeline.beam_args(), *FAKE_GCP, *flags])
    pipeline = beam.Pipeline(options=options)
    context = RunContext(OutputLayout(cfg.output), cfg.seed, cfg.write.resolve_shards(0))
    build_pipeline(pipeline, cfg, context, total_files=None)
    return pipeline


def _top_level_labels(proto: beam_runner_api_pb2.Pipeline) -> set[str]:
    return {t.unique_name for t in proto.components.transforms.values() if "/" not in t.unique_name}


def _expected_labels(cfg: CurationConfig) -> set[str]:
    return FIXED_LABELS | {spec.label for spec, _ in cfg.enabled_stages()}


@pytest.mark.slow
def test_dry_run_translates_every_stage_without_network(no_network: list[Any]):
    cfg = _dataflow_config()
    result = _build(cfg, "--dry_run=True").run()
    result.wait_until_finish()
    proto = result.job.proto_pipeline
    assert _expected_labels(cfg) <= _top_level_labels(proto)
    images = [
        beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image
        for env in proto.components.environments.values()
    ]
    assert images and all(image.endswith(SDK_IMAGE) for image in images)
    assert no_network == []


@pytest.mark.slow
def test_template_staging_writes_job_json_with_sdist_and_sdk_image(tmp_path: Path, no_network: list[Any]):
    cfg = _dataflow_config()
    staging = tmp_path / "staging"
    staging.mkdir()
    _build(
        cfg,
        f"--template_location={staging / 'job.json'}",
        f"--staging_location={staging}",
        "--dataflow_endpoint=http://localhost:1",
        "--no_auth",
    ).run()
    job = json.loads((staging / "job.json").read_text())
    options = job["environment"]["sdkPipelineOptions"]["options"]
    pool = job["environment"]["workerPools"][0]

    assert job["type"] == "JOB_TYPE_BATCH"
    assert "use_runner_v2" in job["environment"]["experiments"]
    # Worker settings from configs/dataflow.yaml reach the job.
    assert options["machine_type"] == cfg.pipeline.options["machine_type"]
    assert options["max_num_workers"] == cfg.pipeline.options["max_num_workers"]
    assert options["setup_file"] == str(REPO / "setup.py")
    # The code ships as an sdist of this repository, staged next to the job.
    packages = {package["name"]: Path(package["location"]) for package in pool["packages"]}
    assert "workflow.tar.gz" in packages
    with tarfile.open(packages["workflow.tar.gz"]) as sdist:
        names = sdist.getnames()
    assert any(name.endswith("/setup.py") for name in names)
    assert any(name.endswith("/pipelines/curate.py") for name in names)
    assert any(name.endswith("/transforms/read_crawl.py") for name in names)
    # The workers run the Beam Python 3.11 SDK container of the same Beam version.
    assert pool["sdkHarnessContainerImages"][0]["containerImage"].endswith(SDK_IMAGE)
    # Runner v2 keeps the steps in the staged pipeline proto that the job JSON points to.
    proto = beam_runner_api_pb2.Pipeline.FromString(Path(options["pipelineUrl"]).read_bytes())
    assert _expected_labels(cfg) <= _top_level_labels(proto)
    assert no_network == []


def _flex_template_main() -> Any:
    spec = importlib.util.spec_from_file_location("tailguard_flex_main", REPO / "deploy" / "dataflow" / "main.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flex_template_entry_point_accepts_every_metadata_parameter(no_network: list[Any]):
    metadata = json.loads((REPO / "deploy" / "dataflow" / "metadata.json").read_text())
    values = {
        "input": "gs://tailguard-ci-fake/crawl/*.warc.gz",
        "output": "gs://tailguard-ci-fake/runs/flex",
        "config": str(REPO / "configs" / "dataflow.yaml"),
        "overwrite": "false",
    }
    assert {p["name"] for p in metadata["parameters"]} == set(values)
    # The launcher passes template parameters and Dataflow options as --name=value.
    argv = [f"--{name}={value}" for name, value in values.items()] + FAKE_GCP + ["--dry_run=True"]
    assert _flex_template_main().main(argv) == 0
    assert no_network == []
