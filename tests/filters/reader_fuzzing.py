"""Fuzzing harness for every reader and the YAML config loader (issue 14).

Shared by ``tests/filters/test_fuzz_readers.py`` (a few hundred cases per
target in CI) and ``benchmarks/fuzz_readers.py`` (>= 10,000 cases per target).
Inputs are built by hypothesis: valid seed files made here (nothing read from
disk) and structure-aware generators (JSON records, Arrow tables, YAML
mappings), then byte-level mutations (flips, cuts, insertions of interesting
tokens, deletions, repeats).

One case passes when the target:

* never raises (readers: only Document / Skip / RecordError items; the YAML
  loader: a config or a ``ConfigError``);
* does not hang (each case runs under a wall-clock alarm);
* keeps the ledger balanced: at most one ``FileFailure`` and only as the last
  item; for JSONL the item count equals the non-blank lines of the decoded
  input whenever a reference decoder (``gzip`` / ``zstandard``) reads it too;
  for Parquet it equals the rows ``pyarrow.parquet.read_table`` reads;
* yields only documents the corpus writers can store (Arrow schema and UTF-8
  JSON), so a bad record cannot break a whole shard later.
"""

from __future__ import annotations

import gzip
import io
import json
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
import zstandard
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from tailguard.filters.document import ARROW_SCHEMA, Document
from tailguard.filters.readers import ReaderOptions, RecordError, Skip, read_records

try:  # the harness also runs against older trees (to count what it finds there)
    from tailguard.filters.readers import FileFailure
except ImportError:  # pragma: no cover - only on pre-issue-14 code
    FileFailure = RecordError  # type: ignore[misc,assignment]

__all__ = ["TARGETS", "FuzzReport", "run_target"]

TARGETS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet", "warc", "wet", "arc", "yaml")
CASE_TIMEOUT_S = 10.0

_INTERESTING = (
    b"\n",
    b"\r\n\r\n",
    b"\x00",
    b"\xff\xfe",
    b'"',
    b"{",
    b"[",
    b"}",
    b"\\ud800",
    b"\\",
    b"-1",
    b"9" * 40,
    b"NaN",
    b"Content-Length: 99999999999\r\n",
    b"Content-Length: -5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"WARC/1.0\r\n",
    b"WARC-Type: response\r\n",
    b"\x1f\x8b\x08",
    b"\x28\xb5\x2f\xfd",
    b"PAR1",
    b"&a [*a, *a, *a]",
    b"!!python/object:os.system",
    b": ",
    b"- ",
)


# ----------------------------------------------------------------------------- seed files


def _jsonl_seed() -> bytes:
    doc = Document(id="t1", text="tailguard output", tier="tier1", quality={"a": 1.0}, lineage={"read": "kept"})
    lines = [
        {"id": "a", "text": "Hello world, a plain record.", "url": "https://www.example.org/a", "lang": "en"},
        {"text": "no id", "crawl_date": "2021-01-01", "extra": {"nested": [1, 2, None]}},
        doc.to_json_dict(),
        {"id": 5, "text": "   "},
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines) + b"{bad json\n"


def _parquet_seed(rows: list[dict[str, Any]] | None = None, group: int = 2) -> bytes:
    rows = rows or [{"id": f"p{i}", "text": f"parquet row {i}", "url": f"https://x.org/{i}", "n": i} for i in range(5)]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=group)
    return sink.getvalue()


def _tailguard_parquet_seed() -> bytes:
    docs = [Document(id=f"d{i}", text=f"doc {i}", quality={"q": float(i)}, lineage={"read": "kept"}) for i in range(3)]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([d.to_row() for d in docs], schema=ARROW_SCHEMA), sink, row_group_size=2)
    return sink.getvalue()


