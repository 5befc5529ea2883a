"""Stages are typed: a wiring mistake fails while the pipeline is built, not at run time (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.typehints.decorators import TypeCheckError, get_type_hints

from tailguard.filters.document import Document
from tailguard.filters.layout import OutputLayout
from tailguard.pipelines.stages import STAGES, RunContext, StageSpec
from tailguard.transforms.ai_decide import DecideAIConfig
from tailguard.transforms.ai_score import ScoreAIContent

TRANSFORMS = Path(__file__).resolve().parents[2] / "transforms"


def _public_ptransforms(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and not node.name.startswith("_")
        and any(ast.unparse(base).endswith("PTransform") for base in node.bases)
    ]


@pytest.mark.parametrize("path", sorted(TRANSFORMS.glob("*.py")), ids=lambda p: p.name)
def test_every_transforms_module_defines_at_most_one_public_ptransform(path: Path) -> None:
    assert len(_public_ptransforms(path)) <= 1, f"{path.name}: {_public_ptransforms(path)}"


@pytest.mark.parametrize("spec", STAGES, ids=lambda s: s.name)
def test_feeding_a_stage_anything_but_documents_fails_at_construction(spec: StageSpec[Any], tmp_path: Path) -> None:
    config = _buildable_config(spec)
    if config is None:  # building ScoreAIContent needs a trained model: check its declared input type instead
        transform_cls = ScoreAIContent
        assert get_type_hints(transform_cls).input_types[0][0] is Document
        return
    context = RunContext(OutputLayout(str(tmp_path)), 0, 1)
    p = beam.Pipeline(runner="FnApiRunner")
    with pytest.raises(TypeCheckError, match="Document"):
        _ = p | beam.Create(["not a document"]) | spec.build(config, context)


def test_a_stage_accepts_documents(tmp_path: Path) -> None:
    spec = next(s for s in STAGES if s.name == "extract")
    p = beam.Pipeline(runner="FnApiRunner")
    context = RunContext(OutputLayout(str(tmp_path)), 0, 1)
    out = p | beam.Create([Document(id="a", text="hello")]) | spec.build(spec.config_cls(), context)
    assert out.docs.element_type is Document


def _buildable_config(spec: StageSpec[Any]) -> Any:
    if spec.name == "detect_ai":
        return None
    if spec.name == "decide_ai":
        return DecideAIConfig(threshold=0.5)  # an explicit threshold needs no model
    return spec.config_cls()
