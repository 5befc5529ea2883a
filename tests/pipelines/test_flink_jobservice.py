"""The portable Job API path that Flink uses, exercised end to end against Beam's local job service.

``FlinkRunner`` is a ``PortableRunner``: with ``--job_endpoint`` it sends the pipeline proto
and the encoded options over the Job API (Prepare → stage artifacts → Run) instead of
starting a job-server jar.  Here the job service is Beam's own
``local_job_service_main`` (started as a subprocess), and the SDK harness runs in this
process (LOOPBACK).  The last test runs on a real embedded Flink mini-cluster
(``--flink_master=[local]`` with deploy/flink/local.sh's job-server launcher jar), wherever
``java`` exists; tests/pipelines/test_flink_cluster.py runs on a real session cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.job import utils as job_utils
from apache_beam.runners.portability import portable_runner
from apache_beam.transforms import environments

from tailguard.pipelines.config import CurationConfig, load_config
from tailguard.pipelines.curate import run_config
from tests.pipelines.helpers import read_jsonl_zst_dir

pytestmark = pytest.mark.flink

REPO = Path(__file__).resolve().parents[2]
SDK_IMAGE = "apache/beam_python3.11_sdk:2.77.0"
NUM_DOCS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{process.args!r} did not listen on port {port} within {timeout_s:.0f} s")


@contextlib.contextmanager
def _beam_service(module: str, port: int, log_path: Path, *args: str) -> Iterator[str]:
    """Run ``python -m module`` in its own process group until the block ends; yield localhost:port."""
    # worker_pool_main starts SDK workers with the `python` first on PATH: make that this venv's.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            _wait_for_port(port, process)
            yield f"localhost:{port}"
        finally:
            # The group holds only what this test started (the service and the workers it forked).
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def job_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Beam's local job service (the Job API server FlinkRunner talks to), on a free port."""
    port = _free_port()
    staging = tmp_path_factory.mktemp("job_staging")
    module = "apache_beam.runners.portability.local_job_service_main"
    with _beam_service(module, port, staging / "job_service.log", f"--port={port}", f"--staging_dir={staging}") as url:
        yield url


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Beam worker pool, as the `--worker_pool` sidecar runs it next to each Flink task manager."""
    port = _free_port()
    log = tmp_path_factory.mktemp("worker_pool") / "worker_pool.log"
    with _beam_service("apache_beam.runners.worker.worker_pool_main", port, log, f"--service_port={port}") as url:
        yield url


@pytest.fixture
def tiny_jsonl(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for part in range(2):
        rows = [
            json.dumps(
                {"id": f"doc-{part}-{i}", "text": f"Document {part}-{i} talks about rivers and hills number {i}."}
            )
            for i in range(NUM_DOCS // 2)
        ]
        (folder / f"part-{part}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def sent_to_job_service(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record the pipeline protos and the encoded options the runner sends in PrepareJob.

    A run may submit more than one job (the resumable ingest phase, then the rest).
    """
    sent: dict[str, Any] = {"pipelines": []}
    original_prepare = portable_runner.JobServiceHandle.prepare
    original_options = portable_runner.JobServiceHandle.get_pipeline_options

    def prepare(self: Any, proto_pipeline: beam_runner_api_pb2.Pipeline) -> Any:
        sent["pipelines"].append(proto_pipeline)
        return original_prepare(self, proto_pipeline)

    def get_pipeline_options(self: Any) -> Any:
        sent["options"] = original_options(self)
        return sent["options"]

    monkeypatch.setattr(portable_runner.JobServiceHandle, "prepare", prepare)
    monkeypatch.setattr(portable_runner.JobServiceHandle, "get_pipeline_options", get_pipeline_options)
    return sent


def _flink_config(inputs: Path, output: Path) -> CurationConfig:
    cfg = load_config(REPO / "configs" / "flink.yaml")
    write = dataclasses.replace(cfg.write, format="jsonl.zst", num_shards=2)
    return cfg.replace(inputs=(str(inputs / "*.jsonl"),), output=str(output), write=write)


def _options_dict(struct: Any) -> dict[str, Any]:
    return {key.split(":")[2]: value for key, value in job_utils.struct_to_dict(struct).items()}


