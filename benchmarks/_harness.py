"""Shared benchmark helpers: run a function in a fresh process and measure time and peak RSS."""

from __future__ import annotations

import json
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def _child(fn: Callable[..., Any], args: tuple[Any, ...], conn: Any) -> None:
    start = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send({"seconds": elapsed, "peak_rss_mb": round(peak_kb / 1024, 1), "result": result})
    conn.close()


def measure_in_subprocess(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh process (so peak RSS is its own); return timing, RSS and result."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(fn, args, child))
    proc.start()
    out = parent.recv()
    proc.join()
    return out


def emit(obj: dict[str, Any]) -> None:
    """Print the benchmark's one JSON object on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
