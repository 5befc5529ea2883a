"""How much output one Flink batch bundle may produce before Beam's portable data plane stalls.

Beam's Flink batch runner (the DataSet translation of the 2.62 job server that deploy/flink/local.sh
runs) processes a whole partition of an executable stage as **one bundle**.  The runner side queues
the SDK harness's output in a bounded queue (100 ``Elements`` messages; the Python harness flushes
one message per ~10 MB) and drains it only after the harness has answered the bundle
(``SdkHarnessClient.ActiveBundle.close`` waits for the response first).  A bundle whose output does
not fit in that queue plus the gRPC and harness buffers therefore never finishes: the harness is
blocked sending, the TaskManager waits for the response, and no process uses CPU.  This is what
hung the 1M-document curation job four times (deploy/SCALING.md).

This benchmark measures it on the running cluster with a 20-line pipeline and no tailguard code:
``Create(seeds) -> Reshuffle -> FlatMap(emit MB of 10 kB records) -> GroupByKey -> Count``, for
each (total MB, parallelism).  A run that has not finished after ``--timeout`` seconds is
cancelled and reported as ``stalled``.  One JSON object on stdout.

    deploy/flink/local.sh up            # TAILGUARD_FLINK_SLOTS=4 for parallelism 8
    python benchmarks/flink_bundle_limit.py --cases 400:1 1600:1 1600:8
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
import urllib.request
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

import tailguard.pipelines.flink_runner  # noqa: F401  (declares the job server's Flink options)

RECORD_BYTES = 10_000


def _records(seed: int, count: int) -> Any:
    payload = bytes([seed % 251]) * RECORD_BYTES
    for i in range(count):
        yield i % 997, payload


def _cancel_running(rest: str, wait_s: float = 120.0) -> list[str]:
    """Cancel every RUNNING job through Flink's REST API and wait until none is left running.

    Beam's ``result.cancel()`` through the 2.62 job server did not stop a stalled job here: it kept
    its task slots, and the next case then waited for slots and looked stalled too.
    """

    def running() -> list[str]:
        with urllib.request.urlopen(f"{rest}/jobs/overview", timeout=10) as response:
            jobs = json.load(response)["jobs"]
        return [j["jid"] for j in jobs if j["state"] in ("RUNNING", "CANCELLING", "CREATED", "RESTARTING")]

    cancelled = running()
    for jid in cancelled:
        request = urllib.request.Request(f"{rest}/jobs/{jid}?mode=cancel", method="PATCH")
        urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + wait_s
    while running() and time.monotonic() < deadline:
        time.sleep(2)
    return cancelled


def run_case(
    total_mb: int, parallelism: int, timeout_s: float, job_endpoint: str, pool: str, rest: str
) -> dict[str, Any]:
    """Run one case; ``outcome`` is ``completed``, ``stalled`` (cancelled at the timeout) or ``failed``."""
    seeds = max(parallelism, 1) * 2
    per_seed = total_mb * 1_000_000 // RECORD_BYTES // seeds
    options = PipelineOptions(
        [
            "--runner=PortableRunner",
            f"--job_endpoint={job_endpoint}",
            f"--parallelism={parallelism}",
            "--environment_type=EXTERNAL",
            f"--environment_config={pool}",
            "--sdk_worker_parallelism=1",
        ]
    )
    p = beam.Pipeline(options=options)
    _ = (
        p
        | beam.Create(list(range(seeds)))
        | beam.Reshuffle()
        | beam.FlatMap(_records, per_seed)
        | beam.GroupByKey()
        | beam.Map(lambda kv: sum(len(v) for v in kv[1]))
        | beam.combiners.Count.Globally()
    )
    start = time.perf_counter()
    result = p.run()
    try:
        state = result.wait_until_finish(duration=int(timeout_s * 1000))
    except Exception as error:  # noqa: BLE001 - the job's failure is the measurement
        return {"total_mb": total_mb, "parallelism": parallelism, "outcome": "failed", "error": str(error)[:300]}
    seconds = round(time.perf_counter() - start, 1)
    if state == PipelineState.DONE:
        outcome = "completed"
    else:
        outcome = "stalled"
        try:
            result.cancel()
        except Exception:  # noqa: BLE001 - the REST cancel below is the one that counts
            pass
        _cancel_running(rest)
    largest = per_seed * RECORD_BYTES * -(-seeds // max(parallelism, 1)) / 1e6
    return {
        "total_mb": total_mb,
        "parallelism": parallelism,
        "seeds": seeds,
        "mb_per_partition_if_even": round(largest, 1),
        "outcome": outcome,
        "seconds": seconds,
        "state": str(state),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["400:1", "1600:1", "1600:8"], help="TOTAL_MB:PARALLELISM")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a case counts as stalled")
    parser.add_argument("--job-endpoint", default="localhost:8099")
    parser.add_argument("--worker-pool", default="localhost:50000")
    parser.add_argument("--flink-rest", default="http://localhost:8081", help="to cancel stalled jobs for real")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    leftover = _cancel_running(args.flink_rest)
    if leftover:
        print(f"cancelled {len(leftover)} job(s) still running on the cluster", file=sys.stderr)
    cases = []
    for case in args.cases:
        total_mb, parallelism = (int(x) for x in case.split(":"))
        cases.append(
            run_case(total_mb, parallelism, args.timeout, args.job_endpoint, args.worker_pool, args.flink_rest)
        )
        print(json.dumps(cases[-1]), file=sys.stderr, flush=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "benchmark": "flink_bundle_limit",
                "what": "one Flink batch bundle = one partition; output per bundle vs Beam 2.62's data plane",
                "record_bytes": RECORD_BYTES,
                "timeout_s": args.timeout,
                "driver_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
