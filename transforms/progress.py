"""Progress reporting for long local runs.

The in-process runner shows Beam counters only after the run ends, so stages
also report to this per-process tally; a daemon thread logs a one-line summary
(files and records done, drops so far) every ``interval`` seconds.  On
Dataflow/Flink the same lines appear in worker logs and the counters are live in
the job UI.  Process-wide state is deliberate here: it is the one place all
DoFns of a worker can report to without a shuffle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

__all__ = ["ProgressTally"]

_LOG = logging.getLogger("tailguard.progress")


class ProgressTally:
    """Thread-safe per-process tally with a periodic logger."""

    _instance: ProgressTally | None = None
    _lock = threading.Lock()

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._counts: Counter[str] = Counter()
        self._mutex = threading.Lock()
        self._started = time.monotonic()
        self._total_files: int | None = None
        thread = threading.Thread(target=self._run, name="tailguard-progress", daemon=True)
        thread.start()

    @classmethod
    def get(cls, interval: float = 10.0) -> ProgressTally:
        """Return the process's tally, starting its logger on first use."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = ProgressTally(interval)
            return cls._instance

    def set_total_files(self, total: int) -> None:
        """Record how many input files the run has."""
        self._total_files = total

    def add(self, key: str, n: int = 1) -> None:
        """Add ``n`` to ``key`` (``files``, ``records``, ``kept``, ``dropped:<stage>/<reason>``)."""
        with self._mutex:
            self._counts[key] += n

    def snapshot(self) -> dict[str, int]:
        """Return a copy of the current counts."""
        with self._mutex:
            return dict(self._counts)

    def line(self) -> str:
        """Format the current progress as one log line."""
        counts = self.snapshot()
        elapsed = time.monotonic() - self._started
        files = f"{counts.get('files', 0)}" + (f"/{self._total_files}" if self._total_files else "")
        drops = sum(v for k, v in counts.items() if k.startswith("dropped:"))
        top = sorted(((v, k[8:]) for k, v in counts.items() if k.startswith("dropped:")), reverse=True)[:4]
        top_text = ", ".join(f"{k}={v}" for v, k in top)
        rate = counts.get("records", 0) / elapsed if elapsed > 0 else 0.0
        return (
            f"progress {elapsed:6.0f}s: files {files} done, records read {counts.get('records', 0)} "
            f"({rate:,.0f}/s), written {counts.get('kept', 0)}, dropped {drops}"
            + (f" [{top_text}]" if top_text else "")
            + f", dead-letter {counts.get('dead_letter', 0)}"
        )

    def _run(self) -> None:
        last = None
        while True:
            time.sleep(self._interval)
            current = self.line()
            if current != last:
                _LOG.info(current)
                last = current
