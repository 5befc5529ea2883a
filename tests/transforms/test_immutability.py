"""No stage DoFn mutates its input element (Beam forbids it; issue 11).

Beam's Python runners have no immutability check of their own, so this is the
equivalent guard: every ``DoFn`` defined in ``tailguard.transforms`` gets its
``process`` wrapped so that the input element is pickled before and after the
call; any difference is recorded.  Then the whole demo pipeline — every stage
enabled, real detector, real data from the embedded sample — runs in-process
(where the patched classes are the ones the workers use).  Exceptions are not
raised from the wrapper, because a stage's exception handling would turn them
into dead letters; the recorded list is asserted empty after the run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest

import tailguard.transforms
from tailguard.pipelines.cli import main

_VIOLATIONS: list[str] = []
_CHECKED: dict[str, int] = {}


def _stage_dofns() -> list[type[beam.DoFn]]:
    found = []
    for info in pkgutil.iter_modules(tailguard.transforms.__path__, "tailguard.transforms."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, beam.DoFn) and cls.__module__ == module.__name__ and "process" in cls.__dict__:
                found.append(cls)
    return found


def _snapshot(element: Any) -> bytes | None:
    try:
        return pickle.dumps(element, protocol=5)
    except Exception:  # noqa: BLE001 - a lazily-iterated GBK value cannot be pickled: not checked
        return None


def _guarded(cls: type[beam.DoFn]) -> Any:
    original = cls.__dict__["process"]

    # wraps(): Beam reads the signature (side-input names, type hints) through __wrapped__.
    @functools.wraps(original)
    def process(self: beam.DoFn, element: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        before = _snapshot(element)
        result = original(self, element, *args, **kwargs)
        if result is not None:
            yield from result
        if before is not None:
            _CHECKED[cls.__name__] = _CHECKED.get(cls.__name__, 0) + 1
            if _snapshot(element) != before:
                _VIOLATIONS.append(f"{cls.__module__}.{cls.__name__} mutated its input element")

    return process


@pytest.fixture
def guarded_dofns(monkeypatch: pytest.MonkeyPatch) -> list[type[beam.DoFn]]:
    classes = _stage_dofns()
    for cls in classes:
        monkeypatch.setattr(cls, "process", _guarded(cls))
    _VIOLATIONS.clear()
    _CHECKED.clear()
    return classes


def test_the_guard_catches_a_mutating_dofn(guarded_dofns: list[type[beam.DoFn]]) -> None:
    class _MutatesFn(beam.DoFn):
        def process(self, element: dict[str, int]) -> Iterator[dict[str, int]]:
            element["n"] += 1
            yield element

    _MutatesFn.process = _guarded(_MutatesFn)  # type: ignore[method-assign]
    list(_MutatesFn().process({"n": 1}))
    assert _VIOLATIONS == ["tests.transforms.test_immutability._MutatesFn mutated its input element"]


@pytest.mark.slow
def test_no_stage_mutates_its_input_in_the_full_demo_pipeline(
    guarded_dofns: list[type[beam.DoFn]], tmp_path: Path
) -> None:
    assert main(["demo", "--output", str(tmp_path / "demo")]) == 0
    assert _VIOLATIONS == []
    # The guard really saw the per-document stages (not a vacuous pass).
    for name in ("_ExtractTextFn", "_IdentifyLanguageFn", "_ApplyQualityRulesFn", "_AssignTierFn", "_DecideFn"):
        assert _CHECKED.get(name, 0) > 0, f"{name} was never checked"
