"""Accounting shared by every stage: output tags, rejected / dead-letter records, counters.

Every stage returns a :class:`StageOutputs` triple.  Kept documents go on
``docs``; documents a rule dropped go on ``rejected`` as :class:`Rejection`
records (stage + reason); anything that raised goes on ``dead_letter`` as
:class:`DeadLetter` records (error, input file, position).  The ledger in
``manifest.json`` is computed from these three streams, so a stage that loses
a record makes the ledger fail to balance.

Counters: one Beam namespace per stage (``tailguard.<stage>``) with ``passed``
and one counter per drop reason, plus ``dead_letter``.

:class:`WriteAccounting` is the one public PTransform: it writes every stage's
rejected records, the dead letters and the ledger counts the manifest is built
from.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, PDone

from tailguard.filters.document import Document, evolve
from tailguard.filters.layout import OutputLayout
from tailguard.filters.verdict import Verdict
from tailguard.transforms._files import WriteJsonFile
from tailguard.transforms.progress import ProgressTally

__all__ = [
    "DEAD_LETTER",
    "INPUT_COUNT",
    "MAIN",
    "REJECTED",
    "DeadLetter",
    "Rejection",
    "StageOutputs",
    "WriteAccounting",
    "apply_stage_fn",
    "counter_namespace",
    "emit_verdict",
    "make_counter",
    "reject",
]

MAIN = "docs"
REJECTED = "rejected"
DEAD_LETTER = "dead_letter"
INPUT_COUNT = "input_count"
_ERRORS = "errors"


def counter_namespace(stage: str) -> str:
    """Return the Beam metrics namespace of ``stage``."""
    return f"tailguard.{stage}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A document a stage dropped on purpose.

    Attributes:
        stage: Stage name (``quality``, ``dedup`` ...).
        reason: Snake-case drop reason; also the counter name.
        id: Document id (``None`` when the reader could not derive one).
        source: Input file.
        position: Position of the record in ``source``.
        detail: Free text, e.g. the surviving duplicate's id or a measured value.
        document: The dropped document, when the stage had one.
    """

    stage: str
    reason: str
    id: str | None
    source: str
    position: int | None = None
    detail: str = ""
    document: Document | None = None

    def to_json_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        """Return a JSON-serialisable dict (text omitted when ``with_text`` is false)."""
        out: dict[str, Any] = {
            "stage": self.stage,
            "reason": self.reason,
            "id": self.id,
            "source": self.source,
            "position": self.position,
            "detail": self.detail,
        }
        if self.document is not None:
            doc = self.document.to_json_dict()
            if not with_text:
                doc.pop("text", None)
            out["document"] = doc
        return out


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record (or file) that raised an unexpected error.

    Attributes:
        stage: Stage where it failed.
        error: Exception type and message.
        source: Input file.
        position: Position in the input file, when known.
        id: Document id, when known.
        snippet: The start of the offending input, for debugging.
        traceback: Formatted traceback (empty for reader-detected errors).
        unit: ``record`` when one input record failed; ``element`` when the
            stage's whole input element raised (for the reader: a whole file);
            ``file`` when the reader could not read the rest of a file (every
            record before the damage was read).  The ledger counts ``file``
            letters and the reader's ``element`` letters as failed files, not
            as records.
        bytes_not_read: For a failed file: stored bytes not read (``None`` = unknown).
        records_not_read: For a failed file: records not read, where the format
            tells (``None`` = unknown).
    """

    stage: str
    error: str
    source: str
    position: int | None = None
    id: str | None = None
    snippet: str = ""
    traceback: str = ""
    unit: str = "record"
    bytes_not_read: int | None = None
    records_not_read: int | None = None

    @classmethod
    def of_document(cls, stage: str, doc: Document, error: str) -> DeadLetter:
        """The dead letter of one document a stage caught failing (id, position, a snippet of its text)."""
        return cls(stage, error, doc.source, doc.provenance.position, doc.id, doc.text[:200])

    def is_file_failure(self, read_stage: str = "read") -> bool:
        """Whether this letter stands for a file that was not fully read (not for one record)."""
        return self.unit == "file" or (self.unit == "element" and self.stage == read_stage)

    def to_json_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out: dict[str, Any] = {
            "unit": self.unit,
            "stage": self.stage,
            "error": self.error,
            "source": self.source,
            "position": self.position,
            "id": self.id,
            "snippet": self.snippet,
            "traceback": self.traceback,
        }
        if self.unit == "file":
            out["bytes_not_read"] = self.bytes_not_read
            out["records_not_read"] = self.records_not_read
        return out


class StageOutputs(NamedTuple):
    """The outputs of every stage: the three streams the ledger counts, plus named extras.

    Attributes:
        docs: Kept documents (``PCollection[Document]``).
        rejected: :class:`Rejection` records.
        dead_letter: :class:`DeadLetter` records.
        extra: Further tagged outputs a stage aggregates (the reader's per-file
            ``input_count``, mixing's per-document decisions ...), by tag.
    """

    docs: PCollection
    rejected: PCollection
    dead_letter: PCollection
    extra: Mapping[str, PCollection] = {}


def reject(stage: str, doc: Document, reason: str, detail: str = "") -> beam.pvalue.TaggedOutput:
    """Build the tagged ``rejected`` output for ``doc``.

    Args:
        stage: Stage name.
        doc: The dropped document.
        reason: Drop reason (snake case).
        detail: Optional explanation (measured value, survivor id ...).

    Returns:
        A ``TaggedOutput`` for the stage DoFn to yield.
    """
    dropped = evolve(doc, lineage={stage: f"dropped:{reason}"})  # never mutate the stage's input
    return beam.pvalue.TaggedOutput(
        REJECTED, Rejection(stage, reason, doc.id, doc.source, doc.provenance.position, detail, dropped)
    )


def emit_verdict(
    stage: str, doc: Document, verdict: Verdict, inc: Callable[[str, int], None], **changes: Any
) -> beam.pvalue.TaggedOutput | Document:
    """Count ``verdict`` and turn it into the stage DoFn's output for ``doc``.

    The tail every per-document stage shares: a drop is counted under its
    reason and becomes a :func:`reject` output; a keep is counted as ``passed``
    and becomes a *copy* of ``doc`` with ``changes`` applied and the verdict's
    detail as the stage's lineage entry.  The input document is never mutated.

    Args:
        stage: Stage name.
        doc: The document decided on (with the stage's changes so far applied).
        verdict: The decision from a ``filters/`` function.
        inc: The stage's counter callback.
        changes: Fields to set on the kept copy (see :func:`filters.document.evolve`).

    Returns:
        What the DoFn yields.
    """
    if not verdict.keep:
        reason = verdict.reason or stage
        inc(reason, 1)
        return reject(stage, doc, reason, verdict.detail)
    inc("passed", 1)
    return evolve(doc, lineage={stage: verdict.detail}, **changes)


def make_counter(stage: str) -> Callable[[str, int], None]:
    """Return ``inc(name, n=1)`` backed by Beam counters in ``stage``'s namespace.

    Pure functions in ``filters/`` take such a callback instead of importing
    Beam; tests pass a dict-backed one.
    """
    namespace = counter_namespace(stage)
    counters: dict[str, Any] = {}

    def inc(name: str, n: int = 1) -> None:
        counter = counters.get(name)
        if counter is None:
            counter = counters[name] = Metrics.counter(namespace, name)
        counter.inc(n)

    return inc


def _to_dead_letter(stage: str) -> Callable[[Any], DeadLetter]:
    def convert(bad: Any) -> DeadLetter:
        element, (exc_type, exc_value, tb) = bad
        source, position, doc_id, snippet = "", None, None, ""
        if isinstance(element, Document):
            source, position, doc_id, snippet = (
                element.source,
                element.provenance.position,
                element.id,
                element.text[:200],
            )
        elif hasattr(element, "metadata") and hasattr(element.metadata, "path"):  # fileio.ReadableFile
            source = element.metadata.path
        else:
            snippet = repr(element)[:200]
        name = getattr(exc_type, "__name__", str(exc_type))
        text_tb = "".join(tb) if isinstance(tb, (list, tuple)) else str(tb or "")
        return DeadLetter(stage, f"{name}: {exc_value}", source, position, doc_id, snippet, text_tb[-4000:], "element")

    return convert


class _CountDeadLetterFn(beam.DoFn):
    """Count dead letters in the stage's namespace and pass them on."""

    def __init__(self, stage: str) -> None:
        self._stage = stage

    def setup(self) -> None:
        self._counter = Metrics.counter(counter_namespace(self._stage), DEAD_LETTER)

    def process(self, letter: DeadLetter) -> Iterable[DeadLetter]:
        self._counter.inc()
        yield letter


def apply_stage_fn(
    pcoll: PCollection,
    label: str,
    stage: str,
    fn: beam.DoFn,
    *side_inputs: Any,
    extra_tags: tuple[str, ...] = (),
    main_type: Any = Document,
) -> StageOutputs:
    """Apply a stage DoFn with ``rejected`` and dead-letter outputs.

    The DoFn yields kept documents on the main output, :func:`reject` outputs
    for drops and may yield ``TaggedOutput(DEAD_LETTER, DeadLetter(...))`` for
    errors it catches itself; any exception it raises sends the input element to
    the dead-letter output (``unit="element"``) instead of failing the run.

    Args:
        pcoll: Input documents (or files, for the reader).
        label: Unique, stable step label.
        stage: Stage name for records and counters.
        fn: The stage DoFn.
        side_inputs: Side inputs passed to ``fn.process`` after the element
            (small things only: plans, thresholds).
        extra_tags: Further tagged outputs of ``fn`` to return in
            :attr:`StageOutputs.extra` (e.g. the reader's ``input_count``, or
            per-document decisions a stage aggregates into its manifest section).
        main_type: Element type of the main output (Documents, unless the DoFn
            is an inner step of a stage that hands something else on).

    Returns:
        The stage's :class:`StageOutputs`, always the same shape.
    """
    types = {REJECTED: Rejection, DEAD_LETTER: DeadLetter, **{tag: Any for tag in extra_tags}}
    pardo = beam.ParDo(fn, *side_inputs).with_output_types(main_type, **types)
    outs = pcoll | label >> pardo.with_outputs(REJECTED, DEAD_LETTER, *extra_tags, main=MAIN).with_exception_handling(
        main_tag=MAIN, dead_letter_tag=_ERRORS
    )
    raised = (
        outs[_ERRORS]
        | f"{label}ToDeadLetter" >> beam.Map(_to_dead_letter(stage))
        | f"{label}CountDeadLetter" >> beam.ParDo(_CountDeadLetterFn(stage))
    )
    dead = (outs[DEAD_LETTER], raised) | f"{label}DeadLetters" >> beam.Flatten()
    return StageOutputs(outs[MAIN], outs[REJECTED], dead, {tag: outs[tag] for tag in extra_tags})


# ----------------------------------------------------------------------------- sinks


class _WriteRejected(beam.PTransform):
    """Write one stage's rejected records to ``OUTPUT/rejected/<stage>/*.jsonl.zst``."""

    def __init__(self, layout: OutputLayout, stage: str, with_text: bool = True) -> None:
        super().__init__()
        self._prefix = layout.rejected_prefix(stage)
        self._suffix = layout.side_suffix
        self._with_text = with_text

    def expand(self, rejected: PCollection[Rejection]) -> PCollection[str]:
        with_text = self._with_text
        return (
            rejected
            | "ToJson" >> beam.Map(lambda r: json.dumps(r.to_json_dict(with_text=with_text), ensure_ascii=False))
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=self._suffix)
        )


class _WriteDeadLetter(beam.PTransform):
    """Write dead-letter records to ``OUTPUT/dead_letter/*.jsonl.zst``."""

    def __init__(self, layout: OutputLayout) -> None:
        super().__init__()
        self._prefix = layout.dead_letter_prefix
        self._suffix = layout.side_suffix

    def expand(self, letters: PCollection[DeadLetter]) -> PCollection[str]:
        return (
            letters
            | "ToJson" >> beam.Map(lambda d: json.dumps(d.to_json_dict(), ensure_ascii=False))
            | "Write" >> beam.io.WriteToText(self._prefix, file_name_suffix=self._suffix)
        )


class _LedgerKeysFn(beam.DoFn):
    """Turn rejections / dead letters into ledger keys; also feed the live progress line.

    Every stage's drops and dead letters pass here, so the progress line counts
    them all (not only the reader's).  A failed file counts as a file, with the
    bytes (and records, where known) it did not yield, never as a record.
    """

    def __init__(self, read_stage: str) -> None:
        self._read_stage = read_stage

    def setup(self) -> None:
        # The tally is per worker process; look it up once.
        self._progress = ProgressTally.get()

    def process(self, item: Rejection | DeadLetter) -> Iterator[tuple[str, int]]:
        if isinstance(item, Rejection):
            self._progress.add(f"dropped:{item.stage}/{item.reason}")
            yield json.dumps(["dropped", item.stage, item.reason]), 1
        elif item.is_file_failure(self._read_stage):
            self._progress.add("failed_files")
            yield json.dumps(["file_failure", "files"]), 1
            if item.bytes_not_read is not None:
                yield json.dumps(["file_failure", "bytes_not_read"]), item.bytes_not_read
            if item.records_not_read is not None:
                yield json.dumps(["file_failure", "records_not_read"]), item.records_not_read
            else:
                yield json.dumps(["file_failure", "records_not_read_unknown"]), 1
        else:
            self._progress.add("dead_letter")
            yield json.dumps(["dead_letter", item.stage]), 1


class _WriteLedger(beam.PTransform):
    """Count kept, dropped (by stage and reason) and dead-letter records into one file.

    The counts are computed from the data streams themselves, so they are exact
    on every runner.  ``input_records`` is counted separately by the reader
    (records per file, ``_work/input_records.jsonl``); a stage that loses a
    record therefore unbalances the ledger.  Files the reader could not read to
    the end are counted as files (``file_failure`` keys), not as records.
    """

    def __init__(self, layout: OutputLayout, kept: PCollection[Document], read_stage: str) -> None:
        super().__init__()
        self._layout = layout
        self._kept = kept
        self._read_stage = read_stage

    def expand(self, stages: dict[str, StageOutputs]) -> PDone:
        parts = [self._kept | "CountKept" >> beam.Map(lambda _: ('["kept"]', 1))]
        for name, out in stages.items():
            parts.append(out.rejected | f"CountDropped{name}" >> beam.ParDo(_LedgerKeysFn(self._read_stage)))
            parts.append(out.dead_letter | f"CountDead{name}" >> beam.ParDo(_LedgerKeysFn(self._read_stage)))
        return (
            parts
            | "FlattenCounts" >> beam.Flatten()
            | "SumCounts" >> beam.CombinePerKey(sum)
            | "ToJson" >> beam.MapTuple(lambda key, n: json.dumps({"key": json.loads(key), "count": n}))
            | "WriteLedgerCounts" >> WriteJsonFile(self._layout.ledger_counts)
        )


class WriteAccounting(beam.PTransform):
    """Write every stage's rejected records, all dead letters and the ledger counts.

    Args:
        layout: The run's (or ingest batch's) output layout.
        kept: The documents that reach the corpus (counted as ``kept``).
        with_text: Keep the text of rejected documents (``write.rejected_text``).
        read_stage: Name of the reading stage, whose whole-file failures count as input.

    ``expand`` takes ``{stage name: StageOutputs}`` in pipeline order.
    """

    def __init__(self, layout: OutputLayout, kept: PCollection[Document], with_text: bool, read_stage: str) -> None:
        super().__init__()
        self._layout = layout
        self._kept = kept
        self._with_text = with_text
        self._read_stage = read_stage

    def expand(self, stages: dict[str, StageOutputs]) -> PDone:
        for name, result in stages.items():
            _ = result.rejected | f"WriteRejected{name.title()}" >> _WriteRejected(self._layout, name, self._with_text)
        dead = [result.dead_letter for result in stages.values()] | "AllDeadLetters" >> beam.Flatten()
        _ = dead | "WriteDeadLetter" >> _WriteDeadLetter(self._layout)
        return stages | "WriteLedger" >> _WriteLedger(self._layout, self._kept, self._read_stage)


def format_exception(exc: BaseException) -> str:
    """Return ``Type: message`` for ``exc`` (used by DoFns that dead-letter by hand)."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