def _warc_seed(compressed: bool, wet: bool = False) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=compressed)
    fixed = {"WARC-Date": "2021-01-01T00:00:00Z"}
    count = [0]

    def record(uri: str, kind: str, payload: bytes, http: StatusAndHeaders | None = None, **extra: str) -> None:
        count[0] += 1
        headers = {**fixed, "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{count[0]:012d}>"}
        headers.update(extra)
        rec = writer.create_warc_record(
            uri, kind, payload=io.BytesIO(payload), http_headers=http, warc_headers_dict=headers
        )
        writer.write_record(rec)

    if wet:
        record(
            "https://a.org/",
            "conversion",
            b"Plain text of a converted page.\nSecond line.",
            warc_content_type="text/plain",
        )
        record("https://b.org/", "conversion", b"", warc_content_type="text/plain")
        return out.getvalue()
    html = b"<!DOCTYPE html><html><head><title>t</title></head><body><p>Some page text here.</p></body></html>"
    ok = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    record("https://a.org/", "request", b"GET / HTTP/1.1\r\nHost: a.org\r\n\r\n")
    record("https://a.org/", "response", html, ok)
    chunked = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")],
        protocol="HTTP/1.1",
    )
    body = gzip.compress(html, mtime=0)
    record("https://c.org/", "response", f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n", chunked)
    text = StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1")
    record("https://d.org/", "response", b"plain text body", text)
    missing = StatusAndHeaders("404 Not Found", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    record("https://e.org/", "response", b"<html>gone</html>", missing)
    record("https://a.org/", "revisit", b"", ok, **{"WARC-Payload-Digest": "sha1:AAAA"})
    record("https://f.org/", "metadata", b"key: value\n")
    return out.getvalue()


def _arc_seed() -> bytes:
    version = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n\n"
    head = (
        b"filedesc://test.arc 0.0.0.0 20000101000000 text/plain " + str(len(version)).encode() + b"\n" + version + b"\n"
    )
    records = b""
    for i, body in enumerate(
        [
            b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hello arc world</p></body></html>",
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nplain arc text",
        ]
    ):
        records += f"http://example.com/{i} 1.2.3.4 20000101000000 text/html {len(body)}\n".encode() + body + b"\n"
    return head + records


def _yaml_seeds() -> list[bytes]:
    import importlib.resources

    files = importlib.resources.files("tailguard.configs")
    seeds = [files.joinpath(name).read_bytes() for name in ("local.yaml", "smoke.yaml")]
    seeds.append(b"pipeline:\n  runner: FnApiRunner\nwrite:\n  num_shards: 2\nmix:\n  enabled: false\n")
    return seeds


def _seeds(target: str) -> list[tuple[str, bytes]]:
    """Return ``(file name, bytes)`` seeds for ``target`` (the name picks the reader)."""
    if target == "jsonl":
        return [("in.jsonl", _jsonl_seed())]
    if target == "jsonl.gz":
        data = _jsonl_seed()
        return [("in.jsonl.gz", gzip.compress(data, mtime=0)), ("in.jsonl.gz", gzip.compress(data, mtime=0) * 2)]
    if target == "jsonl.zst":
        data = _jsonl_seed()
        return [("in.jsonl.zst", zstandard.ZstdCompressor(write_checksum=True).compress(data))]
    if target == "parquet":
        return [("in.parquet", _parquet_seed()), ("in.parquet", _tailguard_parquet_seed())]
    if target == "warc":
        return [("in.warc", _warc_seed(False)), ("in.warc.gz", _warc_seed(True))]
    if target == "wet":
        return [("in.warc.wet", _warc_seed(False, wet=True)), ("in.warc.wet.gz", _warc_seed(True, wet=True))]
    if target == "arc":
        arc = _arc_seed()
        return [("in.arc", arc), ("in.arc.gz", gzip.compress(arc, mtime=0))]
    if target == "yaml":
        return [("config.yaml", s) for s in _yaml_seeds()]
    raise ValueError(f"unknown fuzz target {target!r}")


# ----------------------------------------------------------------------------- strategies

_POS = st.integers(0, 1 << 16)
_MUTATION = st.one_of(
    st.tuples(st.just("flip"), _POS, st.integers(0, 255)),
    st.tuples(st.just("cut"), _POS),
    st.tuples(st.just("insert"), _POS, st.binary(max_size=48)),
    st.tuples(st.just("token"), _POS, st.sampled_from(_INTERESTING)),
    st.tuples(st.just("delete"), _POS, st.integers(1, 256)),
    st.tuples(st.just("repeat"), _POS, st.integers(1, 512)),
)


def _mutate(data: bytes, mutations: list[tuple[Any, ...]]) -> bytes:
    buf = bytearray(data)
    for mutation in mutations:
        kind, where = mutation[0], mutation[1]
        at = where * (len(buf) + 1) >> 16
        if kind == "flip" and buf:
            buf[min(at, len(buf) - 1)] = mutation[2]
        elif kind == "cut":
            del buf[at:]
        elif kind in ("insert", "token"):
            buf[at:at] = mutation[2]
        elif kind == "delete":
            del buf[at : at + mutation[2]]
        elif kind == "repeat":
            buf[at:at] = buf[at : at + mutation[2]]
    return bytes(buf)


_KEYS = st.sampled_from(
    [
        "id",
        "text",
        "url",
        "crawl_date",
        "lang",
        "provenance",
        "lineage",
        "quality",
        "metadata",
        "tier",
        "lang_score",
        "x",
    ]
)
_JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=8).map(repr),
)
_JSON = st.recursive(
    _JSON_SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEYS | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def _json_lines(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.dictionaries(_KEYS, _JSON, max_size=6))
        if draw(st.booleans()):
            row["text"] = draw(st.text(max_size=80))
        if draw(st.booleans()):
            row["provenance"] = draw(
                st.dictionaries(st.sampled_from(["position", "record_id", "bogus"]), _JSON, max_size=3)
            )
            row["lineage"] = draw(_JSON)
        try:
            line = json.dumps(row, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            continue
        lines.append(line)
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


@st.composite
def _arrow_table(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 6))
    columns: dict[str, pa.Array] = {}
    for name in draw(st.lists(_KEYS, max_size=5, unique=True)):
        kind = draw(st.sampled_from(["str", "int", "float", "ts", "bin", "list", "struct", "map", "null", "date"]))
        if kind == "str":
            columns[name] = pa.array(
                draw(st.lists(st.none() | st.text(max_size=30), min_size=n, max_size=n)), pa.string()
            )
        elif kind == "int":
            columns[name] = pa.array(
                draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)), pa.int64()
            )
        elif kind == "float":
            columns[name] = pa.array(draw(st.lists(st.floats(), min_size=n, max_size=n)), pa.float64())
        elif kind == "ts":  # timestamps far outside datetime's range
            values = draw(st.lists(st.integers(-(2**63) + 1, 2**63 - 1), min_size=n, max_size=n))
            columns[name] = pa.array(values, pa.int64()).cast(pa.timestamp("ns"))
        elif kind == "date":
            values = draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n))
            columns[name] = pa.array(values, pa.int32()).cast(pa.date32())
        elif kind == "bin":
            columns[name] = pa.array(draw(st.lists(st.binary(max_size=16), min_size=n, max_size=n)), pa.binary())
        elif kind == "list":
            columns[name] = pa.array(draw(st.lists(st.lists(st.integers(0, 9), max_size=3), min_size=n, max_size=n)))
        elif kind == "struct":
            values = draw(
                st.lists(
                    st.fixed_dictionaries({"position": st.integers(0, 9), "bogus": st.text(max_size=4)}),
                    min_size=n,
                    max_size=n,
                )
            )
            columns[name] = pa.array(values)
        elif kind == "map":
            values = draw(
                st.lists(st.lists(st.tuples(st.text(max_size=4), st.floats()), max_size=3), min_size=n, max_size=n)
            )
            columns[name] = pa.array(values, pa.map_(pa.string(), pa.float64()))
        else:
            columns[name] = pa.nulls(n)
    sink = io.BytesIO()
    table = pa.table(columns) if columns else pa.table({"text": pa.array([], pa.string())})
    pq.write_table(
        table,
        sink,
        row_group_size=draw(st.integers(1, 4)),
        compression=draw(st.sampled_from(["zstd", "none", "snappy"])),
    )
    return sink.getvalue()


