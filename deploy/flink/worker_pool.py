"""Beam's Python worker pool (EXTERNAL environment) as deploy/flink/local.sh runs it, with two fixes.

A Flink task manager asks the pool to start one SDK harness per environment (``StartWorker``) and
to stop it when the environment is released (``StopWorker``).  Beam 2.77's
``apache_beam.runners.worker.worker_pool_main`` has two faults that a real Flink cluster hits:

* It keeps one process per worker id and kills that process on ``StopWorker``.  Worker ids are not
  unique: every task manager numbers its environments ``1-1``, ``2-1``, ... on its own, and a Flink
  batch job releases an environment when a stage finishes and creates the next one.  With two task
  managers on one pool, task manager 2's stop of ``5-1`` killed task manager 1's running ``5-1``
  harness (seen on the demo sample: "FnApiControlClient closed" and the job failed; with the
  start/stop race inside one task manager, the next stage waited for a harness that never
  connected: "No client connected within timeout").  Here a stop kills nothing at once: a harness
  ends by itself when its runner closes the control channel, and a reaper only ends harnesses of
  that id still alive a grace period later beyond those whose stop has not come yet.
* It starts harnesses with ``stdout=PIPE`` and never reads the pipe: a harness that prints 64 KB
  blocks forever.  Here harness output goes to a log file.

Everything else (the command line of the harness, the gRPC service) is Beam's own.
"""

from __future__ import annotations

import argparse
import collections
import logging
import subprocess
import sys
import threading
import time
from typing import IO, Any

from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc
from apache_beam.runners.worker import worker_pool_main
from apache_beam.utils import thread_pool_executor

_LOGGER = logging.getLogger("tailguard.worker_pool")


class PairedWorkerPoolServicer(beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolServicer):
    """Starts one SDK harness process per request; stops only harnesses that outlived their runner."""

    def __init__(
        self,
        harness_log: IO[bytes],
        state_cache_size: int = 0,
        data_buffer_time_limit_ms: int = -1,
        grace_s: float = 30.0,
    ):
        self._harness_log = harness_log
        self._state_cache_size = state_cache_size
        self._data_buffer_time_limit_ms = data_buffer_time_limit_ms
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._processes: dict[str, list[subprocess.Popen[bytes]]] = collections.defaultdict(list)
        self._open: collections.Counter[str] = collections.Counter()  # starts not yet matched by a stop

    def StartWorker(  # noqa: N802 - gRPC method name
        self, request: beam_fn_api_pb2.StartWorkerRequest, context: Any
    ) -> beam_fn_api_pb2.StartWorkerResponse:
        """Start ``SdkHarness(control_endpoint).run()`` in a new process with this interpreter."""
        code = (
            "from apache_beam.runners.worker.sdk_worker import SdkHarness; "
            f"SdkHarness({request.control_endpoint.url!r}, worker_id={request.worker_id!r}, "
            f"state_cache_size={self._state_cache_size}, "
            f"data_buffer_time_limit_ms={self._data_buffer_time_limit_ms}).run()"
        )
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", code], stdout=self._harness_log, stderr=self._harness_log, close_fds=True
            )
        except OSError as error:
            return beam_fn_api_pb2.StartWorkerResponse(error=f"cannot start an SDK harness: {error}")
        with self._lock:
            self._processes[request.worker_id].append(process)
            self._open[request.worker_id] += 1
        _LOGGER.info(
            "started SDK harness %s (pid %d, control %s)", request.worker_id, process.pid, request.control_endpoint.url
        )
        return beam_fn_api_pb2.StartWorkerResponse()

    def StopWorker(  # noqa: N802 - gRPC method name
        self, request: beam_fn_api_pb2.StopWorkerRequest, context: Any
    ) -> beam_fn_api_pb2.StopWorkerResponse:
        """Record the stop; reap this id's harnesses after the grace period (see the module docstring)."""
        with self._lock:
            self._open[request.worker_id] = max(0, self._open[request.worker_id] - 1)
        timer = threading.Timer(self._grace_s, self._reap, args=(request.worker_id,))
        timer.daemon = True
        timer.start()
        return beam_fn_api_pb2.StopWorkerResponse()

    def _reap(self, worker_id: str) -> None:
        """Forget exited harnesses of ``worker_id``; end the oldest live ones beyond its open starts."""
        with self._lock:
            live = [p for p in self._processes[worker_id] if p.poll() is None]
            excess = live[: max(0, len(live) - self._open[worker_id])]
            self._processes[worker_id] = [p for p in live if p not in excess]
        for process in excess:
            _LOGGER.info(
                "stopping SDK harness %s (pid %d): alive %.0f s after its stop", worker_id, process.pid, self._grace_s
            )
            worker_pool_main.kill_process_gracefully(process)

    def stop_all(self) -> None:
        """End every harness still running (the pool is shutting down)."""
        with self._lock:
            processes = [p for group in self._processes.values() for p in group]
            self._processes.clear()
        for process in processes:
            if process.poll() is None:
                worker_pool_main.kill_process_gracefully(process)


def main(argv: list[str] | None = None) -> int:
    """Serve the worker pool on ``--service_port`` until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service_port", type=int, required=True)
    parser.add_argument("--harness_log", required=True, help="file that receives every harness's stdout/stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import grpc  # Beam's own dependency

    with open(args.harness_log, "ab", buffering=0) as harness_log:
        servicer = PairedWorkerPoolServicer(harness_log)
        server = grpc.server(
            thread_pool_executor.shared_unbounded_instance(),
            options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)],
        )
        beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(servicer, server)
        server.add_insecure_port(f"localhost:{args.service_port}")
        server.start()
        _LOGGER.info("worker pool listening on localhost:%d", args.service_port)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop(0)
            servicer.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
