"""The real Flink cluster on all of ``../shared/data/crawl/**`` (every format, the broken files included).

Marked ``flink_shared``, not ``flink``: it needs the shared real data and skips with that reason
where it is absent (a user's fresh clone), while ``pytest -m flink`` must never skip on a machine
with Java.  It is opt-in (``pytest -m flink_shared``, setup.cfg): it takes ~6 min on 2 cores, and
the default run (CI) must stay under 15 minutes; the demo-sample test of test_flink_cluster.py
runs the same comparison in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipelines.test_flink_cluster import CRAWL, _assert_same_run, _configs, flink_cluster  # noqa: F401

pytestmark = [pytest.mark.flink_shared, pytest.mark.slow]


@pytest.mark.skipif(not CRAWL.is_dir(), reason=f"{CRAWL} (shared real crawl data) is absent")
def test_shared_crawl_on_real_flink_equals_in_process_runner(flink_cluster: None, tmp_path: Path) -> None:  # noqa: F811
    # resiliparse: the same reader and rules, ~10x faster extraction than trafilatura on 2 cores
    flink, local = _configs([str(CRAWL / "**")], tmp_path, extract={"extractor": "resiliparse"})
    _assert_same_run(flink, local)