@st.composite
def _yaml_doc(draw: st.DrawFn) -> bytes:
    sections = ["pipeline", "read", "write", "resume", "collapse", "mix", "tiers", "dedup_near", "quality", "bogus", 1]
    keys = ["enabled", "num_shards", "format", "runner", "targets", "seed", "options", "threshold", "batch_files", 2]
    value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(keys), c, max_size=3),
        max_leaves=8,
    )
    data = draw(st.dictionaries(st.sampled_from(sections), value, max_size=5))
    return yaml.safe_dump(data).encode()


def _case_strategy(target: str) -> st.SearchStrategy[tuple[str, bytes]]:
    seeds = _seeds(target)
    mutated_seed = st.tuples(st.sampled_from(seeds), st.lists(_MUTATION, max_size=6)).map(
        lambda pair: (pair[0][0], _mutate(pair[0][1], pair[1]))
    )
    options: list[st.SearchStrategy[tuple[str, bytes]]] = [mutated_seed]
    if target.startswith("jsonl"):
        compress: Callable[[bytes], bytes] = {
            "jsonl": lambda b: b,
            "jsonl.gz": lambda b: gzip.compress(b, mtime=0),
            "jsonl.zst": lambda b: zstandard.ZstdCompressor().compress(b),
        }[target]
        generated = st.tuples(_json_lines(), st.lists(_MUTATION, max_size=3), st.booleans()).map(
            lambda t: (f"in.{target}", _mutate(compress(t[0]), t[1]) if t[2] else compress(_mutate(t[0], t[1])))
        )
        options.append(generated)
    elif target == "parquet":
        options.append(
            st.tuples(_arrow_table(), st.lists(_MUTATION, max_size=2)).map(
                lambda t: ("in.parquet", _mutate(t[0], t[1]))
            )
        )
    elif target == "yaml":
        options.append(
            st.tuples(_yaml_doc(), st.lists(_MUTATION, max_size=3)).map(lambda t: ("config.yaml", _mutate(t[0], t[1])))
        )
    return st.one_of(*options)


