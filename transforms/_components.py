"""Connected components of the near-duplicate graph (private to ``dedup_near``).

Alternating large-star / small-star rounds (Kiveris et al., *Connected
Components in MapReduce and Beyond*, SoCC 2014), unrolled for ``max_rounds``
because a Beam graph cannot loop.  BEAM_NOTES: on a 14k-node random graph 6
rounds were needed and 4 gave wrong components, so every round counts its
changes and a round that changed nothing routes the edges straight to the end.

In: edges ``(child label, parent label)``.  Out: ``(child label, root label)``
plus per-round statistics ``(name, count)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsList, PCollection, TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from tailguard.filters.dedup import label_id, large_star, settle_children, small_star
from tailguard.transforms.accounting import make_counter

__all__ = ["STATS", "ConnectedComponents"]

STATS = "stats"
_STATS = STATS
# Private to dedup_near, so its counters live in that stage's namespace.
NEAR_STAGE = "dedup_near"


def _both_directions(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    yield edge
    yield edge[1], edge[0]


def _larger_first(edge: tuple[str, str]) -> tuple[str, str]:
    return (edge[0], edge[1]) if edge[0] > edge[1] else (edge[1], edge[0])


class _StarFn(beam.DoFn):
    """(node, neighbours) → large-star or small-star edges; counts changes per round (once per bundle)."""

    def __init__(self, kind: str, round_index: int) -> None:
        self._kind = kind
        self._name = f"cc_changed_round_{round_index:02d}"
        self._changed = 0

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def start_bundle(self) -> None:
        self._changed = 0

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[Any]:
        node, neighbours = element
        step = large_star if self._kind == "large" else small_star
        edges, changed = step(node, [v for v in neighbours if v != node])
        self._changed += changed
        yield from edges

    def finish_bundle(self) -> Iterator[Any]:
        if self._changed:
            self._inc(self._name, self._changed)
            yield TaggedOutput(_STATS, GlobalWindows.windowed_value((self._name, self._changed)))


class _ChildParentsFn(beam.DoFn):
    """(child, smaller neighbours) → child marker + (smallest neighbour, (child, #parents))."""

    def process(self, element: tuple[str, Iterable[str]]) -> Iterator[tuple[str, Any]]:
        child, parents = element
        unique = set(parents)
        yield child, None
        yield min(unique), (child, len(unique))


class _SettleFn(beam.DoFn):
    """(node, markers + children) → (child id, root id) for settled children."""

    def __init__(self, on_unconverged: str, max_rounds: int) -> None:
        self._policy = on_unconverged
        self._max_rounds = max_rounds

    def setup(self) -> None:
        self._inc = make_counter(NEAR_STAGE)

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        node, values = element
        values = list(values)
        is_child = any(v is None for v in values)
        children = [v for v in values if v is not None]
        for child, root in settle_children(node, is_child, children):
            if root is None:
                if self._policy == "fail":
                    raise RuntimeError(
                        f"dedup_near: connected components did not converge in {self._max_rounds} rounds "
                        f"(node {label_id(child)!r}); raise dedup_near.max_rounds"
                    )
                self._inc("unconverged_nodes", 1)
                yield TaggedOutput(_STATS, ("unconverged_nodes", 1))
                continue
            yield label_id(child), label_id(root)


class _BypassIfConvergedFn(beam.DoFn):
    """Edge → main (another round) or ``done`` when the previous round changed nothing.

    A round of large-star + small-star with no change is a fixed point (Kiveris
    et al. 2014, termination condition), so later rounds would return the same
    edges: they are skipped and their shuffles run empty.
    """

    def process(self, edge: tuple[str, str], large: list[Any], small: list[Any]) -> Iterator[Any]:
        # large/small: the previous round's (name, changes) records, one per bundle that changed anything
        yield edge if (large or small) else TaggedOutput("done", edge)


class ConnectedComponents(beam.PTransform):
    """Edges (child, parent) → (child id, root id), by alternating large-star / small-star rounds.

    Args:
        max_rounds: Rounds to unroll (each is one large-star and one small-star).
        on_unconverged: What to do when the last round still changed edges
            (``fail`` or ``continue``; see ``DedupNearConfig``).
    """

    def __init__(self, max_rounds: int, on_unconverged: str) -> None:
        super().__init__()
        if max_rounds < 1:
            raise ValueError("ConnectedComponents needs max_rounds >= 1")
        self._max_rounds = max_rounds
        self._on_unconverged = on_unconverged

    def expand(self, edges: PCollection) -> tuple[PCollection, list[PCollection]]:
        stats: list[PCollection] = []
        finished: list[PCollection] = []
        for r in range(self._max_rounds):
            if stats:
                # The previous round's change records: empty lists mean it reached a fixed point.
                previous = {"large": AsList(stats[-2]), "small": AsList(stats[-1])}
                routed = edges | f"BypassIfConverged{r}" >> beam.ParDo(_BypassIfConvergedFn(), **previous).with_outputs(
                    "done", main="active"
                )
                finished.append(routed.done)
                edges = routed.active
            # Large-star: every node links its larger neighbours to its smallest neighbour (itself included).
            # (node, [neighbour, ...]) over both directions of every edge
            large = (
                edges
                | f"BothDirections{r}" >> beam.FlatMap(_both_directions)
                | f"GroupNeighbours{r}" >> beam.GroupByKey()
                | f"LargeStar{r}" >> beam.ParDo(_StarFn("large", r)).with_outputs(_STATS, main="edges")
            )
            # Small-star: every node links itself and its smaller neighbours to the smallest of them.
            # (larger node, [smaller neighbour, ...])
            small = (
                large.edges
                | f"LargerFirst{r}" >> beam.Map(_larger_first)
                | f"GroupSmaller{r}" >> beam.GroupByKey()
                | f"SmallStar{r}" >> beam.ParDo(_StarFn("small", r)).with_outputs(_STATS, main="edges")
            )
            stats += [large[_STATS], small[_STATS]]
            edges = small.edges
        if finished:
            # Edges that bypassed converged rounds are final already: merge them back.
            edges = (edges, *finished) | "FinalEdges" >> beam.Flatten()
        # (node, None if it is a child | (child, number of its smaller neighbours))
        settled = (
            edges
            | "ChildFirst" >> beam.Map(_larger_first)
            | "GroupParents" >> beam.GroupByKey()
            | "ChildParents" >> beam.ParDo(_ChildParentsFn())
            | "GroupByParent" >> beam.GroupByKey()
            | "Settle"
            >> beam.ParDo(_SettleFn(self._on_unconverged, self._max_rounds)).with_outputs(_STATS, main="assigned")
        )
        stats.append(settled[_STATS])
        return settled.assigned, stats