@pytest.mark.slow
@pytest.mark.parametrize("environment_type", ["LOOPBACK", "EXTERNAL"])
def test_flink_runner_options_run_end_to_end_through_job_service(
    environment_type: str,
    job_endpoint: str,
    tiny_jsonl: Path,
    tmp_path: Path,
    sent_to_job_service: dict[str, Any],
    request: pytest.FixtureRequest,
):
    cfg = _flink_config(tiny_jsonl, tmp_path / "out")
    # configs/flink.yaml as a user has it, except: the job service here, the SDK harness in
    # this process (LOOPBACK) or in a worker pool process like the Kubernetes sidecar
    # (EXTERNAL), and an absolute setup_file (the sdist is staged through the Job API).
    options = {k: v for k, v in cfg.pipeline.options.items() if k != "environment_config"}
    cfg = cfg.replace(pipeline=dataclasses.replace(cfg.pipeline, options=options))
    beam_args = [
        f"--job_endpoint={job_endpoint}",
        f"--environment_type={environment_type}",
        f"--setup_file={REPO / 'setup.py'}",
    ]
    if environment_type == "EXTERNAL":
        beam_args.append(f"--environment_config={request.getfixturevalue('worker_pool')}")
    result = run_config(cfg, beam_args)

    ledger = result.manifest.data["ledger"]
    assert ledger["balanced"] is True
    assert ledger["input_records"] == NUM_DOCS
    dropped = sum(sum(reasons.values()) for reasons in ledger["dropped"].values())
    assert ledger["kept"] + dropped + ledger["dead_letter"] == NUM_DOCS
    rows = read_jsonl_zst_dir(tmp_path / "out" / "corpus")
    assert len(rows) == result.manifest.data["outputs"]["records"]
    assert {row["id"] for row in rows} <= {f"doc-{p}-{i}" for p in range(2) for i in range(NUM_DOCS // 2)}

    options = _options_dict(sent_to_job_service["options"])
    assert options["flink_version"] == cfg.pipeline.options["flink_version"]
    assert options["flink_master"] == cfg.pipeline.options["flink_master"]
    assert int(options["parallelism"]) == cfg.pipeline.options["parallelism"]
    assert options["environment_type"] == environment_type
    assert options["job_endpoint"] == job_endpoint
    protos = sent_to_job_service["pipelines"]
    urns = {env.urn for proto in protos for env in proto.components.environments.values()}
    assert urns == {"beam:env:external:v1"}  # LOOPBACK is sent as an external pool living in this process
    labels = {t.unique_name.rsplit("/", 1)[-1] for proto in protos for t in proto.components.transforms.values()}
    assert {"ReadCrawl", "WriteCorpus", "WriteLedger"} <= labels
    assert {spec.label for spec, _ in cfg.enabled_stages()} <= labels


def test_flink_yaml_sends_external_worker_pool_environment():
    cfg = load_config(REPO / "configs" / "flink.yaml")
    env = portable_runner.PortableRunner._create_environment(PipelineOptions(cfg.pipeline.beam_args()))
    assert isinstance(env, environments.ExternalEnvironment)
    assert env.url == cfg.pipeline.options["environment_config"]


def test_docker_environment_uses_the_beam_sdk_image():
    cfg = load_config(REPO / "configs" / "flink.yaml")
    args = [*cfg.pipeline.beam_args(), "--environment_type=DOCKER", f"--environment_config={SDK_IMAGE}"]
    env = portable_runner.PortableRunner._create_environment(PipelineOptions(args))
    assert isinstance(env, environments.DockerEnvironment)
    assert env.container_image == SDK_IMAGE


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_deploy_files_agree_with_flink_yaml():
    """The compose file and the operator manifest run what configs/flink.yaml expects."""
    cfg = load_config(REPO / "configs" / "flink.yaml")
    flink_version = cfg.pipeline.options["flink_version"]
    pool_port = cfg.pipeline.options["environment_config"].rsplit(":", 1)[1]
    job_port = cfg.pipeline.options["job_endpoint"].rsplit(":", 1)[1]

    compose = yaml.safe_load((REPO / "deploy" / "flink" / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert services["jobmanager"]["image"].startswith(f"flink:{flink_version}")
    assert services["job-server"]["image"] == f"apache/beam_flink{flink_version}_job_server:2.77.0"
    assert any(p.startswith(f"{job_port}:") for p in services["job-server"]["ports"])
    pool = services["beam-worker-pool"]
    assert pool["image"] == SDK_IMAGE and "--worker_pool" in pool["command"]
    assert pool["network_mode"] == "service:taskmanager"  # localhost:<pool_port> is the task manager's localhost

    manifests = _docs(REPO / "deploy" / "flink" / "flink-session-cluster.yaml")
    deployment = next(m for m in manifests if m["kind"] == "FlinkDeployment")
    assert deployment["spec"]["flinkVersion"] == "v" + flink_version.replace(".", "_")
    containers = deployment["spec"]["taskManager"]["podTemplate"]["spec"]["containers"]
    sidecar = next(c for c in containers if c["name"] == "beam-worker-pool")
    assert sidecar["image"] == SDK_IMAGE and "--worker_pool" in sidecar["args"]
    assert str(sidecar["ports"][0]["containerPort"]) == pool_port


def _job_server_jar() -> str:
    """The launcher jar of deploy/flink/local.sh's job server (fetched there), or the env override."""
    if os.environ.get("TAILGUARD_FLINK_JOB_SERVER_JAR"):
        return os.environ["TAILGUARD_FLINK_JOB_SERVER_JAR"]
    if shutil.which("java") is None:
        return ""
    out = subprocess.run(
        ["bash", str(REPO / "deploy" / "flink" / "local.sh"), "job-server-jar"], capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.mark.flink_embedded
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="no `java` on PATH: Flink's embedded mini-cluster needs a JVM")
def test_real_flink_embedded_cluster_runs_the_pipeline(tiny_jsonl: Path, tmp_path: Path) -> None:
    jar = _job_server_jar()
    if not Path(jar).is_file():
        subprocess.run(["bash", str(REPO / "deploy" / "flink" / "local.sh"), "fetch"], check=True, timeout=1200)
    cfg = load_config(REPO / "configs" / "flink-local.yaml")
    stages = dict(cfg.stages)
    # 3 rounds: the DataSet plan optimizer does not finish 10 (deploy/flink/README.md)
    stages["dedup_near"] = dataclasses.replace(stages["dedup_near"], max_rounds=3)
    cfg = cfg.replace(
        inputs=(str(tiny_jsonl / "*.jsonl"),),
        output=str(tmp_path / "out"),
        write=dataclasses.replace(cfg.write, format="jsonl.zst", num_shards=2),
        stages=stages,
        pipeline=dataclasses.replace(cfg.pipeline, options={"flink_version": "1.19"}),
    )
    # [local]: the job-server jar starts an embedded Flink mini-cluster; workers loop back here.
    beam_args = [
        "--flink_master=[local]",
        f"--flink_job_server_jar={jar}",
        "--environment_type=LOOPBACK",
        "--parallelism=2",
    ]
    result = run_config(cfg, beam_args)
    assert result.balanced
    assert result.manifest.data["ledger"]["input_records"] == NUM_DOCS