# ----------------------------------------------------------------------------- oracle


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout()


_REPO = Path(__file__).resolve().parents[2]


def _signature(exc: BaseException) -> str:
    """``Type at file:line`` of the innermost frame in tailguard's own code."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(_REPO)) and "/tests/" not in f.filename or "/tailguard/" in f.filename
    ]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def _reference_lines(name: str, data: bytes) -> int | None:
    """Non-blank lines of the decoded input per a reference decoder (``None`` = it cannot decode)."""
    try:
        if name.endswith(".gz"):
            text = gzip.decompress(data)
        elif name.endswith(".zst"):
            out = io.BytesIO()
            zstandard.ZstdDecompressor().copy_stream(io.BytesIO(data), out, read_across_frames=True)
            text = out.getvalue()
        else:
            text = data
    except Exception:  # noqa: BLE001 - any failure means "no reference count"
        return None
    return sum(1 for line in io.BytesIO(text) if line.strip())


def _reference_rows(data: bytes) -> int | None:
    try:
        return int(pq.read_table(io.BytesIO(data)).num_rows)
    except Exception:  # noqa: BLE001 - any failure means "no reference count"
        return None


def _check_items(name: str, data: bytes, items: list[Any]) -> list[str]:
    problems: list[str] = []
    failures = [i for i, item in enumerate(items) if isinstance(item, FileFailure)]
    if FileFailure is not RecordError and (len(failures) > 1 or (failures and failures[0] != len(items) - 1)):
        problems.append("balance: FileFailure not alone at the end")
    for item in items:
        if isinstance(item, Document):
            try:
                pa.Table.from_pylist([item.to_row()], schema=ARROW_SCHEMA)
                json.dumps(item.to_json_dict(), ensure_ascii=False).encode("utf-8")
            except Exception as exc:  # noqa: BLE001 - the finding is "a writer would fail"
                problems.append(f"unwritable document: {type(exc).__name__}")
        elif not isinstance(item, (Skip, RecordError)):
            problems.append(f"balance: reader yielded {type(item).__name__}")
    if not failures and FileFailure is not RecordError:
        expected = None
        if name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
            expected = _reference_lines(name, data)
            if expected is not None and any(isinstance(i, Skip) and i.reason == "oversized_record" for i in items):
                expected = None
        elif name.endswith(".parquet"):
            expected = _reference_rows(data)
        if expected is not None and expected != len(items):
            problems.append(f"balance: {len(items)} items for {expected} records")
    return problems


def _run_reader(name: str, data: bytes) -> list[Any]:
    return list(read_records(name, io.BytesIO(data), ReaderOptions(max_record_bytes=1 << 20)))


def _run_yaml(data: bytes, workdir: Path) -> None:
    from tailguard.filters.errors import ConfigError
    from tailguard.pipelines.config import load_config

    path = workdir / "config.yaml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError:
        pass


# ----------------------------------------------------------------------------- driver


@dataclass
class FuzzReport:
    """What one target's run found."""

    target: str
    cases: int = 0
    seconds: float = 0.0
    crashes: dict[str, int] = field(default_factory=dict)  # signature -> cases
    examples: dict[str, str] = field(default_factory=dict)  # signature -> first input (hex, cut)

    def record(self, signature: str, name: str, data: bytes) -> None:
        """Count one failing case under ``signature``."""
        self.crashes[signature] = self.crashes.get(signature, 0) + 1
        self.examples.setdefault(signature, f"{name}: {data[:300].hex()}")

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        return {
            "cases": self.cases,
            "seconds": round(self.seconds, 1),
            "distinct_crashes": len(self.crashes),
            "crashing_cases": sum(self.crashes.values()),
            "crashes": self.crashes,
            "examples": self.examples,
        }


