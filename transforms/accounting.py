"""Accounting shared by every stage: output tags, rejected / dead-letter records, counters.

Every stage returns a :class:`StageOutputs` triple.  Kept documents go on
``docs``; documents a rule dropped go on ``rejected`` as :class:`Rejection`
records (stage + reason); anything that raised goes on ``dead_letter`` as
:class:`DeadLetter` records (error, input file, position).  The ledger in
``manifest.json`` is computed from these three streams, so a stage that loses
a record makes the ledger fail to balance.

Counters: one Beam namespace per stage (``tailguard.<stage>``) with ``passed``
and one counter per drop reason, plus ``dead_letter``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

from tailguard.filters.document import Document

__all__ = [
    "DEAD_LETTER",
    "INPUT_COUNT",
    "MAIN",
    "REJECTED",
    "DeadLetter",
    "Rejection",
    "StageOutputs",
    "apply_stage_fn",
    "counter_namespace",
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
            stage's whole input element raised (for the reader: a whole file).
    """

    stage: str
    error: str
    source: str
    position: int | None = None
    id: str | None = None
    snippet: str = ""
    traceback: str = ""
    unit: str = "record"

    def to_json_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "unit": self.unit,
            "stage": self.stage,
            "error": self.error,
            "source": self.source,
            "position": self.position,
            "id": self.id,
            "snippet": self.snippet,
            "traceback": self.traceback,
        }


class StageOutputs(NamedTuple):
    """The three outputs of every stage."""

    docs: PCollection
    rejected: PCollection
    dead_letter: PCollection


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
    doc.lineage[stage] = f"dropped:{reason}"
    return beam.pvalue.TaggedOutput(
        REJECTED, Rejection(stage, reason, doc.id, doc.source, doc.provenance.position, detail, doc)
    )


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
            source, position, doc_id, snippet = element.source, element.provenance.position, element.id, element.text[:200]
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
    with_input_count: bool = False,
    extra_tags: tuple[str, ...] = (),
) -> Any:
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
        with_input_count: Also return the ``input_count`` output (the reader
            reports how many records each file had).
        extra_tags: Further tagged outputs of ``fn`` to return (e.g. per-document
            decisions a stage aggregates into its manifest section).

    Returns:
        The stage's :class:`StageOutputs`; with ``with_input_count`` the tuple
        ``(outputs, input_count)``; with ``extra_tags`` the tuple
        ``(outputs, {tag: PCollection})``.
    """
    types = {REJECTED: Rejection, DEAD_LETTER: DeadLetter, INPUT_COUNT: int, **{tag: Any for tag in extra_tags}}
    pardo = beam.ParDo(fn, *side_inputs).with_output_types(Any, **types)
    outs = pcoll | label >> pardo.with_outputs(
        REJECTED, DEAD_LETTER, INPUT_COUNT, *extra_tags, main=MAIN
    ).with_exception_handling(main_tag=MAIN, dead_letter_tag=_ERRORS)
    raised = (
        outs[_ERRORS]
        | f"{label}ToDeadLetter" >> beam.Map(_to_dead_letter(stage))
        | f"{label}CountDeadLetter" >> beam.ParDo(_CountDeadLetterFn(stage))
    )
    dead = (outs[DEAD_LETTER], raised) | f"{label}DeadLetters" >> beam.Flatten()
    outputs = StageOutputs(outs[MAIN], outs[REJECTED], dead)
    if extra_tags:
        return outputs, {tag: outs[tag] for tag in extra_tags}
    return (outputs, outs[INPUT_COUNT]) if with_input_count else outputs


def format_exception(exc: BaseException) -> str:
    """Return ``Type: message`` for ``exc`` (used by DoFns that dead-letter by hand)."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