def run_target(target: str, cases: int, seed: int = 0) -> FuzzReport:
    """Run ``cases`` generated inputs through ``target``; never raises for what it finds.

    Args:
        target: One of :data:`TARGETS`.
        cases: Number of inputs to try.
        seed: Hypothesis seed (the same seed gives the same inputs).

    Returns:
        The report: cases run and the distinct crash signatures found.
    """
    report = FuzzReport(target)
    workdir = Path(tempfile.mkdtemp(prefix="tailguard-fuzz-"))
    previous = signal.signal(signal.SIGALRM, _alarm)

    @hypothesis_seed(seed)
    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(_case_strategy(target))
    def one_case(case: tuple[str, bytes]) -> None:
        name, data = case
        report.cases += 1
        signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_S)
        try:
            if target == "yaml":
                _run_yaml(data, workdir)
                problems: list[str] = []
            else:
                problems = _check_items(name, data, _run_reader(name, data))
        except _Timeout:
            problems = [f"hang: no result after {CASE_TIMEOUT_S:.0f} s"]
        except Exception as exc:  # noqa: BLE001 - a raise out of the target is the finding
            problems = [f"raised {_signature(exc)}"]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for problem in problems:
            report.record(problem, name, data)

    start = time.perf_counter()
    try:
        one_case()
    finally:
        signal.signal(signal.SIGALRM, previous)
        report.seconds = time.perf_counter() - start
    return report


def iter_reports(targets: tuple[str, ...], cases: int, seed: int = 0) -> Iterator[FuzzReport]:
    """Run every target in turn."""
    for target in targets:
        yield run_target(target, cases, seed)
